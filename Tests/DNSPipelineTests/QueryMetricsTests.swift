import DNSPipeline
import DNSWire
import Testing

/// The per-query counters and latency histogram (`QueryMetrics`) and their Prometheus text.
@Suite struct QueryMetricsTests {
    /// `name{labels} value` lines of a rendering, keyed by everything before the value.
    private func series(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " ") else { continue }
            out[String(line[..<space])] = String(line[line.index(after: space)...])
        }
        return out
    }

    private let policy = AnswerSource.policy(PolicyHit(source: "feed", rule: "evil.example", action: "nxdomain",
        trigger: "qname"))

    @Test("Counts by rcode, type and source, and a cumulative latency histogram per source")
    func countsAndHistogram() {
        let m = QueryMetrics()
        m.record(rcode: .noError, type: .a, source: .cache, latency: .microseconds(30))
        m.record(rcode: .noError, type: .aaaa, source: .cache, latency: .microseconds(50))  // on a bound: that bucket
        m.record(rcode: .nxDomain, type: .a, source: self.policy, latency: .microseconds(70))
        m.record(rcode: ResponseCode(rawValue: 16), type: RecordType(65_280), source: .upstream("127.0.0.1:53"),
            latency: .milliseconds(7))
        m.record(rcode: nil, type: .txt, source: self.policy, latency: .seconds(9))
        let s = self.series(m.render())
        #expect(s[#"palisade_queries_total{rcode="NOERROR"}"#] == "2")
        #expect(s[#"palisade_queries_total{rcode="NXDOMAIN"}"#] == "1")
        #expect(s[#"palisade_queries_total{rcode="other"}"#] == "1", "BADVERS and above")
        #expect(s[#"palisade_queries_total{rcode="DROP"}"#] == "1", "no answer sent")
        #expect(s[#"palisade_queries_total{rcode="SERVFAIL"}"#] == "0", "every label value is present")
        #expect(s[#"palisade_queries_by_type_total{qtype="A"}"#] == "2")
        #expect(s[#"palisade_queries_by_type_total{qtype="AAAA"}"#] == "1")
        #expect(s[#"palisade_queries_by_type_total{qtype="TXT"}"#] == "1")
        #expect(s[#"palisade_queries_by_type_total{qtype="other"}"#] == "1")
        #expect(s[#"palisade_answers_total{source="cache"}"#] == "2")
        #expect(s[#"palisade_answers_total{source="policy"}"#] == "2")
        #expect(s[#"palisade_answers_total{source="upstream"}"#] == "1")
        // Cumulative buckets, labelled as the registry labels its other duration histograms.
        #expect(s[#"palisade_query_duration_seconds_bucket{source="cache",le="0.00005"}"#] == "2")
        #expect(s[#"palisade_query_duration_seconds_bucket{source="policy",le="0.00005"}"#] == "0")
        #expect(s[#"palisade_query_duration_seconds_bucket{source="policy",le="0.0001"}"#] == "1")
        #expect(s[#"palisade_query_duration_seconds_bucket{source="policy",le="5.0"}"#] == "1")
        #expect(s[#"palisade_query_duration_seconds_bucket{source="policy",le="+Inf"}"#] == "2")
        #expect(s[#"palisade_query_duration_seconds_bucket{source="upstream",le="0.005"}"#] == "0")
        #expect(s[#"palisade_query_duration_seconds_bucket{source="upstream",le="0.01"}"#] == "1")
        #expect(s[#"palisade_query_duration_seconds_count{source="policy"}"#] == "2")
        #expect(s[#"palisade_query_duration_seconds_sum{source="cache"}"#] == "0.00008")
        #expect(s[#"palisade_query_duration_seconds_sum{source="policy"}"#] == "9.00007")
        #expect(s[#"palisade_query_duration_seconds_sum{source="local"}"#] == "0.0")
    }

    @Test("Every series is declared once, with its type, before its samples")
    func typeLines() {
        let text = QueryMetrics().render()
        let types = text.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }
        #expect(types == [
            "# TYPE palisade_queries_total counter", "# TYPE palisade_queries_by_type_total counter",
            "# TYPE palisade_answers_total counter", "# TYPE palisade_query_duration_seconds histogram",
        ])
        #expect(text.hasSuffix("\n"))
    }

    @Test("Queries counted on many threads at once all add up")
    func concurrentCounts() async {
        let m = QueryMetrics()
        await withTaskGroup(of: Void.self) { group in
            for t in 0..<8 {
                group.addTask {
                    for i in 0..<10_000 {
                        m.record(rcode: .noError, type: t % 2 == 0 ? .a : .aaaa, source: .cache,
                            latency: .microseconds(Int64(i % 300)))
                    }
                }
            }
        }
        let s = self.series(m.render())
        #expect(s[#"palisade_queries_total{rcode="NOERROR"}"#] == "80000")
        #expect(s[#"palisade_queries_by_type_total{qtype="A"}"#] == "40000")
        #expect(s[#"palisade_query_duration_seconds_count{source="cache"}"#] == "80000")
        #expect(s[#"palisade_query_duration_seconds_bucket{source="cache",le="+Inf"}"#] == "80000")
    }
}
