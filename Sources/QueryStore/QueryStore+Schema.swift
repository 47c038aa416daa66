import GRDB

/// The schema, as a list of named migrations.
///
/// Migrations are append-only: once a migration has shipped its SQL is never edited, because databases in
/// the field have already run it. A change is a new migration with the next name (`v2-…`). The SQL is
/// written out rather than built with GRDB's schema DSL so that what ran is exactly what is in this file,
/// whatever GRDB version builds it. The reasons for each column and index are in docs/storage.md.
extension QueryStore {
    /// Migration names, in order. Tests check that a fresh and a reopened database report exactly these.
    package static let migrationNames = ["v1-events", "v2-actions", "v3-query-count", "v4-other-names", "v5-name-index"]

    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()

        migrator.registerMigration("v1-events") { db in
            // One row per workload identity ever seen. `key` (`kind:id`) is the stable identity; `id` is a
            // small surrogate so that each event stores 8 bytes instead of a 75-byte container key (220 instead
            // of 370 bytes per event, and 1.7x the insert rate: docs/storage.md). AUTOINCREMENT: an id is never
            // handed to a second workload, even after retention prunes the first.
            try db.execute(
                sql: """
                    CREATE TABLE workloads (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        key TEXT NOT NULL UNIQUE,
                        kind TEXT NOT NULL,
                        workload_id TEXT NOT NULL,
                        name TEXT NOT NULL,
                        image TEXT,
                        labels TEXT NOT NULL DEFAULT '{}',
                        first_seen_us INTEGER NOT NULL,
                        last_seen_us INTEGER NOT NULL
                    )
                    """)
            try db.execute(sql: "CREATE INDEX workloads_last_seen ON workloads (last_seen_us)")

            // One row per answered query. `id` aliases the rowid, so rows are stored in insertion (roughly time)
            // order and appends go to the right edge of the table B-tree; no AUTOINCREMENT, which would update
            // sqlite_sequence on every insert. `workload_ref` points at workloads(id), the identity captured
            // when the query was answered, without a declared constraint: the writer upserts the workload in
            // the same transaction, and retention only deletes workloads no event refers to. `qname_rev` is
            // the name with its labels reversed (`org.example.www`), so that "everything under example.org" is
            // an index range.
            try db.execute(
                sql: """
                    CREATE TABLE events (
                        id INTEGER PRIMARY KEY,
                        ts_us INTEGER NOT NULL,
                        client_ip TEXT NOT NULL,
                        transport TEXT NOT NULL,
                        workload_ref INTEGER,
                        qname TEXT NOT NULL,
                        qname_rev TEXT NOT NULL,
                        qtype TEXT NOT NULL,
                        rcode TEXT NOT NULL,
                        answers TEXT,
                        source TEXT NOT NULL,
                        upstream TEXT,
                        policy_source TEXT,
                        policy_rule TEXT,
                        policy_action TEXT,
                        policy_trigger TEXT,
                        blocked INTEGER NOT NULL DEFAULT 0,
                        findings TEXT,
                        latency_us INTEGER NOT NULL
                    )
                    """)
            // Time ranges, newest-first paging, retention by age, the time series.
            try db.execute(sql: "CREATE INDEX events_ts ON events (ts_us)")
            // "What did this workload ask, newest first": equality on the workload, then time order.
            try db.execute(sql: "CREATE INDEX events_workload_ts ON events (workload_ref, ts_us)")
            // Blocked queries are a small fraction of all queries: a partial index holds only them, so the
            // blocked summaries read a small index and unblocked inserts do not pay for it.
            try db.execute(sql: "CREATE INDEX events_blocked_ts ON events (ts_us) WHERE blocked = 1")
            // "Who asked for evil.example, or anything under it": equality or a prefix range on the reversed
            // name, then time order.
            try db.execute(sql: "CREATE INDEX events_qname_ts ON events (qname_rev, ts_us)")
        }

        migrator.registerMigration("v2-actions") { db in
            // The audit trail of operator actions (quarantine, release, allow/deny rule changes) made through
            // the API. Few rows (people act, not packets), so one table with the id as the newest-first page
            // key; AUTOINCREMENT so that an id is never reused after rows are deleted by hand.
            try db.execute(
                sql: """
                    CREATE TABLE actions (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        ts_us INTEGER NOT NULL,
                        actor TEXT NOT NULL,
                        action TEXT NOT NULL,
                        target TEXT NOT NULL,
                        reason TEXT NOT NULL DEFAULT '',
                        detail TEXT NOT NULL DEFAULT ''
                    )
                    """)
            // "What was done to this workload or domain", newest first.
            try db.execute(sql: "CREATE INDEX actions_target_id ON actions (target, id)")
        }

        // Identical queries within the query log's aggregation window become one row (QueryEventBuffer), so a
        // row now stands for `query_count` queries. Every count in the console's summaries becomes a sum; the
        // three indexes those sums walk get the column appended so that they stay covering (no table reads).
        // Named v3 so that v2 stays free for the actions table on its branch; migrations run in this order.
        migrator.registerMigration("v3-query-count") { db in
            try db.execute(sql: "ALTER TABLE events ADD COLUMN query_count INTEGER NOT NULL DEFAULT 1")
            try db.execute(sql: "DROP INDEX events_ts")
            try db.execute(sql: "CREATE INDEX events_ts ON events (ts_us, query_count)")
            try db.execute(sql: "DROP INDEX events_workload_ts")
            try db.execute(sql: "CREATE INDEX events_workload_ts ON events (workload_ref, ts_us, query_count)")
            try db.execute(sql: "DROP INDEX events_blocked_ts")
            try db.execute(sql: "CREATE INDEX events_blocked_ts ON events (ts_us, query_count) WHERE blocked = 1")
        }

        // Queries blocked by a rule covering a subtree are grouped by the rule (QueryEventBuffer): a row then stands
        // for several names, its `qname` the first. The others (at most 16) are kept as a JSON array; NULL when none.
        // Not indexed: a name search finds such a row by its first name or by a search under the rule's domain.
        migrator.registerMigration("v4-other-names") { db in
            try db.execute(sql: "ALTER TABLE events ADD COLUMN other_names TEXT")
        }

        // The `(qname_rev, ts_us)` index dirtied a random page per event; past the writer's cache that was most of
        // a row's cost. It becomes a two-part index filled in sorted batches (NameIndexSQL, docs/storage.md).
        migrator.registerMigration("v5-name-index") { db in
            try NameIndexSQL.migrate(db)
        }

        return migrator
    }()
}
