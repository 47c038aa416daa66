public import DNSPipeline
public import Logging
import Metrics
public import ServiceLifecycle
import Synchronization

/// Takes query events from the DNS path without ever blocking it, and writes them to the store in batches.
///
/// `emit` appends to a bounded in-memory queue under a mutex (a few hundred nanoseconds, no allocation once
/// the queue has warmed up) and returns at once; when the queue is full the event is dropped and counted
/// rather than slowing answers down. `run` (a ServiceLifecycle `Service`) wakes every flush interval, takes
/// everything queued and writes it in transactions of at most `batchSize` events. On graceful shutdown or
/// cancellation it writes what is still queued before returning, so list this service *before* the DNS
/// listeners in the `ServiceGroup` (services shut down in reverse order): the listeners stop first, then
/// this drains.
///
/// Metrics: `palisade_querylog_written_total`, `palisade_querylog_dropped_total` (queue full or failed
/// write), `palisade_querylog_write_errors_total` (failed batches), `palisade_querylog_queue_depth` (events
/// waiting at the start of each flush), `palisade_querylog_batch_seconds` (time per batch transaction).
public final class QueryLogWriter: QueryEventSink, Service {
    /// Counters since this writer was created.
    public struct Statistics: Sendable, Hashable {
        /// Events waiting in the queue now.
        public var queued: Int
        /// Events accepted by ``QueryLogWriter/emit(_:)`` and committed to the store.
        public var written: Int
        /// Events lost: refused because the queue was full, or in a batch whose write failed.
        public var dropped: Int
        /// Batch transactions committed.
        public var batches: Int
        /// Batch transactions that failed (their events are counted in `dropped`).
        public var failedBatches: Int
    }

    private struct State {
        /// Events waiting to be written, oldest first.
        var pending: [QueryEvent] = []
        /// An empty array that keeps the capacity of a drained queue, swapped in on the next drain so a warm
        /// queue never reallocates under the lock.
        var spare: [QueryEvent] = []
        var written = 0
        var dropped = 0
        var batches = 0
        var failedBatches = 0
    }

    private let store: any EventStore
    private let capacity: Int
    private let batchSize: Int
    private let flushInterval: Duration
    private let clock: any Clock<Duration>
    private let logger: Logger
    private let state: Mutex<State>

    private let writtenCounter = Counter(label: "palisade_querylog_written_total")
    /// Queries the written events stand for (an event folds identical queries; QueryEventBuffer).
    private let writtenQueriesCounter = Counter(label: "palisade_querylog_written_queries_total")
    private let droppedCounter = Counter(label: "palisade_querylog_dropped_total")
    private let errorCounter = Counter(label: "palisade_querylog_write_errors_total")
    private let depthGauge = Gauge(label: "palisade_querylog_queue_depth")
    private let batchTimer = Metrics.Timer(label: "palisade_querylog_batch_seconds")

    /// Creates a writer for `store`.
    ///
    /// - Parameters:
    ///   - store: Where events go.
    ///   - queueCapacity: Events held in memory before new ones are dropped (at least 1).
    ///   - batchSize: Most events per transaction (at least 1).
    ///   - flushInterval: Time between drains of the queue.
    ///   - clock: The clock `run` sleeps on (a manual clock in tests).
    ///   - logger: For failed writes.
    public init(
        store: any EventStore, queueCapacity: Int = QueryStoreConfiguration.defaultQueueCapacity,
        batchSize: Int = QueryStoreConfiguration.defaultBatchSize,
        flushInterval: Duration = .milliseconds(QueryStoreConfiguration.defaultFlushIntervalMilliseconds),
        clock: any Clock<Duration> = ContinuousClock(),
        logger: Logger = Logger(label: "palisade.querylog")
    ) {
        self.store = store
        self.capacity = max(1, queueCapacity)
        self.batchSize = max(1, batchSize)
        self.flushInterval = flushInterval
        self.clock = clock
        self.logger = logger
        var initial = State()
        initial.pending.reserveCapacity(min(self.capacity, 4 * self.batchSize))
        self.state = Mutex(initial)
    }

