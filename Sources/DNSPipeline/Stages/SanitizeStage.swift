public import DNSWire

/// `sanitize`: only well-formed standard queries go further.
///
/// QDCOUNT must be 1 (FORMERR otherwise, RFC 9619), opcode QUERY (NOTIMP otherwise), EDNS version 0
/// (BADVERS otherwise, RFC 6891 §6.1.3), class IN or CH; ANY gets the minimal RFC 8482 answer;
/// AXFR/IXFR are refused over the resolver port.
public struct SanitizeStage: Stage {
    public let id: StageID = "sanitize"

    /// Creates the stage.
    public init() {}

    func check(_ q: Query) -> Resolution? {
        let m = q.message
        if m.header.opcode != .query {
            return Resolution(reply: .message(self.bare(m, .notImp)), source: .synthesized)
        }
        if m.questions.count != 1 {
            return Resolution(reply: .message(self.bare(m, .formErr)), source: .synthesized)
        }
        if let e = m.edns, e.version != 0 {
            var r = m.makeResponse(rcode: .badVers)
            r.questions = []
            return Resolution(reply: .message(r), source: .synthesized)
        }
        if !m.answers.isEmpty || !m.authorities.isEmpty {
            return Resolution(reply: .message(self.bare(m, .formErr)), source: .synthesized)
        }
        let qt = q.question.type
        if qt == .axfr || qt == .ixfr || q.question.dnsClass == .any {
            return Resolution(reply: .message(m.makeResponse(rcode: .refused)), source: .synthesized)
        }
        if q.question.dnsClass != .in && q.question.dnsClass != .chaos {
            return Resolution(reply: .message(m.makeResponse(rcode: .refused)), source: .synthesized)
        }
        if qt == .any {
            // RFC 8482 §4.2: answer with a synthesized HINFO instead of every RRset.
            var r = m.makeResponse()
            r.answers = [
                ResourceRecord(name: q.question.name, ttl: 3600,
                    rdata: .unknown(.init(type: .hinfo, bytes: [7] + Array("RFC8482".utf8) + [0])))
            ]
            return Resolution(reply: .message(r), source: .synthesized)
        }
        return nil
    }

    private func bare(_ m: DNSMessage, _ rcode: ResponseCode) -> DNSMessage {
        var r = m.makeResponse(rcode: rcode)
        r.questions = m.questions.count == 1 ? m.questions : []
        return r
    }

    public func resolveNow(_ query: Query, in context: QueryContext, next: NextNow) throws -> Resolution? {
        if let r = self.check(query) { return r }
        return try next(query, context)
    }

    public func resolve(_ query: Query, in context: QueryContext, next: @escaping Next) async throws -> Resolution {
        if let r = self.check(query) {
            context.note(self.id, "answered \(r.rcode?.description ?? "-") here")
            return r
        }
        return try await next(query, context)
    }
}
