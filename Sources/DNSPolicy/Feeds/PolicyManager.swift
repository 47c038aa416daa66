#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// Owns the policy sources: loads last good copies at start-up, refreshes on schedule, compiles off the
/// query path and swaps the engine in atomically; reports each source's health.
///
/// Blocking never silently turns off: a refresh that fails to fetch, compile or pass the plausibility
/// checks keeps the last good copy and records the error; a source that has never loaded follows its
/// `failMode`. Compiling runs in a detached task, so neither queries nor status calls wait for it.
///
/// Typical use by the runtime:
/// ```swift
/// let manager = PolicyManager(sources: configs, dataDirectory: "/var/lib/palisade/policy", fetcher: http)
/// await manager.start()                       // stored copies, then fetch what is missing
/// let stages = (manager.makeQueryStage(), manager.makeResponseStage())
/// Task { await manager.run() }                // scheduled refreshes until cancelled
/// await manager.reconfigure(newConfigs)       // on config reload
/// let health = await manager.status()
/// ```
public actor PolicyManager {
    /// The engine the stages read; replaced whenever a source changes.
    public nonisolated let engine: PolicyEngineReference
    private let store: FeedStore?
    private let fetcher: any FeedFetcher
    private let now: @Sendable () -> Date
    private var order: [String] = []
    private var states: [String: SourceState] = [:]
    private var retired: [PolicyEngine] = []
    /// The operator's run-time allow/deny entries, consulted before every configured source.
    public nonisolated let operatorRules: OperatorRules?

    /// How long after a failed refresh the next attempt is due (or the refresh interval, if shorter).
    public static let retryAfterFailure: Duration = .seconds(300)

    private struct SourceState {
        var config: PolicySourceConfig
        var compiled: CompiledPolicySource?
        var contentHash: String?
        var loadedAt: Date?
        var fetchedAt: Date?
        var lastAttempt: Date?
        var lastError: String?
        var storeError: String?
        var issues: [PolicySourceIssue] = []
        var badLines = 0
        var ignoredLines = 0
        var refreshing = false
        /// The compiled copy was updated incrementally since the data directory's copy was written.
        var unsaved = false
        /// When the data directory's copy was last written.
        var savedAt: Date?
    }

    /// How often, at most, a source updated incrementally (IXFR) has its whole text written to the data
    /// directory: rendering a large zone costs O(zone), which an IXFR of a few changes should not pay each time.
    public static let incrementalSaveInterval: TimeInterval = 300

    /// Creates a manager; nothing is loaded until ``start(fetchMissing:)``.
    /// - Parameters:
    ///   - sources: the sources in precedence order; a repeated name is ignored after its first use
    ///     (``PolicySourceConfig/validate(_:)`` reports it).
    ///   - dataDirectory: where last good copies are kept; nil keeps nothing (tests, ephemeral runs).
    ///   - fetcher: fetches locations (files here; the runtime adds HTTP).
    ///   - now: the wall clock, injectable for tests.
    ///   - operatorRules: the operator's allow/deny entries; call ``operatorRulesChanged()`` after each change.
    public init(sources: [PolicySourceConfig], dataDirectory: String?, fetcher: any FeedFetcher = FileFeedFetcher(),
        now: @escaping @Sendable () -> Date = { Date() }, operatorRules: OperatorRules? = nil)
    {
        self.engine = PolicyEngineReference()
        self.operatorRules = operatorRules
        self.store = dataDirectory.map { FeedStore(directory: $0) }
        self.fetcher = fetcher
        self.now = now
        for config in sources where self.states[config.name] == nil {
            self.order.append(config.name)
            self.states[config.name] = SourceState(config: config)
        }
    }

    /// The stage answering query-phase policy, reading this manager's engine.
    public nonisolated func makeQueryStage() -> QueryPolicyStage { QueryPolicyStage(engine: self.engine) }

    /// The stage amending answers with response-phase policy, reading this manager's engine.
    public nonisolated func makeResponseStage() -> ResponsePolicyStage { ResponsePolicyStage(engine: self.engine) }

    // MARK: Start-up

    /// Loads every enabled source's last good copy from the data directory, installs the engine, then
    /// (when `fetchMissing`) fetches the sources that have no copy yet and re-reads local files.
    ///
    /// A local file is the operator's own copy: one edited while Palisade was stopped must take effect at
    /// the next start, not wait for a refresh that a file without `refreshSeconds` never gets. Reading it
    /// needs no network; when it is unchanged (same content hash) it is not recompiled, and when it is
    /// unreadable the stored copy keeps serving.
    /// - Returns: the status of every source.
    @discardableResult
    public func start(fetchMissing: Bool = true) async -> [PolicySourceStatus] {
        for name in self.order { await self.loadStored(name) }
        self.rebuildEngine()
        if fetchMissing {
            for name in self.order {
                guard let state = self.states[name], state.config.enabled else { continue }
                if state.compiled == nil || Self.isLocalFile(state.config.location) { await self.refresh(name) }
            }
        }
        return self.status()
    }

    /// Whether `location` names a local file (a path or `file://` URL), not a URL or a bundled snapshot.
    static func isLocalFile(_ location: String) -> Bool {
        FileFeedFetcher.path(of: location) != nil && !location.hasPrefix("bundled:")
    }

    private func loadStored(_ name: String) async {
        guard let store = self.store, var state = self.states[name], state.config.enabled, state.compiled == nil,
            let meta = store.metadata(for: name), meta.location == state.config.location
        else { return }
        let config = state.config
        let path = store.feedPath(for: name)
        let result = await Self.detached { () throws(PolicyLoadError) -> CompiledPolicySource in
            try PolicySourceLoader.compile(config, path: path, fileName: "\(path) (last good copy of \(meta.location))")
        }
        state = self.states[name] ?? state
        switch result {
        case .success(let compiled):
            state.compiled = compiled
            state.contentHash = meta.contentHash
            state.loadedAt = Date(timeIntervalSince1970: meta.loadedAt)
            state.fetchedAt = Date(timeIntervalSince1970: meta.fetchedAt)
            state.badLines = compiled.stats.badLines
            state.ignoredLines = compiled.stats.ignoredTotal
            state.issues = compiled.stats.issues
        case .failure(let error):
            state.lastError = "stored copy unusable: \(error)"
            state.issues = error.issues
        }
        self.states[name] = state
    }

    /// Runs compile work off the actor, so status calls and other refreshes are not held up.
    private static func detached<T: Sendable>(_ work: @escaping @Sendable () throws(PolicyLoadError) -> T) async
        -> Result<T, PolicyLoadError>
    {
        await Task.detached(priority: .utility) { () -> Result<T, PolicyLoadError> in
            do throws(PolicyLoadError) {
                return .success(try work())
            } catch {
                return .failure(error)
            }
        }.value
    }

    // MARK: Refresh

    /// Fetches and compiles one source now, whatever its schedule.
    /// - Returns: its status afterwards, or nil for an unknown or disabled source.
    @discardableResult
    public func refresh(_ name: String) async -> PolicySourceStatus? {
        guard var state = self.states[name], state.config.enabled else { return nil }
        guard !state.refreshing else { return self.status(of: name) }
        state.refreshing = true
        state.lastAttempt = self.now()
        self.states[name] = state
        let config = state.config
        defer { self.states[name]?.refreshing = false }

        let body: [UInt8]
        do {
            if let incremental = self.fetcher as? any IncrementalFeedFetcher {
                let held = state.compiled
                let since = held?.format == .rpz && held?.isNotReadyPlaceholder == false ? held?.serial : nil
                switch try await incremental.fetchUpdate(config.location, since: since) {
                case .full(let bytes):
                    body = bytes
                case .unchanged:
                    await self.fetchedUnchanged(name, config)
                    return self.status(of: name)
                case .changes(let from, let to, let changes):
                    if await self.applyIncrementally(name, config, from: from, to: to, changes: changes) {
                        return self.status(of: name)
                    }
                    // The changes did not fit the copy held: compile the whole text instead (the fetcher's, as the
                    // update just left it).
                    body = try await incremental.heldText(config.location)
                }
            } else {
                body = try await self.fetcher.fetch(config.location)
            }
        } catch {
            self.fail(name, PolicyLoadError(.fetchFailed, source: name, "fetch of \(config.location) failed: \(error)"))
            return self.status(of: name)
        }
        guard self.states[name]?.config == config else { return self.status(of: name) }
        let previousHash = self.states[name]?.contentHash
        let alreadyLoaded = self.states[name]?.compiled != nil
        let compiledWith = self.states[name]?.compiled?.config
        // A source with nothing loaded yet is compiled whatever its hash: its copy is written, synced and hashed
        // on the other core meanwhile (start-up from a fresh data directory would otherwise wait for the sync),
        // and only put in place once the text has compiled.
        let prepared = alreadyLoaded ? nil : self.store.map { store in
            Task.detached(priority: .utility) { () -> Result<FeedStore.PreparedCopy, PolicyLoadError> in
                do throws(PolicyLoadError) {
                    return .success(try store.prepare(body, source: name))
                } catch {
                    return .failure(error)
                }
            }
        }
        let hashedAside = prepared != nil
        let compiled = await Self.detached { () throws(PolicyLoadError) -> (String?, CompiledPolicySource?) in
            if hashedAside { return (nil, try PolicySourceLoader.compile(config, bytes: body, fileName: config.location)) }
            let hash = FeedStore.contentHash(body)
            if alreadyLoaded && hash == previousHash && compiledWith.map({ !config.needsRecompile(comparedTo: $0) }) == true {
                return (hash, nil)
            }
            return (hash, try PolicySourceLoader.compile(config, bytes: body, fileName: config.location))
        }
        let preparedCopy = await prepared?.value
        let outcome = compiled.map { (hash, compiled) -> (String, CompiledPolicySource?) in
            if let hash { return (hash, compiled) }
            if case .success(let copy)? = preparedCopy { return (copy.contentHash, compiled) }
            return (FeedStore.contentHash(body), compiled)
        }
        // The configuration may have changed while compiling; then this result is for an old version.
        let stillCurrent = self.states[name]?.config == config
        var compiledOK = true
        if case .failure = outcome { compiledOK = false }
        if let store = self.store, case .success(let copy)? = preparedCopy, !stillCurrent || !compiledOK {
            store.discard(copy)
        }
        guard var current = self.states[name], stillCurrent else { return self.status(of: name) }
        let fetchedAt = self.now()
        switch outcome {
        case .failure(let error):
            self.fail(name, error)
        case .success((let hash, nil)):
            current.fetchedAt = fetchedAt
            current.lastError = nil
            if let store = self.store, let compiled = current.compiled, let loadedAt = current.loadedAt {
                current.storeError = nil
                do {
                    try store.saveMetadata(Self.metadata(config, compiled, hash, loadedAt: loadedAt, fetchedAt: fetchedAt))
                } catch {
                    current.storeError = error.description
                }
            }
            self.states[name] = current
        case .success((let hash, let compiled?)):
            if compiled.ruleCount == 0, let old = current.compiled, old.ruleCount > 0 {
                self.fail(name, PolicyLoadError(.notPlausible, source: name,
                    "update of '\(name)' has no rules; keeping the last good copy with \(old.ruleCount) rules"))
                return self.status(of: name)
            }
            current.compiled = compiled
            current.contentHash = hash
            current.loadedAt = fetchedAt
            current.fetchedAt = fetchedAt
            current.lastError = nil
            current.issues = compiled.stats.issues
            current.badLines = compiled.stats.badLines
            current.ignoredLines = compiled.stats.ignoredTotal
            current.storeError = nil
            current.unsaved = false
            // The engine goes in first: queries are filtered by the new text while its copy is put in place.
            self.states[name] = current
            self.rebuildEngine()
            if let store = self.store {
                let metadata = Self.metadata(config, compiled, hash, loadedAt: fetchedAt, fetchedAt: fetchedAt)
                do throws(PolicyLoadError) {
                    switch preparedCopy {
                    case .success(let copy)?: try store.commit(copy, metadata: metadata)
                    case .failure(let error)?: throw error
                    case nil: try store.save(body, metadata: metadata)
                    }
                    current.savedAt = fetchedAt
                } catch {
                    current.storeError = error.description
                }
                self.states[name] = current
            }
        }
        return self.status(of: name)
    }

    // MARK: Incremental updates

    /// Records a fetch that found nothing new; writes an incrementally updated copy when its save is due.
    private func fetchedUnchanged(_ name: String, _ config: PolicySourceConfig) async {
        guard var current = self.states[name], current.config == config else { return }
        current.fetchedAt = self.now()
        current.lastError = nil
        self.states[name] = current
        await self.saveIfDue(name, config)
    }

    /// Applies IXFR changes to the compiled copy (O(changes), off the actor) and swaps the engine.
    ///
    /// Merging (a full compile) starts once the overlay has grown past ``RPZUpdate/mergeThreshold(baseCount:)``;
    /// the data directory's copy is rewritten at most every ``incrementalSaveInterval``.
    /// - Returns: false when the changes do not fit the copy held; the caller then compiles the whole text.
    private func applyIncrementally(_ name: String, _ config: PolicySourceConfig, from: UInt32, to: UInt32,
        changes: [FeedRecordChange]) async -> Bool
    {
        guard let held = self.states[name]?.compiled, held.format == .rpz, held.serial == from else { return false }
        let update = RPZUpdate(changes: changes, fromSerial: from, toSerial: to)
        let result = await Self.detached { () throws(PolicyLoadError) -> CompiledPolicySource in try held.applying(update) }
        guard var current = self.states[name], current.config == config, current.compiled === held else { return false }
        guard case .success(let updated) = result else { return false }
        let now = self.now()
        current.compiled = updated
        current.contentHash = nil
        current.loadedAt = now
        current.fetchedAt = now
        current.lastError = nil
        current.unsaved = true
        self.states[name] = current
        self.rebuildEngine()
        if updated.needsMerge {
            await self.merge(name, config)
        } else {
            await self.saveIfDue(name, config)
        }
        return true
    }

    /// Replaces an incrementally updated copy with a full compile of the current text (off the actor; the
    /// overlay keeps answering meanwhile), and saves it.
    private func merge(_ name: String, _ config: PolicySourceConfig) async {
        guard let body = try? await self.textAfterUpdate(config.location),
            let held = self.states[name]?.compiled
        else { return }
        let outcome = await Self.detached { () throws(PolicyLoadError) -> (String, CompiledPolicySource) in
            (FeedStore.contentHash(body), try PolicySourceLoader.compile(config, bytes: body, fileName: config.location))
        }
        guard var current = self.states[name], current.config == config, current.compiled === held,
            case .success(let (hash, compiled)) = outcome
        else { return }
        let now = self.now()
        current.compiled = compiled
        current.contentHash = hash
        current.unsaved = false
        if let store = self.store {
            Self.saveCopy(body, hash: hash, of: compiled, config, to: store, recordingIn: &current, now: now)
        }
        self.states[name] = current
        self.rebuildEngine()
    }

    /// The whole text of a source the fetcher has just updated: what it holds, for an incremental fetcher (no
    /// second request to the primary), else fetched again.
    private func textAfterUpdate(_ location: String) async throws -> [UInt8] {
        if let incremental = self.fetcher as? any IncrementalFeedFetcher {
            return try await incremental.heldText(location)
        }
        return try await self.fetcher.fetch(location)
    }

    /// Writes the whole text of an incrementally updated source to the data directory when its save is due.
    private func saveIfDue(_ name: String, _ config: PolicySourceConfig) async {
        guard let store = self.store, let state = self.states[name], state.unsaved else { return }
        let now = self.now()
        if let saved = state.savedAt, now.timeIntervalSince(saved) < Self.incrementalSaveInterval { return }
        guard let body = try? await self.textAfterUpdate(config.location),
            var current = self.states[name], current.config == config, let compiled = current.compiled
        else { return }
        Self.saveCopy(body, hash: FeedStore.contentHash(body), of: compiled, config, to: store,
            recordingIn: &current, now: now)
        self.states[name] = current
    }

    /// Writes the whole text of a source updated incrementally (merged or not) to the data directory, and
    /// records in `state` when it was saved or why it could not be.
    private static func saveCopy(_ body: [UInt8], hash: String, of compiled: CompiledPolicySource,
        _ config: PolicySourceConfig, to store: FeedStore, recordingIn state: inout SourceState, now: Date)
    {
        do {
            try store.save(body, metadata: Self.metadata(config, compiled, hash, loadedAt: state.loadedAt ?? now,
                fetchedAt: now))
            state.savedAt = now
            state.unsaved = false
            state.storeError = nil
        } catch {
            state.storeError = error.description
        }
    }

    private static func metadata(_ config: PolicySourceConfig, _ compiled: CompiledPolicySource, _ hash: String,
        loadedAt: Date, fetchedAt: Date) -> FeedStore.Metadata
    {
        FeedStore.Metadata(name: config.name, location: config.location, format: compiled.format.rawValue,
            contentHash: hash, serial: compiled.serial, ruleCount: compiled.ruleCount,
            loadedAt: loadedAt.timeIntervalSince1970, fetchedAt: fetchedAt.timeIntervalSince1970)
    }

    private func fail(_ name: String, _ error: PolicyLoadError) {
        guard var state = self.states[name] else { return }
        state.lastError = error.description
        if !error.issues.isEmpty {
            state.issues = error.issues
            state.badLines = error.issues.count
        }
        self.states[name] = state
    }

    /// Refreshes every enabled source now.
    @discardableResult
    public func refreshAll() async -> [PolicySourceStatus] {
        for name in self.order { await self.refresh(name) }
        return self.status()
    }

    /// Refreshes the sources whose interval has elapsed (or whose retry after a failure is due).
    @discardableResult
    public func refreshDue() async -> [PolicySourceStatus] {
        let now = self.now()
        for name in self.order {
            guard let delay = self.delayUntilDue(name, now: now), delay <= .zero else { continue }
            await self.refresh(name)
        }
        self.purgeRetired()
        return self.status()
    }

    private func delayUntilDue(_ name: String, now: Date) -> Duration? {
        guard let state = self.states[name], state.config.enabled, !state.refreshing else { return nil }
        guard let last = state.lastAttempt else { return state.config.refreshInterval == nil ? nil : .zero }
        var interval = state.config.refreshInterval
        if state.lastError != nil { interval = min(interval ?? Self.retryAfterFailure, Self.retryAfterFailure) }
        guard let interval else { return nil }
        return interval - .seconds(now.timeIntervalSince(last))
    }

    /// Time until the next scheduled refresh, or nil when none is scheduled.
    public func nextRefreshDelay() -> Duration? {
        let now = self.now()
        return self.order.compactMap { self.delayUntilDue($0, now: now) }.min().map { max($0, .zero) }
    }

    /// Refreshes on schedule until the task is cancelled.
    /// - Parameter clock: the clock to sleep on (injectable for tests).
    public func run<C: Clock>(clock: C = ContinuousClock()) async where C.Duration == Duration {
        while !Task.isCancelled {
            await self.refreshDue()
            let delay = min(self.nextRefreshDelay() ?? .seconds(60), .seconds(60))
            do {
                try await clock.sleep(for: max(delay, .milliseconds(100)))
            } catch {
                return
            }
        }
    }

    // MARK: Configuration

    /// Applies a new source list (config reload): unchanged sources keep their compiled copy, sources
    /// whose format options changed are recompiled from their stored copy, new ones are loaded from the
    /// store and, when `fetchMissing`, fetched; removed ones are dropped. The engine is swapped once.
    @discardableResult
    public func reconfigure(_ sources: [PolicySourceConfig], fetchMissing: Bool = true) async -> [PolicySourceStatus] {
        var order: [String] = []
        var states: [String: SourceState] = [:]
        for config in sources where states[config.name] == nil {
            order.append(config.name)
            guard var state = self.states[config.name] else {
                states[config.name] = SourceState(config: config)
                continue
            }
            let old = state.config
            state.config = config
            if !config.enabled {
                state.compiled = nil
            } else if let compiled = state.compiled {
                state.compiled = config.needsRecompile(comparedTo: old) ? nil : compiled.relabelled(config)
            }
            if config.location != old.location {
                state.contentHash = nil
                state.lastError = nil
                state.lastAttempt = nil
            }
            states[config.name] = state
        }
        self.order = order
        self.states = states
        for name in order { await self.loadStored(name) }
        self.rebuildEngine()
        if fetchMissing {
            for name in self.order where self.states[name]?.compiled == nil && self.states[name]?.config.enabled == true {
                await self.refresh(name)
            }
        }
        return self.status()
    }

    // MARK: Engine

    /// Rebuilds the engine after the operator's allow/deny entries changed; the swap is atomic, so queries
    /// in flight finish on the previous engine.
    public func operatorRulesChanged() {
        self.rebuildEngine()
    }

    private func rebuildEngine() {
        var sources: [CompiledPolicySource] = []
        // Operator entries first: an operator allow is reported ahead of configured allowlists, and an operator
        // deny decides before any configured block source (allow entries still beat it, as for every block).
        if let compiled = self.operatorRules?.compiled {
            if let allow = compiled.allow { sources.append(allow) }
            if let deny = compiled.deny { sources.append(deny) }
        }
        for name in self.order {
            guard let state = self.states[name], state.config.enabled else { continue }
            if let compiled = state.compiled {
                sources.append(compiled)
            } else if state.config.failMode == .closed && state.config.role == .block {
                sources.append(.notReady(state.config))
            }
        }
        self.retired.append(self.engine.replace(with: PolicyEngine(sources: sources)))
        self.purgeRetired()
    }

    /// Drops replaced engines once no query holds them, so their memory is freed here rather than on
    /// the event loop that happens to release the last reference.
    private func purgeRetired() {
        var keep: [PolicyEngine] = []
        while var engine = self.retired.popLast() {
            if !isKnownUniquelyReferenced(&engine) { keep.append(engine) }
        }
        self.retired = keep
    }

    // MARK: Status

    /// The status of every configured source, in precedence order.
    public func status() -> [PolicySourceStatus] {
        self.order.compactMap { self.status(of: $0) }
    }

    /// The status of one source.
    public func status(of name: String) -> PolicySourceStatus? {
        guard let s = self.states[name] else { return nil }
        let now = self.now()
        let age = s.fetchedAt.map { Duration.seconds(now.timeIntervalSince($0)) }
        let state: PolicySourceStatus.State
        if !s.config.enabled {
            state = .disabled
        } else if s.compiled == nil {
            state = s.lastError == nil ? .neverLoaded : .failed
        } else if s.lastError != nil {
            state = .stale
        } else if let interval = s.config.refreshInterval, let age, age > interval * 2 {
            state = .stale
        } else {
            state = .ok
        }
        return PolicySourceStatus(name: s.config.name, location: s.config.location, kind: s.config.kind,
            format: s.compiled?.format, role: s.config.role, failMode: s.config.failMode, state: state,
            failingClosed: s.config.enabled && s.compiled == nil && s.config.failMode == .closed
                && s.config.role == .block,
            ruleCount: s.compiled?.ruleCount ?? 0, serial: s.compiled?.serial, contentHash: s.contentHash,
            loadedAt: s.loadedAt, fetchedAt: s.fetchedAt, age: age, lastAttempt: s.lastAttempt,
            lastError: s.lastError, storeError: s.storeError, badLines: s.badLines, ignoredLines: s.ignoredLines,
            issues: s.issues, indexBytes: s.compiled?.memoryBytes ?? 0)
    }
}

extension PolicySourceConfig {
    /// Problems with a source list that configuration validation should report, each naming the source.
    public static func validate(_ sources: [PolicySourceConfig]) -> [String] {
        var problems: [String] = []
        var seen: Set<String> = []
        for (i, s) in sources.enumerated() {
            let at = "policy source #\(i + 1) '\(s.name)'"
            if s.name.isEmpty { problems.append("policy source #\(i + 1): name must not be empty") }
            if !seen.insert(s.name).inserted { problems.append("\(at): the name is used by an earlier source") }
            if s.location.isEmpty { problems.append("\(at): location must not be empty") }
            if case .sinkhole(let addresses) = s.answer, addresses.isEmpty {
                problems.append("\(at): a sinkhole answer needs at least one address")
            }
            if case .answer(.sinkhole(let addresses))? = s.override, addresses.isEmpty {
                problems.append("\(at): a sinkhole override needs at least one address")
            }
            if let r = s.refreshInterval, r < .seconds(10) {
                problems.append("\(at): refresh interval must be at least 10 seconds")
            }
            if s.role == .allow && s.failMode == .closed {
                problems.append("\(at): failMode closed has no effect on an allowlist (it never blocks)")
            }
        }
        return problems
    }
}
