import DNSPipeline
import DNSWire
import NIOCore

/// Why a datagram or frame was not accepted as the answer to an outstanding query. A closed set: it is
/// the `reason` label of `palisade_upstream_mismatched_total`.
package enum MismatchReason: String, Sendable, Hashable, CaseIterable {
    /// It came from another address or port than the one the query went to.
    case source
    /// Its ID is not the ID of any outstanding query.
    case id
    /// It is not a response (QR=0) or carries another opcode.
    case notResponse = "not_response"
    /// Its question differs from ours (name compared without case, type, class).
    case question
    /// It could not be decoded.
    case malformed
}

/// The outcome of checking one candidate reply.
package enum MatchResult: Sendable {
    /// The reply answers our query.
    case accept(DNSMessage)
    /// Anything else: ignore it, count it, keep waiting.
    case reject(MismatchReason)
}

/// A reply accepted from an upstream: decoded, or (the event-loop path, for the subset ``ResponseLayout`` reads) taken
/// as a packet for the cache, without building its records.
package enum UpstreamReply: Sendable {
    /// The decoded reply, ID and question as the transport sent them.
    case message(DNSMessage)
    /// The reply as received, with ID 0 and without its OPT record (``CachedPacket/init(response:layout:)``).
    case packet(CachedPacket)

    /// The reply as a message (a packet is decoded: ID 0, no OPT record).
    package var message: DNSMessage {
        switch self {
        case .message(let m): m
        case .packet(let p): p.message
        }
    }

    /// Its response code.
    package var rcode: ResponseCode {
        switch self {
        case .message(let m): m.rcode
        case .packet(let p): p.rcode
        }
    }

    /// Whether TC is set.
    package var isTruncated: Bool {
        switch self {
        case .message(let m): m.header.truncated
        case .packet(let p): p.isTruncated
        }
    }
}

/// The outcome of checking one candidate reply on the event-loop path (``ReplyMatcher/matchReply(_:from:)``).
package enum ReplyMatch: Sendable {
    /// The reply answers our query.
    case accept(UpstreamReply)
    /// Anything else: ignore it, count it, keep waiting.
    case reject(MismatchReason)
}

