import DNSWire
import Foundation
import Metrics
import Synchronization

/// One query's outcome as a caller outside the DNS path hands it over (tests, tools): the DNS path itself
/// calls ``QueryEventBuffer/record(_:workload:resolution:latency:)`` and never builds this value.
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
        let key = GroupKey(query: self.query, workload: self.workload, resolution: self.resolution)
        return LoggedQuery(key: key, timestampMicros: self.timestampMicros,
            latencyMicros: QueryEventBuffer.micros(self.latency), workload: self.workload,
            resolution: self.resolution, findings: self.resolution.findings).event()
    }
}

/// A bounded hand-off between the DNS path and the query-event sinks, which also folds repeated
/// queries into one event.
///
/// **Cost on the DNS path.** ``record(_:workload:resolution:latency:)`` computes a group key (the client, the
/// question and the outcome, hashed once, outside the lock), then takes a lock and looks the key up. A repeat
/// of an open group is a counter increment: nothing of the query is copied or kept. Only the first query of a
/// group (one per row that will be written) keeps what its row needs (the reply for the answers, the policy
/// hit, the workload). Rows are built by ``drain(nowMicros:final:)`` (a background service), never on the DNS
/// path. When the buffer is full, new rows are dropped and counted: resolution is never slowed down by logging.
///
/// **Aggregation.** With a non-zero `aggregationWindow`, identical queries — same client address,
/// transport, workload, question, rcode, answer source and policy hit — arriving within the window
/// become one event whose ``QueryEvent/count`` says how many there were (time: the first; latency: the
/// slowest). Every query is still accounted for, but a container asking for the same name a thousand
/// times a second costs one row a window instead of a thousand. Queries blocked by a rule that covers a whole
/// subtree (`*.evil.example`, `||evil.example^`) are grouped by the rule instead of the name: a DGA or a DNS
/// tunnel asking for a new name under a blocked domain on every query costs one row per window, whose
/// ``QueryEvent/otherNames`` keep the first ``maxOtherNames`` other names asked. Queries with detector findings are never
/// folded. A client's first blocked query in a window is handed over at once (count 1), after the client's
/// earlier groups, so alerts and the console see it without waiting and in order; everything after it folds
/// as usual.
///
/// **Block storms.** A client (workload) blocked on more than `stormThreshold` distinct questions within one generation
/// (a window, or less when `maxGroups` closes it early) is flooding: a DGA on exact-name rules, a scan of a feed, or a
/// compromised container trying to push the log's older rows out through `maxRows` retention. Its later blocked names
/// fold into one storm row per question type, rcode, feed, action and trigger, marked with a ``stormDetector`` finding
/// and keeping the first ``maxOtherNames`` of them. Every query is still counted, each answer's Extended DNS Error
/// still names its rule, and the first `stormThreshold` questions keep their own rows: a flood costs a few rows per
/// window instead of a row per name (a row per name took half a core at 90,000 new blocked names a second, BENCHMARKS.md).
public final class QueryEventBuffer: Sendable {
    private let state: Mutex<AggregationState>
    /// What a drain took and could not hand over yet; held for the whole drain, so drains never interleave.
    private let pending = Mutex(Pending())
    private let capacity: Int
    /// Where finished events go.
    public let sinks: [any QueryEventSink]
    /// How long identical queries are folded together; zero hands every query over on its own.
    public let aggregationWindow: Duration
    private let windowMicros: Int64
    private let maxGroups: Int
    private let maxHoldBackMicros: Int64
    private let blockContext: Int
    /// Distinct blocked questions per subject and generation that get their own rows (0: no limit).
    private let stormThreshold: Int
    /// The finding every storm row carries (one shared array: opening a storm group allocates nothing for it).
    private let stormFindings: [Finding]
    private let dropped = Counter(label: "palisade_querylog_buffer_dropped_total")
    /// Rows waiting at the start of a drain: due, plus open groups (each will be a row).
    private let depth = Gauge(label: "palisade_querylog_buffer_depth")
    private let folded = Counter(label: "palisade_querylog_folded_queries_total")
    /// Storm rows opened: a client blocked on more distinct names in a window than `stormThreshold` (alert on it).
    private let storms = Counter(label: "palisade_querylog_block_storm_rows_total")
    /// How many of a client's latest groups a first block hands over ahead of it unless told otherwise: as many
    /// as an incident shows by default (`incidents.lastQueries`).
    public static let defaultBlockContext = 20
    /// How long rows wait for room in full sinks by default. With it, every row was written at 20,000–30,000 new names
    /// a second, where a whole closed window used to overflow the SQLite writer's queue (`bench/fixed-rate`,
    /// BENCHMARKS.md, session 10).
    public static let defaultMaxHoldBack: Duration = .seconds(3)
    /// Most other names kept on a row grouped by its rule (see ``QueryEvent/otherNames``).
    public static let maxOtherNames = 16
    /// Distinct blocked questions a client may have in one window before the rest fold into a storm row, by default:
    /// 100 new blocked names a second from one client for a whole 10 s window; the floods measured here were 40,000
    /// and 90,000 a second.
    public static let defaultStormThreshold = 1_000
    /// ``Finding/detector`` of a storm row.
    public static let stormDetector = "block-storm"

