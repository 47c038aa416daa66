import DNSCache
import DNSPipeline
import DNSPolicy
import DNSUpstream
import DNSWire
import Foundation
import Logging
import NIOCore
import NIOPosix
import WorkloadIdentity

/// A startup problem, with what to do about it (startup errors are fatal, Knot's policy).
public struct StartupError: Error, CustomStringConvertible {
    /// What failed and how to fix it.
    public var message: String
    public var description: String { self.message }
}

/// Builds the long-lived parts from a configuration: upstreams, cache, policy, sinks, and the chain.
///
/// The runtime and `palisade query` use the same assembly, so a traced query goes through exactly
/// the pipeline the server runs.
final class Assembly: Sendable {
    let configuration: PalisadeConfiguration
    let group: any EventLoopGroup
    let cache: MessageCache<ContinuousClock>
    let upstreams: UpstreamRouter
    let policy: PolicyComponents
    /// The directory the identify stage reads; nil when no identity source is configured (no stage then).
    let workloads: WorkloadDirectory?
    /// Who held which address when: the identity file and the container/pod sources publish here. The same
    /// object lives across reloads (the runtime owns it); the web API reads it for a workload's addresses.
    let identity: IdentityHistory
    let operatorState: OperatorState?
    let logger: Logger

    init(configuration c: PalisadeConfiguration, group: any EventLoopGroup, cache: MessageCache<ContinuousClock>? = nil,
        operatorState: OperatorState? = nil, identity: IdentityHistory? = nil, logger: Logger) async throws
    {
        self.configuration = c
        self.group = group
        self.logger = logger
        self.operatorState = operatorState
        self.cache = cache ?? MessageCache(configuration: c.cache, clock: ContinuousClock())
        self.upstreams = try Self.makeUpstreams(c, group: group, logger: logger)
        self.policy = try await PolicyComponents(configuration: c, operatorRules: operatorState?.rules, logger: logger)
        let history = identity ?? IdentityHistory(horizon: .seconds(max(1, c.identity.historyHours) * 3600))
        self.identity = history
        // A reload re-reads the file into the shared history; the container and pod entries stay.
        if let path = c.identityFile {
            let snapshot = try IdentityFile.load(path)
            history.replace(.static, with: snapshot.exact, prefixes: snapshot.prefixes)
        } else {
            history.replace(.static, with: [:], prefixes: [])
        }
        self.workloads = c.identityFile != nil || c.identity.hasDynamicSource ? history.directory : nil
    }

    /// The chain for this assembly, with `sinks` receiving query events.
    func chain(events: QueryEventBuffer?) throws -> Chain {
        let records = try self.configuration.localData.records.map { try LocalRecordParser.parse($0) }
        return PipelineBuilder.chain(.init(
            acl: self.configuration.acl.allow.compactMap { IPNetwork($0) },
            localRecords: records,
            blockPrivateReverse: self.configuration.localData.blockPrivateReverse,
            events: events,
            identify: self.workloads.map { IdentifyStage(directory: $0) },
            quarantine: self.operatorState.map {
                QuarantineStage(registry: $0.quarantine, allowlist: self.configuration.quarantineAllowlist())
            },
            queryPolicy: self.policy.queryStage,
            responsePolicy: self.policy.responseStage,
            cache: CacheStage(cache: self.cache),
            upstream: UpstreamStage(router: self.upstreams)))
    }

    func shutdown() async {
        await self.upstreams.shutdown()
        await self.policy.shutdown()
    }

    /// Connected UDP sockets per upstream and event loop (`upstreams.udpSockets: pooled`). Eight rather than 64: at
    /// full rate each readiness event then reads several replies and each flush sends several queries per socket, and
    /// the miss mix runs 6–7 % faster on average; at 25k misses a second the loop's CPU per miss is the same
    /// (BENCHMARKS.md, session 18). Off-path spoofing odds do not depend on the count (``UDPSocketStrategy``).
    static let udpPoolSize = 8

    static func makeUpstreams(_ c: PalisadeConfiguration, group: any EventLoopGroup, logger: Logger) throws -> UpstreamRouter {
        var specs = c.upstreams.servers
        if specs.isEmpty {
            do {
                let rc = try ResolvConf.load(path: c.upstreams.resolvConf)
                let listen = c.listen.compactMap(HostPort.init).compactMap { hp -> (address: IPAddress, port: UInt16)? in
                    guard let a = IPAddress(hp.host) else { return nil }
                    return (a, UInt16(hp.port))
                }
                specs = try rc.upstreamSpecs(excludingListenAddresses: listen).map(\.description)
                logger.info("using resolv.conf nameservers", metadata: ["upstreams": "\(specs)", "file": "\(c.upstreams.resolvConf)"])
            } catch {
                throw StartupError(message: "no upstream configured and \(c.upstreams.resolvConf) gives none: \(error). "
                    + "Pass --upstream ADDR:PORT or set upstreams.servers in the configuration.")
            }
        }
        var pool = UpstreamPoolConfiguration()
        pool.strategy = SelectionStrategy(rawValue: c.upstreams.strategy) ?? .random
        pool.queryDeadline = .milliseconds(c.upstreams.deadlineMs)
        pool.upstream.timeout = .milliseconds(c.upstreams.timeoutMs)
        if c.upstreams.udpSockets == "pooled" {
            pool.upstream.udpSockets = .pooled(size: Self.udpPoolSize, usesPerSocket: 100)
        }
        var zones: [String: [String]] = [:]
        for z in c.upstreams.conditional { zones[z.domain] = z.servers }
        do {
            return try UpstreamRouter(defaultSpecs: specs, zones: zones, configuration: pool, group: group,
                logger: Logger(label: "palisade.upstream"))
        } catch {
            throw StartupError(message: "bad upstream configuration: \(error)")
        }
    }
}
