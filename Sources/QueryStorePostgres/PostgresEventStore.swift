public import DNSPipeline
import Foundation
public import Logging
import NIOSSL
import PostgresNIO
public import QueryStore

/// Where and how to reach the PostgreSQL server that holds a fleet's query log.
public struct PostgresStoreConfiguration: Sendable, Equatable {
    /// Server host name or address.
    public var host: String
    /// Server port.
    public var port: Int
    /// Role to log in as.
    public var username: String
    /// Its password, or nil for trust/peer authentication.
    public var password: String?
    /// Database name.
    public var database: String
    /// `disable`, `prefer` or `require` (TLS with the system's trust roots).
    public var tls: String
    /// Most connections the store opens.
    public var maxConnections: Int

    /// Creates a configuration.
    public init(host: String, port: Int = 5432, username: String, password: String? = nil, database: String,
        tls: String = "prefer", maxConnections: Int = 8)
    {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
        self.maxConnections = maxConnections
    }
}

/// The query log on PostgreSQL: the schema, migrations, inserts and retention of ``QueryStore``, and the very
/// same read queries (``EventQueries``), so that several resolvers can log to one database and one console
/// can search all of them.
///
/// Differences from SQLite, all in this file: column types (`BIGSERIAL`, `BIGINT`), `qname_rev` compared with
/// `COLLATE "C"` (bytewise, as SQLite compares text, which the name-range searches rely on), `ILIKE` for the
/// case-insensitive workload-name filter, migrations serialised across resolvers with an advisory lock, and
/// batch inserts as multi-row `INSERT`s (one round trip per 500 events).
public final class PostgresEventStore: EventStore, SQLReader {
    /// The schema migrations, in order (the same names as SQLite's).
    public static let migrationNames = ["v1-events", "v2-actions", "v3-query-count", "v4-other-names"]

    private let client: PostgresClient
    private let runner: Task<Void, Never>
    private let logger: Logger
    /// `postgres://user@host:port/database`.
    public let location: String

    /// Connects, and migrates the database to the current schema.
    ///
    /// - Throws: ``QueryStoreError`` `.openFailed` (unreachable, bad credentials, bad TLS mode) or
    ///   `.migrationFailed`.
    public init(configuration c: PostgresStoreConfiguration, logger: Logger = Logger(label: "palisade.querylog.postgres"))
        async throws(QueryStoreError)
    {
        self.location = "postgres://\(c.username)@\(c.host):\(c.port)/\(c.database)"
        self.logger = logger
        let tls: PostgresClient.Configuration.TLS
        switch c.tls {
        case "disable": tls = .disable
        case "prefer": tls = .prefer(.makeClientConfiguration())
        case "require": tls = .require(.makeClientConfiguration())
        default:
            throw QueryStoreError(
                code: .openFailed, message: "queryLog.postgres.tls must be disable, prefer or require, got \(c.tls)")
        }
        // The pool retries a refused connection for a minute before failing a query; one direct connection
        // first makes an unreachable server or bad credentials a start-up error within seconds.
        try await Self.probe(c, location: self.location, logger: logger)
        var configuration = PostgresClient.Configuration(
            host: c.host, port: c.port, username: c.username, password: c.password, database: c.database, tls: tls)
        configuration.options.maximumConnections = max(1, c.maxConnections)
        configuration.options.connectTimeout = .seconds(5)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.runner = Task { await client.run() }
        do {
            try await self.migrate()
        } catch {
            self.runner.cancel()
            throw error
        }
    }

    private static func probe(_ c: PostgresStoreConfiguration, location: String, logger: Logger)
        async throws(QueryStoreError)
    {
        do {
            let tls: PostgresConnection.Configuration.TLS
            switch c.tls {
            case "disable": tls = .disable
            case "require": tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            default: tls = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
            }
            var configuration = PostgresConnection.Configuration(
                host: c.host, port: c.port, username: c.username, password: c.password, database: c.database, tls: tls)
            configuration.options.connectTimeout = .seconds(5)
            let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
            try await connection.close()
        } catch {
            throw QueryStoreError(
                code: .openFailed,
                message: "cannot connect to the query log database \(location) (is the server up, and are the host, "
                    + "port, user, password and database right?)",
                underlying: error)
        }
    }

