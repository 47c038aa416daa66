import DNSCache
import DNSPipeline
import DNSPolicy
import DNSServer
import DNSWire
import Foundation
import Hummingbird
import Logging
import Metrics
import NIOCore
import NIOPosix
import NIOSSL
import Prometheus
import ServiceLifecycle
import UnixSignals
import Synchronization
import WebConsole
import WorkloadIdentity
#if canImport(Glibc)
import Glibc
#endif

/// Runs Palisade: listeners, HTTP, query log, policy refresh; reloads on SIGHUP.
public final class PalisadeRuntime: Sendable {
    private let initial: PalisadeConfiguration
    private let configPath: String?
    private let reloadOverrides: @Sendable (inout PalisadeConfiguration) -> Void
    private let logger = Logger(label: "palisade")
    // Created on use, after run() has bootstrapped the metrics backend (a counter made earlier would
    // stay on the no-op backend and never reach /metrics).
    private var reloadFailures: Metrics.Counter { Metrics.Counter(label: "palisade_config_reload_failures_total") }
    private var reloads: Metrics.Counter { Metrics.Counter(label: "palisade_config_reloads_total") }
    /// Called with the bound ports once every listener is up (tests use port 0).
    private let onReady: @Sendable (RuntimePorts) -> Void
    /// Who held which client address when (identity file, containers, pods), kept across reloads.
    /// The web API reads a workload's `addresses` from it; the identify stage reads its directory.
    public let identityHistory: IdentityHistory

    /// Creates a runtime.
    /// - Parameters:
    ///   - configuration: the validated configuration.
    ///   - configPath: the file to re-read on SIGHUP (nil: the embedded default).
    ///   - reloadOverrides: applies command-line flags again after a reload.
    public init(configuration: PalisadeConfiguration, configPath: String?,
        reloadOverrides: @escaping @Sendable (inout PalisadeConfiguration) -> Void = { _ in },
        onReady: @escaping @Sendable (RuntimePorts) -> Void = { _ in })
    {
        self.initial = configuration
        self.configPath = configPath
        self.reloadOverrides = reloadOverrides
        self.onReady = onReady
        self.identityHistory = IdentityHistory(horizon: .seconds(max(1, configuration.identity.historyHours) * 3600))
    }

