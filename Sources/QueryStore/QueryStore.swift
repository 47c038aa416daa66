public import DNSPipeline
import CSQLiteTuning
import Foundation
import GRDB

/// The query log database: schema, batch inserts, retention deletes and the console's read queries.
///
/// On disk it is a SQLite database in WAL mode opened as a GRDB `DatabasePool`: one writer (the
/// ``QueryLogWriter`` and ``QueryLogRetentionService`` take turns) and several concurrent readers (the console),
/// which never wait for the writer. In memory (tests, `path: ":memory:"`) it is a single `DatabaseQueue`.
///
/// Every method that touches the database is `async` and runs on GRDB's own threads, so callers on the
/// cooperative pool are never blocked. Results are plain value types; GRDB types never leave this module.
public final class QueryStore: Sendable {
    /// The GRDB connection(s). `DatabasePool` on disk, `DatabaseQueue` in memory.
    let database: any DatabaseWriter
    /// The file path, or `:memory:`.
    public let path: String
    /// Events kept in the name index's tail before they are merged into its sorted part (``NameIndexSQL``).
    let nameIndexMergeRows: Int
    /// The default ``nameIndexMergeRows``: a merge then rewrites each touched leaf of the sorted part once per
    /// 262 144 events, and a name search scans at most that many tail rows (docs/storage.md).
    public static let defaultNameIndexMergeRows = 262_144

    /// SQLite's process-wide settings, applied once before the first connection opens: memory statistics off, so an
    /// SQLite allocation does not take a global mutex (Debian's build has them on and no lookaside allocator, so the
    /// writer allocates on every row). Nothing in Palisade reads the statistics. Best effort: when another part of the
    /// process opened SQLite first, the call has no effect and nothing else changes.
    private static let processSettings: Int32 = pal_sqlite_memstatus_off()

    /// Opens (creating if needed) the database at `path` and migrates it to the current schema.
    ///
    /// A new file is created readable only by its owner, since the log says who asked for what.
    ///
    /// - Parameters:
    ///   - path: Database file, or `:memory:` for a private in-memory database.
    ///   - busyTimeout: How long to wait for a lock held by another connection or process.
    ///   - maximumReaderCount: Concurrent read connections (on-disk databases only).
    ///   - nameIndexMergeRows: Tail size of the name index that triggers a merge (at least 1).
    /// - Throws: ``QueryStoreError`` `.openFailed` (with the path) or `.migrationFailed`.
    public init(
        path: String, busyTimeout: Duration = .seconds(5), maximumReaderCount: Int = 4,
        nameIndexMergeRows: Int = QueryStore.defaultNameIndexMergeRows
    ) throws(QueryStoreError) {
        _ = Self.processSettings
        self.path = path
        self.nameIndexMergeRows = max(1, nameIndexMergeRows)
        var configuration = Configuration()
        configuration.label = "palisade.querylog"
        // Below the DNS event loops. GRDB's default (user-initiated) makes libdispatch run the writer at nice -2 when
        // it may (as root), so a burst of inserts won the CPU from the threads answering queries; utility is nice 2.
        configuration.qos = .utility
        let seconds = Double(busyTimeout.components.seconds) + Double(busyTimeout.components.attoseconds) / 1e18
        configuration.busyMode = .timeout(max(0, seconds))
        configuration.maximumReaderCount = max(1, maximumReaderCount)
        configuration.prepareDatabase { db in
            // WAL + NORMAL: a commit is durable against a process crash (the WAL is written before commit
            // returns) and only the last transactions can be lost on power failure; FULL would fsync on
            // every batch for little gain in a log.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // Checkpoint every 16 384 pages (64 MiB) rather than SQLite's 1 000: a page that several batches
            // modify (index right edges, hot qname leaves) is copied into the database file once per
            // checkpoint, and the checkpoint's fsyncs are paid less often (1.5x the insert rate measured).
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 16384")
            // Truncate the WAL back to 64 MiB after a checkpoint, so one large retention pass does not leave
            // a huge -wal file behind.
            try db.execute(sql: "PRAGMA journal_size_limit = 67108864")
            if !db.configuration.readonly {
                // The writer walks four indexes per insert; 32 MiB of cache keeps their upper levels and hot
                // leaves in memory. Readers keep SQLite's 2 MiB default and lean on the OS page cache.
                try db.execute(sql: "PRAGMA cache_size = -32768")
            }
        }
        do {
            if path == ":memory:" {
                self.database = try DatabaseQueue(configuration: configuration)
            } else {
                try Self.createPrivateFile(at: path)
                self.database = try DatabasePool(path: path, configuration: configuration)
            }
        } catch let error as QueryStoreError {
            throw error
        } catch {
            throw QueryStoreError(
                code: .openFailed,
                message: "cannot open the query log database at \(path) (does the directory exist and is it"
                    + " writable, and is the file a SQLite database?)",
                underlying: error)
        }
        try self.migrate()
    }

    /// Opens the database that `configuration` describes.
    ///
    /// - Parameters:
    ///   - configuration: The store settings (path, busy timeout).
    ///   - dataDirectory: Directory a relative `configuration.path` is resolved against.
    /// - Throws: ``QueryStoreError`` `.openFailed` or `.migrationFailed`.
    public convenience init(configuration: QueryStoreConfiguration, dataDirectory: String) throws(QueryStoreError) {
        try self.init(
            path: configuration.resolvedPath(dataDirectory: dataDirectory), busyTimeout: configuration.busyTimeout)
    }

    /// A fresh private in-memory store (tests, `--no-log`).
    ///
    /// - Throws: ``QueryStoreError`` if SQLite cannot allocate the database.
    public static func inMemory(nameIndexMergeRows: Int = QueryStore.defaultNameIndexMergeRows) throws(QueryStoreError)
        -> QueryStore
    {
        try QueryStore(path: ":memory:", nameIndexMergeRows: nameIndexMergeRows)
    }

