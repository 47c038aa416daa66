import DNSPipeline
import Foundation
import Incidents
import Logging
import QueryStore
import QueryStorePostgres
import ServiceLifecycle
import Synchronization

/// The query-event side: sinks for the pipeline, services that drain them.
///
/// Fan-out: the query-log stage counts each query in one bounded ``QueryEventBuffer`` (on the DNS path a hash, a
/// lock and a lookup; a repeat within the aggregation window keeps nothing); its drain task builds each row's
/// event once and offers it to every sink in turn. Each sink has
/// its own bounded queue or does O(1) work, so a slow consumer (a full disk, a stalled stdout pipe, a webhook
/// receiver that is down) drops and counts its own events and never blocks the others or resolution:
/// - the SQLite ``QueryLogWriter`` (`queryLog.store`),
/// - the ``JSONEventExporter`` (`export.json`),
/// - ``WorkloadQueryMetrics`` (`export.prometheus`, only when another sink is on),
/// - the ``IncidentMonitor`` feeding the ``IncidentWebhookService`` (`incidents.webhooks`).
final class QueryLogComponents: Sendable {
    let sinks: [any QueryEventSink]
    let buffer: QueryEventBuffer?
    let services: [any Service]
    let exporter: JSONEventExporter?

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
        var json = c.export.json
        if json == nil, let legacy = c.queryLog.jsonOutput {
            logger.warning("queryLog.jsonOutput is deprecated; use export.json.path", metadata: ["file": "\(legacy)"])
            json = JSONExportConfiguration(path: legacy)
        }
        if let json {
            do {
                let exporter = try JSONEventExporter(destination: .init(path: json.path), queueCapacity: json.queueCapacity,
                    flushInterval: .milliseconds(json.flushIntervalMilliseconds), logger: Logger(label: "palisade.export"))
                self.exporter = exporter
                sinks.append(exporter)
                services.append(exporter)
            } catch {
                throw StartupError(message: "\(error). Check export.json.path (- for standard output).")
            }
        } else {
            self.exporter = nil
        }
        let incidents = c.incidents
        if !incidents.webhooks.isEmpty {
            let targets = incidents.webhooks.map {
                WebhookTarget(url: $0.url, secret: $0.secret, headers: $0.parsedHeaders ?? [])
            }
            let webhooks = IncidentWebhookService(targets: targets,
                configuration: .init(maxAttempts: incidents.maxAttempts,
                    initialBackoff: .milliseconds(incidents.initialBackoffMilliseconds),
                    maxBackoff: .milliseconds(incidents.maxBackoffMilliseconds),
                    timeout: .milliseconds(incidents.timeoutMilliseconds), queueCapacity: incidents.queueCapacity),
                logger: Logger(label: "palisade.incidents"))
            let tracker = IncidentTracker(configuration: .init(window: .seconds(incidents.windowSeconds),
                lastQueries: incidents.lastQueries, maxWorkloads: incidents.maxWorkloads))
            sinks.append(IncidentMonitor(tracker: tracker, webhooks: webhooks))
            services.append(webhooks)
        }
        // Per-workload counters ride on the stream the other sinks need; alone they would put the query-log
        // stage back on the DNS path of a resolver configured to log nothing.
        if !sinks.isEmpty, c.export.prometheus.maxWorkloads > 0 {
            sinks.append(WorkloadQueryMetrics(maxWorkloads: c.export.prometheus.maxWorkloads))
        }
        self.sinks = sinks
        self.store = opened
        if sinks.isEmpty {
            self.buffer = nil
        } else {
            // A first block hands over the client's latest groups ahead of it: as many as an incident shows.
            let buffer = QueryEventBuffer(sinks: sinks,
                aggregationWindow: .milliseconds(c.queryLog.aggregateWindowMs),
                blockContext: incidents.webhooks.isEmpty ? QueryEventBuffer.defaultBlockContext : incidents.lastQueries,
                stormThreshold: c.queryLog.blockStormThreshold)
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


    /// SIGHUP: reopen the JSON export file (log rotation).
    func reopenOutputs() {
        self.exporter?.reopen()
    }
}

/// Drains the query-event buffer into the sinks until shutdown.
struct QueryEventBufferService: Service {
    let buffer: QueryEventBuffer

    func run() async throws {
        // `run` ends by handing everything over (`drainAll`), whether it was cancelled or shut down.
        try? await cancelWhenGracefulShutdown {
            await self.buffer.run()
        }
    }
}
