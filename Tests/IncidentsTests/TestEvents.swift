import DNSPipeline

/// Builds query events for the tests.
enum TestEvents {
    static let web = Workload(kind: .container, id: "c0ffee", name: "web-1", image: "localhost/web:1",
        labels: ["app": "web", "team": "blue"])
    static let batch = Workload(kind: .pod, id: "5c1e", name: "jobs/batch-7", image: nil, labels: [:])

    /// One minute in microseconds.
    static let minute: Int64 = 60_000_000
    /// An arbitrary fixed start time (2026-11-29T07:00:00Z).
    static let t0: Int64 = 1_795_935_600_000_000

    static func event(_ qname: String, workload: Workload? = TestEvents.web, ip: String = "192.0.2.10",
        blocked: Bool = false, finding: Bool = false, at micros: Int64 = TestEvents.t0) -> QueryEvent
    {
        QueryEvent(
            timestampMicros: micros, clientIP: ip, transport: "udp", workload: workload, qname: qname, qtype: "A",
            rcode: blocked ? "NXDOMAIN" : "NOERROR", answers: blocked ? [] : ["A 192.0.2.1"],
            source: blocked ? "policy" : "upstream", upstream: blocked ? nil : "127.0.0.1:53",
            policy: blocked ? PolicyHit(source: "urlhaus", rule: qname, action: "nxdomain", trigger: "qname") : nil,
            findings: finding ? [Finding(detector: "dga", score: 0.93, detail: "random-looking label")] : [],
            latencyMicros: 123)
    }
}