    /// Runs until SIGTERM/SIGINT.
    /// - Throws: ``StartupError`` when something cannot start (with how to fix it).
    public func run() async throws {
        let c = self.initial
        let registry = MetricsBootstrap.registry
        let threads = c.threads == 0 ? System.coreCount : c.threads
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let health = HealthState()

        // The listeners bind first and answer SERVFAIL (EDE 14, Not Ready) until the pipeline with its policy
        // is in force: a client (or a readiness probe) gets an immediate, honest "not yet" instead of a
        // timeout, and the first correct answer goes out the moment loading ends. Nothing is answered
        // unfiltered meanwhile.
        let chains = ChainReference(Chain(stages: [StartingStage()]))
        let processor = QueryProcessor(chains: chains)
        var listeners: [DNSListener] = []
        let udpEngine = UDPEngine(rawValue: c.udpEngine) ?? .direct
        for l in c.listen {
            guard let hp = HostPort(l) else { continue }
            listeners.append(DNSListener(
                configuration: .init(kind: .dns, host: hp.host, port: hp.port,
                    tcpIdleTimeout: .milliseconds(Int64(c.tcp.idleTimeoutMs)), maxConnections: c.tcp.maxConnections,
                    udpEngine: udpEngine),
                processor: processor, group: group, threads: threads, logger: self.logger))
        }
        if let dot = c.dot {
            let tls = try Self.tlsContext(dot, alpn: ["dot"])
            for l in dot.listen {
                guard let hp = HostPort(l) else { continue }
                listeners.append(DNSListener(
                    configuration: .init(kind: .dot, host: hp.host, port: hp.port, tls: tls,
                        tcpIdleTimeout: .milliseconds(Int64(c.tcp.idleTimeoutMs)),
                        maxConnections: c.tcp.maxConnections),
                    processor: processor, group: group, threads: threads, logger: self.logger))
            }
        }
        for l in listeners {
            do {
                try await l.start()
            } catch {
                for s in listeners { await s.stop() }
                throw StartupError(message: "\(error). Is another server using the port? Choose another with --listen.")
            }
        }

        let store: QueryLogComponents
        let operatorState: OperatorState
        let apiTokens: [APIToken]
        let assembly: Assembly
        do {
            try FileManager.default.createDirectory(atPath: c.dataDir, withIntermediateDirectories: true)
            // The query log (SQLite set-up, mostly waiting for the disk) opens while the policy compiles.
            let logger = self.logger
            async let opening = QueryLogComponents(configuration: c, logger: logger)
            operatorState = try OperatorState(dataDirectory: c.dataDir)
            apiTokens = try c.apiTokens()
            assembly = try await Assembly(configuration: c, group: group, operatorState: operatorState,
                identity: self.identityHistory,
                logger: self.logger)
            store = try await opening
            // Before the swap, so that blocking starts with the compile's garbage already given back.
            Self.returnFreedMemory()
            chains.swap(try assembly.chain(events: store.buffer))
        } catch {
            for s in listeners { await s.stop() }
            throw error
        }
        let current = AssemblyBox(assembly)
        // An operator rule change rebuilds the engine of whichever assembly is in force (reloads replace it).
        operatorState.rules.addListener {
            let manager = current.withLock { $0.policy.manager }
            await manager.operatorRulesChanged()
        }

        let ports = RuntimePortsBox()
        let dnsListeners = listeners.filter { !$0.isTLS }
        let dotListeners = listeners.filter(\.isTLS)
        ports.set {
            $0.dns = Array(Set(dnsListeners.flatMap(\.boundAddresses).compactMap(\.port))).sorted()
            $0.dot = Array(Set(dotListeners.flatMap(\.boundAddresses).compactMap(\.port))).sorted()
        }
        // ServiceGroup stops services in reverse order: the query-log writer is registered first so that
        // it stops last and flushes what the listeners handed it.
        var services: [any Service] = store.services
        services += assembly.policy.services
        services += try IdentitySources.services(c.identity, history: self.identityHistory, group: group)
        services += listeners as [any Service]
        var expected = 0
        if !c.http.isEmpty, let hp = HostPort(c.http) {
            expected += 1
            // Read through `current`: a reload replaces the policy manager.
            let feeds: @Sendable () async -> [PolicySourceStatus] = {
                let manager = current.withLock { $0.policy.manager }
                return await manager.status()
            }
            let api = APIDependencies(
                store: store.store,
                feeds: feeds,
                quarantine: operatorState.quarantine, operatorRules: operatorState.rules,
                addresses: IdentityAddressHistory(history: self.identityHistory),
                actuator: c.identity.dockerSocket.map {
                    DockerWorkloadActuator(client: DockerEngineClient(socketPath: $0, eventLoopGroup: group))
                },
                containerActionLimit: ContainerAction(rawValue: c.quarantine.containerAction) ?? .none,
                defaultQuarantineAnswer: QuarantineEntry.Answer(rawValue: c.quarantine.answer) ?? .refused,
                tokens: apiTokens, logger: Logger(label: "palisade.api"))
            // The console reads the same store and feed status; its quarantine forms call the API above.
            let quarantine = operatorState.quarantine
            let console = ConsoleDataSources(store: store.store, feeds: feeds, quarantine: { key in
                quarantine.entry(for: key).map {
                    ConsoleQuarantineState(answer: $0.answer.rawValue, by: $0.by, reason: $0.reason,
                        sinceMicros: $0.sinceMicros)
                }
            })
            if apiTokens.isEmpty {
                self.logger.notice("API changes are disabled until a token is configured (api.tokens)")
            }
            services.append(HTTPService.operations(host: hp.host, port: hp.port, registry: registry, health: health,
                extraRoutes: { router in
                    APIRoutes.add(to: router, dependencies: api)
                    ConsoleRoutes.register(on: router, sources: console)
                },
                logger: Logger(label: "palisade.http"),
                onRunning: { port in ports.set { $0.http = port } }))
        }
        if let doh = c.doh {
            let cert = try NIOSSLCertificate.fromPEMFile(doh.certificate)
            let key = try NIOSSLPrivateKey(file: doh.key, format: .pem)
            let tls = TLSConfiguration.makeServerConfiguration(certificateChain: cert.map { .certificate($0) },
                privateKey: .privateKey(key))
            for l in doh.listen {
                guard let hp = HostPort(l) else { continue }
                expected += 1
                services.append(try HTTPService.doh(host: hp.host, port: hp.port, path: doh.path ?? "/dns-query", tls: tls,
                    processor: processor, logger: Logger(label: "palisade.doh"),
                    onRunning: { port in ports.set { $0.doh.append(port) } }))
            }
        }
        let onReady = self.onReady
        services.append(ReadinessService(expectedHTTP: expected, ports: ports, health: health,
            policyReady: { assembly.policy.readiness() }, onReady: onReady))
        services.append(ReloadService { [self] in
            store.reopenOutputs()
            await self.reload(current: current, chains: chains, events: store.buffer, group: group,
                operatorState: operatorState)
        })

        let group2 = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint], logger: self.logger))
        self.logger.info("palisade started", metadata: ["listen": "\(c.listen)", "http": "\(c.http)", "threads": "\(threads)"])
        do {
            try await group2.run()
        } catch {
            self.logger.error("service failed", metadata: ["error": "\(error)"])
        }
        let last = current.withLock { $0 }
        await last.shutdown()
        try? await group.shutdownGracefully()
        self.logger.info("palisade stopped")
    }

    /// Gives the pages freed by the start-up compile back to the system. Compiling a feed holds its text, parse
    /// state and the index being built at once; glibc keeps the freed chunks mapped. With a 1M-rule feed this
    /// took 1.1–1.6 MiB off the resident size measured 0.5 s after ready (BENCHMARKS.md, session 5).
    static func returnFreedMemory() {
        #if canImport(Glibc)
        // malloc.h is not part of Swift's Glibc module: look the function up (RTLD_DEFAULT is a null handle).
        typealias Trim = @convention(c) (Int) -> Int32
        if let symbol = dlsym(nil, "malloc_trim") { _ = unsafeBitCast(symbol, to: Trim.self)(0) }
        #endif
    }

    /// SIGHUP: re-read the configuration, build a new chain, swap it in; on failure keep the old one.
    private func reload(current: AssemblyBox, chains: ChainReference, events: QueryEventBuffer?,
        group: any EventLoopGroup, operatorState: OperatorState) async
    {
        self.logger.notice("reload requested (SIGHUP)")
        do {
            var c = try ConfigurationLoader.load(path: self.configPath)
            self.reloadOverrides(&c)
            let problems = ConfigurationLoader.validate(c)
            if !problems.isEmpty { throw ConfigurationError(problems: problems, file: self.configPath) }
            let old = current.withLock { $0 }
            if c.listen != old.configuration.listen || c.http != old.configuration.http || c.threads != old.configuration.threads
                || c.udpEngine != old.configuration.udpEngine
            {
                self.logger.warning("listen, http, threads and udpEngine changes need a restart; keeping the current sockets")
            }
            let cache = c.cache == old.configuration.cache ? old.cache : nil
            if c.identity != old.configuration.identity {
                self.logger.warning("identity source changes need a restart; keeping the current sources")
            }
            let next = try await Assembly(configuration: c, group: group, cache: cache, operatorState: operatorState,
                identity: self.identityHistory,
                logger: self.logger)
            chains.swap(try next.chain(events: events))
            current.withLock { $0 = next }
            // A rule change made while the new assembly was starting went to the old manager.
            await next.policy.manager.operatorRulesChanged()
            await old.shutdown()
            self.reloads.increment()
            self.logger.notice("reload done; new pipeline in force")
        } catch {
            self.reloadFailures.increment()
            self.logger.error("reload failed; the previous configuration keeps running", metadata: ["error": "\(error)"])
        }
    }

    static func tlsContext(_ t: TLSListenerConfiguration, alpn: [String]) throws -> NIOSSLContext {
        do {
            let cert = try NIOSSLCertificate.fromPEMFile(t.certificate)
            let key = try NIOSSLPrivateKey(file: t.key, format: .pem)
            var cfg = TLSConfiguration.makeServerConfiguration(certificateChain: cert.map { .certificate($0) },
                privateKey: .privateKey(key))
            cfg.applicationProtocols = alpn
            return try NIOSSLContext(configuration: cfg)
        } catch {
            throw StartupError(message: "cannot load TLS certificate \(t.certificate) / key \(t.key): \(error)")
        }
    }
}

