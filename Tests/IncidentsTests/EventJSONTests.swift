import DNSPipeline
import Foundation
import Testing

@testable import Incidents

@Suite struct EventJSONTests {
    @Test("Times are RFC 3339 UTC with microseconds", arguments: [
        (Int64(0), "1970-01-01T00:00:00.000000Z"),
        (Int64(1_795_935_600_123_456), "2026-11-29T07:00:00.123456Z"),
        (Int64(951_782_400_000_001), "2000-02-29T00:00:00.000001Z"),
        (Int64(-1), "1969-12-31T23:59:59.999999Z"),
    ])
    func time(micros: Int64, text: String) {
        #expect(EventJSON.time(micros: micros) == text)
    }

    @Test("An event encodes to the API contract's Event object")
    func eventShape() throws {
        let e = TestEvents.event("evil.example", blocked: true, finding: true)
        let text = EventJSON.event(e, id: 42)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(Set(object.keys) == [
            "id", "time", "client_ip", "transport", "workload", "qname", "qtype", "rcode", "answers", "source",
            "upstream", "policy", "blocked", "findings", "latency_us", "count", "other_names",
        ])
        #expect(object["id"] as? Int == 42)
        #expect(object["time"] as? String == "2026-11-29T07:00:00.000000Z")
        #expect(object["client_ip"] as? String == "192.0.2.10")
        #expect(object["qname"] as? String == "evil.example")
        #expect(object["rcode"] as? String == "NXDOMAIN")
        #expect(object["blocked"] as? Bool == true)
        #expect(object["latency_us"] as? Int == 123)
        #expect(object["upstream"] is NSNull)
        let workload = try #require(object["workload"] as? [String: Any])
        #expect(workload["key"] as? String == "container:c0ffee")
        #expect(workload["kind"] as? String == "container")
        #expect(workload["name"] as? String == "web-1")
        #expect(workload["image"] as? String == "localhost/web:1")
        #expect(workload["labels"] as? [String: String] == ["app": "web", "team": "blue"])
        let policy = try #require(object["policy"] as? [String: String])
        #expect(policy == ["source": "urlhaus", "rule": "evil.example", "action": "nxdomain", "trigger": "qname"])
        let findings = try #require(object["findings"] as? [[String: Any]])
        #expect(findings.first?["detector"] as? String == "dga")
        #expect(findings.first?["score"] as? Double == 0.93)
    }

    @Test("The qname loses the root's trailing dot, as in the API; the root itself stays")
    func trailingDot() throws {
        let e = TestEvents.event("Evil.example.")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(EventJSON.event(e, id: 1).utf8)) as? [String: Any])
        #expect(object["qname"] as? String == "Evil.example")
        #expect(EventJSON.name(".") == ".")
    }

    @Test("Quotes, backslashes and control characters in names are escaped")
    func escaping() throws {
        var e = TestEvents.event("a\"b\\c\u{01}\n.example", workload: nil)
        e.answers = ["TXT \"x\ty\""]
        let text = EventJSON.event(e, id: nil)
        #expect(!text.contains("\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["qname"] as? String == "a\"b\\c\u{01}\n.example")
        #expect(object["answers"] as? [String] == ["TXT \"x\ty\""])
        #expect(object["workload"] is NSNull)
        #expect(object["id"] is NSNull)
    }
}
