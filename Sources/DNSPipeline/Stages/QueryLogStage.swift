import DNSWire

/// `query-log`: wraps everything below, so it sees the final outcome and latency, and counts each
/// query in the buffer without blocking, copying the query or building strings on the DNS path.
public struct QueryLogStage: Stage {
    public let id: StageID = "query-log"
    /// Where raw events go.
    public let buffer: QueryEventBuffer

    /// Creates the stage.
    public init(buffer: QueryEventBuffer) {
        self.buffer = buffer
    }

    public func resolveNow(_ query: Query, in context: QueryContext, next: NextNow) throws -> Resolution? {
        let start = context.startInstant
        guard let r = try next(query, context) else { return nil }
        self.record(query, context, r, start)
        return r
    }

    public func resolve(_ query: Query, in context: QueryContext, next: @escaping Next) async throws -> Resolution {
        let start = context.startInstant
        let r = try await next(query, context)
        self.record(query, context, r, start)
        return r
    }

    private func record(_ q: Query, _ c: QueryContext, _ r: Resolution, _ start: ContinuousClock.Instant) {
        // A repeat is a hash and a counter increment; the wall clock is read only for a query that opens a row
        // (its timestamp is the arrival time: now minus the time spent below).
        // The metrics stage below has usually timed the query already (same start): one clock read, not two.
        self.buffer.record(q, workload: c.workload, resolution: r, latency: r.latency ?? start.duration(to: .now))
    }
}
