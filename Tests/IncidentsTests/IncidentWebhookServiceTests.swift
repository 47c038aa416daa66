import DNSPipeline
import Foundation
import Testing
import TestSupport

@testable import Incidents

/// Real HTTP deliveries to ``WebhookReceiver`` on 127.0.0.1 port 0.
@Suite struct IncidentWebhookServiceTests {
    /// Short backoff so retries happen within the test's deadline.
    static let fast = IncidentWebhookService.Configuration(maxAttempts: 3, initialBackoff: .milliseconds(20),
        maxBackoff: .milliseconds(100), timeout: .seconds(2), queueCapacity: 100)

    static func incident(_ qname: String = "evil.example", workload: Workload? = TestEvents.web) throws -> Incident {
        let tracker = IncidentTracker()
        _ = tracker.observe(TestEvents.event("www.example.org", workload: workload))
        return try #require(tracker.observe(TestEvents.event(qname, workload: workload, blocked: true, at: TestEvents.t0 + 1)))
    }

    /// Runs `service` while `body` runs, then cancels it and waits for it to finish.
    static func running<T>(_ service: IncidentWebhookService, _ body: () async throws -> T) async throws -> T {
        let task = Task { try await service.run() }
        do {
            let value = try await body()
            task.cancel()
            _ = try? await task.value
            return value
        } catch {
            task.cancel()
            _ = try? await task.value
            throw error
        }
    }

    @Test("An incident is POSTed once as JSON with a signature that verifies, plus the custom headers")
    func delivery() async throws {
        let receiver = try await WebhookReceiver.start()
        defer { Task { await receiver.stop() } }
        let target = WebhookTarget(url: receiver.url(), secret: "s3cret", headers: [("Authorization", "Bearer t0ken")])
        let service = IncidentWebhookService(targets: [target], configuration: Self.fast)
        let incident = try Self.incident()
        try await Self.running(service) {
            #expect(service.submit(incident))
            #expect(await Poll.until(timeout: .seconds(10)) { service.statistics.sent == 1 })
        }
        let requests = receiver.requests
        #expect(requests.count == 1)
        let r = try #require(requests.first)
        #expect(r.method == "POST")
        #expect(r.path == "/hook")
        #expect(r.headers["content-type"] == "application/json")
        #expect(r.headers["authorization"] == "Bearer t0ken")
        #expect(r.headers["x-palisade-incident"] == incident.id)
        #expect(r.headers["x-palisade-signature"] == "sha256=" + HMACSHA256.hex(for: r.body, key: Array("s3cret".utf8)))
        #expect(r.bodyText == incident.json)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any])
        #expect(object["incident_id"] as? String == incident.id)
        #expect((object["workload"] as? [String: Any])?["name"] as? String == "web-1")
        #expect((object["last_queries"] as? [Any])?.count == 2)
    }

    @Test("Two 500s then 200: retried with backoff and delivered exactly once")
    func retriesThenSuccess() async throws {
        let receiver = try await WebhookReceiver.start(statuses: [500, 503])
        defer { Task { await receiver.stop() } }
        let service = IncidentWebhookService(targets: [WebhookTarget(url: receiver.url())], configuration: Self.fast)
        try await Self.running(service) {
            service.submit(try Self.incident())
            #expect(await Poll.until(timeout: .seconds(10)) { service.statistics.sent == 1 })
        }
        #expect(receiver.requests.count == 3)
        #expect(Set(receiver.requests.map(\.bodyText)).count == 1, "every attempt carries the same incident")
        #expect(service.statistics == .init(sent: 1, failed: 0, dropped: 0, retries: 2, queued: 0))
    }

    @Test("A receiver that keeps failing is given up after maxAttempts, and counted")
    func givesUp() async throws {
        let receiver = try await WebhookReceiver.start(statuses: Array(repeating: 500, count: 10))
        defer { Task { await receiver.stop() } }
        let service = IncidentWebhookService(targets: [WebhookTarget(url: receiver.url())], configuration: Self.fast)
        try await Self.running(service) {
            service.submit(try Self.incident())
            #expect(await Poll.until(timeout: .seconds(10)) { service.statistics.failed == 1 })
        }
        #expect(receiver.requests.count == 3)
        #expect(service.statistics == .init(sent: 0, failed: 1, dropped: 0, retries: 2, queued: 0))
    }

