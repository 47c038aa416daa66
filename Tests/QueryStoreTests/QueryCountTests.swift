import DNSPipeline
import QueryStore
import Testing

/// Rows that stand for several identical queries (the query log's aggregation): every summary sums them.
@Suite struct QueryCountTests {
    private func folded(_ n: Int, _ e: QueryEvent) -> QueryEvent {
        var e = e
        e.count = n
        return e
    }

    @Test("Search returns each row's count, and counts, summaries and the time series add the counts up")
    func summariesSumCounts() async throws {
        let store = try QueryStore.inMemory()
        let web = container("c-web", name: "web")
        let job = container("c-job", name: "job")
        try await store.insert([
            self.folded(40, makeEvent(at: baseMicros, workload: web, qname: "api.example.org")),
            self.folded(7, makeEvent(at: baseMicros + 10, workload: web, qname: "x.evil.example", rcode: "NXDOMAIN",
                source: "policy", policy: blockHit)),
            makeEvent(at: baseMicros + 20, workload: job, qname: "x.evil.example", rcode: "NXDOMAIN", source: "policy",
                policy: blockHit),
            self.folded(3, makeEvent(at: baseMicros + 30, ip: "192.0.2.99", qname: "db.example.org")),
        ])
        let page = try await store.search(EventFilter())
        #expect(page.events.map(\.event.count) == [3, 1, 7, 40])

        let counts = try await store.counts()
        #expect(counts.events == 4)
        #expect(counts.queries == 51)

        let top = try await store.topBlockedDomains(sinceMicros: 0)
        #expect(top.first?.qname == "x.evil.example")
        #expect(top.first?.queries == 8)
        #expect(top.first?.workloads == 2)

        let blocked = try await store.blockedSummary(sinceMicros: 0)
        #expect(blocked.map(\.blockedQueries) == [7, 1])

        let workloads = try await store.topWorkloads(sinceMicros: 0)
        #expect(workloads.map(\.queries) == [47, 3, 1])
        #expect(workloads.first?.blocked == 7)

        let series = try await store.timeSeries(sinceMicros: baseMicros, untilMicros: baseMicros + 1_000,
            bucket: .seconds(1))
        #expect(series.reduce(0) { $0 + $1.queries } == 51)
        #expect(series.reduce(0) { $0 + $1.blocked } == 8)
    }
}
