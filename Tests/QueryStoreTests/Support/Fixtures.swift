import DNSPipeline
import Foundation
import Logging
import QueryStore

/// 2023-11-14T22:00:00Z (on an hour boundary), in microseconds: the start of every test timeline.
let baseMicros: Int64 = 1_699_999_200_000_000
let minuteMicros: Int64 = 60_000_000
let hourMicros: Int64 = 3_600_000_000

/// A query event with sensible defaults; tests set only what they check.
func makeEvent(
    at micros: Int64 = baseMicros, ip: String = "192.0.2.10", workload: Workload? = nil,
    qname: String = "www.example.org", qtype: String = "A", rcode: String = "NOERROR",
    answers: [String] = ["192.0.2.80"], source: String = "upstream", upstream: String? = "resolver-1",
    policy: PolicyHit? = nil, findings: [Finding] = [], latencyMicros: Int64 = 1_500
) -> QueryEvent {
    QueryEvent(
        timestampMicros: micros, clientIP: ip, transport: "udp", workload: workload, qname: qname, qtype: qtype,
        rcode: rcode, answers: answers, source: source, upstream: upstream, policy: policy, findings: findings,
        latencyMicros: latencyMicros)
}

/// A policy hit that blocks (NXDOMAIN from a feed).
let blockHit = PolicyHit(source: "threat-feed", rule: "*.evil.example", action: "nxdomain", trigger: "qname")

/// A container workload.
func container(
    _ id: String, name: String, image: String? = "registry.example.org/app:1",
    labels: [String: String] = [:]
) -> Workload {
    Workload(kind: .container, id: id, name: name, image: image, labels: labels)
}

/// A fresh directory under the system temp dir, removed when the test's `body` returns.
func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("palisade-querystore-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    return try await body(dir.path)
}

/// Polls `condition` every few milliseconds until it holds or `timeout` passes.
func eventually(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(2))
    }
    return try await condition()
}

/// A logger that discards everything, so expected warnings do not clutter test output.
let quietLogger = Logger(label: "palisade.querylog.test", factory: { _ in SwiftLogNoOpLogHandler() })