    @Test("A 4xx other than 408/429 is not retried")
    func noRetryOnClientError() async throws {
        let receiver = try await WebhookReceiver.start(statuses: [404])
        defer { Task { await receiver.stop() } }
        let service = IncidentWebhookService(targets: [WebhookTarget(url: receiver.url())], configuration: Self.fast)
        try await Self.running(service) {
            service.submit(try Self.incident())
            #expect(await Poll.until(timeout: .seconds(10)) { service.statistics.failed == 1 })
        }
        #expect(receiver.requests.count == 1)
    }

    @Test("A receiver that is down does not delay delivery to the others")
    func independentTargets() async throws {
        let down = try await WebhookReceiver.start()
        let downURL = down.url()
        await down.stop()  // nothing listens on that port now: connection refused
        let up = try await WebhookReceiver.start()
        defer { Task { await up.stop() } }
        let slow = IncidentWebhookService.Configuration(maxAttempts: 4, initialBackoff: .seconds(2),
            maxBackoff: .seconds(2), timeout: .seconds(2), queueCapacity: 10)
        let service = IncidentWebhookService(targets: [WebhookTarget(url: downURL), WebhookTarget(url: up.url())],
            configuration: slow)
        try await Self.running(service) {
            service.submit(try Self.incident("a.example"))
            service.submit(try Self.incident("b.example"))
            // `sent` counts once the response is read, a moment after the receiver records the request.
            #expect(await Poll.until(timeout: .seconds(5)) { service.statistics.sent == 2 })
            #expect(up.requests.count == 2)
            // The first target is still in its backoff (4 attempts, 2 s apart) while the second has both.
            #expect(service.statistics.failed == 0)
        }
    }

    @Test("A full queue drops and counts instead of blocking the caller")
    func boundedQueue() async throws {
        let receiver = try await WebhookReceiver.start()
        defer { Task { await receiver.stop() } }
        let tiny = IncidentWebhookService.Configuration(maxAttempts: 1, initialBackoff: .milliseconds(10),
            maxBackoff: .milliseconds(10), timeout: .seconds(2), queueCapacity: 5)
        let service = IncidentWebhookService(targets: [WebhookTarget(url: receiver.url())], configuration: tiny)
        // Not running yet: nothing drains, so the sixth and later submissions overflow.
        var accepted = 0
        for i in 0..<20 where service.submit(try Self.incident("e\(i).example")) { accepted += 1 }
        #expect(accepted == 5)
        #expect(service.statistics.dropped == 15)
        #expect(service.statistics.queued == 5)
        try await Self.running(service) {
            #expect(await Poll.until(timeout: .seconds(10)) { service.statistics.sent == 5 })
        }
        #expect(receiver.requests.count == 5)
    }

    @Test("The monitor turns a burst of blocks from two workloads into two deliveries")
    func monitorEndToEnd() async throws {
        let receiver = try await WebhookReceiver.start()
        defer { Task { await receiver.stop() } }
        let service = IncidentWebhookService(targets: [WebhookTarget(url: receiver.url())], configuration: Self.fast)
        let monitor = IncidentMonitor(tracker: IncidentTracker(), webhooks: service)
        try await Self.running(service) {
            for i in 0..<500 {
                monitor.emit(TestEvents.event("evil\(i).example", workload: TestEvents.web, blocked: true,
                    at: TestEvents.t0 + Int64(i)))
                monitor.emit(TestEvents.event("evil\(i).example", workload: TestEvents.batch, ip: "192.0.2.11",
                    blocked: true, at: TestEvents.t0 + Int64(i)))
            }
            #expect(await Poll.until(timeout: .seconds(10)) { service.statistics.sent == 2 })
        }
        let names = try receiver.requests.map { r -> String in
            let o = try #require(try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any])
            return try #require((o["workload"] as? [String: Any])?["name"] as? String)
        }
        #expect(Set(names) == ["web-1", "jobs/batch-7"])
        #expect(receiver.requests.count == 2)
    }
}
