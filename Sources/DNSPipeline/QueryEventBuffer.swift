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

/// A bounded hand-off between the DNS path and the query-event sinks, which also folds repeated
/// queries into one event.
///
/// `record` is a lock and an append; ``drain()`` (run by a background service) builds the events
/// and gives them to the sinks. When the buffer is full, new events are dropped and counted:
/// resolution is never slowed down by logging.
///
/// **Aggregation.** With a non-zero `aggregationWindow`, identical queries — same client address,
/// transport, workload, question, rcode, answer source and policy hit — arriving within the window
/// become one event whose ``QueryEvent/count`` says how many there were (time: the first; latency: the
/// slowest). Every query is still accounted for, but a container asking for the same name a thousand
/// times a second costs one row a window instead of a thousand: at 100 k cached queries a second, a
/// per-query SQLite row is what made logging cost 3.4× the CPU of resolving (BENCHMARKS.md). Queries
/// with detector findings are never folded. A client's first blocked query in a window is handed over at
/// once (count 1), after the client's earlier groups, so alerts and the console see it without waiting and
/// in order; everything after it folds as usual.
public final class QueryEventBuffer: Sendable {
    private let pending: Mutex<[RawQueryEvent]>
    private let capacity: Int
    /// Where finished events go.
    public let sinks: [any QueryEventSink]
    /// How long identical queries are folded together; zero hands every query over on its own.
    public let aggregationWindow: Duration
    private let groups: Mutex<AggregationState>
    private let maxGroups: Int
    private let dropped = Counter(label: "palisade_querylog_buffer_dropped_total")
    private let depth = Gauge(label: "palisade_querylog_buffer_depth")
    private let folded = Counter(label: "palisade_querylog_folded_queries_total")

