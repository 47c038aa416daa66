import AsyncHTTPClient
import DNSPipeline
import DNSPolicy
import DNSZoneTransfer
import Foundation
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization

/// The policy engine as the runtime uses it: the manager, its stages, the refresh service.
final class PolicyComponents: Sendable {
    let manager: PolicyManager
    let queryStage: (any Stage)?
    let responseStage: (any Stage)?
    let services: [any Service]
    private let statusBox: StatusBox
    private let fetcher: RuntimeFeedFetcher
    private let notify: NotifyListener?

    init(configuration c: PalisadeConfiguration, operatorRules: OperatorRules? = nil, logger: Logger) async throws {
        let (sources, problems) = c.policySources()
        guard problems.isEmpty else { throw ConfigurationError(problems: problems) }
        (self.manager, self.fetcher) = try Self.makeManager(c, sources: sources, allowNetwork: c.policy.fetch,
            operatorRules: operatorRules, logger: logger)
        // NOTIFY from a primary refreshes the source whose location it matches, right away.
        let manager = self.manager
        let byLocation = Dictionary(sources.map { ($0.location, $0.name) }, uniquingKeysWith: { a, _ in a })
        self.fetcher.transfers.setRefreshHandler { location in
            if let name = byLocation[location] { await manager.refresh(name) }
        }
        if let n = c.policy.notifyListen, let hp = HostPort(n) {
            do {
                self.notify = try await NotifyListener.start(host: hp.host, port: hp.port,
                    responder: NotifyResponder(authorizer: self.fetcher.transfers))
            } catch {
                throw StartupError(message: "cannot listen for NOTIFY on \(n): \(error)")
            }
        } else {
            self.notify = nil
        }
        let statuses = await self.manager.start(fetchMissing: true)
        Self.report(statuses, logger: logger)
        self.statusBox = StatusBox(statuses)
        // Operator rules can be added at run time, so their stages exist even when no source is configured.
        let hasPolicy = !sources.isEmpty || operatorRules != nil
        self.queryStage = hasPolicy ? self.manager.makeQueryStage() : nil
        self.responseStage = hasPolicy ? self.manager.makeResponseStage() : nil
        self.services = sources.isEmpty ? [] : [PolicyRefreshService(manager: self.manager, box: self.statusBox, logger: logger)]
    }

    /// A manager over the data directory's copies: the bundled snapshot seeded as the first last-good copy,
    /// zone-transfer locations registered. Shared by the runtime and `palisade lists`.
    static func makeManager(_ c: PalisadeConfiguration, sources: [PolicySourceConfig], allowNetwork: Bool,
        operatorRules: OperatorRules? = nil, logger: Logger) throws -> (PolicyManager, RuntimeFeedFetcher)
    {
        let dir = c.dataDir + "/feeds"
        let store = FeedStore(directory: dir)
        for s in sources where BundledFeeds.body(s.name) != nil {
            do {
                try BundledFeeds.seed(s, store: store)
            } catch {
                logger.error("cannot store the bundled feed snapshot", metadata: ["policy.list": "\(s.name)", "error": "\(error)"])
            }
        }
        let fetcher = try RuntimeFeedFetcher(allowNetwork: allowNetwork, tsigKeyFile: c.policy.tsigKeyFile)
        for s in sources where ZoneTransferFetcher.handles(s.location) {
            do {
                try fetcher.transfers.register(s.location)
            } catch {
                throw StartupError(message: "policy source \(s.name): \(error)")
            }
        }
        return (PolicyManager(sources: sources, dataDirectory: dir, fetcher: fetcher, operatorRules: operatorRules), fetcher)
    }

