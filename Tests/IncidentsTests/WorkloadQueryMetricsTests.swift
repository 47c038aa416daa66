import DNSPipeline
import Testing

@testable import Incidents

@Suite struct WorkloadQueryMetricsTests {
    @Test("At most N workloads get their own label; the rest count as other, unidentified clients apart")
    func cardinalityCap() {
        let metrics = WorkloadQueryMetrics(maxWorkloads: 3)
        for i in 0..<50 {
            let w = Workload(kind: .container, id: "id\(i)", name: "w\(i)")
            metrics.emit(TestEvents.event("a.example", workload: w, blocked: i % 2 == 0))
        }
        metrics.emit(TestEvents.event("a.example", workload: nil))
        #expect(metrics.labels == ["w0", "w1", "w2", "other", "unidentified"])
        // A workload that already has a label keeps it after the cap is reached.
        #expect(metrics.label(for: TestEvents.event("b.example", workload: Workload(kind: .container, id: "id1", name: "w1"))) == "w1")
        #expect(metrics.label(for: TestEvents.event("b.example", workload: Workload(kind: .container, id: "x", name: "w99"))) == "other")
        #expect(metrics.label(for: TestEvents.event("b.example", workload: nil)) == "unidentified")
    }

    @Test("maxWorkloads 0 puts every identified workload under other")
    func zero() {
        let metrics = WorkloadQueryMetrics(maxWorkloads: 0)
        metrics.emit(TestEvents.event("a.example"))
        #expect(metrics.labels == ["other"])
    }
}