    /// Creates a buffer in front of `sinks`.
    ///
    /// - Parameters:
    ///   - sinks: Receivers of the finished events.
    ///   - capacity: Most raw events waiting between two drains; more are dropped and counted.
    ///   - aggregationWindow: Fold identical queries arriving within this long into one event (zero: off).
    ///   - maxGroups: Most open groups; when a drain would exceed it, every open group is handed over early.
    public init(sinks: [any QueryEventSink], capacity: Int = 65_536, aggregationWindow: Duration = .zero,
        maxGroups: Int = 100_000)
    {
        self.sinks = sinks
        self.capacity = max(1, capacity)
        self.aggregationWindow = aggregationWindow < .zero ? .zero : aggregationWindow
        self.maxGroups = max(1, maxGroups)
        var initial: [RawQueryEvent] = []
        initial.reserveCapacity(min(self.capacity, 4096))
        self.pending = Mutex(initial)
        self.groups = Mutex(AggregationState())
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

    /// Builds and hands over what is due: with aggregation off, everything queued; with it on, the first
    /// query of each new blocked group, and every group whose window has closed by `nowMicros`.
    ///
    /// - Parameters:
    ///   - nowMicros: The wall clock, microseconds since the Unix epoch (tests pass their own).
    ///   - final: Hand over every open group too (shutdown).
    /// - Returns: How many events were handed over.
    @discardableResult
    public func drain(nowMicros: Int64 = Int64(Date().timeIntervalSince1970 * 1_000_000), final: Bool = false) -> Int {
        var batch: [RawQueryEvent] = []
        batch.reserveCapacity(4096)
        self.pending.withLock { swap(&$0, &batch) }
        self.depth.record(0)
        guard self.aggregationWindow > .zero else {
            return self.handOver(batch.lazy.map { ($0, 1, $0.latency) }, total: batch.count)
        }
        let window = Self.micros(self.aggregationWindow)
        var due: [(RawQueryEvent, Int, Duration)] = []
        var foldedNow = 0
        self.groups.withLock { state in
            for raw in batch {
                guard raw.resolution.findings.isEmpty else {
                    due.append((raw, 1, raw.latency))
                    continue
                }
                let key = GroupKey(raw)
                // One hash of the key for the common case, a repeat: find the slot, then mutate it in place.
                if let slot = state.groups.index(forKey: key) {
                    state.groups.values[slot].count += 1
                    if raw.latency > state.groups.values[slot].slowest { state.groups.values[slot].slowest = raw.latency }
                    foldedNow += 1
                    continue
                }
                let blocked = raw.resolution.policy.map { $0.action != "passthru" && $0.action != "log" } ?? false
                let subject = SubjectKey(key)
                // A client's first block in a window is handed over at once, after what the client asked before
                // it (so an incident's "last queries" read in order); its repeats, and the client's other blocked
                // names in the same window, fold like any query. One client blocked on thousands of names (a
                // DGA, a block storm) so costs a row per name per window, not a row per query.
                let immediate = blocked
                    && state.lastImmediateBlock[subject].map { raw.timestampMicros - $0 >= window } ?? true
                if immediate {
                    state.lastImmediateBlock[subject] = raw.timestampMicros
                    for earlier in state.bySubject.removeValue(forKey: subject) ?? [] {
                        if let g = state.groups.removeValue(forKey: earlier), g.count > 0 {
                            due.append((g.first, g.count, g.slowest))
                        }
                    }
                    due.append((raw, 1, raw.latency))
                }
                state.groups[key] = Group(first: raw, count: immediate ? 0 : 1, slowest: immediate ? .zero : raw.latency)
                state.order.append((key, raw.timestampMicros))
                state.bySubject[subject, default: []].append(key)
            }
            // Groups are opened in arrival order, so the closed ones are at the front of `order`.
            let flushAll = final || state.groups.count > self.maxGroups
            while state.head < state.order.count {
                let (key, opened) = state.order[state.head]
                guard flushAll || nowMicros - opened >= window else { break }
                state.head += 1
                if let g = state.groups.removeValue(forKey: key), g.count > 0 { due.append((g.first, g.count, g.slowest)) }
            }
            // `bySubject` keeps the keys of flushed groups until here (removing them one by one would cost a
            // scan each); it is rebuilt from the open groups whenever `order` is compacted.
            if state.head == state.order.count {
                state.order.removeAll(keepingCapacity: true)
                state.bySubject.removeAll(keepingCapacity: true)
                state.lastImmediateBlock = state.lastImmediateBlock.filter { nowMicros - $0.value < window }
                state.head = 0
            } else if state.head > 4096 && state.head * 2 > state.order.count {
                state.order.removeFirst(state.head)
                state.head = 0
                state.bySubject.removeAll(keepingCapacity: true)
                state.lastImmediateBlock = state.lastImmediateBlock.filter { nowMicros - $0.value < window }
                for (key, _) in state.order where state.groups[key] != nil {
                    state.bySubject[SubjectKey(key), default: []].append(key)
                }
            }
        }
        if foldedNow > 0 { self.folded.increment(by: Int64(foldedNow)) }
        return self.handOver(due, total: due.count)
    }

    /// Queries waiting in open groups (not yet handed over).
    public var openGroups: Int { self.groups.withLock { $0.groups.count } }

    private func handOver(_ items: some Sequence<(RawQueryEvent, Int, Duration)>, total: Int) -> Int {
        var handed = 0
        for (raw, count, slowest) in items {
            var e = raw.event
            if count != 1 || slowest != raw.latency {
                e.count = count
                let c = slowest.components
                e.latencyMicros = c.seconds * 1_000_000 + c.attoseconds / 1_000_000_000_000
            }
            var accepted = false
            for s in self.sinks where s.emit(e) { accepted = true }
            guard accepted else {
                // Every sink is full: building the rest would be wasted work; count them as dropped.
                self.dropped.increment(by: Int64(total - handed - 1))
                break
            }
            handed += 1
        }
        return handed
    }

    private static func micros(_ d: Duration) -> Int64 {
        let c = d.components
        return c.seconds * 1_000_000 + c.attoseconds / 1_000_000_000_000
    }

    /// Drains every `interval` until cancelled, then hands over everything, open groups included.
    public func run(every interval: Duration = .milliseconds(50)) async {
        while !Task.isCancelled {
            self.drain()
            try? await Task.sleep(for: interval)
        }
        self.drain(final: true)
    }
}

/// Open groups, in the order they were opened.
struct AggregationState {
    var groups: [GroupKey: Group] = [:]
    /// Open groups per client and workload, in the order they were opened.
    var bySubject: [SubjectKey: [GroupKey]] = [:]
    /// When each client's latest block was handed over at once.
    var lastImmediateBlock: [SubjectKey: Int64] = [:]
    /// Keys in the order their groups were opened, with the time; entries before `head` are done.
    var order: [(GroupKey, Int64)] = []
    var head = 0
}

/// Identical queries folded so far.
struct Group {
    var first: RawQueryEvent
    var count: Int
    var slowest: Duration
}

/// Who asked: the client address and workload of a group.
struct SubjectKey: Hashable {
    var client: IPAddress
    var workload: String?

    init(_ key: GroupKey) {
        self.client = key.client
        self.workload = key.workload
    }
}

/// What makes two queries "the same" for the log.
struct GroupKey: Hashable {
    var client: IPAddress
    var transport: Transport
    var workload: String?
    var name: DomainName
    var type: RecordType
    var rcode: UInt16
    /// The answer source's label (`cache`, `upstream`, `policy`, …): the policy hit is its own field, and
    /// hashing it twice per query was measurable.
    var source: String
    var policy: PolicyHit?

    init(_ raw: RawQueryEvent) {
        self.client = raw.query.client.address
        self.transport = raw.query.client.transport
        self.workload = raw.workload.map { "\($0.kind.rawValue):\($0.id)" }
        self.name = raw.query.question.name
        self.type = raw.query.question.type
        switch raw.resolution.reply {
        case .message(let m): self.rcode = m.rcode.rawValue
        case .cached(let p, _): self.rcode = p.rcode.rawValue
        case .drop: self.rcode = 0xFFFF
        }
        self.source = raw.resolution.source.label
        self.policy = raw.resolution.policy
    }
}