    /// Logs every source's state loudly: a feed that did not load must never go unnoticed.
    static func report(_ statuses: [PolicySourceStatus], logger: Logger) {
        for s in statuses {
            let md: Logger.Metadata = ["policy.list": "\(s.name)", "state": "\(s.state.rawValue)", "rules": "\(s.ruleCount)",
                "location": "\(s.location)", "error": "\(s.lastError ?? "-")"]
            switch s.state {
            case .ok: logger.info("policy source loaded", metadata: md)
            default: logger.warning("policy source not current: serving its last good copy or failing as configured", metadata: md)
            }
        }
    }

    /// Ready unless a fail-closed source has never loaded.
    func readiness() -> (Bool, [String]) {
        let closed = self.statusBox.value.filter(\.failingClosed)
        return (closed.isEmpty, closed.map { "policy source \($0.name) has never loaded (failMode closed)" })
    }

    func shutdown() async {
        await self.notify?.stop()
        await self.fetcher.shutdown()
    }

    final class StatusBox: Sendable {
        private let lock: Mutex<[PolicySourceStatus]>
        init(_ v: [PolicySourceStatus]) { self.lock = Mutex(v) }
        var value: [PolicySourceStatus] { self.lock.withLock { $0 } }
        func set(_ v: [PolicySourceStatus]) { self.lock.withLock { $0 = v } }
    }
}

/// Runs scheduled refreshes and publishes status (metrics, readiness) until shutdown.
struct PolicyRefreshService: Service {
    let manager: PolicyManager
    let box: PolicyComponents.StatusBox
    let logger: Logger

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { g in
                g.addTask { await self.manager.run() }
                g.addTask {
                    var last: [String: PolicySourceStatus.State] = [:]
                    while !Task.isCancelled {
                        let s = await self.manager.status()
                        self.box.set(s)
                        for st in s where last[st.name] != st.state {
                            if last[st.name] != nil { PolicyComponents.report([st], logger: self.logger) }
                            last[st.name] = st.state
                        }
                        PolicyMetrics.publish(s)
                        try? await Task.sleep(for: .seconds(2))
                    }
                }
                await g.next()
                g.cancelAll()
            }
        }
    }
}

/// Feed health as metrics: rules, age, state, failures per source (source names are operator-chosen
/// and few, so they are acceptable label values).
enum PolicyMetrics {
    static func publish(_ statuses: [PolicySourceStatus]) {
        for s in statuses {
            Gauge(label: "palisade_policy_source_rules", dimensions: [("source", s.name)]).record(s.ruleCount)
            Gauge(label: "palisade_policy_source_age_seconds", dimensions: [("source", s.name)])
                .record(Double(s.age?.components.seconds ?? -1))
            Gauge(label: "palisade_policy_source_ok", dimensions: [("source", s.name)]).record(s.state == .ok ? 1 : 0)
            Gauge(label: "palisade_policy_source_error", dimensions: [("source", s.name)]).record(s.lastError == nil ? 0 : 1)
        }
    }
}

/// Fetches policy sources: files, bundled snapshots, and http(s) URLs when network fetching is on. Zone
/// transfers (`axfr://`, `ixfr://`) also return IXFR changes, which the manager applies incrementally.
final class RuntimeFeedFetcher: IncrementalFeedFetcher {
    let allowNetwork: Bool
    private let files = FileFeedFetcher()
    private let client: HTTPClient?
    /// Zone transfers (`axfr://`, `ixfr://`).
    let transfers: ZoneTransferFetcher
    static let maxBytes = 512 << 20

    init(allowNetwork: Bool, tsigKeyFile: String? = nil) throws {
        self.allowNetwork = allowNetwork
        self.client = allowNetwork ? HTTPClient(eventLoopGroupProvider: .singleton) : nil
        var keys = TSIGKeyRegistry()
        if let path = tsigKeyFile {
            do {
                keys = try TSIGKeyRegistry.load(bindKeyFile: path)
            } catch {
                throw StartupError(message: "cannot load TSIG keys from \(path): \(error)")
            }
        }
        self.transfers = ZoneTransferFetcher(keys: keys)
    }