    /// Creates a buffer in front of `sinks`.
    ///
    /// - Parameters:
    ///   - sinks: Receivers of the finished events.
    ///   - capacity: Most rows waiting to be handed over between two drains (with aggregation off: queries);
    ///     more are dropped and counted. Repeats of an open group are never dropped: they cost no memory.
    ///   - aggregationWindow: Fold identical queries arriving within this long into one event (zero: off).
    ///   - maxGroups: Most open groups; when a drain finds more, every open group is handed over early.
    ///   - maxHoldBack: Longest a row waits for room in the sinks before it is handed over regardless (see
    ///     ``drain(nowMicros:final:)``).
    ///   - blockContext: How many of a client's latest open groups are handed over ahead of its first block in a
    ///     window (an incident's "last queries"); older ones close with their generation. Bounded because the
    ///     work is done on the DNS path, under the lock: closing every group of a busy client took up to 17 ms.
    ///   - stormThreshold: Distinct blocked questions of one client in one generation that get their own rows; later
    ///     ones fold into storm rows (see "Block storms" above). 0 gives every distinct blocked question its own row.
    public init(sinks: [any QueryEventSink], capacity: Int = 65_536, aggregationWindow: Duration = .zero,
        maxGroups: Int = 100_000, maxHoldBack: Duration = QueryEventBuffer.defaultMaxHoldBack,
        blockContext: Int = QueryEventBuffer.defaultBlockContext,
        stormThreshold: Int = QueryEventBuffer.defaultStormThreshold)
    {
        self.maxHoldBackMicros = Self.micros(maxHoldBack)
        self.blockContext = max(0, blockContext)
        self.stormThreshold = max(0, stormThreshold)
        self.stormFindings = [Finding(detector: Self.stormDetector, score: 1,
            detail: "more than \(self.stormThreshold) distinct names blocked for this client in one window: this row "
                + "counts its queries for the names past them, and lists the first of those names")]
        self.sinks = sinks
        self.capacity = max(1, capacity)
        self.aggregationWindow = aggregationWindow < .zero ? .zero : aggregationWindow
        self.windowMicros = Self.micros(self.aggregationWindow)
        self.maxGroups = max(1, maxGroups)
        var initial = AggregationState()
        initial.due.reserveCapacity(min(self.capacity, 4096))
        self.state = Mutex(initial)
    }

    /// Counts one answered query: the DNS path's entry point.
    ///
    /// - Parameters:
    ///   - query: The query.
    ///   - workload: The workload behind the client, when identified.
    ///   - resolution: The outcome.
    ///   - latency: Time spent in the pipeline; the arrival time is taken as now minus this.
    /// - Returns: false when the query would have opened a row and the buffer was full (dropped and counted).
    @discardableResult
    public func record(_ query: Query, workload: Workload?, resolution: Resolution, latency: Duration) -> Bool {
        self.record(query, workload: workload, resolution: resolution, latencyMicros: Self.micros(latency),
            timestampMicros: nil)
    }

    /// Counts one query captured earlier, with its own arrival time.
    ///
    /// - Returns: false when the query would have opened a row and the buffer was full (dropped and counted).
    @discardableResult
    public func record(_ e: RawQueryEvent) -> Bool {
        self.record(e.query, workload: e.workload, resolution: e.resolution, latencyMicros: Self.micros(e.latency),
            timestampMicros: e.timestampMicros)
    }

    private func record(_ query: Query, workload: Workload?, resolution: Resolution, latencyMicros: Int64,
        timestampMicros: Int64?) -> Bool
    {
        // A cache hit whose packet points at an open group of the same client: no key to build or hash.
        var hinted: CachedPacket? = nil
        if self.windowMicros != 0, case .cache = resolution.source, case .cached(let packet, _) = resolution.reply,
            resolution.findings.isEmpty
        {
            hinted = packet
            let hint = packet.logGroupHint.load(ordering: .relaxed)
            if hint >= 0 {
                let client = query.client
                let folded = self.state.withLock { s -> Bool in
                    guard s.current.foldHit(at: hint, packet: packet, client: client, workload: workload,
                        latencyMicros: latencyMicros)
                    else { return false }
                    s.folded += 1
                    return true
                }
                if folded { return true }
            }
        }
        // Hashed here, outside the lock; the lock then costs one lookup for a repeat.
        let key = GroupKey(query: query, workload: workload, resolution: resolution)
        let ok: Bool
        if self.windowMicros == 0 || !resolution.findings.isEmpty {
            let logged = LoggedQuery(key: key, timestampMicros: timestampMicros ?? (Self.wallMicros() - latencyMicros),
                latencyMicros: latencyMicros, workload: workload, resolution: resolution, findings: resolution.findings)
            ok = self.state.withLock { s -> Bool in
                guard s.due.count < self.capacity else { return false }
                s.due.append(Due(query: logged, count: 1, slowest: latencyMicros))
                return true
            }
        } else {
            var position = -1
            var openedStorm = false
            ok = self.state.withLock { s -> Bool in
                if let i = s.find(key) {
                    s.current.fold(at: i, name: key.byRule ? key.name : nil, latencyMicros: latencyMicros)
                    s.folded += 1
                    position = i
                    return true
                }
                let blocked = key.blocked
                var storm: GroupKey? = nil
                if blocked, self.stormThreshold > 0, s.current.blockedNames(of: key) >= self.stormThreshold {
                    // A storm: the name folds into the subject's storm group for its kind of block, opened once.
                    let k = s.stormKey(of: key)
                    if let i = s.find(k) {
                        s.current.fold(at: i, name: key.name, latencyMicros: latencyMicros)
                        s.folded += 1
                        return true
                    }
                    storm = k
                }
                // While rows wait for room in the sinks, the generation is not rotated: it may not grow past
                // `maxGroups` then, so that its index never outgrows the storage kept from the last one (a rehash of
                // 131,072 groups under this lock would stall every query behind it for milliseconds).
                guard s.due.count < self.capacity, s.open < (s.holding ? self.maxGroups : self.maxGroups + self.capacity)
                else { return false }
                let logged = LoggedQuery(key: storm ?? key,
                    timestampMicros: timestampMicros ?? (Self.wallMicros() - latencyMicros), latencyMicros: latencyMicros,
                    workload: workload, resolution: resolution, findings: storm == nil ? [] : self.stormFindings)
                position = s.current.groups.count
                // A storm group opens as an unblocked one would: never an immediate block, counted as no name.
                s.openGroup(logged, blocked: blocked && storm == nil, window: self.windowMicros,
                    context: self.blockContext)
                openedStorm = storm != nil
                return true
            }
            if let hinted, position >= 0 { hinted.logGroupHint.store(position, ordering: .relaxed) }
            if openedStorm { self.storms.increment() }
        }
        if !ok { self.dropped.increment() }
        return ok
    }

