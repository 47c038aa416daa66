public import CoreMetrics
public import DNSWire
public import Logging
public import NIOCore

/// Conditional forwarding: names under a configured domain go to that domain's pool, everything else
/// to the default pool. The longest matching suffix wins (`svc.cluster.local` beats `cluster.local`).
public final class UpstreamRouter: Sendable {
    /// The pool for names no zone covers.
    public let defaultPool: UpstreamPool
    private let zones: [DomainName: UpstreamPool]
    private let longestZone: Int

    /// Creates a router from ready pools.
    /// - Parameters:
    ///   - defaultPool: the pool for names no zone covers.
    ///   - zones: domain → pool; a domain's subdomains go to its pool too.
    public init(defaultPool: UpstreamPool, zones: [DomainName: UpstreamPool] = [:]) {
        self.defaultPool = defaultPool
        self.zones = zones
        self.longestZone = zones.keys.map(\.labelCount).max() ?? 0
    }

    /// Builds every pool from spec strings.
    /// - Parameters:
    ///   - defaultSpecs: upstreams for everything not covered by a zone.
    ///   - zones: domain text (`cluster.local`) → its upstreams.
    ///   - configuration: shared by all pools.
    ///   - group: event loops for every socket.
    ///   - clock: health clock.
    ///   - metrics: metrics factory.
    ///   - logger: for health transitions.
    /// - Throws: ``UpstreamConfigurationError`` naming the zone or spec that is wrong.
    public convenience init(defaultSpecs: [String], zones: [String: [String]] = [:],
        configuration: UpstreamPoolConfiguration = UpstreamPoolConfiguration(), group: any EventLoopGroup,
        clock: UpstreamClock = .continuous, metrics: any MetricsFactory = MetricsSystem.factory,
        logger: Logger = Logger(label: "palisade.upstream")) throws(UpstreamConfigurationError)
    {
        let defaultPool = try UpstreamPool(specs: defaultSpecs, configuration: configuration, group: group,
            clock: clock, metrics: metrics, logger: logger)
        var pools: [DomainName: UpstreamPool] = [:]
        // Sorted so that the same configuration always fails on the same entry.
        for (zoneText, specs) in zones.sorted(by: { $0.key < $1.key }) {
            let zone: DomainName
            do {
                zone = try DomainName(zoneText.hasSuffix(".") ? zoneText : zoneText + ".")
            } catch {
                throw UpstreamConfigurationError(.badSpec, "forwarding zone \"\(zoneText)\": \(error)")
            }
            guard pools[zone] == nil else {
                throw UpstreamConfigurationError(.badSpec, "forwarding zone \"\(zoneText)\" is listed twice")
            }
            do {
                pools[zone] = try UpstreamPool(specs: specs, configuration: configuration, group: group, clock: clock,
                    metrics: metrics, logger: logger)
            } catch {
                throw UpstreamConfigurationError(error.code, "forwarding zone \"\(zoneText)\": \(error.message)")
            }
        }
        self.init(defaultPool: defaultPool, zones: pools)
    }

    /// The pool for a name: the deepest configured zone containing it, else the default pool.
    public func pool(for name: DomainName) -> UpstreamPool {
        self.route(name).pool
    }

    /// The pool for a name and the zone that chose it (nil: the default pool).
    public func route(_ name: DomainName) -> (zone: DomainName?, pool: UpstreamPool) {
        guard !self.zones.isEmpty else { return (nil, self.defaultPool) }
        // Walk up from the name, skipping labels deeper than any zone: the first hit is the longest suffix.
        var candidate: DomainName? = name
        var extra = name.labelCount - self.longestZone
        while extra > 0, let c = candidate {
            candidate = c.parent
            extra -= 1
        }
        while let c = candidate {
            if let pool = self.zones[c] { return (c, pool) }
            candidate = c.parent
        }
        return (nil, self.defaultPool)
    }

    /// Every pool, default first, each once.
    public var pools: [UpstreamPool] {
        var out = [self.defaultPool]
        for (_, p) in self.zones.sorted(by: { $0.key < $1.key }) where !out.contains(where: { $0 === p }) {
            out.append(p)
        }
        return out
    }

    /// Shuts every pool down.
    public func shutdown() async {
        for p in self.pools { await p.shutdown() }
    }
}
