public import DNSWire

/// Answers one NOTIFY message (RFC 1996): the protocol logic of the listener, without I/O.
///
/// Checks, in order: a readable header (else the datagram is dropped), QR=0 (responses are dropped,
/// so two listeners cannot loop), a decodable body (else FORMERR), opcode NOTIFY (else NOTIMP), one
/// question of type SOA and class IN (else FORMERR), a known zone (else NOTAUTH), an allowed source
/// address (else REFUSED), and the TSIG signature when the zone has a key (else REFUSED when unsigned,
/// NOTAUTH with BADKEY/BADSIG/BADTIME per RFC 8945 §5.2 when the signature is wrong). A NOTIFY that
/// passes is answered with QR=1, AA=1, opcode NOTIFY and the question echoed, signed when the request
/// was, and reported in ``Outcome/notified``.
public struct NotifyResponder: Sendable {
    /// The result of one message.
    public struct Outcome: Sendable {
        /// The reply to send; nil to send nothing.
        public var reply: [UInt8]?
        /// The accepted NOTIFY (zone and serial hint), when it passed every check.
        public var notified: (zone: DomainName, serial: UInt32?)?
        /// Why the message was answered as it was (for debug logs).
        public var reason: String
    }

    /// Decides which NOTIFY messages are accepted.
    public let authorizer: any NotifyAuthorizer
    /// Wall-clock seconds since the epoch (TSIG time checks).
    public let now: @Sendable () -> UInt64
    /// TSIG fudge used in signed replies.
    public let fudge: UInt16

    /// Creates a responder.
    public init(authorizer: any NotifyAuthorizer, fudge: UInt16 = 300,
        now: @escaping @Sendable () -> UInt64 = ZoneTransferClient.systemTime)
    {
        self.authorizer = authorizer
        self.fudge = fudge
        self.now = now
    }

    /// Answers `bytes` received from `source`. Never throws and never traps, whatever the bytes.
    public func respond(to bytes: [UInt8], from source: IPAddress) -> Outcome {
        guard bytes.count >= 12 else { return Outcome(reply: nil, reason: "shorter than a header: dropped") }
        let header = Header(id: UInt16(bytes[0]) << 8 | UInt16(bytes[1]), flags: UInt16(bytes[2]) << 8 | UInt16(bytes[3]))
        guard !header.isResponse else { return Outcome(reply: nil, reason: "a response (QR=1): dropped") }
        let signed: SignedMessage
        let request: DNSMessage
        do {
            signed = try SignedMessage.split(bytes)
            request = try DNSMessage.decode(signed.stripped)
        } catch {
            return Outcome(reply: self.reply(header, questions: [], rcode: .formErr), reason: "malformed: \(error)")
        }
        guard header.opcode == .notify else {
            return Outcome(reply: self.reply(header, questions: request.questions, rcode: .notImp),
                reason: "opcode \(header.opcode) is not NOTIFY")
        }
        guard request.questions.count == 1, let q = request.questions.first, q.type == .soa, q.dnsClass == .in else {
            return Outcome(reply: self.reply(header, questions: request.questions, rcode: .formErr),
                reason: "a NOTIFY needs one question of type SOA, class IN")
        }
        let zone = q.name
        let key: TSIGKey?
        switch self.authorizer.authorize(zone: zone, source: source) {
        case .unknownZone:
            return Outcome(reply: self.reply(header, questions: [q], rcode: .notAuth), reason: "zone \(zone) is not known")
        case .refusedSource:
            return Outcome(reply: self.reply(header, questions: [q], rcode: .refused),
                reason: "\(source) is not a primary of \(zone)")
        case .accept(let k):
            key = k
        }
        var requestMAC: [UInt8]?
        if let tsig = signed.tsig {
            guard let key else {
                return Outcome(reply: self.tsigError(header, q, .badKey, tsig), reason: "signed with unknown key \(tsig.keyName)")
            }
            switch TSIGRequestCheck.check(signed, key: key, now: self.now()) {
            case .verified(let mac):
                requestMAC = mac
            case .badKey(let t):
                return Outcome(reply: self.tsigError(header, q, .badKey, t), reason: "signed with key \(t.keyName), not \(key.name)")
            case .badSig(let t):
                return Outcome(reply: self.tsigError(header, q, .badSig, t), reason: "TSIG signature does not verify")
            case .badTime(let mac):
                let now = self.now()
                var w = WireWriter(capacity: 8, compression: false)
                TSIGCodec.writeUInt48(now, into: &w)
                let unsigned = self.reply(header, questions: [q], rcode: .notAuth)
                let reply = TSIGSigner(key: key, fudge: self.fudge).sign(unsigned, time: now, requestMAC: mac,
                    error: .badTime, otherData: w.bytes).message
                return Outcome(reply: reply, reason: "TSIG time outside the fudge window")
            }
        } else if let key {
            return Outcome(reply: self.reply(header, questions: [q], rcode: .refused),
                reason: "unsigned NOTIFY for \(zone), which needs key \(key.name)")
        }
        let serial = request.answers.first(where: { $0.name == zone }).flatMap(ZoneRecordSet.serial(of:))?.rawValue
        var reply = self.reply(header, questions: [q], rcode: .noError)
        if let key, let requestMAC {
            reply = TSIGSigner(key: key, fudge: self.fudge).sign(reply, time: self.now(), requestMAC: requestMAC).message
        }
        return Outcome(reply: reply, notified: (zone, serial), reason: "accepted")
    }

    private func reply(_ request: Header, questions: [Question], rcode: ResponseCode) -> [UInt8] {
        var h = Header(id: request.id, isResponse: true, opcode: request.opcode, authoritative: rcode == .noError,
            recursionDesired: request.recursionDesired)
        h.rcodeLow = UInt8(rcode.rawValue & 0x0F)
        return DNSMessage(header: h, questions: questions).encode()
    }

    /// RFC 8945 §5.2: BADKEY and BADSIG replies are NOTAUTH, carry the error in an unsigned TSIG record.
    private func tsigError(_ request: Header, _ q: Question, _ error: TSIGErrorCode, _ tsig: TSIGRecord) -> [UInt8] {
        let unsigned = self.reply(request, questions: [q], rcode: .notAuth)
        return TSIGSigner.appendUnsignedError(error, keyName: tsig.keyName, algorithm: tsig.algorithm, to: unsigned,
            time: self.now(), fudge: tsig.fudge)
    }
}