    /// Builds and hands over what is due: with aggregation off, everything queued; with it on, the first
    /// query of each client's first blocked group in a window (and the client's groups before it), and every
    /// group of the current generation once `window` has passed since its first query by `nowMicros`.
    ///
    /// **Back-pressure.** A drain hands over no more rows than its sinks have room for
    /// (``QueryEventSink/spareCapacity``, the smallest of them) and keeps the rest, in order, for the next drain;
    /// rows taken earlier go first, and nothing new is taken while any are left. A closed window of a busy resolver
    /// is a burst of up to `maxGroups` rows; handed over whole it overflowed the SQLite writer's queue (65,536 events)
    /// and 18 % of the rows were dropped at 30,000 new names a second. Held back, they cost no more memory than they
    /// did as open groups, and the bounds of ``record(_:workload:resolution:latency:)`` still cap what waits: past
    /// them, new rows are dropped and counted there. A sink that stays full must not hold the others up (a stalled
    /// JSON export would blind the incident monitor): once rows have waited `maxHoldBack`, they are handed over
    /// whatever the room, and a full sink drops and counts its own.
    ///
    /// - Parameters:
    ///   - nowMicros: The wall clock, microseconds since the Unix epoch (tests pass their own).
    ///   - final: Take every open group too (shutdown).
    /// - Returns: How many events were handed over.
    @discardableResult
    public func drain(nowMicros: Int64 = QueryEventBuffer.wallMicros(), final: Bool = false) -> Int {
        self.pending.withLock { p -> Int in
            let patient = p.heldSince.map { nowMicros - $0 < self.maxHoldBackMicros } ?? true
            var out = HandOver(budget: patient ? self.sinks.reduce(Int.max) { min($0, max(0, $1.spareCapacity)) } : .max,
                patient: patient)
            self.continueHandOver(&p, &out)
            let foldedNow: Int
            let waiting: Int
            if p.isEmpty {
                var batch: [Due] = []
                batch.reserveCapacity(4096)
                var generation: AggregationState.Generation?
                (foldedNow, waiting) = self.state.withLock { s -> (Int, Int) in
                    let waiting = s.due.count + s.open
                    swap(&s.due, &batch)
                    generation = s.takeGeneration(nowMicros: nowMicros, window: self.windowMicros,
                        all: final || s.open > self.maxGroups)
                    let f = s.folded
                    s.folded = 0
                    return (f, waiting)
                }
                p.due = batch
                p.generation = generation
                generation = nil  // `p` holds the only reference: emptied in place, not copied
                self.continueHandOver(&p, &out)
            } else {
                (foldedNow, waiting) = self.state.withLock { s -> (Int, Int) in
                    let f = s.folded
                    s.folded = 0
                    return (f, s.due.count + s.open)
                }
            }
            if p.isEmpty {
                p.heldSince = nil
            } else if p.heldSince == nil {
                p.heldSince = nowMicros
            }
            let holding = !p.isEmpty
            self.state.withLock { $0.holding = holding }
            self.depth.record(waiting + p.remaining)
            if foldedNow > 0 { self.folded.increment(by: Int64(foldedNow)) }
            if out.refused > 0 { self.dropped.increment(by: Int64(out.refused)) }
            return out.handed
        }
    }

    /// Rows taken out of the buffer but not handed over yet (the sinks had no room); an upper bound, since the groups
    /// of a taken generation are counted whether or not they still stand for a query.
    public var heldBack: Int { self.pending.withLock { $0.remaining } }

    /// Hands over what `p` holds, oldest first, until the budget runs out or a row is refused.
    private func continueHandOver(_ p: inout Pending, _ out: inout HandOver) {
        if p.dueNext < p.due.count {
            p.due.withUnsafeBufferPointer { due in
                while p.dueNext < due.count && out.budget > 0 {
                    let i = p.dueNext
                    guard self.handOne(due[i].query, count: due[i].count, slowest: due[i].slowest, name: due[i].name,
                        otherNames: due[i].otherNames, into: &out)
                    else { return }
                    p.dueNext += 1
                }
            }
            guard p.dueNext >= p.due.count else { return }
        }
        p.due = []
        p.dueNext = 0
        guard var taken = p.generation else { return }
        p.generation = nil  // `taken` holds the only reference: emptied in place, not copied
        // Each open group's row built straight from the group, through pointers: copying it into a ``Due`` first
        // (then freeing both) was 2 % of the process on the cache-miss mix, where every query is a group.
        var next = p.generationNext
        taken.groups.withUnsafeBufferPointer { groups in
            taken.slots.withUnsafeBufferPointer { slots in
                taken.keys.withUnsafeBufferPointer { keys in
                    while next < groups.count && out.budget > 0 {
                        let i = next
                        if groups[i].isOpen {
                            let (count, slowest) = AggregationState.Generation.total(groups[i], slots[i], keys[i])
                            if count > 0 {
                                guard self.handOne(groups[i].query, count: count, slowest: slowest,
                                    name: groups[i].name, otherNames: groups[i].otherNames, into: &out)
                                else { return }
                            }
                        }
                        next += 1
                    }
                }
            }
        }
        if next < taken.groups.count {
            p.generation = taken
            p.generationNext = next
            return
        }
        p.generationNext = 0
        // Emptied here, outside the buffer's lock, and kept for the generation after next.
        taken.groups.removeAll(keepingCapacity: true)
        taken.slots.removeAll(keepingCapacity: true)
        taken.keys.removeAll(keepingCapacity: true)
        taken.index.removeAll(keepingCapacity: true)
        taken.subjects.removeAll(keepingCapacity: true)
        self.state.withLock { s in
            swap(&s.spare, &taken)
        }
    }

    /// Groups open now (queries counted but not yet handed over).
    public var openGroups: Int { self.state.withLock { $0.open } }

    /// Rows taken out of the buffer and not yet handed over: the drain's due rows, then a closed generation's.
    private struct Pending {
        var due: [Due] = []
        /// The next of `due` to hand over.
        var dueNext = 0
        var generation: AggregationState.Generation?
        /// The position in `generation`'s groups to go on from.
        var generationNext = 0
        /// When a drain first left rows here (the drain's `nowMicros`); nil when nothing waits.
        var heldSince: Int64?

        var isEmpty: Bool { self.dueNext >= self.due.count && self.generation == nil }

        /// Rows left (an upper bound: closed groups and groups that counted nothing are included).
        var remaining: Int {
            (self.due.count - self.dueNext) + ((self.generation?.groups.count).map { $0 - self.generationNext } ?? 0)
        }
    }

    /// Progress of one drain's hand-over.
    private struct HandOver {
        /// Rows the sinks have room for.
        var budget: Int
        /// A row every sink refuses waits for the next drain (else it is dropped and counted).
        var patient: Bool
        var handed = 0
        /// Rows every sink refused, dropped.
        var refused = 0
        // Most rows of a drain come from few clients: each address is formatted once per run of rows.
        var lastClient: IPAddress?
        var lastClientText = ""
    }

