import GRDB

/// The schema, as a list of named migrations.
///
/// Migrations are append-only: once a migration has shipped its SQL is never edited, because databases in
/// the field have already run it. A change is a new migration with the next name (`v2-…`). The SQL is
/// written out rather than built with GRDB's schema DSL so that what ran is exactly what is in this file,
/// whatever GRDB version builds it. The reasons for each column and index are in docs/storage.md.
extension QueryStore {
    /// Migration names, in order. Tests check that a fresh and a reopened database report exactly these.
    static let migrationNames = ["v1-events"]

    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()

        migrator.registerMigration("v1-events") { db in
            // One row per workload identity ever seen. WITHOUT ROWID: the text key is the only lookup path,
            // so storing the row in the key's B-tree avoids a second (rowid) tree.
            try db.execute(
                sql: """
                    CREATE TABLE workloads (
                        key TEXT NOT NULL PRIMARY KEY,
                        kind TEXT NOT NULL,
                        workload_id TEXT NOT NULL,
                        name TEXT NOT NULL,
                        image TEXT,
                        labels TEXT NOT NULL DEFAULT '{}',
                        first_seen_us INTEGER NOT NULL,
                        last_seen_us INTEGER NOT NULL
                    ) WITHOUT ROWID
                    """)
            try db.execute(sql: "CREATE INDEX workloads_last_seen ON workloads (last_seen_us)")

            // One row per answered query. `id` aliases the rowid (appends go to the right edge of the table
            // B-tree); no AUTOINCREMENT, which would update sqlite_sequence on every insert. `workload_key`
            // references workloads(key) without a declared constraint: the writer upserts the workload in the
            // same transaction, and retention only deletes workloads no event references.
            try db.execute(
                sql: """
                    CREATE TABLE events (
                        id INTEGER PRIMARY KEY,
                        ts_us INTEGER NOT NULL,
                        client_ip TEXT NOT NULL,
                        transport TEXT NOT NULL,
                        workload_key TEXT,
                        qname TEXT NOT NULL,
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
            // Time range scans, retention by age, the time series and "newest first" paging.
            try db.execute(sql: "CREATE INDEX events_ts ON events (ts_us)")
            // "What did this workload ask, newest first": equality on the key, then the time order.
            try db.execute(sql: "CREATE INDEX events_workload_ts ON events (workload_key, ts_us)")
            // Blocked queries are a small fraction of all queries: a partial index holds only them, so the
            // dashboard's blocked summaries read a small index and unblocked inserts do not pay for it.
            try db.execute(sql: "CREATE INDEX events_blocked_ts ON events (ts_us) WHERE blocked = 1")
            // "Who asked for evil.example": equality on the name, then the time order.
            try db.execute(sql: "CREATE INDEX events_qname_ts ON events (qname, ts_us)")
        }

        return migrator
    }()
}
