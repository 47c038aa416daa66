import Foundation
public import Logging
import Metrics
public import ServiceLifecycle

/// What one retention pass deleted.
public struct RetentionReport: Sendable, Hashable {
    /// Events deleted for being older than the maximum age.
    public var deletedByAge: Int
    /// Events deleted to bring the table under the row cap.
    public var deletedByRowCap: Int
    /// Workload identities deleted because no remaining event refers to them.
    public var prunedWorkloads: Int

    /// Creates a report.
    public init(deletedByAge: Int = 0, deletedByRowCap: Int = 0, prunedWorkloads: Int = 0) {
        self.deletedByAge = deletedByAge
        self.deletedByRowCap = deletedByRowCap
        self.prunedWorkloads = prunedWorkloads
    }
}

/// Deletes old events on an interval: everything older than a maximum age, then the oldest beyond a row
/// cap, then workload identities no event refers to any more.
///
/// Deletes go in chunks of `chunkSize` rows, one short transaction each, so the query log writer (which
/// shares the single SQLite write lock) waits at most one chunk (milliseconds) and the DNS path never
/// notices. Freed pages are reused by later inserts; the file does not shrink (see docs/storage.md).
///
/// Metrics: `palisade_querylog_retention_deleted_total`, `palisade_querylog_retention_seconds`.
public final class QueryLogRetentionService: Service {
    private let store: any EventStore
    private let maxAge: Duration?
    private let maxRows: Int?
    private let interval: Duration
    private let chunkSize: Int
    private let clock: any Clock<Duration>
    private let now: @Sendable () -> Int64
    private let logger: Logger

    private let deletedCounter = Counter(label: "palisade_querylog_retention_deleted_total")
    private let passTimer = Metrics.Timer(label: "palisade_querylog_retention_seconds")

    /// Creates a retention service.
    ///
    /// - Parameters:
    ///   - store: The store to trim.
    ///   - maxAge: Delete events older than this; nil keeps events regardless of age.
    ///   - maxRows: Keep at most this many (newest) events; nil means no cap.
    ///   - interval: Time between passes; the first pass runs at start.
    ///   - chunkSize: Rows deleted per transaction (at least 1).
    ///   - clock: The clock `run` sleeps on (a manual clock in tests).
    ///   - now: Wall-clock time in microseconds since the Unix epoch, the scale of event timestamps.
    ///   - logger: For failed passes.
    public init(
        store: any EventStore, maxAge: Duration?, maxRows: Int?, interval: Duration = .seconds(300),
        chunkSize: Int = 1_000, clock: any Clock<Duration> = ContinuousClock(),
        now: @escaping @Sendable () -> Int64 = QueryLogRetentionService.wallClockMicros,
        logger: Logger = Logger(label: "palisade.querylog")
    ) {
        self.store = store
        self.maxAge = maxAge
        self.maxRows = maxRows.map { max(0, $0) }
        self.interval = interval
        self.chunkSize = max(1, chunkSize)
        self.clock = clock
        self.now = now
        self.logger = logger
    }

    /// Creates a retention service with the limits and interval of `configuration`.
    ///
    /// - Parameters:
    ///   - store: The store to trim.
    ///   - configuration: Supplies `maxAgeHours`, `maxRows` and `retentionIntervalSeconds`.
    ///   - clock: The clock `run` sleeps on.
    ///   - now: Wall-clock time in microseconds since the Unix epoch.
    ///   - logger: For failed passes.
    public convenience init(
        store: any EventStore, configuration: QueryStoreConfiguration, clock: any Clock<Duration> = ContinuousClock(),
        now: @escaping @Sendable () -> Int64 = QueryLogRetentionService.wallClockMicros,
        logger: Logger = Logger(label: "palisade.querylog")
    ) {
        self.init(
            store: store, maxAge: configuration.maxAge, maxRows: configuration.maxRows,
            interval: configuration.retentionInterval, clock: clock, now: now, logger: logger)
    }

    /// The system wall clock in microseconds since the Unix epoch.
    public static func wallClockMicros() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1_000_000).rounded())
    }

    /// Runs one pass now.
    ///
    /// - Returns: What was deleted.
    /// - Throws: ``QueryStoreError`` `.writeFailed`; chunks committed before the failure stay deleted.
    @discardableResult
    public func runOnce() async throws(QueryStoreError) -> RetentionReport {
        let began = ContinuousClock.now
        var report = RetentionReport()
        let chunk = self.chunkSize

        if let maxAge = self.maxAge {
            let (seconds, attoseconds) = maxAge.components
            let ageMicros = seconds * 1_000_000 + attoseconds / 1_000_000_000_000
            let cutoff = self.now() - ageMicros
            report.deletedByAge = try await self.deleteInChunks { store, chunk throws(QueryStoreError) in
                try await store.deleteEvents(olderThanMicros: cutoff, limit: chunk)
            }
        }

        if let maxRows = self.maxRows {
            // Ids only grow, and only retention removes rows (oldest first), so the newest `maxRows` events
            // are those with id > MAX(id) - maxRows: one index probe instead of counting the table.
            if let newest = try await self.store.newestEventID() {
                let cutoffID = newest - Int64(maxRows)
                report.deletedByRowCap = try await self.deleteInChunks { store, chunk throws(QueryStoreError) in
                    try await store.deleteEvents(upToID: cutoffID, limit: chunk)
                }
            }
        }

        // A workload row is written in the same transaction as its first event, so one that no event
        // refers to was orphaned by the deletes above.
        report.prunedWorkloads = try await self.deleteInChunks { store, chunk throws(QueryStoreError) in
            try await store.pruneWorkloads(limit: chunk)
        }

        let deleted = report.deletedByAge + report.deletedByRowCap
        if deleted > 0 {
            self.deletedCounter.increment(by: deleted)
            // Large deletes shift the statistics the query planner uses to pick indexes.
            try await self.store.optimize()
        }
        let elapsed = ContinuousClock.now - began
        self.passTimer.record(duration: elapsed)
        if deleted > 0 || report.prunedWorkloads > 0 {
            self.logger.info(
                "query log retention pass",
                metadata: [
                    "querylog.deleted_by_age": "\(report.deletedByAge)",
                    "querylog.deleted_by_row_cap": "\(report.deletedByRowCap)",
                    "querylog.pruned_workloads": "\(report.prunedWorkloads)",
                ])
        }
        return report
    }

    /// Runs `body` (one chunk, its own transaction) until it deletes fewer than a chunk or the task is
    /// cancelled. Between chunks other writers (the query log writer) get the lock.
    private func deleteInChunks(
        _ body: (any EventStore, Int) async throws(QueryStoreError) -> Int
    ) async throws(QueryStoreError) -> Int {
        var total = 0
        while !Task.isCancelled {
            let deleted = try await body(self.store, self.chunkSize)
            total += deleted
            if deleted < self.chunkSize { break }
            await Task.yield()
        }
        return total
    }

    /// Runs a pass at start and then every interval, until graceful shutdown or cancellation.
    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await self.runOnce()
                } catch {
                    // A pass interrupted by shutdown is not worth a warning.
                    if !Task.isCancelled {
                        self.logger.warning("query log retention pass failed", metadata: ["error": "\(error)"])
                    }
                }
                try await self.clock.sleep(for: self.interval)
            }
        }
    }
}
