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
        if let server = self.server {
            guard let source, Self.sameEndpoint(source, server) else { return .reject(.source) }
        }
        guard let id = Self.peekID(bytes) else { return .reject(.malformed) }
        guard id == self.id else { return .reject(.id) }
        let message: DNSMessage
        do {
            message = try DNSMessage.decode(Array(bytes.readableBytesView))
        } catch {
            return .reject(.malformed)
        }
        return self.match(decoded: message)
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