/// Ports actually bound (port 0 in tests).
public struct RuntimePorts: Sendable {
    /// DNS listener ports (UDP and TCP share them).
    public var dns: [Int] = []
    /// HTTP operations port.
    public var http: Int?
    /// DoH ports.
    public var doh: [Int] = []
    /// DoT ports.
    public var dot: [Int] = []
}

final class RuntimePortsBox: Sendable {
    private let value = Mutex(RuntimePorts())
    func set(_ f: (inout RuntimePorts) -> Void) { self.value.withLock { f(&$0) } }
    var ports: RuntimePorts { self.value.withLock { $0 } }
}

/// The only stage while the process starts: SERVFAIL with EDE 14 (Not Ready, RFC 8914) for every query,
/// on the synchronous path, until the real chain (with its policy) is swapped in.
struct StartingStage: Stage {
    var id: StageID { "starting" }

    func resolve(_ query: Query, in context: QueryContext, next: @escaping Next) async throws -> Resolution {
        Self.notReady(query)
    }

    func resolveNow(_ query: Query, in context: QueryContext, next: NextNow) throws -> Resolution? {
        Self.notReady(query)
    }

    static func notReady(_ query: Query) -> Resolution {
        .failure(for: query, ede: .notReady, text: "starting: policy loading")
    }
}

