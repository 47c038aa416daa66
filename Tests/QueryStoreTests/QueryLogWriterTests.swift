import TestSupport
import DNSPipeline
import Glibc
import Logging
import QueryStore
import ServiceLifecycle
import Testing

@Suite struct QueryLogWriterTests {
    @Test("flush writes everything queued in transactions of at most batchSize events")
    func batches() async throws {
        let store = try QueryStore.inMemory()
        let writer = QueryLogWriter(
            store: store, queueCapacity: 10_000, batchSize: 1_000, clock: ManualClock(), logger: quietLogger)
        for i in 0..<2_500 {
            #expect(writer.emit(makeEvent(at: baseMicros + Int64(i))))
        }
        #expect(writer.statistics.queued == 2_500)
        await writer.flush()
        let stats = writer.statistics
        #expect(stats.batches == 3)
        #expect(stats.written == 2_500)
        #expect(stats.queued == 0)
        #expect(stats.dropped == 0)
        #expect(try await store.counts().events == 2_500)
    }

    @Test("a full queue drops new events, counts them and never blocks")
    func dropsWhenFull() async throws {
        let store = try QueryStore.inMemory()
        let writer = QueryLogWriter(
            store: store, queueCapacity: 100, batchSize: 10, clock: ManualClock(), logger: quietLogger)
        var refused = 0
        for i in 0..<130 where !writer.emit(makeEvent(at: baseMicros + Int64(i))) {
            refused += 1
        }
        #expect(refused == 30)
        #expect(writer.statistics.dropped == 30)
        #expect(writer.statistics.queued == 100)
        // The oldest 100 are kept; after a flush the queue accepts events again.
        await writer.flush()
        #expect(writer.emit(makeEvent(at: baseMicros + 1_000)))
        await writer.flush()
        #expect(try await store.counts().events == 101)
        let oldest = try await store.counts().oldestMicros
        #expect(oldest == baseMicros)
    }

    @Test("run drains the queue each time the flush interval passes")
    func drainsOnInterval() async throws {
        let store = try QueryStore.inMemory()
        let clock = ManualClock()
        let writer = QueryLogWriter(
            store: store, queueCapacity: 1_000, batchSize: 100, flushInterval: .milliseconds(200), clock: clock,
            logger: quietLogger)
        let task = Task { try await writer.run() }
        #expect(try await eventually { clock.sleeperCount == 1 })
        for i in 0..<150 { writer.emit(makeEvent(at: baseMicros + Int64(i))) }
        // Nothing is written before the interval passes.
        #expect(writer.statistics.written == 0)
        clock.advance(by: .milliseconds(200))
        #expect(try await eventually { writer.statistics.written == 150 })
        #expect(writer.statistics.batches == 2)
        task.cancel()
        try await task.value
    }

    @Test("graceful shutdown of the service group writes what is still queued")
    func gracefulShutdownFlushes() async throws {
        let store = try QueryStore.inMemory()
        let clock = ManualClock()
        let writer = QueryLogWriter(
            store: store, queueCapacity: 10_000, batchSize: 1_000, clock: clock, logger: quietLogger)
        let group = ServiceGroup(
            services: [writer], gracefulShutdownSignals: [], cancellationSignals: [],
            logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            #expect(try await eventually { clock.sleeperCount == 1 })
            for i in 0..<1_234 { writer.emit(makeEvent(at: baseMicros + Int64(i))) }
            // The clock never advances: only the shutdown flush can write these.
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(writer.statistics.written == 1_234)
        #expect(try await store.counts().events == 1_234)
    }

    @Test("cancelling run still writes what is queued before it returns")
    func cancellationFlushes() async throws {
        let store = try QueryStore.inMemory()
        let clock = ManualClock()
        let writer = QueryLogWriter(
            store: store, queueCapacity: 10_000, batchSize: 300, clock: clock, logger: quietLogger)
        let task = Task { try await writer.run() }
        #expect(try await eventually { clock.sleeperCount == 1 })
        for i in 0..<1_000 { writer.emit(makeEvent(at: baseMicros + Int64(i))) }
        task.cancel()
        try await task.value
        #expect(try await store.counts().events == 1_000)
        #expect(writer.statistics.batches == 4)
    }

    @Test("a failed batch is dropped and counted, and the writer keeps going")
    func failedBatchCounted() async throws {
        let store = try QueryStore.inMemory()
        let writer = QueryLogWriter(
            store: store, queueCapacity: 100, batchSize: 10, clock: ManualClock(), logger: quietLogger)
        for i in 0..<5 { writer.emit(makeEvent(at: baseMicros + Int64(i))) }
        try store.close()
        await writer.flush()
        let stats = writer.statistics
        #expect(stats.failedBatches == 1)
        #expect(stats.dropped == 5)
        #expect(stats.written == 0)
        #expect(writer.emit(makeEvent()))
    }

    @Test("workloads are upserted with the batch and their seen times widen")
    func workloadUpsert() async throws {
        let store = try QueryStore.inMemory()
        let writer = QueryLogWriter(
            store: store, queueCapacity: 100, batchSize: 2, clock: ManualClock(), logger: quietLogger)
        let v1 = container("abc", name: "api", labels: ["v": "1"])
        var v2 = v1
        v2.labels = ["v": "2"]
        writer.emit(makeEvent(at: baseMicros + 50, workload: v1))
        writer.emit(makeEvent(at: baseMicros + 10, workload: v1))
        writer.emit(makeEvent(at: baseMicros + 90, workload: v2))
        await writer.flush()
        let stored = try #require(try await store.workload(key: "container:abc"))
        #expect(stored.firstSeenMicros == baseMicros + 10)
        #expect(stored.lastSeenMicros == baseMicros + 90)
        #expect(stored.workload == v2)
        #expect(try await store.counts().workloads == 1)
    }

    @Test("SQLite writes run below the event loops' priority (a higher nice value), on disk and in memory")
    func writesRunBelowTheEventLoops() async throws {
        let ours = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        for store in [try QueryStore(path: dir.file("log.sqlite")), try QueryStore.inMemory()] {
            let nice = try await store.writerNiceness()
            #expect(nice > ours, "writes at nice \(nice), the test's thread runs at \(ours)")
        }
    }
}
