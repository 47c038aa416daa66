import AsyncHTTPClient
import Foundation
public import NIOCore
import NIOHTTP1
import NIOPosix

/// A client of the Docker Engine API (v1.41) over its unix socket; Podman's `podman system service`
/// speaks the same API.
///
/// It lists and inspects containers, follows the event stream, and pauses or stops a container (what a
/// quarantine does). Every failure is a ``WorkloadIdentityError`` naming the socket and the request.
public final class DockerEngineClient: Sendable {
    /// The socket path.
    public let socketPath: String
    /// The API version prefix, `v1.41`.
    public let apiVersion: String
    /// Deadline of one ordinary request (not of the event stream, which has none).
    public let requestTimeout: Duration
    private let client: OwnedHTTPClient

    /// The most bytes read from one ordinary response (a host with thousands of containers fits).
    static let maxResponseBytes = 64 << 20

    /// Creates a client; nothing connects until the first request.
    /// - Parameters:
    ///   - socketPath: `/var/run/docker.sock`, `/run/podman/podman.sock`, …
    ///   - apiVersion: the API version to ask for.
    ///   - requestTimeout: deadline of one request.
    ///   - eventLoopGroup: where the connections run.
    public init(socketPath: String, apiVersion: String = "v1.41", requestTimeout: Duration = .seconds(10),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton)
    {
        self.socketPath = socketPath
        self.apiVersion = apiVersion
        self.requestTimeout = requestTimeout
        var configuration = HTTPClient.Configuration()
        configuration.timeout.connect = .seconds(5)
        self.client = OwnedHTTPClient(eventLoopGroup: eventLoopGroup, configuration: configuration)
    }

    /// Closes the connections (idempotent; also done on release).
    public func shutdown() async {
        await self.client.shutdown()
    }

    /// Running containers (`GET /containers/json`).
    /// - Throws: ``WorkloadIdentityError``.
    public func listContainers() async throws -> [DockerContainerSummary] {
        let (status, body) = try await self.send(.GET, "/containers/json")
        guard status == 200 else { throw self.statusError(status, body, "/containers/json") }
        return try self.decode([DockerContainerSummary].self, body, "/containers/json")
    }

    /// One container (`GET /containers/{id}/json`); nil when it no longer exists.
    /// - Throws: ``WorkloadIdentityError``.
    public func inspectContainer(_ id: String) async throws -> DockerContainer? {
        let path = "/containers/\(try Self.checkedID(id))/json"
        let (status, body) = try await self.send(.GET, path)
        if status == 404 { return nil }
        guard status == 200 else { throw self.statusError(status, body, path) }
        return try self.decode(DockerContainer.self, body, path)
    }

    /// Pauses a container (`POST /containers/{id}/pause`): its processes freeze, its address stays.
    /// - Throws: ``WorkloadIdentityError``; `.httpStatus` when the engine refuses (404: no such container).
    public func pause(containerID: String) async throws {
        try await self.post("/containers/\(try Self.checkedID(containerID))/pause")
    }

    /// Resumes a paused container (`POST /containers/{id}/unpause`).
    /// - Throws: ``WorkloadIdentityError``.
    public func unpause(containerID: String) async throws {
        try await self.post("/containers/\(try Self.checkedID(containerID))/unpause")
    }

    /// Stops a container (`POST /containers/{id}/stop?t=N`): SIGTERM, then SIGKILL after `timeoutSeconds`.
    /// A container that is already stopped (304) counts as success.
    /// - Throws: ``WorkloadIdentityError``.
    public func stop(containerID: String, timeoutSeconds: Int = 10) async throws {
        try await self.post("/containers/\(try Self.checkedID(containerID))/stop?t=\(max(0, timeoutSeconds))",
            timeout: self.requestTimeout + .seconds(max(0, timeoutSeconds)))
    }

