public import DNSPipeline
public import DNSWire
public import Foundation
import Metrics
import Synchronization

/// Merges the workload sources (static file, Docker/Podman, Kubernetes) into the ``WorkloadDirectory``
/// the `identify` stage reads, and remembers who held each address when.
///
/// The query path never touches this object: it reads the directory's current snapshot (O(1), no I/O).
/// Sources call ``apply(_:set:remove:at:)`` or ``replace(_:with:at:)`` when they learn something; each
/// change updates the per-address history and publishes a new snapshot.
///
/// The history is a list of intervals per address, `[from, until)`, oldest first, so that an address
/// reused by a new container answers ``lookup(_:at:)`` with whoever held it at that moment. Memory is
/// bounded: closed intervals older than the horizon are dropped, and each address keeps at most
/// `maxIntervalsPerAddress` intervals.
public final class IdentityHistory: Sendable {
    /// Where an identity came from. When two sources claim one address, the later case wins:
    /// what a container engine or the cluster reports now is more precise than a hand-written file.
    public enum Source: Int, Sendable, Hashable, CaseIterable, Comparable, CustomStringConvertible {
        /// `identityFile`: hand-written addresses and prefixes.
        case `static` = 0
        /// The Docker Engine API (Docker or Podman).
        case docker = 1
        /// The Kubernetes API server.
        case kubernetes = 2

        public static func < (a: Source, b: Source) -> Bool { a.rawValue < b.rawValue }

        /// The metric label and log name.
        public var description: String {
            switch self {
            case .static: "static"
            case .docker: "docker"
            case .kubernetes: "kubernetes"
            }
        }
    }

    /// One address held by one workload from `from` until `until` (nil: still holds it).
    public struct Interval: Sendable, Hashable {
        /// The address.
        public var address: IPAddress
        /// When the workload got the address (when Palisade learned it).
        public var from: Date
        /// When it lost it; nil while it still holds it.
        public var until: Date?
        /// The workload.
        public var workload: Workload

        /// Creates an interval.
        public init(address: IPAddress, from: Date, until: Date?, workload: Workload) {
            self.address = address
            self.from = from
            self.until = until
            self.workload = workload
        }

        /// Whether `time` falls inside `[from, until)`.
        public func contains(_ time: Date) -> Bool {
            self.from <= time && (self.until.map { time < $0 } ?? true)
        }
    }

    private struct State {
        var sources: [Source: [IPAddress: Workload]] = [:]
        var prefixes: [(IPNetwork, Workload)] = []
        var merged: [IPAddress: Workload] = [:]
        var intervals: [IPAddress: [Interval]] = [:]
        var byKey: [String: Set<IPAddress>] = [:]
        var intervalCount = 0
        var lastPrune = Date.distantPast
    }

    /// The directory the `identify` stage reads; every change publishes a new snapshot to it.
    public let directory: WorkloadDirectory
    /// How long closed intervals are kept.
    public let horizon: Duration
    /// The most intervals kept per address (the oldest closed ones go first).
    public let maxIntervalsPerAddress: Int
    private let now: @Sendable () -> Date
    private let state = Mutex(State())

    /// Creates an empty history.
    /// - Parameters:
    ///   - directory: the directory to publish to (a new one by default).
    ///   - horizon: how long closed intervals are kept (the `identity.historyHours` setting).
    ///   - maxIntervalsPerAddress: per-address bound, so a churning address cannot grow without limit.
    ///   - now: the wall clock (tests inject a fixed one).
    public init(directory: WorkloadDirectory = WorkloadDirectory(), horizon: Duration = .seconds(24 * 3600),
        maxIntervalsPerAddress: Int = 64, now: @escaping @Sendable () -> Date = { Date() })
    {
        self.directory = directory
        self.horizon = horizon
        self.maxIntervalsPerAddress = max(1, maxIntervalsPerAddress)
        self.now = now
    }

    /// The stable key of a workload, `kind:id` (the same form as `QueryStore.workloadKey(for:)`, which the
    /// web API uses; this module cannot import QueryStore).
    public static func key(for workload: Workload) -> String {
        "\(workload.kind.rawValue):\(workload.id)"
    }

    /// Replaces everything `source` said before with `mapping` (a full list after a (re)connect).
    /// - Parameters:
    ///   - source: who reports it.
    ///   - mapping: every address the source knows now.
    ///   - prefixes: prefixes (only the static file has them; they carry no history).
    ///   - time: when it changed; nil means now.
    public func replace(_ source: Source, with mapping: [IPAddress: Workload], prefixes: [(IPNetwork, Workload)]? = nil,
        at time: Date? = nil)
    {
        let t = time ?? self.now()
        self.state.withLock { s in
            let old = s.sources[source] ?? [:]
            var normalized: [IPAddress: Workload] = [:]
            for (a, w) in mapping { normalized[a.unmapped] = w }
            s.sources[source] = normalized
            if let prefixes { s.prefixes = prefixes }
            var touched = Set(old.keys)
            touched.formUnion(normalized.keys)
            self.recompute(&s, touched, at: t)
            self.publish(s)
        }
    }

