import AsyncHTTPClient
import DNSWire
import NIOCore
import NIOHTTP1
import NIOSSL

/// DNS over HTTPS (RFC 8484) through AsyncHTTPClient: POST (or GET with `?dns=`) of
/// `application/dns-message`, over HTTP/2 when the server offers it in ALPN, HTTP/1.1 otherwise.
package final class HTTPSTransport: UpstreamTransport {
    /// RFC 8484 §6: the media type of a DNS message in wire format.
    static let mediaType = "application/dns-message"

    private let id: String
    private let url: String
    private let method: DoHMethod
    private let client: HTTPClient

    /// Creates a DoH transport; the HTTP client shares `group` and keeps its connections for reuse.
    /// - Throws: ``UpstreamConfigurationError`` when the CA file cannot be loaded.
    package init(id: String, url: String, method: DoHMethod, options: UpstreamOptions, group: any EventLoopGroup)
        throws(UpstreamConfigurationError)
    {
        self.id = id
        self.url = url
        self.method = method
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        tls.certificateVerification = options.tls.verifyCertificate ? .fullVerification : .none
        if let ca = options.tls.caFile {
            do {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(ca))
            } catch {
                throw UpstreamConfigurationError(.unreadableFile, "TLS CA file \"\(ca)\": cannot load PEM certificates (\(error))")
            }
        }
        var config = HTTPClient.Configuration(
            tlsConfiguration: tls,
            redirectConfiguration: .disallow,
            timeout: .init(connect: TimeAmount(options.timeout)),
            connectionPool: .init(idleTimeout: TimeAmount(options.tcpIdleTimeout)))
        // `.automatic` offers h2 and http/1.1 in ALPN and uses what the server picks (RFC 8484 §5.2:
        // HTTP/2 is the minimum RECOMMENDED version).
        config.httpVersion = .automatic
        config.decompression = .disabled
        self.client = HTTPClient(eventLoopGroup: group, configuration: config)
    }

    /// Sends `query` and returns the matching reply (see ``UpstreamTransport/exchange(_:deadline:)``).
    package func exchange(_ query: DNSMessage, deadline: NIODeadline) async throws(UpstreamError) -> DNSMessage {
        guard query.questions.count == 1, let question = query.questions.first else {
            throw UpstreamError(.badReply, "\(self.id): a query must carry exactly one question")
        }
        // RFC 8484 §4.1: "DoH clients … SHOULD use a DNS ID of 0 in every DNS request", so identical
        // queries are identical HTTP requests. TLS authenticates the server, so the ID adds nothing.
        var message = query
        message.header.id = 0
        let bytes = message.encode()
        var request: HTTPClientRequest
        switch self.method {
        case .post:
            request = HTTPClientRequest(url: self.url)
            request.method = .POST
            request.headers.add(name: "content-type", value: Self.mediaType)
            request.body = .bytes(ByteBuffer(bytes: bytes))
        case .get:
            request = HTTPClientRequest(url: self.url + "?dns=" + Base64.encode(bytes, url: true))
            request.method = .GET
        }
        request.headers.add(name: "accept", value: Self.mediaType)

        let body: ByteBuffer
        do {
            let response = try await self.client.execute(request, deadline: deadline)
            guard response.status == .ok else {
                throw UpstreamError(.httpError, "\(self.id): HTTP status \(response.status.code)")
            }
            let type = response.headers.first(name: "content-type")?.lowercased() ?? ""
            guard type.hasPrefix(Self.mediaType) else {
                throw UpstreamError(.httpError, "\(self.id): content type \"\(type)\" is not \(Self.mediaType)")
            }
            // The largest DNS message is 65535 bytes; anything longer is not one.
            body = try await response.body.collect(upTo: 65535)
        } catch {
            throw UpstreamError.wrapping(error, upstream: self.id)
        }
        switch ReplyMatcher(server: nil, id: 0, question: question, opcode: query.header.opcode).match(body, from: nil) {
        case .accept(let reply):
            return reply
        case .reject(let reason):
            throw UpstreamError(.badReply, "\(self.id): unusable DoH reply (\(reason.rawValue))")
        }
    }

    /// Closes sockets and connections.
    package func shutdown() async {
        try? await self.client.shutdown()
    }
}