    /// The nice value of the thread that runs this store's writes (tests check that it is below the event loops').
    package func writerNiceness() async throws -> Int32 {
        try await self.database.write { _ in getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0) }
    }

    /// Creates an empty file with mode 0600 when none exists, so SQLite (which copies the database file's
    /// mode onto its -wal and -shm files) never creates a world-readable log.
    private static func createPrivateFile(at path: String) throws(QueryStoreError) {
        if FileManager.default.fileExists(atPath: path) { return }
        let created = FileManager.default.createFile(
            atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
        if !created {
            throw QueryStoreError(
                code: .openFailed,
                message: "cannot create the query log database at \(path) (does the directory exist and is it"
                    + " writable?)")
        }
    }

    private func migrate() throws(QueryStoreError) {
        do {
            try Self.migrator.migrate(self.database)
        } catch {
            throw QueryStoreError(
                code: .migrationFailed, message: "cannot migrate the query log database at \(self.path)",
                underlying: error)
        }
    }

    /// Closes every connection. Later calls on this store fail; closing twice is harmless.
    ///
    /// - Throws: ``QueryStoreError`` `.writeFailed` when a statement is still running.
    public func close() throws(QueryStoreError) {
        do {
            try self.database.close()
        } catch {
            throw QueryStoreError(code: .writeFailed, message: "cannot close \(self.path)", underlying: error)
        }
    }

    /// The stable key of a workload's identity: `kind:id` (`container:3f2a…`, `pod:5c1e…`).
    ///
    /// Each event refers to the identity captured when the query was answered. A new container that reuses
    /// an IP address has a different id and so a different key: old events keep their workload.
    public static func workloadKey(for workload: Workload) -> String {
        "\(workload.kind.rawValue):\(workload.id)"
    }

    /// Runs a read on a reader connection, wrapping errors.
    func read<T: Sendable>(
        _ what: String, _ body: @Sendable @escaping (Database) throws -> T
    ) async throws(QueryStoreError) -> T {
        do {
            return try await self.database.read(body)
        } catch let error as QueryStoreError {
            throw error
        } catch {
            throw QueryStoreError(code: .readFailed, message: "\(what) failed on \(self.path)", underlying: error)
        }
    }

    /// Runs a write transaction, wrapping errors.
    func write<T: Sendable>(
        _ what: String, _ body: @Sendable @escaping (Database) throws -> T
    ) async throws(QueryStoreError) -> T {
        do {
            return try await self.database.write(body)
        } catch let error as QueryStoreError {
            throw error
        } catch {
            throw QueryStoreError(code: .writeFailed, message: "\(what) failed on \(self.path)", underlying: error)
        }
    }

    // MARK: - Maintenance

    /// Runs SQLite's `integrity_check`.
    ///
    /// - Returns: The problems found; empty when the database is sound.
    /// - Throws: ``QueryStoreError`` `.readFailed` when the check cannot run at all.
    public func integrityCheck() async throws(QueryStoreError) -> [String] {
        try await self.read("integrity check") { db in
            let lines = try String.fetchAll(db, sql: "PRAGMA integrity_check")
            return lines == ["ok"] ? [] : lines
        }
    }

    /// The names of the schema migrations applied to this database, oldest first.
    ///
    /// - Throws: ``QueryStoreError`` `.readFailed`.
    public func appliedMigrations() async throws(QueryStoreError) -> [String] {
        try await self.read("listing migrations") { db in
            let applied = try Self.migrator.appliedIdentifiers(db)
            return Self.migrationNames.filter { applied.contains($0) }
        }
    }

    /// The value of a read-only pragma on a reader connection (`journal_mode`, `synchronous`, …), for tests.
    /// `name` must be a bare identifier.
    package func pragma(_ name: String) async throws(QueryStoreError) -> String? {
        guard !name.isEmpty, name.utf8.allSatisfy({ $0 == UInt8(ascii: "_") || ($0 >= 97 && $0 <= 122) }) else {
            throw QueryStoreError(code: .invalidArgument, message: "not a pragma name: \(name)")
        }
        return try await self.read("reading pragma \(name)") { db in
            try String.fetchOne(db, sql: "PRAGMA \(name)")
        }
    }

    /// The value of a pragma on the writer connection (where `synchronous` is set for the writes), for tests.
    package func writerPragma(_ name: String) async throws(QueryStoreError) -> String? {
        guard !name.isEmpty, name.utf8.allSatisfy({ $0 == UInt8(ascii: "_") || ($0 >= 97 && $0 <= 122) }) else {
            throw QueryStoreError(code: .invalidArgument, message: "not a pragma name: \(name)")
        }
        return try await self.write("reading pragma \(name)") { db in
            try String.fetchOne(db, sql: "PRAGMA \(name)")
        }
    }

    /// Inserts `events` in one transaction and runs `beforeCommit` while it is still open: lets a test
    /// capture the files as a crash would leave them mid-transaction. Blocks the calling thread.
    package func insert(_ events: [QueryEvent], beforeCommit: () throws -> Void) throws {
        try self.database.write { db in
            try Self.insert(events, into: db, mergeNamesAfter: self.nameIndexMergeRows)
            try beforeCommit()
        }
    }

    /// Refreshes the query planner's statistics (`PRAGMA optimize`); cheap when nothing changed much.
    /// Retention calls it after each pass.
    public func optimize() async throws(QueryStoreError) {
        try await self.write("optimizing") { db in
            try db.execute(sql: "PRAGMA optimize")
        }
    }
}
