import DNSPipeline
import Foundation
import Logging
import QueryStore
import QueryStorePostgres
import ServiceLifecycle
import Synchronization

/// The query-log side: sinks for the pipeline, services that drain them, HTTP routes that read them.
final class QueryLogComponents: Sendable {
    let sinks: [any QueryEventSink]
    let buffer: QueryEventBuffer?
    let services: [any Service]

    /// The database, for the API's reads and the audit trail; nil when `queryLog.store` is false.
    let store: (any EventStore)?

    init(configuration c: PalisadeConfiguration, logger: Logger) async throws {
        var sinks: [any QueryEventSink] = []
        var services: [any Service] = []
        var opened: (any EventStore)?
        if c.queryLog.store {
            let cfg = c.queryLog.sqlite
            let store = try await Self.openStore(c)
            opened = store
            let writer = QueryLogWriter(store: store, configuration: cfg, logger: Logger(label: "palisade.querylog"))
            sinks.append(writer)
            services.append(writer)
            services.append(QueryLogRetentionService(store: store, maxAge: cfg.maxAgeHours.map { .seconds($0 * 3600) },
                maxRows: cfg.maxRows, interval: .seconds(cfg.retentionIntervalSeconds)))
        }
        if let path = c.queryLog.jsonOutput {
            let json = try JSONEventOutput(path: path)
            sinks.append(json)
            services.append(json)
        }
        self.sinks = sinks
        self.store = opened
        if sinks.isEmpty {
            self.buffer = nil
        } else {
            let buffer = QueryEventBuffer(sinks: sinks,
                aggregationWindow: .milliseconds(c.queryLog.aggregateWindowMs))
            self.buffer = buffer
            // Registered after the sinks: it stops first and hands its last events to them.
            services.append(QueryEventBufferService(buffer: buffer))
        }
        self.services = services
    }

    /// Opens the configured backend: the SQLite file in the data directory, or the fleet's PostgreSQL database.
    static func openStore(_ c: PalisadeConfiguration) async throws -> any EventStore {
        if c.queryLog.backend == "postgres", let pg = c.queryLog.postgres {
            var password = pg.password
            if let file = pg.passwordFile {
                guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                    throw StartupError(message: "cannot read queryLog.postgres.passwordFile \(file)")
                }
                password = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
            }
            do {
                return try await PostgresEventStore(configuration: PostgresStoreConfiguration(
                    host: pg.host, port: pg.port, username: pg.user, password: password, database: pg.database,
                    tls: pg.tls, maxConnections: pg.maxConnections), logger: Logger(label: "palisade.querylog.postgres"))
            } catch {
                throw StartupError(message: "\(error). Check queryLog.postgres, or set queryLog.backend: sqlite.")
            }
        }
        let cfg = c.queryLog.sqlite
        let path = cfg.path.hasPrefix("/") ? cfg.path : c.dataDir + "/" + cfg.path
        do {
            return try QueryStore(path: path, busyTimeout: .milliseconds(cfg.busyTimeoutMilliseconds))
        } catch {
            throw StartupError(message: "cannot open the query log database \(path): \(error). "
                + "Check --data-dir, or set queryLog.store: false.")
        }
    }

}

/// Writes one JSON object per query to stdout or a file, for log shippers.
///
/// `emit` only enqueues (bounded); a background service writes. A full queue drops and counts.
final class JSONEventOutput: QueryEventSink, Service {
    private let handle: FileHandle
    private let stream: AsyncStream<QueryEvent>
    private let continuation: AsyncStream<QueryEvent>.Continuation
    private let dropped = Atomic<Int>(0)

    init(path: String, capacity: Int = 10_000) throws {
        if path == "-" {
            self.handle = FileHandle.standardOutput
        } else {
            if !FileManager.default.fileExists(atPath: path) {
                guard FileManager.default.createFile(atPath: path, contents: nil) else {
                    throw StartupError(message: "cannot create query-log JSON output \(path)")
                }
            }
            guard let h = FileHandle(forWritingAtPath: path) else {
                throw StartupError(message: "cannot open query-log JSON output \(path) for writing")
            }
            h.seekToEndOfFile()
            self.handle = h
        }
        (self.stream, self.continuation) = AsyncStream.makeStream(of: QueryEvent.self, bufferingPolicy: .bufferingOldest(capacity))
    }

    @discardableResult
    func emit(_ event: QueryEvent) -> Bool {
        if case .dropped = self.continuation.yield(event) {
            self.dropped.add(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func run() async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        await withGracefulShutdownHandler {
            for await e in self.stream {
                guard var d = try? encoder.encode(e) else { continue }
                d.append(0x0A)
                self.handle.write(d)
            }
        } onGracefulShutdown: {
            self.continuation.finish()
        }
    }
}

/// Drains the query-event buffer into the sinks until shutdown.
struct QueryEventBufferService: Service {
    let buffer: QueryEventBuffer

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            await self.buffer.run()
        }
        self.buffer.drain()
    }
}