    /// Closes the connections. Later calls fail.
    public func close() {
        self.runner.cancel()
    }

    deinit {
        self.runner.cancel()
    }

    // MARK: - Statements

    /// `?` placeholders become `$1`, `$2`, … (the shared SQL has no `?` anywhere else).
    static func numbered(_ sql: String) -> String {
        var out = ""
        out.reserveCapacity(sql.utf8.count + 16)
        var n = 0
        for c in sql {
            if c == "?" {
                n += 1
                out += "$\(n)"
            } else {
                out.append(c)
            }
        }
        return out
    }

    static func query(_ sql: String, _ arguments: [SQLValue]) -> PostgresQuery {
        var binds = PostgresBindings(capacity: arguments.count)
        for a in arguments {
            switch a {
            case .int(let i): binds.append(i)
            case .text(let s): binds.append(s)
            case .null: binds.appendNull()
            }
        }
        return PostgresQuery(unsafeSQL: Self.numbered(sql), binds: binds)
    }

    static func cells(_ row: PostgresRow) throws -> CellRow {
        var cells: [SQLValue] = []
        cells.reserveCapacity(row.count)
        for cell in row {
            guard cell.bytes != nil else {
                cells.append(.null)
                continue
            }
            switch cell.dataType {
            case .int2, .int4, .int8: cells.append(.int(try cell.decode(Int64.self)))
            default: cells.append(.text(try cell.decode(String.self)))
            }
        }
        return CellRow(cells)
    }

    private static func collect(_ rows: PostgresRowSequence) async throws -> [CellRow] {
        var out: [CellRow] = []
        for try await row in rows { out.append(try Self.cells(row)) }
        return out
    }

    package func fetch(_ sql: String, _ arguments: [SQLValue], what: String) async throws(QueryStoreError) -> [CellRow] {
        do {
            return try await Self.collect(try await self.client.query(Self.query(sql, arguments), logger: self.logger))
        } catch {
            throw QueryStoreError(code: .readFailed, message: "\(what) failed on \(self.location)", underlying: error)
        }
    }

    package func fetch(batch: [(sql: String, arguments: [SQLValue])], what: String) async throws(QueryStoreError)
        -> [[CellRow]]
    {
        do {
            // One leased connection for the whole batch instead of a pool round trip per statement.
            return try await self.client.withConnection { connection in
                var results: [[CellRow]] = []
                results.reserveCapacity(batch.count)
                for s in batch { results.append(try await self.run(connection, s.sql, s.arguments)) }
                return results
            }
        } catch {
            throw QueryStoreError(code: .readFailed, message: "\(what) failed on \(self.location)", underlying: error)
        }
    }

    private func write<T: Sendable>(_ what: String, _ body: (PostgresConnection) async throws -> T)
        async throws(QueryStoreError) -> T
    {
        do {
            return try await self.client.withTransaction(logger: self.logger) { connection in
                try await body(connection)
            }
        } catch {
            throw QueryStoreError(code: .writeFailed, message: "\(what) failed on \(self.location)", underlying: error)
        }
    }

    private func run(_ connection: PostgresConnection, _ sql: String, _ arguments: [SQLValue] = []) async throws
        -> [CellRow]
    {
        try await Self.collect(try await connection.query(Self.query(sql, arguments), logger: self.logger))
    }

    // MARK: - Schema

