import DNSWire

/// Checks each reply message of one exchange before its records are used: framing-level sanity, the
/// ID, QR, opcode, TC, TSIG (every message, RFC 8945 §5.3.1), the RCODE and the question.
struct ReplyChecker: Sendable {
    let id: UInt16
    let question: Question
    private(set) var verifier: TSIGVerifier?
    private(set) var messages = 0

    init(id: UInt16, question: Question, verifier: TSIGVerifier?) {
        self.id = id
        self.question = question
        self.verifier = verifier
    }

    /// Checks one message and returns it decoded (without its TSIG record).
    /// - Throws: ``ZoneTransferError``: `.badResponse`, `.serverError` (with ``ZoneTransferError/rcode``)
    ///   or a TSIG code.
    mutating func check(_ raw: [UInt8], stream: Bool) throws(ZoneTransferError) -> DNSMessage {
        let first = self.messages == 0
        self.messages += 1
        let signed = try SignedMessage.split(raw)
        let message: DNSMessage
        do throws(DecodeError) {
            message = try DNSMessage.decode(signed.stripped)
        } catch {
            throw ZoneTransferError(.badResponse, "message #\(self.messages) is malformed: \(error)", underlying: error)
        }
        let h = message.header
        guard h.id == self.id else {
            throw ZoneTransferError(.badResponse, "message #\(self.messages) has ID \(h.id), the query had \(self.id)")
        }
        guard h.isResponse else { throw ZoneTransferError(.badResponse, "message #\(self.messages) is not a response (QR=0)") }
        guard h.opcode == .query else {
            throw ZoneTransferError(.badResponse, "message #\(self.messages) has opcode \(h.opcode), expected QUERY")
        }
        if self.verifier != nil {
            do throws(ZoneTransferError) {
                try self.verifier?.verify(signed, received: raw)
            } catch {
                if first, error.code == .tsigMissing, message.rcode != .noError {
                    throw ZoneTransferError(.serverError,
                        "the primary answered \(message.rcode) (unsigned, so not authenticated)", rcode: message.rcode)
                }
                throw error
            }
        }
        guard message.rcode == .noError else {
            throw ZoneTransferError(.serverError, "the primary answered \(message.rcode)\(Self.hint(message.rcode))",
                rcode: message.rcode)
        }
        if stream {
            guard !h.truncated else { throw ZoneTransferError(.badResponse, "message #\(self.messages) has TC set over TCP") }
        }
        if first || !message.questions.isEmpty {
            guard message.questions.count == 1, let q = message.questions.first, q.name == self.question.name,
                q.type == self.question.type, q.dnsClass == self.question.dnsClass
            else {
                throw ZoneTransferError(.badResponse,
                    "message #\(self.messages) has question \(message.questions.map(\.description)), expected \(self.question)")
            }
        }
        return message
    }

    /// Checks that the exchange ended correctly (the last message signed, when TSIG is in use).
    func finish() throws(ZoneTransferError) {
        try self.verifier?.finish()
    }

    private static func hint(_ rcode: ResponseCode) -> String {
        switch rcode {
        case .refused: " (REFUSED: transfers from this address or key are not allowed, or the zone is not served)"
        case .notAuth: " (NOTAUTH: the zone is not served, or the transfer needs a TSIG key the request lacks)"
        case .notImp: " (NOTIMP: the server does not implement this transfer type)"
        case .servFail: " (SERVFAIL: the zone is not loaded on the primary)"
        default: ""
        }
    }
}