    /// Builds one row's event and hands it to the sinks. False (and no budget left) when every sink refused it and the
    /// drain is patient, so that it is offered again at the next drain; an impatient drain counts it as dropped.
    private func handOne(_ query: LoggedQuery, count: Int, slowest: Int64, name: DomainName?, otherNames: [DomainName],
        into out: inout HandOver) -> Bool
    {
        if query.key.client != out.lastClient {
            out.lastClient = query.key.client
            out.lastClientText = query.key.client.description
        }
        let e = query.event(clientText: out.lastClientText, count: count, latencyMicros: slowest, name: name,
            otherNames: otherNames)
        var accepted = false
        for s in self.sinks where s.emit(e) { accepted = true }
        guard accepted else {
            guard out.patient else {
                out.refused += 1
                return true
            }
            out.budget = 0
            return false
        }
        out.handed += 1
        out.budget -= 1
        return true
    }

    static func micros(_ d: Duration) -> Int64 {
        let c = d.components
        return c.seconds * 1_000_000 + c.attoseconds / 1_000_000_000_000
    }

    /// The wall clock, microseconds since the Unix epoch.
    public static func wallMicros() -> Int64 {
        Int64(Date().timeIntervalSince1970 * 1_000_000)
    }

    /// Where ``run(every:)`` drains: a utility queue, which libdispatch runs at nice 2, below the event loops (nice 0).
    /// Building a closed generation's rows is a burst of work (tens of thousands of rows at once on a busy resolver);
    /// on the cooperative pool it ran at the event loops' own priority and shared a busy core with them half and half.
    static let drainQueue = DispatchQueue(label: "palisade.querylog.drain", qos: .utility)

    /// Drains every `interval` until cancelled, then hands over everything, open groups included.
    public func run(every interval: Duration = .milliseconds(50)) async {
        while !Task.isCancelled {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                Self.drainQueue.async {
                    self.drain()
                    done.resume()
                }
            }
            try? await Task.sleep(for: interval)
        }
        self.drainAll()
    }

    /// Shutdown: hands over everything, open groups included, waiting for sinks that are full to make room (their
    /// writers are still running: they stop after this buffer) for at most `patience`.
    public func drainAll(patience: Duration = .seconds(5)) {
        let deadline = ContinuousClock.now + patience
        self.drain(final: true)
        while self.heldBack > 0 || self.state.withLock({ $0.due.count + $0.open }) > 0 {
            guard ContinuousClock.now < deadline else {
                // Still full: what is left is counted as dropped rather than lost silently.
                let left = self.pending.withLock { p -> Int in
                    let n = p.remaining
                    p = Pending()
                    return n
                }
                if left > 0 { self.dropped.increment(by: Int64(left)) }
                return
            }
            // A cancelled task cannot sleep; this thread waits, once, at shutdown.
            usleep(10_000)
            self.drain(final: true)
        }
    }
}

/// The current generation of open groups, the index that finds a repeat's group, and the rows due.
///
/// **Generations.** Groups open into the current generation, which starts with its first query and closes as a
/// whole once the window has passed: ``takeGeneration(nowMicros:window:all:)`` swaps the generation's arrays out in
/// constant time, and the caller builds its rows (and frees it) outside the lock. Closing each group on its own
/// deadline instead meant unindexing and compacting under the lock the DNS path takes: 4–15 ms holds a few
/// times a second on the cached-hit mix, each one a stall of every query behind it (p99 1.3 ms against 0.14 ms
/// with the log off). A group so covers the queries from its first one until its generation closes: at most
/// one window.
struct AggregationState {
    /// The hashes of the last two storm keys made, most recent first. A flood is nearly always one subject and one kind
    /// of block, or two (A and AAAA); hashing the client, feed, action and trigger again for every name was a quarter of
    /// `record` on the blocked mix (perf). The hashes depend on nothing else (the hasher's seed is the process's), so
    /// they stay valid across generations.
    var recentStorms: [StormMemo] = []

    /// The storm key of `key` (``GroupKey/init(stormOf:)``), its hashes taken from ``recentStorms`` when they match.
    mutating func stormKey(of key: GroupKey) -> GroupKey {
        let small = key.stormFields
        for i in self.recentStorms.indices where self.recentStorms[i].matches(key, small) {
            return GroupKey(stormOf: key, hash: self.recentStorms[i].hash, check: self.recentStorms[i].check)
        }
        let k = GroupKey(stormOf: key)
        if self.recentStorms.count == 2 { self.recentStorms.removeLast() }
        self.recentStorms.insert(StormMemo(hash: k.hash, check: k.check, small: small, client: key.client,
            workloadID: key.workloadID, feed: key.policy?.source, action: key.policy?.action,
            trigger: key.policy?.trigger), at: 0)
        return k
    }

    /// One generation's groups, their index and each subject's latest group.
    struct Generation {
        /// Open groups by key hash; the value is the position in `groups` of the latest group with that hash, the
        /// start of a chain of ``KeySlot/sameHash`` links. Keyed by the precomputed hash so a lookup hashes an integer
        /// and copies no key (a `[GroupKey: Int]` copied each probed key, retains included).
        var index = HashSlotIndex()
        /// Each group's key fingerprint and the repeats folded through it, one 32-byte slot per group at the same
        /// position: a repeat found by its key reads and writes only this (and the index), never the ~300-byte
        /// ``Group``. Comparing the stored key field by field in the group cost two cache misses per blocked query
        /// (the group's key, then the name or rule text it points to) and up to 17 name comparisons for a group
        /// kept by its rule: the buffer's `record` was 13 % of the event loop on the blocked mix (perf, 10k names).
        var keys: [KeySlot] = []
        /// The groups in the order they were opened.
        var groups: [Group] = []
        /// Each subject's latest group (the start of its chain of `previous` links) and its blocked names so far.
        var subjects: [SubjectKey: SubjectState] = [:]

        /// The distinct blocked names (groups opened for blocked queries, storm groups aside) of `key`'s subject.
        func blockedNames(of key: GroupKey) -> Int {
            self.subjects[key.subject]?.blockedNames ?? 0
        }

        /// Arrival time of the generation's first query; nil while it has none.
        var start: Int64? { self.groups.first?.query.timestampMicros }