    /// Opens the event stream (`GET /events`) for container and network events.
    /// - Parameter since: replay events from this time on (so nothing between a list and the stream is lost).
    /// - Returns: the stream; it ends when the engine closes the connection.
    /// - Throws: ``WorkloadIdentityError`` when the stream cannot be opened.
    public func events(since: Date? = nil) async throws -> DockerEventStream {
        var query = "filters=" + Self.percentEncode(#"{"type":["container","network"]}"#)
        if let since { query += "&since=\(Int64(since.timeIntervalSince1970))" }
        let path = "/events?" + query
        let response: HTTPClientResponse
        do {
            // The deadline only covers the response head: the stream itself may stay open forever.
            response = try await self.client.http.execute(self.request(.GET, path), deadline: .now() + .hours(24 * 365))
        } catch {
            throw self.connectError(error, path)
        }
        guard response.status.code == 200 else {
            let body = (try? await response.body.collect(upTo: 64 << 10)).map { String(buffer: $0) } ?? ""
            throw self.statusError(Int(response.status.code), body, path)
        }
        return DockerEventStream(body: response.body, source: "docker events on \(self.socketPath)")
    }

    // MARK: - Requests

    private func request(_ method: HTTPMethod, _ path: String) -> HTTPClientRequest {
        var r = HTTPClientRequest(url: Self.url(socketPath: self.socketPath, path: "/\(self.apiVersion)\(path)"))
        r.method = method
        r.headers.add(name: "Host", value: "docker")
        return r
    }

    static func url(socketPath: String, path: String) -> String {
        // The socket path is the URL's host, percent-encoded (AsyncHTTPClient's http+unix scheme).
        let host = socketPath.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? socketPath
        return "http+unix://\(host)\(path)"
    }

    private func send(_ method: HTTPMethod, _ path: String, timeout: Duration? = nil) async throws -> (Int, String) {
        let t = timeout ?? self.requestTimeout
        do {
            let response = try await self.client.http.execute(self.request(method, path),
                timeout: TimeAmount(t))
            let body = try await response.body.collect(upTo: Self.maxResponseBytes)
            return (Int(response.status.code), String(buffer: body))
        } catch let e as WorkloadIdentityError {
            throw e
        } catch {
            throw self.connectError(error, path)
        }
    }

    private func post(_ path: String, timeout: Duration? = nil) async throws {
        let (status, body) = try await self.send(.POST, path, timeout: timeout)
        guard (200..<300).contains(status) || status == 304 else { throw self.statusError(status, body, path) }
    }

    private func decode<T: Decodable>(_ type: T.Type, _ body: String, _ path: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(body.utf8))
        } catch {
            throw WorkloadIdentityError(code: .decode,
                message: "GET \(path) on \(self.socketPath): unexpected JSON (\(Self.describe(error)))")
        }
    }

    private func statusError(_ status: Int, _ body: String, _ path: String) -> WorkloadIdentityError {
        WorkloadIdentityError(code: .httpStatus,
            message: "\(path) on \(self.socketPath): HTTP \(status): \(body.prefix(300))")
    }

    private func connectError(_ error: any Error, _ path: String) -> WorkloadIdentityError {
        WorkloadIdentityError(code: .connect, message: "cannot reach the container engine at \(self.socketPath) (\(path))",
            underlying: UnderlyingError(error))
    }

    /// Container ids and names go into the URL path: only the characters an engine allows.
    static func checkedID(_ id: String) throws -> String {
        let ok = !id.isEmpty && id.count <= 256
            && id.unicodeScalars.allSatisfy { ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)))
                || $0 == "_" || $0 == "." || $0 == "-" }
        guard ok else {
            throw WorkloadIdentityError(code: .invalidArgument, message: "'\(id.prefix(80))' is not a container id or name")
        }
        return id
    }

    static func percentEncode(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? s
    }

    static func describe(_ error: any Error) -> String {
        guard let e = error as? DecodingError else { return "\(error)" }
        func path(_ c: [any CodingKey]) -> String {
            c.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch e {
        case .typeMismatch(let t, let c): return "\(path(c.codingPath)): expected \(t)"
        case .valueNotFound(let t, let c): return "\(path(c.codingPath)): missing \(t)"
        case .keyNotFound(let k, let c): return "\(path(c.codingPath + [k])): required key missing"
        case .dataCorrupted(let c): return "\(path(c.codingPath)): \(c.debugDescription)"
        @unknown default: return "\(e)"
        }
    }
}

/// The Docker event stream: one ``DockerEvent`` per line, or a ``WorkloadIdentityError`` for a line that
/// is not an event (the stream goes on after it).
public struct DockerEventStream: AsyncSequence, Sendable {
    /// An event, or why a line was skipped.
    public typealias Element = Result<DockerEvent, WorkloadIdentityError>
    let lines: JSONLineStream<HTTPClientResponse.Body>

    init(body: HTTPClientResponse.Body, source: String) {
        self.lines = JSONLineStream(body: body, source: source)
    }

    /// The iterator.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var inner: JSONLineStream<HTTPClientResponse.Body>.AsyncIterator

        /// The next event or skipped line; nil when the engine closed the stream.
        /// - Throws: ``WorkloadIdentityError`` `.connect` when the connection broke.
        public mutating func next() async throws -> Element? {
            guard let item = try await self.inner.next() else { return nil }
            return item.decode(DockerEvent.self)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(inner: self.lines.makeAsyncIterator()) }
}
