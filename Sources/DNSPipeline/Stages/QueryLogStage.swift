public import DNSWire
import Foundation

/// `query-log`: wraps everything below, so it sees the final outcome and latency, and hands one
/// ``QueryEvent`` per query to the sinks without blocking.
public struct QueryLogStage: Stage {
    public let id: StageID = "query-log"
    /// Where events go (store writer, JSON output, incident alerts).
    public let sinks: [any QueryEventSink]

    /// Creates the stage.
    public init(sinks: [any QueryEventSink]) {
        self.sinks = sinks
    }

    public func resolveNow(_ query: Query, in context: QueryContext, next: NextNow) throws -> Resolution? {
        let start = ContinuousClock.now
        guard let r = try next(query, context) else { return nil }
        self.emit(query, context, r, start)
        return r
    }

    public func resolve(_ query: Query, in context: QueryContext, next: @escaping Next) async throws -> Resolution {
        let start = ContinuousClock.now
        let r = try await next(query, context)
        self.emit(query, context, r, start)
        return r
    }

    private func emit(_ q: Query, _ c: QueryContext, _ r: Resolution, _ start: ContinuousClock.Instant) {
        guard !self.sinks.isEmpty else { return }
        let e = Self.event(q, c, r, latency: start.duration(to: .now))
        for s in self.sinks { s.emit(e) }
    }

    /// Builds the event for one answered query.
    public static func event(_ q: Query, _ c: QueryContext, _ r: Resolution, latency: Duration) -> QueryEvent {
        var answers: [String] = []
        var rcode = "DROP"
        switch r.reply {
        case .message(let m):
            rcode = m.rcode.description
            for rr in m.answers.prefix(8) { answers.append("\(rr.type) \(rr.rdata.presentation)") }
        case .cached(let p, _):
            rcode = p.rcode.description
            for rr in p.message.answers.prefix(8) { answers.append("\(rr.type) \(rr.rdata.presentation)") }
        case .drop:
            break
        }
        var upstream: String?
        if case .upstream(let u) = r.source { upstream = u }
        let micros = latency.components.seconds * 1_000_000 + latency.components.attoseconds / 1_000_000_000_000
        return QueryEvent(
            timestampMicros: Int64(Date().timeIntervalSince1970 * 1_000_000), clientIP: q.client.address.description,
            transport: q.client.transport.rawValue, workload: c.workload,
            qname: q.question.name.lowercased.description, qtype: q.question.type.description, rcode: rcode,
            answers: answers, source: r.source.label, upstream: upstream, policy: r.policy, findings: r.findings,
            latencyMicros: micros)
    }
}