/// Decides whether bytes received from the network are the answer to one query (RFC 5452 §9.1:
/// "the response is accepted only if … the question section matches, the ID matches, and it comes
/// from the address and port the query was sent to"). Pure, so it is unit-tested without sockets.
package struct ReplyMatcher: Sendable {
    /// Where the query went; nil when the transport already guarantees the peer (a TCP stream, HTTPS).
    package var server: SocketAddress?
    /// The ID we sent.
    package var id: UInt16
    /// The question we sent.
    package var question: Question
    /// The opcode we sent.
    package var opcode: OpCode

    /// Creates a matcher for a query.
    package init(server: SocketAddress?, id: UInt16, question: Question, opcode: OpCode = .query) {
        self.server = server
        self.id = id
        self.question = question
        self.opcode = opcode
    }

    /// The ID of a candidate reply, read before anything is decoded; nil when it is shorter than two bytes.
    package static func peekID(_ bytes: ByteBuffer) -> UInt16? {
        bytes.getInteger(at: bytes.readerIndex, as: UInt16.self)
    }

    /// Checks a candidate reply.
    ///
    /// The cheap checks (source, ID) run first so that a flood of forged datagrams is rejected without
    /// being decoded.
    package func match(_ bytes: ByteBuffer, from source: SocketAddress?) -> MatchResult {
        if let reason = self.cheapRejection(bytes, from: source) { return .reject(reason) }
        return self.match(undecoded: Array(bytes.readableBytesView))
    }

    /// Why the source or the ID rule a candidate out, before anything is decoded; nil when both pass.
    private func cheapRejection(_ bytes: ByteBuffer, from source: SocketAddress?) -> MismatchReason? {
        if let server = self.server {
            guard let source, Self.sameEndpoint(source, server) else { return .source }
        }
        guard let id = Self.peekID(bytes) else { return .malformed }
        return id == self.id ? nil : .id
    }

    /// Decodes a candidate that passed the cheap checks and checks the rest.
    private func match(undecoded bytes: [UInt8]) -> MatchResult {
        let message: DNSMessage
        do {
            message = try DNSMessage.decode(bytes)
        } catch {
            return .reject(.malformed)
        }
        return self.match(decoded: message)
    }

    /// ``match(_:from:)`` that takes a reply in the subset ``ResponseLayout`` reads as a packet, without decoding it;
    /// any other reply is decoded and checked as ``match(_:from:)`` does. The same checks either way: the ID, QR=1, the
    /// opcode, and the question (name without case, type, class).
    package func matchReply(_ bytes: ByteBuffer, from source: SocketAddress?) -> ReplyMatch {
        if let reason = self.cheapRejection(bytes, from: source) { return .reject(reason) }
        return self.matchReply(idChecked: Array(bytes.readableBytesView))
    }

    /// ``matchReply(_:from:)`` for a reply whose source and ID the caller has already checked (a direct UDP listener's
    /// upstream sockets, which read into plain arrays).
    package func matchReply(idChecked array: [UInt8]) -> ReplyMatch {
        guard let layout = ResponseLayout.read(array) else {
            switch self.match(undecoded: array) {
            case .accept(let m): return .accept(.message(m))
            case .reject(let reason): return .reject(reason)
            }
        }
        let flags = layout.flags
        guard flags & 0x8000 != 0, OpCode(rawValue: UInt8((flags >> 11) & 0x0F)) == self.opcode else {
            return .reject(.notResponse)
        }
        let sameName = array.withUnsafeBytes { reply in
            self.question.name.wire.withUnsafeBytes { ours in
                DomainName.wireEqual(UnsafeRawBufferPointer(rebasing: reply[12..<layout.questionNameEnd]), ours)
            }
        }
        guard layout.questionType == self.question.type, layout.questionClass == self.question.dnsClass, sameName
        else { return .reject(.question) }
        return .accept(.packet(CachedPacket(response: array, layout: layout)))
    }

    /// Checks an already decoded reply (source and ID are compared by the caller or here).
    package func match(decoded message: DNSMessage) -> MatchResult {
        guard message.header.id == self.id else { return .reject(.id) }
        guard message.header.isResponse, message.header.opcode == self.opcode else { return .reject(.notResponse) }
        // RFC 1035 §7.3: a reply whose question differs is not ours (FORMERR replies may echo none,
        // but then they cannot be told apart from a forgery either).
        guard message.questions.count == 1, let q = message.questions.first, q.name == self.question.name,
            q.type == self.question.type, q.dnsClass == self.question.dnsClass
        else { return .reject(.question) }
        return .accept(message)
    }

    /// Address and port equality, ignoring IPv6 flow info and an IPv4-mapped form of the same address.
    static func sameEndpoint(_ a: SocketAddress, _ b: SocketAddress) -> Bool {
        // Fast path for the common same-family case: compare the raw port and address bytes, no text form
        // (rendering and parsing the address text was 12 % of CPU on the miss mix in perf, more than the rest
        // of the reply handling).
        // Invariant: sockaddr_in is {family (2 bytes, or len+family on BSD), port (2), addr (4), …} and
        // sockaddr_in6 is {family (2), port (2), flowinfo (4), addr (16), scope (4)} on Linux and the BSDs.
        switch (a, b) {
        case (.v4(let x), .v4(let y)):
            return withUnsafeBytes(of: x.address) { xb in
                withUnsafeBytes(of: y.address) { yb in xb[2..<8].elementsEqual(yb[2..<8]) }
            }
        case (.v6(let x), .v6(let y)):
            let same = withUnsafeBytes(of: x.address) { xb in
                withUnsafeBytes(of: y.address) { yb in
                    xb[2..<4].elementsEqual(yb[2..<4]) && xb[8..<24].elementsEqual(yb[8..<24])
                }
            }
            // Unequal bytes are not final: an IPv4-mapped address may equal a plain one (slow path below).
            if same { return true }
        default:
            break
        }
        guard a.port == b.port, let ia = a.ipAddress, let ib = b.ipAddress else { return false }
        return (IPAddress(ia)?.unmapped) == (IPAddress(ib)?.unmapped)
    }
}
