import DNSPipeline
import DNSPolicy
import Foundation
import Hummingbird
import HTTPTypes
import HummingbirdTesting
import Logging
import NIOCore
import QueryStore
import Synchronization
import Testing
import TestSupport
@testable import WebConsole

/// 2023-11-14T22:00:00Z, in microseconds: the start of every test timeline.
let baseMicros: Int64 = 1_699_999_200_000_000
let minuteMicros: Int64 = 60_000_000
/// "Now" for the API under test: two hours after the first event.
let nowMicros: Int64 = baseMicros + 120 * minuteMicros

let web = Workload(kind: .container, id: "c0ffee", name: "web-1", image: "registry.example.org/web:1",
    labels: ["app": "shop", "tier": "front"])
let worker = Workload(kind: .container, id: "beef", name: "worker-2")
let feedHit = PolicyHit(source: "urlhaus", rule: "*.evil.example", action: "nxdomain", trigger: "qname")

func makeEvent(_ minute: Int64, _ qname: String, workload: Workload?, ip: String = "192.0.2.20", qtype: String = "A",
    rcode: String = "NOERROR", source: String = "upstream", policy: PolicyHit? = nil) -> QueryEvent
{
    QueryEvent(timestampMicros: baseMicros + minute * minuteMicros, clientIP: ip, transport: "udp", workload: workload,
        qname: qname, qtype: qtype, rcode: rcode, answers: policy == nil ? ["192.0.2.80"] : [], source: source,
        upstream: source == "upstream" ? "127.0.0.1:53" : nil, policy: policy,
        findings: qname.hasPrefix("x7") ? [Finding(detector: "dga", score: 0.9, detail: "random-looking")] : [],
        latencyMicros: 1_200)
}

/// The standard timeline: 6 events from web (2 blocked), 3 from worker (1 blocked), 1 from an unidentified client.
let timeline: [QueryEvent] = [
    makeEvent(0, "www.example.org", workload: web),
    makeEvent(5, "a.evil.example", workload: web, rcode: "NXDOMAIN", source: "policy", policy: feedHit),
    makeEvent(10, "api.example.org", workload: web, qtype: "AAAA"),
    makeEvent(20, "b.evil.example", workload: web, rcode: "NXDOMAIN", source: "policy", policy: feedHit),
    makeEvent(30, "www.example.org", workload: web, source: "cache"),
    makeEvent(40, "x7q2k9.example.net", workload: web),
    makeEvent(50, "db.example.org", workload: worker, ip: "192.0.2.21"),
    makeEvent(60, "a.evil.example", workload: worker, ip: "192.0.2.21", rcode: "NXDOMAIN", source: "policy",
        policy: feedHit),
    makeEvent(70, "db.example.org", workload: worker, ip: "192.0.2.21", source: "cache"),
    makeEvent(80, "www.example.org", workload: nil, ip: "198.51.100.7"),
]

/// A temporary data directory with a real on-disk query store filled through the insert path.
final class APIFixture: Sendable {
    let directory: TemporaryDirectory
    let store: QueryStore
    let quarantine: QuarantineRegistry
    let rules: OperatorRules

    init(events: [QueryEvent] = timeline) async throws {
        self.directory = try TemporaryDirectory(prefix: "palisade-api")
        self.store = try QueryStore(path: self.directory.file("querylog.sqlite"))
        try await self.store.insert(events)
        self.quarantine = try QuarantineRegistry(path: self.directory.file("quarantine.json"))
        self.rules = try OperatorRules(path: self.directory.file("operator-rules.json"))
    }

    func dependencies(tokens: [APIToken] = [APIToken(name: "ops", secret: "s3cret-token")],
        feeds: (@Sendable () async -> [PolicySourceStatus])? = nil, actuator: (any WorkloadActuator)? = nil,
        containerActionLimit: ContainerAction = .none, store: Bool = true) -> APIDependencies
    {
        APIDependencies(store: store ? self.store : nil, feeds: feeds, quarantine: self.quarantine,
            operatorRules: self.rules, actuator: actuator, containerActionLimit: containerActionLimit,
            tokens: tokens, now: { nowMicros },
            logger: Logger(label: "palisade.api.test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    func cleanUp() {
        try? self.store.close()
        self.directory.remove()
    }
}

/// Runs `body` against an app serving only the API.
func withAPI<T: Sendable>(_ dependencies: APIDependencies,
    _ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T
{
    let router = Router(context: PalisadeRequestContext.self)
    APIRoutes.add(to: router, dependencies: dependencies)
    let app = Application(router: router)
    return try await app.test(.router) { client in try await body(client) }
}

let authorized: HTTPFields = [.authorization: "Bearer s3cret-token", .contentType: "application/json"]

/// A response body as a JSON object.
func json(_ response: TestResponse) throws -> [String: Any] {
    let data = Data(response.body.readableBytesView)
    let object = try JSONSerialization.jsonObject(with: data)
    return try #require(object as? [String: Any], "body is not a JSON object: \(String(decoding: data, as: UTF8.self))")
}

/// GETs `uri` and returns status and JSON body.
func get(_ client: any TestClientProtocol, _ uri: String) async throws -> (HTTPResponse.Status, [String: Any]) {
    try await client.execute(uri: uri, method: .get) { r in (r.status, try json(r)) }
}

/// Sends a JSON body.
func send(_ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, _ body: String? = nil,
    headers: HTTPFields = authorized) async throws -> (HTTPResponse.Status, [String: Any])
{
    try await client.execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }) {
        r in (r.status, try json(r))
    }
}

/// A container engine stand-in that records what it was asked to do.
final class RecordingActuator: WorkloadActuator {
    private let calls = Mutex<[String]>([])
    var log: [String] { self.calls.withLock { $0 } }
    func pause(workloadKey: String) async throws { self.calls.withLock { $0.append("pause \(workloadKey)") } }
    func unpause(workloadKey: String) async throws { self.calls.withLock { $0.append("unpause \(workloadKey)") } }
    func stop(workloadKey: String) async throws { self.calls.withLock { $0.append("stop \(workloadKey)") } }
}
