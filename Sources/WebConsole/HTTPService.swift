import DNSPipeline
import DNSWire
public import Hummingbird
import HummingbirdHTTP2
import HummingbirdTLS
public import Logging
import NIOCore
import NIOSSL
public import Prometheus

/// Request context carrying the client address (for DoH access control and logging).
public struct PalisadeRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The connected client.
    public let remoteAddress: SocketAddress?
    /// The name of the API token that authenticated this request (set by the API's bearer-token check).
    public var apiActor: String?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }
}

/// Builds the HTTP applications: operations (metrics, health, later the console) and DoH.
public enum HTTPService {
    /// The operations app on `--http`: `/metrics`, `/healthz`, `/readyz`.
    public static func operations(host: String, port: Int, registry: PrometheusCollectorRegistry, health: HealthState,
        extraRoutes: (Router<PalisadeRequestContext>) -> Void = { _ in }, logger: Logger,
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol
    {
        let router = Router(context: PalisadeRequestContext.self)
        router.get("/metrics") { _, _ -> Response in
            var body = registry.emitToBuffer()
            // The per-query series are counted outside the registry (QueryMetrics: cheaper on the DNS path).
            body.append(contentsOf: QueryMetrics.shared.render().utf8)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
        router.get("/healthz") { _, _ -> String in "ok\n" }
        router.get("/readyz") { _, _ -> Response in
            let s = health.snapshot
            let text = s.ready ? "ready\n" : "not ready: \(s.reasons.joined(separator: "; "))\n"
            return Response(status: s.ready ? .ok : .serviceUnavailable, headers: [.contentType: "text/plain"],
                body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        extraRoutes(router)
        return Application(router: router, configuration: .init(address: .hostname(host, port: port)),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) }, logger: logger)
    }

    /// The DoH app (RFC 8484): `GET path?dns=` and `POST path` with `application/dns-message`,
    /// over TLS with HTTP/2 negotiated by ALPN and HTTP/1.1 as fallback.
    public static func doh(host: String, port: Int, path: String, tls: TLSConfiguration, processor: QueryProcessor,
        logger: Logger, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) throws -> some ApplicationProtocol
    {
        let router = Router(context: PalisadeRequestContext.self)
        let controller = DoHController(processor: processor)
        router.get(RouterPath(path)) { req, ctx in try await controller.get(req, ctx) }
        router.post(RouterPath(path)) { req, ctx in try await controller.post(req, ctx) }
        return Application(router: router, server: try .http2Upgrade(tlsConfiguration: tls),
            configuration: .init(address: .hostname(host, port: port)),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) }, logger: logger)
    }
}