    /// Each migration's statements. Append-only, like SQLite's (QueryStore+Schema.swift), with the same names.
    static let migrations: [(name: String, statements: [String])] = [
        (
            "v1-events",
            [
                """
                CREATE TABLE workloads (
                    id BIGSERIAL PRIMARY KEY,
                    key TEXT NOT NULL UNIQUE,
                    kind TEXT NOT NULL,
                    workload_id TEXT NOT NULL,
                    name TEXT NOT NULL,
                    image TEXT,
                    labels TEXT NOT NULL DEFAULT '{}',
                    first_seen_us BIGINT NOT NULL,
                    last_seen_us BIGINT NOT NULL
                )
                """,
                "CREATE INDEX workloads_last_seen ON workloads (last_seen_us)",
                """
                CREATE TABLE events (
                    id BIGSERIAL PRIMARY KEY,
                    ts_us BIGINT NOT NULL,
                    client_ip TEXT NOT NULL,
                    transport TEXT NOT NULL,
                    workload_ref BIGINT,
                    qname TEXT NOT NULL,
                    qname_rev TEXT COLLATE "C" NOT NULL,
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
                    latency_us BIGINT NOT NULL
                )
                """,
                "CREATE INDEX events_ts ON events (ts_us)",
                "CREATE INDEX events_workload_ts ON events (workload_ref, ts_us)",
                "CREATE INDEX events_blocked_ts ON events (ts_us) WHERE blocked = 1",
                "CREATE INDEX events_qname_ts ON events (qname_rev, ts_us)",
            ]
        ),
        (
            "v2-actions",
            [
                """
                CREATE TABLE actions (
                    id BIGSERIAL PRIMARY KEY,
                    ts_us BIGINT NOT NULL,
                    actor TEXT NOT NULL,
                    action TEXT NOT NULL,
                    target TEXT NOT NULL,
                    reason TEXT NOT NULL DEFAULT '',
                    detail TEXT NOT NULL DEFAULT ''
                )
                """,
                "CREATE INDEX actions_target_id ON actions (target, id)",
            ]
        ),
        (
            "v3-query-count",
            [
                "ALTER TABLE events ADD COLUMN query_count BIGINT NOT NULL DEFAULT 1",
                "DROP INDEX events_ts",
                "CREATE INDEX events_ts ON events (ts_us, query_count)",
                "DROP INDEX events_workload_ts",
                "CREATE INDEX events_workload_ts ON events (workload_ref, ts_us, query_count)",
                "DROP INDEX events_blocked_ts",
                "CREATE INDEX events_blocked_ts ON events (ts_us, query_count) WHERE blocked = 1",
            ]
        ),
        ("v4-other-names", ["ALTER TABLE events ADD COLUMN other_names TEXT"]),
    ]

    private func migrate() async throws(QueryStoreError) {
        do {
            try await self.client.withTransaction(logger: self.logger) { connection in
                // Several resolvers may start at once against one database: one migrates, the others wait
                // here and then find nothing left to do.
                _ = try await self.run(connection, "SELECT pg_advisory_xact_lock(7061746973616465)")
                _ = try await self.run(
                    connection,
                    "CREATE TABLE IF NOT EXISTS palisade_migrations (name TEXT PRIMARY KEY, applied_us BIGINT NOT NULL)")
                let applied = Set(try await self.run(connection, "SELECT name FROM palisade_migrations").compactMap {
                    $0.text(0)
                })
                for m in Self.migrations where !applied.contains(m.name) {
                    for statement in m.statements { _ = try await self.run(connection, statement) }
                    _ = try await self.run(
                        connection, "INSERT INTO palisade_migrations (name, applied_us) VALUES (?, ?)",
                        [.text(m.name), .int(Int64(Date().timeIntervalSince1970 * 1_000_000))])
                }
            }
        } catch {
            throw QueryStoreError(
                code: .migrationFailed, message: "cannot connect to or migrate the query log database \(self.location)",
                underlying: error)
        }
    }

    public func appliedMigrations() async throws(QueryStoreError) -> [String] {
        let applied = Set(try await self.fetch("SELECT name FROM palisade_migrations", [], what: "listing migrations")
            .compactMap { $0.text(0) })
        return Self.migrationNames.filter { applied.contains($0) }
    }

    /// PostgreSQL checks its own pages; there is no `integrity_check`. Reports a problem only when the server
    /// does not answer.
    public func integrityCheck() async throws(QueryStoreError) -> [String] {
        let ok = try await self.fetch("SELECT 1", [], what: "checking the connection").first?.int(0) == 1
        return ok ? [] : ["the server did not answer SELECT 1"]
    }

    // MARK: - Writes

    /// Events per multi-row INSERT: 500 × 19 parameters stays well under PostgreSQL's 65 535.
    static let insertChunk = 500

