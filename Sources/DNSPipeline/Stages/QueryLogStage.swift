public import DNSWire
import Foundation

/// `query-log`: wraps everything below, so it sees the final outcome and latency, and hands one
/// event per query to the buffer without blocking or building strings on the DNS path.
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
        // The timestamp is the arrival time: now minus the time spent below.
        let latency = start.duration(to: .now)
        let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
        let lc = latency.components
        let micros = lc.seconds * 1_000_000 + lc.attoseconds / 1_000_000_000_000
        self.buffer.record(RawQueryEvent(timestampMicros: now - micros, query: q, workload: c.workload, resolution: r,
            latency: latency))
    }
}
