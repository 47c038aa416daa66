public import DNSPipeline
#if canImport(FoundationEssentials)
internal import FoundationEssentials
#else
internal import Foundation
#endif
import Metrics
import Synchronization

/// What quarantine may do to a container besides cutting off its DNS.
public enum ContainerAction: String, Sendable, Hashable, Codable, CaseIterable {
    /// Leave the container running (DNS answers only).
    case none
    /// Pause it (`docker pause`); unpaused on release.
    case pause
    /// Stop it (`docker stop`); not restarted on release.
    case stop

    /// Whether a configuration allowing `limit` permits this action (`none` < `pause` < `stop`).
    public func isAllowed(by limit: ContainerAction) -> Bool {
        switch (self, limit) {
        case (.none, _): true
        case (.pause, .pause), (.pause, .stop): true
        case (.stop, .stop): true
        default: false
        }
    }
}

/// Pauses, unpauses or stops the container behind a workload key. Implemented by the identity module's
/// container-engine client; the runtime hands one to the API when container actions are enabled.
public protocol WorkloadActuator: Sendable {
    /// Pauses the workload's container.
    /// - Throws: when the engine refuses or the workload is not a container it knows.
    func pause(workloadKey: String) async throws
    /// Resumes a paused container.
    /// - Throws: when the engine refuses or the workload is not a container it knows.
    func unpause(workloadKey: String) async throws
    /// Stops the workload's container.
    /// - Throws: when the engine refuses or the workload is not a container it knows.
    func stop(workloadKey: String) async throws
}

/// One quarantined workload: its DNS is cut off until it is released.
public struct QuarantineEntry: Sendable, Hashable, Codable {
    /// The answer quarantined queries get.
    public enum Answer: String, Sendable, Hashable, Codable, CaseIterable {
        /// REFUSED with EDE 18 (Prohibited).
        case refused
        /// NXDOMAIN with EDE 15 (Blocked).
        case nxdomain
    }

    /// The workload key (`container:<id>`, `pod:<uid>`, `static:<name>`, or `client:<ip>` for an
    /// unidentified client).
    public var workloadKey: String
    /// The answer its queries get.
    public var answer: Answer
    /// Who quarantined it (the API token's name).
    public var by: String
    /// Why.
    public var reason: String
    /// When, microseconds since the Unix epoch.
    public var sinceMicros: Int64
    /// What was done to the container as well.
    public var containerAction: ContainerAction

    /// Creates an entry.
    public init(workloadKey: String, answer: Answer, by: String, reason: String, sinceMicros: Int64,
        containerAction: ContainerAction = .none)
    {
        self.workloadKey = workloadKey
        self.answer = answer
        self.by = by
        self.reason = reason
        self.sinceMicros = sinceMicros
        self.containerAction = containerAction
    }

    /// The Extended DNS Error text of its answers: `quarantined by <actor>: <reason>`.
    public var extendedErrorText: String { "quarantined by \(self.by): \(self.reason)" }
}

/// The quarantined workloads, looked up in O(1) on the DNS path and saved in the data directory.
///
/// Lookups take a `Mutex` only to read one dictionary entry, and skip even that while nothing is
/// quarantined (an atomic count). Changes are serialised by a second lock that also writes the file, so a
/// query never waits for disk: the in-memory map is replaced only after the file is safely written, and a
/// failed write leaves both unchanged.
public final class QuarantineRegistry: Sendable {
    private let entries: Mutex<[String: QuarantineEntry]>
    private let count = Atomic<Int>(0)
    private let changes = Mutex<Void>(())
    private let file: StateFile<[QuarantineEntry]>?
    private let gauge = Gauge(label: "palisade_quarantine_workloads")

    /// The most workloads that may be quarantined at once.
    public static let maximumEntries = 10_000