    public func insert(_ events: [QueryEvent]) async throws(QueryStoreError) {
        if events.isEmpty { return }
        try await self.write("inserting \(events.count) events") { connection in
            var refs: [String: Int64] = [:]
            for w in StoreSQL.batchWorkloads(events) {
                let rows = try await self.run(
                    connection, StoreSQL.upsertWorkload,
                    StoreSQL.workloadValues(key: w.key, workload: w.workload, first: w.first, last: w.last))
                guard let id = rows.first?.int(0) else {
                    throw QueryStoreError(code: .writeFailed, message: "upserting workload \(w.key) returned no id")
                }
                refs[w.key] = id
            }
            var start = 0
            while start < events.count {
                let chunk = events[start..<min(start + Self.insertChunk, events.count)]
                let row = "(" + Array(repeating: "?", count: StoreSQL.eventColumnCount).joined(separator: ", ") + ")"
                let sql = "INSERT INTO events (\(StoreSQL.eventColumns)) VALUES "
                    + Array(repeating: row, count: chunk.count).joined(separator: ", ")
                var values: [SQLValue] = []
                values.reserveCapacity(chunk.count * StoreSQL.eventColumnCount)
                for event in chunk {
                    values += StoreSQL.eventValues(
                        event, workloadRef: event.workload.flatMap { refs[QueryStore.workloadKey(for: $0)] },
                        findings: event.findings.isEmpty ? nil : JSONText.encodeFindings(event.findings))
                }
                _ = try await self.run(connection, sql, values)
                start += chunk.count
            }
        }
    }

    private func deleted(_ what: String, _ sql: String, _ arguments: [SQLValue]) async throws(QueryStoreError) -> Int {
        try await self.write(what) { connection in
            // A data-modifying CTE reports the count (SQLite has changes(); PostgreSQL has RETURNING).
            Int(try await self.run(connection, "WITH d AS (\(sql) RETURNING 1) SELECT COUNT(*) FROM d", arguments)
                .first?.int(0) ?? 0)
        }
    }

    public func deleteEvents(olderThanMicros cutoffMicros: Int64, limit: Int) async throws(QueryStoreError) -> Int {
        try await self.deleted(
            "deleting events by age", StoreSQL.deleteEventsByAge, [.int(cutoffMicros), .int(Int64(limit))])
    }

    public func deleteEvents(upToID id: Int64, limit: Int) async throws(QueryStoreError) -> Int {
        try await self.deleted(
            "deleting events over the row cap", StoreSQL.deleteEventsUpToID, [.int(id), .int(Int64(limit))])
    }

    public func newestEventID() async throws(QueryStoreError) -> Int64? {
        try await self.fetch("SELECT MAX(id) FROM events", [], what: "reading the newest event id").first?.int(0)
    }

    public func pruneWorkloads(limit: Int) async throws(QueryStoreError) -> Int {
        let oldest = try await self.fetch("SELECT MIN(ts_us) FROM events", [], what: "pruning workloads").first?.int(0)
        return try await self.deleted(
            "pruning workloads", StoreSQL.pruneWorkloads, [.int(oldest ?? Int64.max), .int(Int64(limit))])
    }

    /// Refreshes the planner's statistics on the events table (`ANALYZE`), as SQLite's `PRAGMA optimize`.
    public func optimize() async throws(QueryStoreError) {
        _ = try await self.fetch("ANALYZE events", [], what: "analyzing")
    }

    // MARK: - Audit trail

    @discardableResult
    public func recordAction(_ record: ActionRecord) async throws(QueryStoreError) -> Int64 {
        let rows = try await self.write("recording an action") { connection in
            try await self.run(connection, ActionQueries.insert, ActionQueries.values(record))
        }
        guard let id = rows.first?.int(0) else {
            throw QueryStoreError(code: .writeFailed, message: "recording an action returned no id")
        }
        return id
    }

    public func actions(limit: Int, beforeID: Int64?, target: String?) async throws(QueryStoreError) -> [ActionRecord] {
        try await ActionQueries.list(limit: limit, beforeID: beforeID, target: target, on: self)
    }

    // MARK: - Reads (the shared queries)

    public func search(_ filter: EventFilter) async throws(QueryStoreError) -> EventPage {
        try await EventQueries.search(filter, on: self, caseInsensitiveLike: "ILIKE")
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
}
