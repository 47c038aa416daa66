import CoreMetrics
import DNSWire
import NIOCore
import Synchronization

/// One configured upstream: its spec, its transport, its health record and its metric handles.
package final class Upstream: Sendable {
    /// What was configured.
    package let spec: UpstreamSpec
    /// The normalized spec text: log metadata `upstream.id` and the metric label.
    package let id: String
    /// How queries reach it.
    package let transport: any UpstreamTransport
    /// Its metric handles.
    package let metrics: UpstreamMetrics
    /// The transport when it is plain UDP, which can run a whole exchange on the caller's event loop.
    package let udp: UDPTransport?
    private let health: Mutex<UpstreamHealth>

    /// Creates an upstream around an existing transport (tests inject scripted transports this way).
    package init(spec: UpstreamSpec, transport: any UpstreamTransport, health: UpstreamHealth, metrics: UpstreamMetrics) {
        self.spec = spec
        self.id = spec.description
        self.transport = transport
        self.metrics = metrics
        self.udp = transport as? UDPTransport
        self.health = Mutex(health)
    }

    /// Builds the transport a spec asks for.
    /// - Throws: ``UpstreamConfigurationError`` for an unusable TLS setup or address.
    package static func make(spec: UpstreamSpec, configuration: UpstreamPoolConfiguration, group: any EventLoopGroup,
        metricsFactory: any MetricsFactory) throws(UpstreamConfigurationError) -> Upstream
    {
        let id = spec.description
        let metrics = UpstreamMetrics(upstream: id, factory: metricsFactory)
        let options = configuration.upstream
        let transport: any UpstreamTransport
        func socketAddress() throws(UpstreamConfigurationError) -> SocketAddress {
            guard let address = spec.address else {
                throw UpstreamConfigurationError(.badSpec, "upstream \"\(id)\": an IP address is required")
            }
            do {
                return try SocketAddress.upstream(address, port: spec.port)
            } catch {
                throw UpstreamConfigurationError(.badSpec, "upstream \"\(id)\": \(error.message)")
            }
        }
        switch spec.kind {
        case .udp:
            let server = try socketAddress()
            let tcp = TCPTransport(id: id, server: server, tls: nil, options: options, group: group, metrics: metrics)
            transport = UDPTransport(id: id, server: server, strategy: options.udpSockets, fallback: tcp, group: group,
                metrics: metrics)
        case .tcp:
            transport = TCPTransport(id: id, server: try socketAddress(), tls: nil, options: options, group: group,
                metrics: metrics)
        case .tls:
            let tls = try StreamTLS(options: options.tls, serverName: spec.serverName)
            transport = TCPTransport(id: id, server: try socketAddress(), tls: tls, options: options, group: group,
                metrics: metrics)
        case .https:
            guard options.tls.pins.isEmpty else {
                throw UpstreamConfigurationError(.badOption,
                    "upstream \"\(id)\": TLS pins are supported for tls:// upstreams only, not https://")
            }
            transport = try HTTPSTransport(id: id, url: spec.url, method: options.dohMethod, options: options,
                group: group)
        }
        let health = UpstreamHealth(failureThreshold: configuration.failureThreshold,
            downBackoff: configuration.downBackoff, maxDownBackoff: configuration.maxDownBackoff)
        return Upstream(spec: spec, transport: transport, health: health, metrics: metrics)
    }

    /// The health state at `now`.
    package func state(at now: Duration) -> UpstreamHealthState {
        self.health.withLock { $0.state(at: now) }
    }

    /// Consecutive failures so far.
    package var consecutiveFailures: Int { self.health.withLock { $0.consecutiveFailures } }

    /// Records a usable reply. Returns true when the upstream was down or probing before.
    @discardableResult
    package func recordSuccess(at now: Duration) -> Bool {
        let recovered = self.health.withLock { h in
            let was = h.state(at: now)
            h.recordSuccess()
            return was != .healthy
        }
        if recovered { self.metrics.healthy.record(1) }
        return recovered
    }

    /// Records a failed attempt. Returns true when this failure marked the upstream down.
    @discardableResult
    package func recordFailure(at now: Duration) -> Bool {
        let markedDown = self.health.withLock { $0.recordFailure(at: now) }
        if markedDown { self.metrics.healthy.record(0) }
        return markedDown
    }
}