    /// Opens the registry, loading the entries saved at `path`.
    ///
    /// - Parameter path: The JSON file (`<dataDir>/quarantine.json`); nil keeps the registry in memory only.
    /// - Throws: ``OperatorStateError`` `.loadFailed` when the file exists but cannot be read.
    public init(path: String?) throws(OperatorStateError) {
        self.file = path.map { StateFile(path: $0) }
        var map: [String: QuarantineEntry] = [:]
        for e in try self.file?.load() ?? [] { map[e.workloadKey] = e }
        self.entries = Mutex(map)
        self.count.store(map.count, ordering: .releasing)
        self.gauge.record(map.count)
    }

    /// The file the registry is saved in, if any.
    public var path: String? { self.file?.path }

    /// The entry for `workloadKey`, or nil when it is not quarantined. O(1); called for every query.
    public func entry(for workloadKey: String) -> QuarantineEntry? {
        self.entries.withLock { $0[workloadKey] }
    }

    /// True when no workload is quarantined (a lock-free check for the DNS path).
    public var isEmpty: Bool { self.count.load(ordering: .acquiring) == 0 }

    /// Every entry, most recent first.
    public var all: [QuarantineEntry] {
        self.entries.withLock { Array($0.values) }.sorted {
            $0.sinceMicros != $1.sinceMicros ? $0.sinceMicros > $1.sinceMicros : $0.workloadKey < $1.workloadKey
        }
    }

    /// Quarantines a workload (or replaces its entry), saving the registry first.
    ///
    /// - Parameter entry: The entry; its key must be `kind:id`.
    /// - Returns: The entry it replaced, if the workload was already quarantined.
    /// - Throws: ``OperatorStateError`` `.invalidArgument` for a malformed key, `.limitReached`, or
    ///   `.writeFailed` (then nothing changed).
    @discardableResult
    public func quarantine(_ entry: QuarantineEntry) throws(OperatorStateError) -> QuarantineEntry? {
        if let problem = Self.validateKey(entry.workloadKey) {
            throw OperatorStateError(.invalidArgument, problem)
        }
        return try self.change { map throws(OperatorStateError) in
            let previous = map[entry.workloadKey]
            if previous == nil && map.count >= Self.maximumEntries {
                throw OperatorStateError(
                    .limitReached, "at most \(Self.maximumEntries) workloads may be quarantined at once")
            }
            map[entry.workloadKey] = entry
            return previous
        }
    }

    /// Releases a workload, saving the registry first.
    ///
    /// - Returns: The entry removed, or nil when the workload was not quarantined (nothing is written then).
    /// - Throws: ``OperatorStateError`` `.writeFailed` (then nothing changed).
    @discardableResult
    public func release(_ workloadKey: String) throws(OperatorStateError) -> QuarantineEntry? {
        try self.change { map throws(OperatorStateError) in
            map.removeValue(forKey: workloadKey)
        }
    }

    private func change<R>(_ body: (inout [String: QuarantineEntry]) throws(OperatorStateError) -> R?)
        throws(OperatorStateError) -> R?
    {
        try self.changes.withLock { _ throws(OperatorStateError) -> R? in
            var map = self.entries.withLock { $0 }
            let before = map
            let result = try body(&map)
            if map == before { return result }
            if let file = self.file {
                try file.save(map.values.sorted { $0.workloadKey < $1.workloadKey })
            }
            self.entries.withLock { $0 = map }
            self.count.store(map.count, ordering: .releasing)
            self.gauge.record(map.count)
            return result
        }
    }

    /// Why `key` is not a workload key (`kind:id` with a known kind, or `client:<ip>`), or nil when it is.
    public static func validateKey(_ key: String) -> String? {
        guard let colon = key.firstIndex(of: ":") else {
            return "workload key '\(key)' is not kind:id (container:<id>, pod:<uid>, static:<name>, client:<ip>)"
        }
        let kind = key[..<colon]
        let id = key[key.index(after: colon)...]
        guard Workload.Kind(rawValue: String(kind)) != nil || kind == "client" else {
            return "workload key '\(key)' has unknown kind '\(kind)' (container, pod, static, unknown, client)"
        }
        guard !id.isEmpty, id.utf8.count <= 512, !id.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
            return "workload key '\(key)' has an empty, overlong or control-character id"
        }
        return nil
    }
}