        /// What ``foldHit(at:packet:client:workload:latencyMicros:)`` reads and writes, one slot per group at the
        /// same position: about 64 bytes against a ``Group``'s 300, so a repeat touches one cache line. With the
        /// groups alone, the first read of a hinted group missed the cache: 77 % of `record`'s samples on the
        /// cached-hit mix (perf annotate, 10k names, 3 MB of groups against a 2 MiB L2).
        var slots: [HitSlot] = []

        /// Counts a cache hit on `packet` in the group at `i` when that group is open, holds answers from this very
        /// packet (so the same name, type and rcode), came from the cache with no policy hit, and has the same
        /// client, transport and workload: everything its ``GroupKey`` would have compared. False leaves the
        /// generation untouched.
        mutating func foldHit(at i: Int, packet: CachedPacket, client: ClientInfo, workload: Workload?,
            latencyMicros: Int64) -> Bool
        {
            guard i < self.slots.count else { return false }
            return self.slots.withUnsafeMutableBufferPointer { slots -> Bool in
                guard let base = slots.baseAddress else { return false }
                let h = base + i
                guard h.pointee.packet == ObjectIdentifier(packet), h.pointee.client == client.address,
                    h.pointee.transport == client.transport, h.pointee.workloadKind == workload?.kind,
                    h.pointee.workloadID == workload?.id
                else { return false }
                h.pointee.count += 1
                if latencyMicros > h.pointee.slowest { h.pointee.slowest = latencyMicros }
                return true
            }
        }

        /// Counts a repeat of the open group at `i`, found by its key; `name` is the repeat's name when the group is
        /// kept by its rule (noted among its other names until they are full).
        mutating func fold(at i: Int, name: DomainName?, latencyMicros: Int64) {
            let full = self.keys.withUnsafeMutableBufferPointer { keys -> Bool in
                if keys[i].count < Int32.max { keys[i].count += 1 }
                let l = Int32(clamping: latencyMicros)
                if l > keys[i].slowest { keys[i].slowest = l }
                return keys[i].namesFull
            }
            guard let name, !full else { return }
            self.groups[i].note(name)
            if self.groups[i].otherNames.count >= QueryEventBuffer.maxOtherNames { self.keys[i].namesFull = true }
        }

        /// The queries a group stands for and the slowest of them: its own, plus the repeats folded through its key
        /// slot and the hits through its hit slot.
        static func total(_ g: Group, _ h: HitSlot, _ k: KeySlot) -> (count: Int, slowest: Int64) {
            (g.count + h.count + Int(k.count), max(g.slowest, h.slowest, Int64(k.slowest)))
        }

        /// The row of the open group at `i` (see ``total(_:_:_:)``).
        func row(_ i: Int) -> Due? {
            var g = self.groups[i]
            (g.count, g.slowest) = Self.total(g, self.slots[i], self.keys[i])
            return g.row
        }
    }

    /// The generation groups open into.
    var current = Generation()
    /// The storage of the generation before last, emptied outside the lock and swapped in at the next rotation, so
    /// the DNS path does not regrow (reallocate, rehash) the arrays and the index from nothing under the lock.
    var spare = Generation()
    /// Groups of `current` still open.
    var open = 0
    /// Rows ready to be built and handed over, in order.
    var due: [Due] = []
    /// When each client's latest block was handed over at once.
    var lastImmediateBlock: [SubjectKey: Int64] = [:]
    /// Repeats folded since the last drain.
    var folded = 0
    /// A drain left rows waiting for room in the sinks (see ``QueryEventBuffer/drain(nowMicros:final:)``).
    var holding = false

    /// The position in `groups` of the open group for `key`: the one whose key slot holds the same hash and check
    /// (``GroupKey/check``).
    func find(_ key: GroupKey) -> Int? {
        guard let first = self.current.index.slot(for: key.hash) else { return nil }
        return self.current.keys.withUnsafeBufferPointer { keys -> Int? in
            var i = first
            while i >= 0 {
                if keys[i].hash == key.hash && keys[i].check == key.check { return i }
                i = Int(keys[i].sameHash)
            }
            return nil
        }
    }

    /// Removes the group at `i` (open) from the hash chains.
    private mutating func unindex(_ i: Int) {
        let h = self.current.keys[i].hash
        let next = Int(self.current.keys[i].sameHash)
        guard let first = self.current.index.slot(for: h) else { return }
        if first == i {
            if next >= 0 { self.current.index.set(h, slot: next) } else { self.current.index.remove(h) }
            return
        }
        // A full 64-bit hash collision between open groups: walk the short chain.
        var j = first
        while self.current.keys[j].sameHash >= 0 {
            if Int(self.current.keys[j].sameHash) == i {
                self.current.keys[j].sameHash = Int32(next)
                return
            }
            j = Int(self.current.keys[j].sameHash)
        }
    }

    /// Opens a group for `q`, the first query of its kind in this generation. `blocked`: a blocked name of its
    /// subject, counted towards its storm threshold and handed over at once when it is the subject's first block in
    /// the window. `q` moves into the group: copying it retained each of its references and destroying the caller's
    /// copy released them again (perf, miss mix: 1.5–2.1 % of the event loop, one new group per miss).
    mutating func openGroup(_ q: consuming LoggedQuery, blocked: Bool, window: Int64,
        context: Int = QueryEventBuffer.defaultBlockContext)
    {
        let position = self.current.groups.count
        let subject = q.key.subject
        let previous: Int
        if let s = self.current.subjects.index(forKey: subject) {
            previous = self.current.subjects.values[s].latest
            self.current.subjects.values[s].latest = position
            if blocked { self.current.subjects.values[s].blockedNames += 1 }
        } else {
            previous = -1
            self.current.subjects[subject] = SubjectState(latest: position, blockedNames: blocked ? 1 : 0)
        }
        // A client's first block in a window is handed over at once, after what the client asked before it (so an
        // incident's "last queries" read in order); its repeats, and the client's other blocked names in the same
        // window, fold like any query: a row per name per window (per rule, for a rule covering a subtree), and past
        // the storm threshold a few storm rows, not a row per query.
        var immediate = false
        if blocked {
            if let last = self.lastImmediateBlock[subject], q.timestampMicros - last < window {
                immediate = false
            } else {
                immediate = true
                self.lastImmediateBlock[subject] = q.timestampMicros
            }
        }
        if immediate {
            // Walk the subject's chain back over its latest `context` open groups, stopping at a closed one (the
            // previous immediate block closed the ones before it). Older open groups close with the generation.
            var chain: [Int] = []
            var i = previous
            while i >= 0 && chain.count < context {
                guard self.current.groups[i].isOpen else { break }
                chain.append(i)
                i = self.current.groups[i].previous
            }
            for i in chain.reversed() {
                if let row = self.close(i) { self.due.append(row) }
            }
            // The rare copy: this block's row goes out now, and its group stays open for the repeats.
            self.due.append(Due(query: copy q, count: 1, slowest: q.latencyMicros))
        }
        let sameHash = self.current.index.set(q.key.hash, slot: position) ?? -1
        self.current.slots.append(HitSlot(q))
        self.current.keys.append(KeySlot(hash: q.key.hash, check: q.key.check, sameHash: Int32(sameHash)))
        // An immediate block's group stands for the queries after it: its row takes the name of the first of those.
        let name = immediate ? nil : q.key.name
        let slowest = immediate ? 0 : q.latencyMicros
        self.current.groups.append(Group(query: q, count: immediate ? 0 : 1, slowest: slowest, previous: previous,
            isOpen: true, name: name))
        self.open += 1
    }

