public import DNSPipeline
import DNSWire
import Metrics
import Synchronization

/// Decides when a workload's query opens an incident, and remembers its last queries.
///
/// Per workload (keyed by `kind:id`; unknown clients by `ip:<address>`) it keeps a ring buffer of the last
/// `lastQueries` events and the time of its last incident. A blocked query or one with a detector finding
/// opens an incident only when the workload has had none within `window`: a thousand blocks from one
/// workload in the window make one incident, the next window makes a new one. Time is the events' own
/// arrival time, so the decision is deterministic and needs no clock.
///
/// Memory is bounded: at most `maxWorkloads` workloads are tracked; beyond that the least recently seen
/// eighth is forgotten (a forgotten workload that blocks again inside its window opens a new incident: the
/// price of the bound, and only under more than `maxWorkloads` active clients).
public final class IncidentTracker: Sendable {
    /// Tuning, with the defaults of the configuration.
    public struct Configuration: Sendable, Equatable {
        /// At most one incident per workload within this window. Default 10 minutes.
        public var window: Duration
        /// Queries kept per workload and sent with an incident. Default 20.
        public var lastQueries: Int
        /// Workloads tracked at once. Default 10 000.
        public var maxWorkloads: Int

        /// Creates a configuration.
        public init(window: Duration = .seconds(600), lastQueries: Int = 20, maxWorkloads: Int = 10_000) {
            self.window = window
            self.lastQueries = lastQueries
            self.maxWorkloads = maxWorkloads
        }
    }

    private struct Ring {
        var items: [QueryEvent] = []
        var next = 0

        mutating func append(_ e: QueryEvent, capacity: Int) {
            guard capacity > 0 else { return }
            if self.items.count < capacity {
                self.items.append(e)
            } else {
                self.items[self.next] = e
                self.next = (self.next + 1) % capacity
            }
        }

        /// Oldest first.
        var ordered: [QueryEvent] { Array(self.items[self.next...] + self.items[..<self.next]) }
    }

    private struct Entry {
        var ring = Ring()
        var lastSeenMicros: Int64 = 0
        var lastIncidentMicros: Int64?
    }

    /// The configuration in force.
    public let configuration: Configuration
    private let windowMicros: Int64
    private let entries = Mutex([String: Entry]())
    private let openedCounter = Counter(label: "palisade_incidents_opened_total")
    private let suppressedCounter = Counter(label: "palisade_incidents_suppressed_total")
    private let trackedGauge = Gauge(label: "palisade_incidents_tracked_workloads")

    /// Creates a tracker.
    public init(configuration: Configuration = Configuration()) {
        var c = configuration
        c.lastQueries = max(1, c.lastQueries)
        c.maxWorkloads = max(1, c.maxWorkloads)
        self.configuration = c
        let parts = c.window.components
        self.windowMicros = max(0, parts.seconds * 1_000_000 + parts.attoseconds / 1_000_000_000_000)
    }

    /// The tracking key of the event's client: `kind:id` for a workload, `ip:<address>` otherwise.
    public static func key(for event: QueryEvent) -> String {
        event.workload.map(EventJSON.key(of:)) ?? "ip:\(event.clientIP)"
    }

    /// Records `event`; returns the incident it opens, if any.
    public func observe(_ event: QueryEvent) -> Incident? {
        let reason: Incident.Reason? = event.blocked ? .blocked : (event.findings.isEmpty ? nil : .finding)
        let key = Self.key(for: event)
        let c = self.configuration
        let (last, suppressed, tracked) = self.entries.withLock { entries -> ([QueryEvent]?, Bool, Int) in
            if entries[key] == nil, entries.count >= c.maxWorkloads { Self.evict(&entries, keep: c.maxWorkloads) }
            var entry = entries[key] ?? Entry()
            entry.ring.append(event, capacity: c.lastQueries)
            entry.lastSeenMicros = max(entry.lastSeenMicros, event.timestampMicros)
            var opened: [QueryEvent]?
            var suppressed = false
            if reason != nil {
                if let previous = entry.lastIncidentMicros, event.timestampMicros - previous < self.windowMicros,
                    event.timestampMicros >= previous
                {
                    suppressed = true
                } else {
                    entry.lastIncidentMicros = event.timestampMicros
                    opened = entry.ring.ordered
                }
            }
            entries[key] = entry
            return (opened, suppressed, entries.count)
        }
        self.trackedGauge.record(tracked)
        if suppressed { self.suppressedCounter.increment(by: Int64(max(event.count, 1))) }
        guard let last, let reason else { return nil }
        self.openedCounter.increment()
        return Incident(id: Self.newID(), timeMicros: event.timestampMicros, workload: event.workload,
            clientIP: event.clientIP, reason: reason, trigger: event, lastQueries: last)
    }

    /// Workloads tracked now.
    public var trackedWorkloads: Int { self.entries.withLock { $0.count } }

    /// Forgets the least recently seen eighth (at least one), so eviction costs O(n log n) once every n/8
    /// new workloads rather than on every one.
    private static func evict(_ entries: inout [String: Entry], keep: Int) {
        let drop = max(1, entries.count - keep + keep / 8)
        let oldest = entries.sorted { $0.value.lastSeenMicros < $1.value.lastSeenMicros }.prefix(drop)
        for (k, _) in oldest { entries[k] = nil }
    }

    private static func newID() -> String {
        var g = SystemRandomNumberGenerator()
        let bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &g) }
        return Presentation.hex(bytes)
    }
}
