public import DNSPipeline

/// A query-log database: SQLite (``QueryStore``, the default, one resolver) or PostgreSQL
/// (`PostgresEventStore` in the `QueryStorePostgres` module, a fleet of resolvers sharing one log).
///
/// Both run the same schema and the same read queries (``EventQueries``): the SQL sticks to what both accept
/// (see docs/storage.md). The writer, the retention service, the web API and the console take `any
/// EventStore`, so the backend is a configuration choice.
public protocol EventStore: AnyObject, Sendable {
    /// Where the log lives, for messages (`/var/lib/palisade/querylog.sqlite`, `postgres://host:5432/db`).
    var location: String { get }

    /// Writes `events` in one transaction, recording (or refreshing) each event's workload first.
    func insert(_ events: [QueryEvent]) async throws(QueryStoreError)
    /// Events matching `filter`, newest first, one page at a time.
    func search(_ filter: EventFilter) async throws(QueryStoreError) -> EventPage
    /// Workload identities that sent a query at or after `activeSinceMicros`, most recently active first.
    func workloads(activeSinceMicros: Int64, limit: Int) async throws(QueryStoreError) -> [StoredWorkload]
    /// The workload stored under `key`, or nil.
    func workload(key: String) async throws(QueryStoreError) -> StoredWorkload?
    /// Per workload (or unidentified client): blocked queries since `sinceMicros`, most blocked first.
    func blockedSummary(sinceMicros: Int64, limit: Int) async throws(QueryStoreError) -> [BlockedActivity]
    /// The most blocked names since `sinceMicros`.
    func topBlockedDomains(sinceMicros: Int64, limit: Int) async throws(QueryStoreError) -> [DomainCount]
    /// The workloads (and unidentified clients) that sent the most queries since `sinceMicros`.
    func topWorkloads(sinceMicros: Int64, limit: Int) async throws(QueryStoreError) -> [WorkloadActivity]
    /// Queries and blocked queries per time bucket, oldest first.
    func timeSeries(sinceMicros: Int64, untilMicros: Int64?, bucket: Duration) async throws(QueryStoreError)
        -> [TimeBucket]
    /// Totals over the whole log.
    func counts() async throws(QueryStoreError) -> StoreCounts
    /// Schema migrations applied, oldest first.
    func appliedMigrations() async throws(QueryStoreError) -> [String]
    /// Problems an integrity check finds; empty when sound (or when the backend has no such check).
    func integrityCheck() async throws(QueryStoreError) -> [String]

    /// Deletes up to `limit` of the oldest events older than `cutoffMicros`; returns how many.
    func deleteEvents(olderThanMicros cutoffMicros: Int64, limit: Int) async throws(QueryStoreError) -> Int
    /// Deletes up to `limit` of the events with an id at or below `id`, oldest first; returns how many.
    func deleteEvents(upToID id: Int64, limit: Int) async throws(QueryStoreError) -> Int
    /// The largest event id, or nil when the log is empty.
    func newestEventID() async throws(QueryStoreError) -> Int64?
    /// Deletes up to `limit` workloads that no event refers to any more; returns how many.
    func pruneWorkloads(limit: Int) async throws(QueryStoreError) -> Int
    /// Refreshes planner statistics after large deletes.
    func optimize() async throws(QueryStoreError)

    /// Appends `record` (its `id` is ignored) to the audit trail of operator actions; returns the new id.
    @discardableResult
    func recordAction(_ record: ActionRecord) async throws(QueryStoreError) -> Int64
    /// Recorded actions, newest first: at most `limit` (1…1 000), older than `beforeID`, on `target`.
    func actions(limit: Int, beforeID: Int64?, target: String?) async throws(QueryStoreError) -> [ActionRecord]
}

extension EventStore {
    /// ``actions(limit:beforeID:target:)``: the newest 100.
    public func actions(limit: Int = 100, beforeID: Int64? = nil) async throws(QueryStoreError) -> [ActionRecord] {
        try await self.actions(limit: limit, beforeID: beforeID, target: nil)
    }

    /// ``workloads(activeSinceMicros:limit:)`` with at most 1 000 rows.
    public func workloads(activeSinceMicros: Int64) async throws(QueryStoreError) -> [StoredWorkload] {
        try await self.workloads(activeSinceMicros: activeSinceMicros, limit: 1_000)
    }

    /// ``blockedSummary(sinceMicros:limit:)`` with at most 100 rows.
    public func blockedSummary(sinceMicros: Int64) async throws(QueryStoreError) -> [BlockedActivity] {
        try await self.blockedSummary(sinceMicros: sinceMicros, limit: 100)
    }

    /// ``topBlockedDomains(sinceMicros:limit:)`` with at most 20 rows.
    public func topBlockedDomains(sinceMicros: Int64) async throws(QueryStoreError) -> [DomainCount] {
        try await self.topBlockedDomains(sinceMicros: sinceMicros, limit: 20)
    }

    /// ``topWorkloads(sinceMicros:limit:)`` with at most 20 rows.
    public func topWorkloads(sinceMicros: Int64) async throws(QueryStoreError) -> [WorkloadActivity] {
        try await self.topWorkloads(sinceMicros: sinceMicros, limit: 20)
    }

    /// ``timeSeries(sinceMicros:untilMicros:bucket:)`` up to the newest event.
    public func timeSeries(sinceMicros: Int64, bucket: Duration) async throws(QueryStoreError) -> [TimeBucket] {
        try await self.timeSeries(sinceMicros: sinceMicros, untilMicros: nil, bucket: bucket)
    }
}

/// A value bound to, or read from, a statement: the three storage classes the schema uses.
package enum SQLValue: Sendable, Hashable {
    case int(Int64)
    case text(String)
    case null

    /// `.text` or `.null`.
    package init(_ text: String?) { self = text.map { .text($0) } ?? .null }
    /// `.int` or `.null`.
    package init(_ int: Int64?) { self = int.map { .int($0) } ?? .null }
}

/// One result row as backend-neutral values, so that both backends map rows with the same code.
package struct CellRow: Sendable {
    package var cells: [SQLValue]

    package init(_ cells: [SQLValue]) { self.cells = cells }

    /// The integer in column `i`, or nil (NULL, text, or no such column).
    package func int(_ i: Int) -> Int64? {
        guard i < self.cells.count, case .int(let v) = self.cells[i] else { return nil }
        return v
    }

    /// The text in column `i`, or nil (NULL, integer, or no such column).
    package func text(_ i: Int) -> String? {
        guard i < self.cells.count, case .text(let v) = self.cells[i] else { return nil }
        return v
    }

    /// Whether column `i` is NULL (or missing).
    package func isNull(_ i: Int) -> Bool {
        guard i < self.cells.count else { return true }
        if case .null = self.cells[i] { return true }
        return false
    }
}

/// Runs read statements for ``EventQueries``: SQL with `?` placeholders, values in order.
package protocol SQLReader: Sendable {
    func fetch(_ sql: String, _ arguments: [SQLValue], what: String) async throws(QueryStoreError) -> [CellRow]
    /// Runs several statements as one read (one SQLite read transaction, one PostgreSQL connection), so a
    /// query made of many small statements — a time series, the totals — is one hop and one snapshot.
    func fetch(batch: [(sql: String, arguments: [SQLValue])], what: String) async throws(QueryStoreError)
        -> [[CellRow]]
}
