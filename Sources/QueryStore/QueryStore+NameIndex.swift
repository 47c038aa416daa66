import GRDB

/// The SQLite name index: two parts instead of one B-tree index on a random key.
///
/// An index on `qname_rev` dirties a random leaf page per event. Once the index is larger than the writer's page
/// cache, every insert reads a page, and every transaction writes hundreds of pages to the WAL and again at
/// checkpoint: at 3 M events, 19 µs of CPU per event on top of the 6.6 the rest of the row costs (SQLite alone,
/// docs/storage.md, "The name index"). So the name index is built in bulk instead:
///
/// - **Sorted part**: `event_names (hour, qname_rev, ts_us, id)`, a `WITHOUT ROWID` table keyed by all four. Every
///   `QueryStore.nameIndexMergeRows` events, the events above `name_index_state.merged_through` are copied into it sorted by key,
///   in the transaction that crossed the threshold, and the mark moves up. A sorted insert touches each leaf at most
///   once, so a page written to the WAL carries several new entries instead of one.
/// - **Tail**: the events above the mark, at most `nameIndexMergeRows` of them (plus one batch). A name search reads them
///   by rowid range and compares `qname_rev`: a bounded scan, about 27 ms for a full default tail (docs/storage.md).
///
/// The leading `hour` (`ts_us / 3 600 000 000`) lets retention drop whole hours from the front of the key, a range
/// delete, where a key starting with the name would need a full scan to find old entries. A name search walks the
/// hours of its time range (a recursive CTE over the stored hours), probing each.
///
/// An entry whose event retention deleted is harmless until its hour goes: searches join the entry to `events` on
/// id and time, so it matches nothing, and it is older than every live event, so it never takes a newer event's place
/// on a page. Rowids can be reused after the newest events are deleted; ``prepareInsert(_:)`` lowers the mark then, so
/// new events are always in the tail or merged, never in neither.
enum NameIndexSQL {
    /// Microseconds per `hour` bucket.
    static let hourMicros: Int64 = 3_600_000_000