    func fetch(_ location: String) async throws -> [UInt8] {
        if location.hasPrefix("bundled:") {
            guard let body = BundledFeeds.body(String(location.dropFirst("bundled:".count))) else {
                throw FeedFetchError("no bundled feed named \(location)")
            }
            return body
        }
        if ZoneTransferFetcher.handles(location) {
            return try await self.transfers.fetch(location)
        }
        guard location.hasPrefix("http://") || location.hasPrefix("https://") else {
            return try await self.files.fetch(location)
        }
        guard let client = self.client else {
            throw FeedFetchError("fetching \(location) is disabled (policy.fetch: false); keeping the last good copy")
        }
        let request = HTTPClientRequest(url: location)
        let response = try await client.execute(request, timeout: .seconds(60))
        guard response.status.code == 200 else {
            throw FeedFetchError("\(location): HTTP \(response.status)")
        }
        let body = try await response.body.collect(upTo: Self.maxBytes)
        return Array(body.readableBytesView)
    }

    func fetchUpdate(_ location: String, since serial: UInt32?) async throws -> FeedUpdate {
        guard ZoneTransferFetcher.handles(location) else { return .full(try await self.fetch(location)) }
        switch try await self.transfers.fetchUpdate(location, since: serial) {
        case .whole(let text):
            return .full(text)
        case .upToDate:
            return .unchanged
        case .incremental(let from, let to, let changes):
            return .changes(fromSerial: from, toSerial: to, changes: changes.map {
                switch $0 {
                case .deleted(let rr): .deleted(rr)
                case .added(let rr): .added(rr)
                }
            })
        }
    }

    /// A zone transfer's text comes from the zone the transfer keeps: fetching it would ask the primary for
    /// its SOA again right after the transfer.
    func heldText(_ location: String) async throws -> [UInt8] {
        if ZoneTransferFetcher.handles(location), let text = await self.transfers.heldText(location) { return text }
        return try await self.fetch(location)
    }

    func shutdown() async {
        try? await self.client?.shutdown()
    }
}

/// `palisade lists status|update`.
public enum PolicyCommands {
    static func table(_ statuses: [PolicySourceStatus]) -> String {
        var out = "SOURCE\tSTATE\tROLE\tRULES\tSERIAL\tAGE\tLOCATION\tLAST ERROR\n"
        for s in statuses {
            let age = s.age.map { "\($0.components.seconds)s" } ?? "-"
            out += "\(s.name)\t\(s.state.rawValue)\t\(s.role.rawValue)\t\(s.ruleCount)\t\(s.serial.map(String.init) ?? "-")\t"
            out += "\(age)\t\(s.location)\t\(s.lastError ?? "-")\n"
        }
        return out
    }

    /// Status of every source from the data directory's last good copies (nothing is fetched).
    public static func status(configuration c: PalisadeConfiguration) async throws -> String {
        let (sources, problems) = c.policySources()
        guard problems.isEmpty else { throw ConfigurationError(problems: problems) }
        let (manager, fetcher) = try PolicyComponents.makeManager(c, sources: sources, allowNetwork: false,
            logger: Logger(label: "palisade"))
        let statuses = await manager.start(fetchMissing: false)
        await fetcher.shutdown()
        return self.table(statuses)
    }

    /// Refreshes every source; returns the report and whether all succeeded.
    public static func update(configuration c: PalisadeConfiguration) async throws -> (String, Bool) {
        let (sources, problems) = c.policySources()
        guard problems.isEmpty else { throw ConfigurationError(problems: problems) }
        let (manager, fetcher) = try PolicyComponents.makeManager(c, sources: sources, allowNetwork: c.policy.fetch,
            logger: Logger(label: "palisade"))
        await manager.start(fetchMissing: false)
        let after = await manager.refreshAll()
        await fetcher.shutdown()
        return (self.table(after), after.allSatisfy { $0.lastError == nil })
    }
}
