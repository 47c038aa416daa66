import DNSWire

/// `metrics`: counts every answered query by rcode, qtype and answer source, and times it (``QueryMetrics``).
public struct MetricsStage: Stage {
    public let id: StageID = "metrics"
    private let metrics: QueryMetrics

    /// Creates the stage; it records into `metrics` (the process-wide instance unless a test passes its own).
    public init(metrics: QueryMetrics = .shared) {
        self.metrics = metrics
    }

    /// Counts `r` and notes its latency in it (``Resolution/latency``) for the query log.
    private func record(_ q: Query, _ r: inout Resolution, _ start: ContinuousClock.Instant) {
        let latency = start.duration(to: .now)
        r.latency = latency
        self.metrics.record(rcode: r.rcode, type: q.question.type, source: r.source, latency: latency)
    }

    public func resolveNow(_ query: Query, in context: QueryContext, next: NextNow) throws -> Resolution? {
        let start = context.startInstant
        guard var r = try next(query, context) else { return nil }
        self.record(query, &r, start)
        return r
    }

    public func resolve(_ query: Query, in context: QueryContext, next: @escaping Next) async throws -> Resolution {
        let start = context.startInstant
        var r = try await next(query, context)
        self.record(query, &r, start)
        return r
    }
}
