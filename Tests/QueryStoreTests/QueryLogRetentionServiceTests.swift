import TestSupport
import DNSPipeline
import QueryStore
import Testing

@Suite struct QueryLogRetentionServiceTests {
    /// Events one minute apart, from `baseMicros`, alternating between two workloads.
    private func seed(_ store: QueryStore, count: Int) async throws {
        let a = container("a", name: "alpha")
        let b = container("b", name: "beta")
        try await store.insert(
            (0..<count).map { i in
                makeEvent(at: baseMicros + Int64(i) * minuteMicros, workload: i.isMultiple(of: 2) ? a : b)
            })
    }

    @Test("age retention deletes events older than the maximum age, in chunks")
    func byAge() async throws {
        let store = try QueryStore.inMemory()
        try await self.seed(store, count: 120)
        // Now is 2 h after the first event; keep 30 min: events at minutes 90…119 survive.
        let now = baseMicros + 2 * hourMicros
        let retention = QueryLogRetentionService(
            store: store, maxAge: .seconds(30 * 60), maxRows: nil, chunkSize: 7, clock: ManualClock(),
            now: { now }, logger: quietLogger)
        let report = try await retention.runOnce()
        #expect(report.deletedByAge == 90)
        #expect(report.deletedByRowCap == 0)
        let counts = try await store.counts()
        #expect(counts.events == 30)
        #expect(counts.oldestMicros == baseMicros + 90 * minuteMicros)
        // A second pass finds nothing more.
        #expect(try await retention.runOnce() == RetentionReport())
    }

    @Test("the row cap keeps exactly the newest rows")
    func byRows() async throws {
        let store = try QueryStore.inMemory()
        try await self.seed(store, count: 100)
        let retention = QueryLogRetentionService(
            store: store, maxAge: nil, maxRows: 25, chunkSize: 10, clock: ManualClock(), now: { baseMicros },
            logger: quietLogger)
        let report = try await retention.runOnce()
        #expect(report.deletedByRowCap == 75)
        let counts = try await store.counts()
        #expect(counts.events == 25)
        #expect(counts.oldestMicros == baseMicros + 75 * minuteMicros)
        #expect(counts.newestMicros == baseMicros + 99 * minuteMicros)
    }

    @Test("workloads that no remaining event refers to are pruned, others kept")
    func prunesOrphanWorkloads() async throws {
        let store = try QueryStore.inMemory()
        try await store.insert([makeEvent(at: baseMicros, workload: container("old", name: "gone"))])
        try await store.insert([makeEvent(at: baseMicros + hourMicros, workload: container("new", name: "live"))])
        let retention = QueryLogRetentionService(
            store: store, maxAge: .seconds(1800), maxRows: nil, clock: ManualClock(),
            now: { baseMicros + hourMicros }, logger: quietLogger)
        let report = try await retention.runOnce()
        #expect(report.deletedByAge == 1)
        #expect(report.prunedWorkloads == 1)
        let keys = try await store.workloads(activeSinceMicros: 0).map(\.key)
        #expect(keys == ["container:new"])
    }

    @Test("both limits apply in one pass")
    func bothLimits() async throws {
        let store = try QueryStore.inMemory()
        try await self.seed(store, count: 100)
        let retention = QueryLogRetentionService(
            store: store, maxAge: .seconds(60 * 60), maxRows: 10, clock: ManualClock(),
            now: { baseMicros + 100 * minuteMicros }, logger: quietLogger)
        let report = try await retention.runOnce()
        // Age keeps minutes 40…99 (60 rows); the cap then keeps the newest 10.
        #expect(report.deletedByAge == 40)
        #expect(report.deletedByRowCap == 50)
        #expect(try await store.counts().events == 10)
    }

    @Test("the service runs a pass at start and again each interval")
    func runsOnInterval() async throws {
        let store = try QueryStore.inMemory()
        let clock = ManualClock()
        let retention = QueryLogRetentionService(
            store: store, maxAge: nil, maxRows: 5, interval: .seconds(300), clock: clock, now: { baseMicros },
            logger: quietLogger)
        try await self.seed(store, count: 20)
        let task = Task { try await retention.run() }
        #expect(try await eventually { clock.sleeperCount == 1 })
        #expect(try await store.counts().events == 5)
        try await self.seed(store, count: 20)
        #expect(try await store.counts().events == 25)
        clock.advance(by: .seconds(300))
        #expect(try await eventually { try await store.counts().events == 5 })
        task.cancel()
        try await task.value
    }
}
