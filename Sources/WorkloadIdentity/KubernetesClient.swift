import AsyncHTTPClient
import Foundation
public import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A client of the Kubernetes API server for pods: list (with paging) and watch.
///
/// The watch is the real protocol: `GET /api/v1/pods?watch=1&resourceVersion=…&allowWatchBookmarks=true`,
/// a chunked stream of one JSON event per line. An expired resource version (HTTP 410, or an ERROR event
/// with code 410) is reported as ``WorkloadIdentityError/Code/gone`` so the caller relists.
public final class KubernetesClient: Sendable {
    /// Where and how it connects.
    public let connection: KubernetesConnection
    private let client: OwnedHTTPClient
    private let requestTimeout: Duration

    /// Creates a client; nothing connects until the first request.
    /// - Throws: ``WorkloadIdentityError`` `.configuration` when a certificate or key does not parse.
    public init(connection: KubernetesConnection, requestTimeout: Duration = .seconds(30),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws
    {
        self.connection = connection
        self.requestTimeout = requestTimeout
        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            if let ca = connection.certificateAuthorityPEM {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(ca))
            }
            if connection.insecureSkipTLSVerify { tls.certificateVerification = .none }
            if let cert = connection.clientCertificatePEM, let key = connection.clientKeyPEM {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(cert).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: key, format: .pem))
            }
        } catch {
            throw WorkloadIdentityError(code: .configuration,
                message: "Kubernetes TLS material for \(connection.server) does not parse", underlying: UnderlyingError(error))
        }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout.connect = .seconds(5)
        self.client = OwnedHTTPClient(eventLoopGroup: eventLoopGroup, configuration: configuration)
    }

    /// Closes the connections (idempotent; also done on release).
    public func shutdown() async {
        await self.client.shutdown()
    }

    /// Every pod in every namespace, and the resource version to watch from. Pages of `pageSize`.
    /// - Throws: ``WorkloadIdentityError``.
    public func listPods(pageSize: Int = 500) async throws -> (pods: [KubernetesPod], resourceVersion: String) {
        var pods: [KubernetesPod] = []
        var token: String?
        var version = ""
        repeat {
            var path = "/api/v1/pods?limit=\(max(1, pageSize))"
            if let token { path += "&continue=" + DockerEngineClient.percentEncode(token) }
            let response: HTTPClientResponse
            let body: ByteBuffer
            do {
                response = try await self.client.http.execute(self.request(path), timeout: TimeAmount(self.requestTimeout))
                body = try await response.body.collect(upTo: 256 << 20)
            } catch {
                throw self.connectError(error, path)
            }
            let code = Int(response.status.code)
            if code == 410 { throw WorkloadIdentityError(code: .gone, message: "GET \(path): 410 Gone (continue token expired)") }
            guard code == 200 else { throw self.statusError(code, String(buffer: body), path) }
            let page: KubernetesPodList
            do {
                page = try JSONDecoder().decode(KubernetesPodList.self, from: Data(body.readableBytesView))
            } catch {
                throw WorkloadIdentityError(code: .decode,
                    message: "GET \(path) on \(self.connection.server): not a PodList (\(DockerEngineClient.describe(error)))")
            }
            pods += page.items
            if token == nil { version = page.metadata?.resourceVersion ?? "" }
            token = page.metadata?.continue.flatMap { $0.isEmpty ? nil : $0 }
            // The list's resource version is the one of its first page (consistent snapshot).
        } while token != nil
        return (pods, version)
    }

    /// Opens a watch from `resourceVersion`.
    /// - Parameter timeoutSeconds: the server ends the watch after this long; the caller watches again.
    /// - Throws: ``WorkloadIdentityError`` (`.gone` when the version is too old: relist).
    public func watchPods(resourceVersion: String, timeoutSeconds: Int = 300) async throws -> KubernetesWatchStream {
        let path = "/api/v1/pods?watch=1&allowWatchBookmarks=true&timeoutSeconds=\(max(1, timeoutSeconds))"
            + "&resourceVersion=" + DockerEngineClient.percentEncode(resourceVersion)
        let response: HTTPClientResponse
        do {
            response = try await self.client.http.execute(self.request(path), deadline: .now() + .hours(24 * 365))
        } catch {
            throw self.connectError(error, path)
        }
        let code = Int(response.status.code)
        guard code == 200 else {
            let body = (try? await response.body.collect(upTo: 64 << 10)).map { String(buffer: $0) } ?? ""
            if code == 410 { throw WorkloadIdentityError(code: .gone, message: "watch from \(resourceVersion): 410 Gone") }
            throw self.statusError(code, body, path)
        }
        return KubernetesWatchStream(lines: JSONLineStream(body: response.body, source: "pod watch on \(self.connection.server)"))
    }

    private func request(_ path: String) -> HTTPClientRequest {
        var r = HTTPClientRequest(url: self.connection.server + path)
        r.method = .GET
        r.headers.add(name: "Accept", value: "application/json")
        if let t = self.connection.token { r.headers.add(name: "Authorization", value: "Bearer \(t)") }
        return r
    }

    private func statusError(_ code: Int, _ body: String, _ path: String) -> WorkloadIdentityError {
        WorkloadIdentityError(code: .httpStatus, message: "GET \(path) on \(self.connection.server): HTTP \(code): \(body.prefix(300))")
    }

    private func connectError(_ error: any Error, _ path: String) -> WorkloadIdentityError {
        WorkloadIdentityError(code: .connect, message: "cannot reach the Kubernetes API at \(self.connection.server) (\(path))",
            underlying: UnderlyingError(error))
    }
}

/// A pod watch: one ``KubernetesWatchEvent`` per line, or the error of a line that is not one (the
/// stream goes on after it).
public struct KubernetesWatchStream: AsyncSequence, Sendable {
    /// An event, or why a line was skipped.
    public typealias Element = Result<KubernetesWatchEvent, WorkloadIdentityError>
    let lines: JSONLineStream<HTTPClientResponse.Body>

    /// The iterator.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var inner: JSONLineStream<HTTPClientResponse.Body>.AsyncIterator

        /// The next event or skipped line; nil when the server ended the watch.
        /// - Throws: ``WorkloadIdentityError`` `.connect` when the connection broke.
        public mutating func next() async throws -> Element? {
            guard let line = try await self.inner.next() else { return nil }
            return line.decode(KubernetesWatchEvent.self)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(inner: self.lines.makeAsyncIterator()) }
}