    /// Creates a writer with the queue and batch settings of `configuration`.
    ///
    /// - Parameters:
    ///   - store: Where events go.
    ///   - configuration: Supplies `queueCapacity`, `batchSize` and `flushIntervalMilliseconds`.
    ///   - clock: The clock `run` sleeps on.
    ///   - logger: For failed writes.
    public convenience init(
        store: any EventStore, configuration: QueryStoreConfiguration, clock: any Clock<Duration> = ContinuousClock(),
        logger: Logger = Logger(label: "palisade.querylog")
    ) {
        self.init(
            store: store, queueCapacity: configuration.queueCapacity, batchSize: configuration.batchSize,
            flushInterval: configuration.flushInterval, clock: clock, logger: logger)
    }

    /// Queues `event` for writing. Never blocks or suspends: called on the DNS path for every answer.
    ///
    /// - Returns: false when the queue was full and the event was dropped (and counted).
    @discardableResult
    public func emit(_ event: QueryEvent) -> Bool {
        let accepted = self.state.withLock { state in
            if state.pending.count >= self.capacity {
                state.dropped += 1
                return false
            }
            state.pending.append(event)
            return true
        }
        if !accepted { self.droppedCounter.increment() }
        return accepted
    }

    /// Room left in the queue: the buffer in front hands over no more than this per drain.
    public var spareCapacity: Int {
        self.state.withLock { self.capacity - $0.pending.count }
    }

    /// Counters and the current queue depth.
    public var statistics: Statistics {
        self.state.withLock { s in
            Statistics(
                queued: s.pending.count, written: s.written, dropped: s.dropped, batches: s.batches,
                failedBatches: s.failedBatches)
        }
    }

    /// Writes everything queued when called, in transactions of at most `batchSize` events.
    ///
    /// Failures are logged and counted, never thrown: the DNS path must not care whether the log is
    /// healthy. Each transaction runs in its own unstructured task, so cancelling the caller never abandons a
    /// batch half-way; the caller waits for the batches either way.
    public func flush() async {
        var batch = self.state.withLock { state in
            let taken = state.pending
            state.pending = state.spare
            state.spare = []
            return taken
        }
        self.depthGauge.record(batch.count)
        var start = 0
        while start < batch.count {
            let end = min(start + self.batchSize, batch.count)
            // The common drain fits one batch: hand the queue's array over as it is instead of copying (and
            // retaining) every event into a new one.
            let chunk = start == 0 && end == batch.count ? batch : Array(batch[start..<end])
            let store = self.store
            let began = ContinuousClock.now
            let result: Result<Void, QueryStoreError> = await Task {
                do throws(QueryStoreError) {
                    try await store.insert(chunk)
                    return .success(())
                } catch {
                    return .failure(error)
                }
            }.value
            switch result {
            case .success:
                self.batchTimer.record(duration: ContinuousClock.now - began)
                self.writtenCounter.increment(by: chunk.count)
                self.writtenQueriesCounter.increment(by: chunk.reduce(0) { $0 + max($1.count, 1) })
                self.state.withLock { state in
                    state.written += chunk.count
                    state.batches += 1
                }
            case .failure(let error):
                self.errorCounter.increment()
                self.droppedCounter.increment(by: chunk.count)
                self.state.withLock { state in
                    state.dropped += chunk.count
                    state.failedBatches += 1
                }
                self.logger.warning(
                    "query log batch write failed; events dropped",
                    metadata: ["error": "\(error)", "querylog.events": "\(chunk.count)"])
            }
            start = end
        }
        // Hand the emptied buffer back so the next drain reuses its storage.
        batch.removeAll(keepingCapacity: true)
        let spare = batch
        self.state.withLock { state in
            if state.spare.capacity < spare.capacity { state.spare = spare }
        }
    }

    /// Drains the queue every flush interval until graceful shutdown or cancellation, then writes what is
    /// left and returns.
    public func run() async throws {
        // Graceful shutdown cancels only the sleeping loop; the final flush below still runs.
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await self.clock.sleep(for: self.flushInterval)
                await self.flush()
            }
        }
        await self.flush()
    }
}
