public import DNSPipeline
import GRDB

/// SQLite runs the shared read queries through GRDB, on its reader connections.
extension QueryStore: SQLReader {
    package func fetch(_ sql: String, _ arguments: [SQLValue], what: String) async throws(QueryStoreError)
        -> [CellRow]
    {
        try await self.fetch(batch: [(sql, arguments)], what: what).first ?? []
    }

    package func fetch(batch: [(sql: String, arguments: [SQLValue])], what: String) async throws(QueryStoreError)
        -> [[CellRow]]
    {
        let statements = batch.map { ($0.sql, StatementArguments($0.arguments.map(Self.databaseValue))) }
        return try await self.read(what) { db in
            try statements.map { sql, bound in
                var rows: [CellRow] = []
                let cursor = try Row.fetchCursor(db, sql: sql, arguments: bound)
                while let row = try cursor.next() {
                    rows.append(CellRow(row.databaseValues.map(Self.sqlValue)))
                }
                return rows
            }
        }
    }

    static func databaseValue(_ v: SQLValue) -> DatabaseValue {
        switch v {
        case .int(let i): i.databaseValue
        case .text(let s): s.databaseValue
        case .null: .null
        }
    }

    static func sqlValue(_ v: DatabaseValue) -> SQLValue {
        switch v.storage {
        case .int64(let i): .int(i)
        case .string(let s): .text(s)
        // The schema stores no reals or blobs; a hand-edited value reads as an integer or NULL.
        case .double(let d): .int(Int64(exactly: d.rounded()) ?? 0)
        case .null, .blob: .null
        }
    }
}

extension QueryStore: EventStore {
    /// The database file, or `:memory:`.
    public var location: String { self.path }

    public func search(_ filter: EventFilter) async throws(QueryStoreError) -> EventPage {
        try await EventQueries.search(filter, on: self, nameIndex: .hourly)
    }

    /// SQLite's plan for ``search(_:)`` with `filter` (`EXPLAIN QUERY PLAN` details), for tests and the
    /// benchmark: it names the index each search uses.
    package func searchPlan(_ filter: EventFilter) async throws(QueryStoreError) -> [String] {
        let (sql, arguments, _) = EventQueries.searchStatement(filter, nameIndex: .hourly)
        return try await self.fetch("EXPLAIN QUERY PLAN " + sql, arguments, what: "explaining a search").map {
            // Columns: id, parent, notused, detail.
            $0.text(3) ?? ""
        }
    }

    public func workloads(activeSinceMicros: Int64, limit: Int) async throws(QueryStoreError) -> [StoredWorkload] {
        try await EventQueries.workloads(activeSinceMicros: activeSinceMicros, limit: limit, on: self)
    }

    public func workload(key: String) async throws(QueryStoreError) -> StoredWorkload? {
        try await EventQueries.workload(key: key, on: self)
    }

    public func blockedSummary(sinceMicros: Int64, limit: Int) async throws(QueryStoreError) -> [BlockedActivity] {
        try await EventQueries.blockedSummary(sinceMicros: sinceMicros, limit: limit, on: self)
    }

    public func topBlockedDomains(sinceMicros: Int64, limit: Int) async throws(QueryStoreError) -> [DomainCount] {
        try await EventQueries.topBlockedDomains(sinceMicros: sinceMicros, limit: limit, on: self)
    }

    public func topWorkloads(sinceMicros: Int64, limit: Int) async throws(QueryStoreError) -> [WorkloadActivity] {
        try await EventQueries.topWorkloads(sinceMicros: sinceMicros, limit: limit, on: self)
    }

    public func timeSeries(sinceMicros: Int64, untilMicros: Int64?, bucket: Duration) async throws(QueryStoreError)
        -> [TimeBucket]
    {
        try await EventQueries.timeSeries(sinceMicros: sinceMicros, untilMicros: untilMicros, bucket: bucket, on: self)
    }

    public func counts() async throws(QueryStoreError) -> StoreCounts {
        try await EventQueries.counts(on: self)
    }

    public func deleteEvents(olderThanMicros cutoffMicros: Int64, limit: Int) async throws(QueryStoreError) -> Int {
        try await self.write("deleting events by age") { db in
            try db.execute(sql: StoreSQL.deleteEventsByAge, arguments: [cutoffMicros, limit])
            let deleted = db.changesCount
            try NameIndexSQL.dropExpiredHours(db)
            return deleted
        }
    }

    public func deleteEvents(upToID id: Int64, limit: Int) async throws(QueryStoreError) -> Int {
        try await self.write("deleting events over the row cap") { db in
            try db.execute(sql: StoreSQL.deleteEventsUpToID, arguments: [id, limit])
            let deleted = db.changesCount
            try NameIndexSQL.dropExpiredHours(db)
            return deleted
        }
    }

    public func newestEventID() async throws(QueryStoreError) -> Int64? {
        try await self.fetch("SELECT MAX(id) FROM events", [], what: "reading the newest event id").first?.int(0)
    }