    /// Closes the open group at `i`; returns its row when it stands for any query (an immediate block's group
    /// counts only the repeats after it).
    private mutating func close(_ i: Int) -> Due? {
        self.unindex(i)
        self.current.groups[i].isOpen = false
        self.current.slots[i].packet = nil
        self.open -= 1
        return self.current.row(i)
    }

    /// Takes the current generation out when `window` has passed since its first query (with `all`, whatever its
    /// age), leaving an empty one: constant time, so the lock is held for no longer than a lookup. Its groups' rows
    /// are built, and its memory freed, by the caller outside the lock.
    mutating func takeGeneration(nowMicros: Int64, window: Int64, all: Bool) -> Generation? {
        guard let start = self.current.start, all || nowMicros - start >= window else { return nil }
        var taken = Generation()
        swap(&taken, &self.spare)
        swap(&taken, &self.current)
        self.open = 0
        // Forget blocks whose window is over: a few entries (the clients that were blocked lately).
        if !self.lastImmediateBlock.isEmpty {
            self.lastImmediateBlock = self.lastImmediateBlock.filter { nowMicros - $0.value < window }
        }
        return taken
    }
}

/// Identical queries folded so far.
struct Group {
    var query: LoggedQuery
    var count: Int
    /// The slowest latency, microseconds.
    var slowest: Int64
    /// Sequence number of the same subject's previous group (-1: none).
    var previous: Int
    var isOpen: Bool
    /// The name of the first query the row stands for (nil: none yet, an immediate block's group).
    var name: DomainName?
    /// Other names asked, for a group keyed by its rule (``GroupKey/byRule``); at most
    /// ``QueryEventBuffer/maxOtherNames``.
    var otherNames: [DomainName] = []

    /// The row of an open group, when it stands for any query (an immediate block's group counts only the repeats
    /// after it).
    var row: Due? {
        self.count > 0
            ? Due(query: self.query, count: self.count, slowest: self.slowest, name: self.name,
                otherNames: self.otherNames) : nil
    }

    /// Notes the name of a repeat of a group keyed by its rule.
    mutating func note(_ asked: DomainName) {
        guard let first = self.name else {
            self.name = asked
            return
        }
        guard self.otherNames.count < QueryEventBuffer.maxOtherNames, asked != first,
            !self.otherNames.contains(asked)
        else { return }
        self.otherNames.append(asked)
    }
}

/// What a lookup by key reads of an open group, and the repeats it folded (32 bytes).
struct KeySlot {
    /// ``GroupKey/hash``.
    var hash: Int
    /// ``GroupKey/check``.
    var check: UInt64
    /// Position of an older open group whose key has the same hash (-1: none).
    var sameHash: Int32
    /// Repeats folded here, on top of ``Group/count``.
    var count: Int32 = 0
    /// The slowest of them, microseconds (clamped).
    var slowest: Int32 = 0
    /// The group is kept by its rule and its other names are full: a repeat need not read the group.
    var namesFull = false
}

/// The fields of an open group that a cache hit folded through its packet's hint compares, and the hits it added.
struct HitSlot {
    /// The cached packet whose hits this group counts; nil when the group is closed, its answers did not come from
    /// the cache, or it has a policy hit (a cache-sourced key never has one, ``GroupKey/init``).
    var packet: ObjectIdentifier?
    var client: IPAddress
    var transport: Transport
    var workloadKind: Workload.Kind?
    var workloadID: String?
    /// Hits folded here, on top of ``Group/count``.
    var count = 0
    /// The slowest of them, microseconds.
    var slowest: Int64 = 0

    init(_ q: borrowing LoggedQuery) {
        if q.key.source == GroupKey.cacheSource, case .packet(let p) = q.answers {
            self.packet = ObjectIdentifier(p)
        }
        self.client = q.key.client
        self.transport = q.key.transport
        self.workloadKind = q.key.workloadKind
        self.workloadID = q.key.workloadID
    }
}

/// A row ready to be built.
struct Due {
    var query: LoggedQuery
    var count: Int
    var slowest: Int64
    /// The row's name when it is not the first query's (see ``Group/name``).
    var name: DomainName? = nil
    var otherNames: [DomainName] = []
}

/// What the log keeps of the first query of a group: the key, plus what only its row needs. No copy of the query
/// or of the whole reply: the answer records (or the cached packet that holds them) and the upstream's id.
struct LoggedQuery: Sendable {
    /// The answers a row shows, kept by reference.
    enum Answers: Sendable {
        case records([ResourceRecord])
        case packet(CachedPacket)
    }

    /// Most answer records a row shows.
    static let maxAnswers = 8

    var key: GroupKey
    var timestampMicros: Int64
    var latencyMicros: Int64
    var workload: Workload?
    var answers: Answers
    var upstream: String?
    var findings: [Finding]