    /// Creates the two tables, fills the sorted part from the existing events (one sorted pass, like building an
    /// index) and drops the old `(qname_rev, ts_us)` index. Run by migration `v5-name-index`.
    static func migrate(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE event_names (
                    hour INTEGER NOT NULL,
                    qname_rev TEXT NOT NULL,
                    ts_us INTEGER NOT NULL,
                    id INTEGER NOT NULL,
                    PRIMARY KEY (hour, qname_rev, ts_us, id)
                ) WITHOUT ROWID
                """)
        try db.execute(
            sql: """
                CREATE TABLE name_index_state (
                    one INTEGER PRIMARY KEY CHECK (one = 1),
                    merged_through INTEGER NOT NULL
                )
                """)
        try db.execute(sql: "INSERT INTO name_index_state VALUES (1, 0)")
        try Self.merge(db, above: 0, through: Int64.fetchOne(db, sql: "SELECT MAX(id) FROM events") ?? 0)
        try db.execute(sql: "DROP INDEX events_qname_ts")
    }

    /// The mark, lowered to the newest stored event when that is below it (rowids reused after the newest events
    /// were deleted), so that the batch about to be inserted lands in the tail. Call before inserting.
    static func prepareInsert(_ db: Database) throws -> Int64 {
        let mark = try Int64.fetchOne(db, sql: "SELECT merged_through FROM name_index_state") ?? 0
        let newest = try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM events") ?? 0
        guard newest < mark else { return mark }
        try db.execute(sql: "UPDATE name_index_state SET merged_through = ?", arguments: [newest])
        return newest
    }

    /// Merges the tail when it holds at least `mergeRows` events. Call after inserting, in the same transaction.
    ///
    /// - Parameters:
    ///   - mark: What ``prepareInsert(_:)`` returned.
    ///   - newest: The last inserted rowid.
    ///   - mergeRows: The tail size that triggers a merge.
    static func mergeIfDue(_ db: Database, mark: Int64, newest: Int64, mergeRows: Int) throws {
        guard newest - mark >= Int64(mergeRows) else { return }
        try Self.merge(db, above: mark, through: newest)
    }

    /// Copies the events in `(above, through]` into `event_names`, sorted by its key, and moves the mark.
    static func merge(_ db: Database, above: Int64, through: Int64) throws {
        if through > above {
            try db.execute(
                sql: """
                    INSERT INTO event_names (hour, qname_rev, ts_us, id)
                    SELECT ts_us / \(Self.hourMicros), qname_rev, ts_us, id FROM events WHERE id > ? AND id <= ?
                    ORDER BY 1, 2, 3, 4
                    """,
                arguments: [above, through])
        }
        try db.execute(sql: "UPDATE name_index_state SET merged_through = ?", arguments: [max(through, above)])
    }

    /// Drops the sorted part's entries of every hour that ended more than an hour before the oldest stored event (all
    /// of them when no event is left). Call after retention deletes; a range delete at the front of the key.
    static func dropExpiredHours(_ db: Database) throws {
        let oldest = try Int64.fetchOne(db, sql: "SELECT MIN(ts_us) FROM events")
        // One hour of slack: an event written late with an older time than the oldest stored one stays findable.
        let firstKept = oldest.map { $0 / Self.hourMicros - 1 } ?? Int64.max
        try db.execute(sql: "DELETE FROM event_names WHERE hour < ?", arguments: [firstKept])
    }

    /// The `WITH` clause of a search statement with a name condition, and its arguments.
    struct Candidates {
        /// `WITH RECURSIVE name_hours(hour) AS (…), name_keys AS MATERIALIZED (…)`: `name_keys` holds `(ts_us, id)` of
        /// every candidate, merged entries and matching tail events.
        var with: String
        /// The arguments of `with`, in placeholder order.
        var arguments: [SQLValue]
    }

    /// The candidates of a search with the name condition `name` and the time bounds of `filter`.
    ///
    /// `name_keys` is materialized, and the statement joins it to `events` with `CROSS JOIN` (SQLite keeps that
    /// order): otherwise the planner may flatten the union into the outer query and walk `events_ts` in time order
    /// to avoid a sort, probing the candidates for every stored event. In the tail's arm the unary `+` keeps SQLite
    /// off `events_ts` for the same reason; its rows are found by rowid range.
    static func candidates(_ name: EventQueries.NameCondition, filter: EventFilter) -> Candidates {
        // Each condition written on a time and an id column: `+t.ts_us` in the tail's arm keeps SQLite off the time
        // index, and its id stays bare so that the rowid range remains usable.
        var timeConditions: [(_ ts: String, _ id: String) -> String] = []
        var timeArguments: [SQLValue] = []
        // The newest time a candidate may have (inclusive), for the hours to probe. Bounds come from a client: kept
        // clear of overflow by clamping at zero, below every stored time.
        var newest = filter.untilMicros.map { max($0, 1) - 1 }
        if let from = filter.fromMicros {
            timeConditions.append { ts, _ in "\(ts) >= ?" }
            timeArguments.append(.int(from))
        }
        if let until = filter.untilMicros {
            timeConditions.append { ts, _ in "\(ts) < ?" }
            timeArguments.append(.int(until))
        }
        if let before = filter.before {
            // The whole cursor condition: the page limit applies to the candidates in the deferred join.
            timeConditions.append { ts, id in "\(ts) <= ? AND (\(ts) < ? OR \(id) < ?)" }
            timeArguments += [.int(before.timestampMicros), .int(before.timestampMicros), .int(before.id)]
            newest = min(newest ?? Int64.max, before.timestampMicros)
        }
        func time(_ ts: String, _ id: String) -> String { timeConditions.map { " AND " + $0(ts, id) }.joined() }
        // The hours to probe: those stored, within the filter's time range. SQLite's two-argument MAX/MIN return
        // NULL when event_names is empty, and then no hour is probed.
        let lowHour = filter.fromMicros.map { $0 / Self.hourMicros } ?? 0
        let highHour = newest.map { max($0, 0) / Self.hourMicros } ?? Int64.max
        let with = """
            WITH RECURSIVE name_hours(hour) AS (
                SELECT lo FROM (SELECT MAX((SELECT MIN(hour) FROM event_names), ?) AS lo,
                    MIN((SELECT MAX(hour) FROM event_names), ?) AS hi) WHERE lo <= hi
                UNION ALL
                SELECT hour + 1 FROM name_hours WHERE hour < MIN((SELECT MAX(hour) FROM event_names), ?)),
            name_keys AS MATERIALIZED (
                SELECT n.ts_us AS ts_us, n.id AS id FROM name_hours h
                    JOIN event_names n ON n.hour = h.hour AND \(name.sql(on: "n."))\(time("n.ts_us", "n.id"))
                UNION ALL
                SELECT +t.ts_us, t.id FROM events t
                    WHERE t.id > (SELECT merged_through FROM name_index_state) AND \(name.sql(on: "t."))\(time("+t.ts_us", "t.id")))
            """
        return Candidates(
            with: with,
            arguments: [.int(lowHour), .int(highHour), .int(highHour)]
                + name.arguments + timeArguments + name.arguments + timeArguments)
    }
}

extension QueryStore {
    /// Entries in the name index's sorted part, and events in its tail (not merged yet). For tests and the benchmark.
    package func nameIndexCounts() async throws(QueryStoreError) -> (sorted: Int, tail: Int) {
        try await self.read("counting the name index") { db in
            let sorted = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM event_names") ?? 0
            let tail = try Int.fetchOne(
                db, sql: "SELECT COUNT(*) FROM events WHERE id > (SELECT merged_through FROM name_index_state)") ?? 0
            return (sorted, tail)
        }
    }

    /// Runs `sql` on the writer connection, in a transaction. For tests that put a database back into an older
    /// shape or an odd state the writer would never leave it in.
    package func executeForTesting(_ sql: String) async throws(QueryStoreError) {
        try await self.write("running test SQL") { db in try db.execute(sql: sql) }
    }
}