    public func pruneWorkloads(limit: Int) async throws(QueryStoreError) -> Int {
        try await self.write("pruning workloads") { db in
            // Only workloads last seen before the oldest remaining event are candidates: small probe.
            let oldest = try Int64.fetchOne(db, sql: "SELECT MIN(ts_us) FROM events") ?? Int64.max
            try db.execute(sql: StoreSQL.pruneWorkloads, arguments: [oldest, limit])
            return db.changesCount
        }
    }
}

/// Statements both backends run verbatim (`?` placeholders).
package enum StoreSQL {
    /// One retention chunk by age, oldest first. Arguments: the cutoff time, the chunk size.
    package static let deleteEventsByAge =
        "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE ts_us < ? ORDER BY ts_us LIMIT ?)"

    /// One retention chunk over the row cap, oldest first. Arguments: the highest id to delete, the chunk size.
    package static let deleteEventsUpToID =
        "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE id <= ? ORDER BY id LIMIT ?)"

    /// A workload row is written in the same transaction as its first event, so one that no event refers to
    /// was orphaned by retention deletes. Arguments: the oldest remaining event's time, the chunk size.
    package static let pruneWorkloads = """
        DELETE FROM workloads WHERE id IN (
            SELECT w.id FROM workloads w
            WHERE w.last_seen_us < ?
                AND NOT EXISTS (SELECT 1 FROM events e WHERE e.workload_ref = w.id)
            LIMIT ?)
        """

    /// The workload upsert: the latest name, image and labels win; first/last seen widen. Portable (SQLite
    /// >= 3.35 for RETURNING, PostgreSQL >= 9.5): CASE instead of SQLite's two-argument min()/max(), which
    /// PostgreSQL spells LEAST/GREATEST.
    package static let upsertWorkload = """
        INSERT INTO workloads (key, kind, workload_id, name, image, labels, first_seen_us, last_seen_us)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (key) DO UPDATE SET
            name = excluded.name,
            image = excluded.image,
            labels = excluded.labels,
            first_seen_us = CASE WHEN excluded.first_seen_us < workloads.first_seen_us
                THEN excluded.first_seen_us ELSE workloads.first_seen_us END,
            last_seen_us = CASE WHEN excluded.last_seen_us > workloads.last_seen_us
                THEN excluded.last_seen_us ELSE workloads.last_seen_us END
        RETURNING id
        """

    /// The arguments of ``upsertWorkload`` for one of ``batchWorkloads(_:)``'s workloads.
    package static func workloadValues(key: String, workload: Workload, first: Int64, last: Int64) -> [SQLValue] {
        [
            .text(key), .text(workload.kind.rawValue), .text(workload.id), .text(workload.name), SQLValue(workload.image),
            .text(JSONText.encodeLabels(workload.labels)), .int(first), .int(last),
        ]
    }

    /// The event columns in insert order.
    package static let eventColumns = """
        ts_us, client_ip, transport, workload_ref, qname, qname_rev, qtype, rcode, answers, source, upstream,
        policy_source, policy_rule, policy_action, policy_trigger, blocked, findings, latency_us, query_count,
        other_names
        """

    /// Number of ``eventColumns``.
    package static let eventColumnCount = 20

    /// The values of one event's row, in ``eventColumns`` order; `workloadRef` is its workload's row id.
    package static func eventValues(_ event: QueryEvent, workloadRef: Int64?, findings: String?) -> [SQLValue] {
        let policy = event.policy
        let qname = StoredName.normalize(event.qname)
        return [
            .int(event.timestampMicros), .text(event.clientIP), .text(event.transport), SQLValue(workloadRef),
            .text(qname), .text(StoredName.reversed(qname)), .text(event.qtype), .text(event.rcode),
            SQLValue(event.answers.isEmpty ? nil : JSONText.encode(event.answers)), .text(event.source),
            SQLValue(event.upstream), SQLValue(policy?.source), SQLValue(policy?.rule), SQLValue(policy?.action),
            SQLValue(policy?.trigger), .int(event.blocked ? 1 : 0), SQLValue(findings), .int(event.latencyMicros),
            .int(Int64(max(event.count, 1))),
            SQLValue(event.otherNames.isEmpty ? nil : JSONText.encode(event.otherNames.map(StoredName.normalize))),
        ]
    }

    /// The distinct workloads of a batch with the time range each was seen in; later events carry the newer
    /// name and labels.
    package static func batchWorkloads(_ events: [QueryEvent]) -> [(key: String, workload: Workload, first: Int64, last: Int64)] {
        var order: [String] = []
        var seen: [String: (workload: Workload, first: Int64, last: Int64)] = [:]
        for event in events {
            guard let workload = event.workload else { continue }
            let key = QueryStore.workloadKey(for: workload)
            if let s = seen[key] {
                seen[key] = (workload, min(s.first, event.timestampMicros), max(s.last, event.timestampMicros))
            } else {
                order.append(key)
                seen[key] = (workload, event.timestampMicros, event.timestampMicros)
            }
        }
        return order.compactMap { key in seen[key].map { (key, $0.workload, $0.first, $0.last) } }
    }
}