    init(key: GroupKey, timestampMicros: Int64, latencyMicros: Int64, workload: Workload?, resolution: Resolution,
        findings: [Finding])
    {
        self.key = key
        self.timestampMicros = timestampMicros
        self.latencyMicros = latencyMicros
        self.workload = workload
        switch resolution.reply {
        case .message(let m): self.answers = .records(m.answers)
        case .cached(let p, _): self.answers = .packet(p)
        case .drop: self.answers = .records([])
        }
        if case .upstream(let u) = resolution.source { self.upstream = u } else { self.upstream = nil }
        self.findings = findings
    }

    /// The row's answer texts (`A 192.0.2.1`), at most ``maxAnswers``.
    private func answerTexts() -> [String] {
        let records: [ResourceRecord]
        switch self.answers {
        case .records(let r): records = Array(r.prefix(Self.maxAnswers))
        // Addresses (nearly every answer) read in place; otherwise only the records the row shows: decoding the whole
        // packet (authority, additional, EDNS) was a third of building a row on the cache-miss mix (perf).
        case .packet(let p):
            if let texts = p.addressAnswerTexts(limit: Self.maxAnswers) { return texts }
            records = p.answersForOneRead(limit: Self.maxAnswers)
        }
        var answers: [String] = []
        answers.reserveCapacity(records.count)
        for rr in records {
            var text = rr.type.description
            text += " "
            text += rr.rdata.presentation
            answers.append(text)
        }
        return answers
    }

    /// The row, standing for `count` queries whose slowest took `latencyMicros`.
    func event(clientText: String? = nil, count: Int = 1, latencyMicros: Int64? = nil, name: DomainName? = nil,
        otherNames: [DomainName] = []) -> QueryEvent
    {
        return QueryEvent(
            timestampMicros: self.timestampMicros, clientIP: clientText ?? self.key.client.description,
            transport: self.key.transport.rawValue, workload: self.workload,
            qname: (name ?? self.key.name).lowercased.description, qtype: self.key.type.description,
            rcode: self.key.rcode == GroupKey.noReply ? "DROP" : ResponseCode(rawValue: self.key.rcode).description,
            answers: self.answerTexts(), source: AnswerSource.labels[Int(self.key.source)], upstream: self.upstream,
            policy: self.key.policy, findings: self.findings, latencyMicros: latencyMicros ?? self.latencyMicros,
            count: count, otherNames: otherNames.map { $0.lowercased.description })
    }
}

/// A storm key's hashes and what ``GroupKey/init(stormOf:)`` computed them from (``AggregationState/stormKey(of:)``).
struct StormMemo {
    let hash: Int
    let check: UInt64
    /// ``GroupKey/stormFields``: question type, rcode, answer source, transport, workload kind and flags.
    let small: UInt64
    let client: IPAddress
    let workloadID: String?
    let feed: String?
    let action: String?
    let trigger: String?

    /// Whether the storm key of `key`, whose ``GroupKey/stormFields`` are `small`, has these hashes.
    func matches(_ key: GroupKey, _ small: UInt64) -> Bool {
        small == self.small && key.client == self.client && key.workloadID == self.workloadID
            && key.policy?.source == self.feed && key.policy?.action == self.action
            && key.policy?.trigger == self.trigger
    }
}

/// A subject's place in the current generation.
struct SubjectState {
    /// Position of its latest group.
    var latest: Int
    /// Groups opened for its blocked queries (storm groups aside): the distinct blocked names, or rules for those kept
    /// by their rule.
    var blockedNames: Int
}

/// Who asked: the client address and workload of a group.
struct SubjectKey: Hashable {
    var client: IPAddress
    var workloadKind: Workload.Kind?
    var workloadID: String?
}

/// What makes two queries "the same" for the log, hashed once when it is built; ``AggregationState/find(_:)``
/// compares it in place.
struct GroupKey: Sendable {
    // Declared in the order ``AggregationState/find(_:)`` compares them, scalars first, so that everything but the
    // policy hit sits in the key's first 64 bytes: the lookup of a group is a cache miss into an array of about
    // 300-byte groups, and with the hash last (at byte 128) each lookup on the blocked mix touched three lines.
    /// Everything below, hashed (Swift's keyed `Hasher`; the policy hit by its rule text only).
    let hash: Int
    /// A second, independent 64-bit fingerprint of everything below (``CheckHash``), policy hit whole. Two keys are
    /// the same group when both `hash` and `check` are equal: a lookup compares 16 bytes in a ``KeySlot`` instead
    /// of the stored key's name and rule text. Two different keys fold only if both 64-bit values collide at once,
    /// the first of them under the process's random hashing seed: for a million open groups, odds of about
    /// 10^-27 per window.
    let check: UInt64
    let type: RecordType
    /// The response code, 0xFFFF for no reply.
    let rcode: UInt16
    /// The answer source's kind (``AnswerSource/kindIndex``: `cache`, `upstream`, `policy`, …; not the upstream's id):
    /// the policy hit is its own field.
    let source: UInt8
    let transport: Transport
    /// True when a rule covering a whole subtree blocked the query: the group is the rule's, whatever name under
    /// it was asked, and `name` (the first one's) takes no part in the hash or in equality.
    let byRule: Bool
    let workloadKind: Workload.Kind?
    let client: IPAddress
    let name: DomainName
    let workloadID: String?
    let policy: PolicyHit?

    /// `rcode` when there was no reply.
    static let noReply: UInt16 = 0xFFFF
    /// ``source`` of an answer from the cache.
    static let cacheSource = UInt8(AnswerSource.cache.kindIndex)