/// Marks the process ready once HTTP servers run and policy has loaded.
struct ReadinessService: Service {
    let expectedHTTP: Int
    let ports: RuntimePortsBox
    let health: HealthState
    let policyReady: @Sendable () -> (Bool, [String])
    let onReady: @Sendable (RuntimePorts) -> Void

    func run() async throws {
        var announced = false
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let p = self.ports.ports
            let httpUp = (p.http == nil ? 0 : 1) + p.doh.count
            let (policyOK, reasons) = self.policyReady()
            let ready = httpUp >= self.expectedHTTP && policyOK
            self.health.set(ready: ready, reasons: ready ? [] : (httpUp < self.expectedHTTP ? ["http starting"] : []) + reasons)
            if ready && !announced {
                announced = true
                self.onReady(p)
            }
            // Readiness is re-evaluated periodically: a policy source can fail closed later.
            try? await Task.sleep(for: .milliseconds(announced ? 1000 : 20))
        }
    }
}

/// Runs `action` on every SIGHUP.
struct ReloadService: Service {
    let action: @Sendable () async -> Void

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        try? await cancelWhenGracefulShutdown {
            for await _ in signals {
                await self.action()
            }
        }
    }
}

/// Metrics are bootstrapped once per process.
enum MetricsBootstrap {
    static let registry: PrometheusCollectorRegistry = {
        let r = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: r)
        // The same bounds as the per-query latency histogram, which is counted outside the registry.
        factory.defaultDurationHistogramBuckets = QueryMetrics.bucketBounds
        MetricsSystem.bootstrap(factory)
        return r
    }()
}

/// The assembly in force (swapped on reload).
final class AssemblyBox: Sendable {
    private let value: Mutex<Assembly>
    init(_ a: Assembly) { self.value = Mutex(a) }
    func withLock<R>(_ f: (inout Assembly) -> R) -> R { self.value.withLock { f(&$0) } }
}