    /// Sets and removes single addresses of `source` (an event from a watch).
    /// - Parameters:
    ///   - source: who reports it.
    ///   - set: addresses that now belong to a workload.
    ///   - remove: addresses the source no longer maps.
    ///   - time: when it changed; nil means now.
    public func apply(_ source: Source, set: [IPAddress: Workload] = [:], remove: [IPAddress] = [], at time: Date? = nil) {
        if set.isEmpty && remove.isEmpty { return }
        let t = time ?? self.now()
        self.state.withLock { s in
            var m = s.sources[source] ?? [:]
            var touched = Set<IPAddress>()
            for a in remove {
                let u = a.unmapped
                m[u] = nil
                touched.insert(u)
            }
            for (a, w) in set {
                let u = a.unmapped
                m[u] = w
                touched.insert(u)
            }
            s.sources[source] = m
            self.recompute(&s, touched, at: t)
            self.publish(s)
        }
    }

    /// Who held `address` at `time`: the history first, then the static prefixes (which have no history).
    public func lookup(_ address: IPAddress, at time: Date) -> Workload? {
        let u = address.unmapped
        return self.state.withLock { s in
            if let list = s.intervals[u], let hit = list.last(where: { $0.contains(time) }) { return hit.workload }
            for (n, w) in s.prefixes.sorted(by: { $0.0.prefixLength > $1.0.prefixLength }) where n.contains(u) {
                return w
            }
            return nil
        }
    }

    /// Every address the workload with `key` (``key(for:)``) held within the horizon, oldest first.
    ///
    /// The web API shows these as a workload's `addresses`.
    public func addresses(ofWorkload key: String) -> [Interval] {
        self.state.withLock { s in
            let ips = s.byKey[key] ?? []
            var out: [Interval] = []
            for ip in ips {
                for i in s.intervals[ip] ?? [] where Self.key(for: i.workload) == key { out.append(i) }
            }
            return out.sorted { ($0.from, $0.address.description) < ($1.from, $1.address.description) }
        }
    }

    /// Every interval of `address`, oldest first.
    public func intervals(of address: IPAddress) -> [Interval] {
        self.state.withLock { $0.intervals[address.unmapped] ?? [] }
    }

    /// Number of intervals held (exported as `palisade_identity_history_intervals`).
    public var intervalCount: Int { self.state.withLock { $0.intervalCount } }

    /// Drops closed intervals that ended before `now - horizon`.
    public func prune() {
        let t = self.now()
        self.state.withLock { s in self.prune(&s, now: t) }
    }

    // MARK: - Internals (called with the lock held)

    private func winner(_ s: State, _ a: IPAddress) -> Workload? {
        for source in Source.allCases.reversed() {
            if let w = s.sources[source]?[a] { return w }
        }
        return nil
    }

    private func recompute(_ s: inout State, _ touched: Set<IPAddress>, at t: Date) {
        for a in touched {
            let new = self.winner(s, a)
            let old = s.merged[a]
            if new == old { continue }
            s.merged[a] = new
            var list = s.intervals[a] ?? []
            // An interval never starts before the one it follows ends (clocks can step back).
            var at = t
            if let last = list.last {
                at = max(t, last.from)
                if last.until == nil { list[list.count - 1].until = at }
            }
            if let new {
                list.append(Interval(address: a, from: at, until: nil, workload: new))
                s.intervalCount += 1
                s.byKey[Self.key(for: new), default: []].insert(a)
            }
            while list.count > self.maxIntervalsPerAddress {
                let dropped = list.removeFirst()
                s.intervalCount -= 1
                Self.unindex(&s, dropped, remaining: list)
            }
            s.intervals[a] = list.isEmpty ? nil : list
        }
        // Pruning walks every address: at most once a minute, on a write, never on the query path.
        if t.timeIntervalSince(s.lastPrune) > 60 { self.prune(&s, now: t) }
    }

    private static func unindex(_ s: inout State, _ dropped: Interval, remaining: [Interval]) {
        let key = Self.key(for: dropped.workload)
        if !remaining.contains(where: { Self.key(for: $0.workload) == key }) {
            s.byKey[key]?.remove(dropped.address)
            if s.byKey[key]?.isEmpty == true { s.byKey[key] = nil }
        }
    }

    private func prune(_ s: inout State, now t: Date) {
        s.lastPrune = t
        let c = self.horizon.components
        let cutoff = t.addingTimeInterval(-(Double(c.seconds) + Double(c.attoseconds) / 1e18))
        for (a, list) in s.intervals {
            guard list.contains(where: { ($0.until ?? .distantFuture) < cutoff }) else { continue }
            var kept: [Interval] = []
            var dropped: [Interval] = []
            for i in list {
                if (i.until ?? .distantFuture) < cutoff { dropped.append(i) } else { kept.append(i) }
            }
            s.intervalCount -= dropped.count
            for d in dropped { Self.unindex(&s, d, remaining: kept) }
            s.intervals[a] = kept.isEmpty ? nil : kept
        }
    }

    private func publish(_ s: State) {
        self.directory.publish(WorkloadDirectory.Snapshot(exact: s.merged, prefixes: s.prefixes))
        Gauge(label: "palisade_identity_addresses").record(s.merged.count)
        Gauge(label: "palisade_identity_history_intervals").record(s.intervalCount)
    }
}
