import DNSPipeline
import DNSWire
import Foundation
import Testing
import TestSupport

@testable import Incidents

/// The sinks behind the one ``QueryEventBuffer``, as the runtime wires them.
@Suite struct FanOutTests {
    @Test("A full exporter holds the others up only for the hold-back time, then drops and counts its own events")
    func slowConsumerDoesNotStarveOthers() throws {
        let path = NSTemporaryDirectory() + "/palisade-fanout-\(UInt64.random(in: 0...UInt64.max)).jsonl"
        defer { try? FileManager.default.removeItem(atPath: path) }
        // Never flushed: it stands for a consumer whose output is stalled.
        let exporter = try JSONEventExporter(destination: .file(path), queueCapacity: 5)
        let metrics = WorkloadQueryMetrics(maxWorkloads: 10)
        let tracker = IncidentTracker()
        let webhooks = IncidentWebhookService(targets: [WebhookTarget(url: "http://127.0.0.1:9/never")],
            configuration: .init(queueCapacity: 10))
        let buffer = QueryEventBuffer(sinks: [exporter, IncidentMonitor(tracker: tracker, webhooks: webhooks), metrics])

        let q = Query(message: try TestMessages.query("evil.example."),
            client: ClientInfo(address: .v4(IPv4Address(192, 0, 2, 77)), transport: .udp))
        let blocked = Resolution(reply: .message(q.message.makeResponse(rcode: .nxDomain)),
            source: .policy(PolicyHit(source: "urlhaus", rule: "evil.example", action: "nxdomain", trigger: "qname")))
        for i in 0..<100 {
            #expect(buffer.record(RawQueryEvent(timestampMicros: TestEvents.t0 + Int64(i), query: q, workload: nil,
                resolution: blocked, latency: .microseconds(40))))
        }
        // The exporter has room for five: the rest wait for it, up to the buffer's hold-back time; then everyone gets
        // them and the exporter drops and counts what it cannot take.
        let now = QueryEventBuffer.wallMicros()
        #expect(buffer.drain(nowMicros: now) == 5)
        #expect(buffer.heldBack == 95)
        #expect(buffer.drain(nowMicros: now + 1_000_000) == 0, "still within the hold-back time")
        #expect(buffer.drain(nowMicros: now + 3_000_000) == 95)
        #expect(buffer.heldBack == 0)
        #expect(exporter.statistics.queued == 5)
        #expect(exporter.statistics.dropped == 95)
        #expect(metrics.labels == ["unidentified"])
        // The monitor saw the burst: one incident opened for 192.0.2.77, so the next block is suppressed.
        #expect(tracker.trackedWorkloads == 1)
        #expect(tracker.observe(TestEvents.event("again.example", workload: nil, ip: "192.0.2.77", blocked: true,
            at: TestEvents.t0 + 200)) == nil)
        #expect(webhooks.statistics.dropped == 0)
    }
}
