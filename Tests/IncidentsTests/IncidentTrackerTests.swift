import DNSPipeline
import Foundation
import Testing

@testable import Incidents

@Suite struct IncidentTrackerTests {
    @Test("A thousand blocks from one workload within the window open exactly one incident")
    func oneIncidentPerWindow() {
        let tracker = IncidentTracker(configuration: .init(window: .seconds(600)))
        var incidents: [Incident] = []
        for i in 0..<1000 {
            let e = TestEvents.event("evil\(i).example", blocked: true, at: TestEvents.t0 + Int64(i) * 500_000)
            if let inc = tracker.observe(e) { incidents.append(inc) }
        }
        #expect(incidents.count == 1)
        #expect(incidents.first?.trigger.qname == "evil0.example")
        #expect(incidents.first?.reason == .blocked)
    }

    @Test("A new window opens a new incident; the boundary is exactly the window length")
    func newWindow() {
        let tracker = IncidentTracker(configuration: .init(window: .seconds(600)))
        #expect(tracker.observe(TestEvents.event("a.example", blocked: true, at: TestEvents.t0)) != nil)
        #expect(tracker.observe(TestEvents.event("b.example", blocked: true, at: TestEvents.t0 + 10 * TestEvents.minute - 1)) == nil)
        #expect(tracker.observe(TestEvents.event("c.example", blocked: true, at: TestEvents.t0 + 10 * TestEvents.minute)) != nil)
        #expect(tracker.observe(TestEvents.event("d.example", blocked: true, at: TestEvents.t0 + 15 * TestEvents.minute)) == nil)
    }

    @Test("A second workload gets its own incident, and an unknown client is keyed by its IP")
    func perWorkload() {
        let tracker = IncidentTracker()
        let a = tracker.observe(TestEvents.event("x.example", workload: TestEvents.web, blocked: true))
        let b = tracker.observe(TestEvents.event("x.example", workload: TestEvents.batch, ip: "192.0.2.11", blocked: true))
        let c = tracker.observe(TestEvents.event("x.example", workload: nil, ip: "192.0.2.12", blocked: true))
        let d = tracker.observe(TestEvents.event("y.example", workload: nil, ip: "192.0.2.12", blocked: true))
        let e = tracker.observe(TestEvents.event("y.example", workload: nil, ip: "192.0.2.13", blocked: true))
        #expect(a?.workload == TestEvents.web)
        #expect(b?.workload == TestEvents.batch)
        #expect(c?.workload == nil && c?.clientIP == "192.0.2.12")
        #expect(d == nil, "the same unknown client within the window")
        #expect(e?.clientIP == "192.0.2.13")
        #expect(Set([a?.id, b?.id, c?.id, e?.id].compactMap { $0 }).count == 4)
    }

    @Test("Allowed queries open nothing; a detector finding opens an incident with reason finding")
    func findings() {
        let tracker = IncidentTracker()
        #expect(tracker.observe(TestEvents.event("www.example.org")) == nil)
        let inc = tracker.observe(TestEvents.event("xjw3kq9.example", finding: true, at: TestEvents.t0 + 1))
        #expect(inc?.reason == .finding)
        #expect(inc?.trigger.findings.first?.detector == "dga")
    }

    @Test("last_queries holds the workload's last N queries, oldest first, ending with the trigger")
    func lastQueries() {
        let tracker = IncidentTracker(configuration: .init(lastQueries: 5))
        for i in 0..<12 {
            _ = tracker.observe(TestEvents.event("q\(i).example", at: TestEvents.t0 + Int64(i)))
            // Another workload's queries never appear in this one's history.
            _ = tracker.observe(TestEvents.event("other\(i).example", workload: TestEvents.batch, at: TestEvents.t0 + Int64(i)))
        }
        let inc = tracker.observe(TestEvents.event("evil.example", blocked: true, at: TestEvents.t0 + 100))
        #expect(inc?.lastQueries.map(\.qname) == ["q8.example", "q9.example", "q10.example", "q11.example", "evil.example"])
    }

    @Test("Tracked workloads stay within maxWorkloads however many clients appear")
    func boundedMemory() {
        let tracker = IncidentTracker(configuration: .init(lastQueries: 3, maxWorkloads: 64))
        for i in 0..<5000 {
            _ = tracker.observe(TestEvents.event("a.example", workload: nil, ip: "10.0.\(i / 256).\(i % 256)",
                at: TestEvents.t0 + Int64(i)))
            #expect(tracker.trackedWorkloads <= 64)
        }
    }

    @Test("The incident JSON has the documented members and the last queries as API events")
    func incidentJSON() throws {
        let tracker = IncidentTracker()
        _ = tracker.observe(TestEvents.event("www.example.org"))
        let inc = try #require(tracker.observe(TestEvents.event("evil.example", blocked: true, at: TestEvents.t0 + 5)))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(inc.json.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["incident_id", "time", "workload", "client_ip", "reason", "policy", "findings",
            "qname", "qtype", "last_queries"])
        #expect(object["incident_id"] as? String == inc.id)
        #expect((object["incident_id"] as? String)?.count == 32)
        #expect(object["time"] as? String == "2026-11-29T07:00:00.000005Z")
        #expect(object["reason"] as? String == "blocked")
        #expect(object["qname"] as? String == "evil.example")
        #expect(object["qtype"] as? String == "A")
        #expect(object["client_ip"] as? String == "192.0.2.10")
        let workload = try #require(object["workload"] as? [String: Any])
        #expect(workload["name"] as? String == "web-1")
        #expect(workload["id"] as? String == "c0ffee")
        #expect(workload["image"] as? String == "localhost/web:1")
        #expect(workload["labels"] as? [String: String] == ["app": "web", "team": "blue"])
        let policy = try #require(object["policy"] as? [String: String])
        #expect(policy["source"] == "urlhaus" && policy["rule"] == "evil.example" && policy["action"] == "nxdomain")
        let last = try #require(object["last_queries"] as? [[String: Any]])
        #expect(last.compactMap { $0["qname"] as? String } == ["www.example.org", "evil.example"])
        #expect(last.last?["blocked"] as? Bool == true)
    }
}
