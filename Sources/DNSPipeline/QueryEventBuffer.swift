public import DNSWire
import Foundation
import Metrics
import Synchronization

/// What the query-log stage captures per query: cheap to take (no strings are built), turned into
/// a ``QueryEvent`` later, off the DNS path.
public struct RawQueryEvent: Sendable {
    /// Arrival time, microseconds since the Unix epoch.
    public var timestampMicros: Int64
    /// The query.
    public var query: Query
    /// The workload, when identified.
    public var workload: Workload?
    /// The outcome.
    public var resolution: Resolution
    /// Time spent in the pipeline.
    public var latency: Duration

    /// Captures one query's outcome.
    public init(timestampMicros: Int64, query: Query, workload: Workload?, resolution: Resolution, latency: Duration) {
        self.timestampMicros = timestampMicros
        self.query = query
        self.workload = workload
        self.resolution = resolution
        self.latency = latency
    }

    /// Builds the event the sinks receive.
    public var event: QueryEvent {
        var answers: [String] = []
        var rcode = "DROP"
        switch self.resolution.reply {
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
        if case .upstream(let u) = self.resolution.source { upstream = u }
        let c = self.latency.components
        return QueryEvent(
            timestampMicros: self.timestampMicros, clientIP: self.query.client.address.description,
            transport: self.query.client.transport.rawValue, workload: self.workload,
            qname: self.query.question.name.lowercased.description, qtype: self.query.question.type.description,
            rcode: rcode, answers: answers, source: self.resolution.source.label, upstream: upstream,
            policy: self.resolution.policy, findings: self.resolution.findings,
            latencyMicros: c.seconds * 1_000_000 + c.attoseconds / 1_000_000_000_000)
    }
}

/// A bounded hand-off between the DNS path and the query-event sinks.
///
/// `record` is a lock and an append; ``drain()`` (run by a background service) builds the events
/// and gives them to the sinks. When the buffer is full, new events are dropped and counted:
/// resolution is never slowed down by logging.
public final class QueryEventBuffer: Sendable {
    private let pending: Mutex<[RawQueryEvent]>
    private let capacity: Int
    /// Where finished events go.
    public let sinks: [any QueryEventSink]
    private let dropped = Counter(label: "palisade_querylog_buffer_dropped_total")
    private let depth = Gauge(label: "palisade_querylog_buffer_depth")

    /// Creates a buffer in front of `sinks`.
    public init(sinks: [any QueryEventSink], capacity: Int = 65_536) {
        self.sinks = sinks
        self.capacity = max(1, capacity)
        var initial: [RawQueryEvent] = []
        initial.reserveCapacity(min(self.capacity, 4096))
        self.pending = Mutex(initial)
    }

    /// Queues one raw event; false when the buffer was full (the event is dropped and counted).
    @discardableResult
    public func record(_ e: RawQueryEvent) -> Bool {
        let ok = self.pending.withLock { p -> Bool in
            guard p.count < self.capacity else { return false }
            p.append(e)
            return true
        }
        if !ok { self.dropped.increment() }
        return ok
    }

    /// Builds and hands over everything queued; returns how many events were handed over.
    @discardableResult
    public func drain() -> Int {
        var batch: [RawQueryEvent] = []
        batch.reserveCapacity(4096)
        self.pending.withLock { swap(&$0, &batch) }
        self.depth.record(0)
        var handed = 0
        for raw in batch {
            let e = raw.event
            var accepted = false
            for s in self.sinks where s.emit(e) { accepted = true }
            guard accepted else {
                // Every sink is full: building the rest would be wasted work; count them as dropped.
                self.dropped.increment(by: Int64(batch.count - handed - 1))
                break
            }
            handed += 1
        }
        return handed
    }

    /// Drains every `interval` until cancelled, then once more.
    public func run(every interval: Duration = .milliseconds(50)) async {
        while !Task.isCancelled {
            self.drain()
            try? await Task.sleep(for: interval)
        }
        self.drain()
    }
}