    /// - Parameters:
    ///   - forcedHash: Replaces the computed hash (tests force collisions with it).
    ///   - forcedCheck: Replaces the computed check (tests).
    init(query: Query, workload: Workload?, resolution: Resolution, forcedHash: Int? = nil, forcedCheck: UInt64? = nil) {
        self.client = query.client.address
        self.transport = query.client.transport
        self.workloadKind = workload?.kind
        self.workloadID = workload?.id
        let question = query.question
        self.name = question.name
        self.type = question.type
        switch resolution.reply {
        case .message(let m): self.rcode = m.rcode.rawValue
        case .cached(let p, _): self.rcode = p.rcode.rawValue
        case .drop: self.rcode = Self.noReply
        }
        self.source = UInt8(resolution.source.kindIndex)
        if case .policy(let p) = resolution.source { self.policy = p } else { self.policy = nil }
        if let p = self.policy, QueryEvent.blocks(p) {
            let rule = p.rule.utf8
            self.byRule = rule.first == UInt8(ascii: "*") || (rule.count > 2 && rule.starts(with: "||".utf8))
        } else {
            self.byRule = false
        }
        var h = Hasher()
        h.combine(self.client)
        if !self.byRule { h.combine(self.name) }
        let small = Self.packed(self.type, self.rcode, self.source, self.transport, self.workloadKind,
            storm: false, byRule: self.byRule, workloadID: self.workloadID != nil, policy: self.policy != nil)
        h.combine(small)
        if let id = self.workloadID { h.combine(id) }
        if let rule = self.policy?.rule { h.combine(rule) }
        self.hash = forcedHash ?? h.finalize()
        if let forcedCheck {
            self.check = forcedCheck
        } else {
            var f = CheckHash(small)
            f.add(self.client)
            if !self.byRule { f.add(self.name) }
            if let id = self.workloadID { f.add(id) }
            if let p = self.policy {
                f.add(p.rule)
                f.add(kindOf: p)
            }
            self.check = f.value
        }
    }

    /// The storm key of `key` with hashes already computed for a storm key of the same kind
    /// (``AggregationState/stormKey(of:)``).
    init(stormOf key: GroupKey, hash: Int, check: UInt64) {
        self.client = key.client
        self.transport = key.transport
        self.workloadKind = key.workloadKind
        self.workloadID = key.workloadID
        self.name = key.name
        self.type = key.type
        self.rcode = key.rcode
        self.source = key.source
        self.policy = key.policy
        self.byRule = true
        self.hash = hash
        self.check = check
    }

    /// The key of the storm group of `key`'s subject for its kind of block (``QueryEventBuffer``, "Block storms"): the
    /// same client, transport, workload, question type, rcode, and feed, action and trigger of the policy hit, whatever
    /// the name or the rule. The group's row shows `key`'s name and rule (its first query's) and notes later names as a
    /// group kept by its rule does. A flag in the hashed fields keeps it apart from every key made by the other init.
    init(stormOf key: GroupKey) {
        let small = key.stormFields
        var h = Hasher()
        h.combine(key.client)
        h.combine(small)
        if let id = key.workloadID { h.combine(id) }
        var f = CheckHash(small)
        f.add(key.client)
        if let id = key.workloadID { f.add(id) }
        if let p = key.policy {
            h.combine(p.source)
            h.combine(p.action)
            h.combine(p.trigger)
            f.add(kindOf: p)
        }
        self.init(stormOf: key, hash: h.finalize(), check: f.value)
    }

    /// The small fields and flags of this key's storm key, as ``init(stormOf:)`` hashes them.
    var stormFields: UInt64 {
        Self.packed(self.type, self.rcode, self.source, self.transport, self.workloadKind, storm: true, byRule: true,
            workloadID: self.workloadID != nil, policy: self.policy != nil)
    }

    /// The small fields and the flags in one word, hashed as one: each `combine` is a round of the hasher.
    private static func packed(_ type: RecordType, _ rcode: UInt16, _ source: UInt8, _ transport: Transport,
        _ kind: Workload.Kind?, storm: Bool, byRule: Bool, workloadID: Bool, policy: Bool) -> UInt64
    {
        UInt64(type.rawValue) << 48 | UInt64(rcode) << 32 | UInt64(source) << 24 | UInt64(Self.ordinal(transport)) << 16
            | UInt64(Self.ordinal(kind)) << 8 | (storm ? 8 : 0) | (byRule ? 4 : 0) | (workloadID ? 2 : 0) | (policy ? 1 : 0)
    }

    private static func ordinal(_ k: Workload.Kind?) -> UInt8 {
        switch k {
        case nil: 0
        case .container?: 1
        case .pod?: 2
        case .static?: 3
        case .unknown?: 4
        }
    }

    private static func ordinal(_ t: Transport) -> UInt8 {
        switch t {
        case .udp: 0
        case .tcp: 1
        case .dot: 2
        case .doh: 3
        case .internal: 4
        }
    }

    /// True when a policy rule blocked the query (anything but passthru/log).
    var blocked: Bool { QueryEvent.blocks(self.policy) }

    var subject: SubjectKey { SubjectKey(client: self.client, workloadKind: self.workloadKind, workloadID: self.workloadID) }

}

/// A fast unkeyed 64-bit hash, independent of Swift's `Hasher`: the second half of a group key's 128 bits
/// (``GroupKey/check``). Each word is multiplied in (the 64-bit finalizer constants of MurmurHash3) and the result is
/// avalanched; names go in lowercased, so that it agrees with the case-insensitive equality of ``DomainName``.
struct CheckHash {
    private(set) var state: UInt64

    init(_ seed: UInt64) { self.state = seed ^ 0x9E37_79B9_7F4A_7C15 }

    mutating func add(_ word: UInt64) {
        var h = (self.state ^ word) &* 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 32
        self.state = h
    }

    mutating func add(_ name: DomainName) { self.add(name.checkHash()) }

    /// The policy hit's source, action and trigger: everything of it but the rule.
    mutating func add(kindOf p: PolicyHit) {
        self.add(p.source)
        self.add(p.action)
        self.add(p.trigger)
    }

    mutating func add(_ address: IPAddress) {
        switch address {
        case .v4(let a): self.add(UInt64(a.value))
        case .v6(let a):
            self.add(a.high)
            self.add(a.low ^ 0x6)
        }
    }

    /// The UTF-8 bytes with their count (so that "ab" + "c" and "a" + "bc" differ).
    mutating func add(_ text: String) {
        var text = text
        let word = text.withUTF8 { bytes -> UInt64 in
            var f = CheckHash(UInt64(bytes.count))
            var i = 0
            let raw = UnsafeRawBufferPointer(bytes)
            while i + 8 <= raw.count {
                f.add(raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                i += 8
            }
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while i < raw.count {
                tail |= UInt64(raw[i]) << shift
                shift += 8
                i += 1
            }
            f.add(tail)
            return f.state
        }
        self.add(word)
    }

    /// The state avalanched (MurmurHash3's fmix64).
    var value: UInt64 {
        var h = self.state
        h ^= h >> 33
        h = h &* 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 33
        h = h &* 0xC4CE_B9FE_1A85_EC53
        h ^= h >> 33
        return h
    }
}
