import DNSPipeline
import Foundation
import Logging
import QueryStore
import QueryStorePostgres
import TestSupport
import Testing

/// The query log on a real PostgreSQL server from Debian (started per suite run by the test), checked
/// against the SQLite store: same events in, same answers out.
@Suite(.serialized, .enabled(if: PostgresServer.isAvailable, "PostgreSQL is not installed (scripts/test.sh installs it)"))
struct PostgresEventStoreTests {
    static let t0: Int64 = 1_700_000_000_000_000

    static func event(_ offset: Int64, ip: String = "10.0.0.5", workload: Workload? = nil, qname: String,
        qtype: String = "A", rcode: String = "NOERROR", blockedBy rule: String? = nil, count: Int = 1) -> QueryEvent
    {
        QueryEvent(
            timestampMicros: Self.t0 + offset, clientIP: ip, transport: "udp", workload: workload, qname: qname,
            qtype: qtype, rcode: rule == nil ? rcode : "NXDOMAIN", answers: rule == nil ? ["A 192.0.2.1"] : [],
            source: rule == nil ? "cache" : "policy", upstream: nil,
            policy: rule.map { PolicyHit(source: "urlhaus", rule: $0, action: "nxdomain", trigger: "qname") },
            findings: [], latencyMicros: 100 + offset % 7, count: count)
    }

    /// A varied log: two containers (one renamed mid-way), a pod, unidentified clients, blocks, repeats,
    /// names with `_` and `%`, upper case, and a second-long spread for the time series.
    static var corpus: [QueryEvent] {
        let web = Workload(kind: .container, id: "c-web", name: "web-1", image: "localhost/bb:1", labels: ["app": "web"])
        let webRenamed = Workload(kind: .container, id: "c-web", name: "web-renamed", image: "localhost/bb:1",
            labels: ["app": "web", "tier": "front"])
        let job = Workload(kind: .container, id: "c-job", name: "Batch_Job", image: nil, labels: [:])
        let pod = Workload(kind: .pod, id: "uid-1", name: "prod/api-7d9", image: "api:2", labels: ["palisade.owner": "Deployment/api"])
        var out: [QueryEvent] = []
        for i in 0..<60 {
            let o = Int64(i) * 250_000
            switch i % 6 {
            case 0: out.append(Self.event(o, workload: web, qname: "api.example.org", count: 1 + i))
            case 1: out.append(Self.event(o, workload: i > 30 ? webRenamed : web, qname: "x\(i).evil.example", blockedBy: "*.evil.example"))
            case 2: out.append(Self.event(o, ip: "10.0.0.9", workload: job, qname: "_dmarc.example.org", qtype: "TXT"))
            case 3: out.append(Self.event(o, ip: "10.0.0.77", qname: "100%.example.net", rcode: "SERVFAIL"))
            case 4: out.append(Self.event(o, ip: "10.1.0.3", workload: pod, qname: "db.prod.svc.cluster.local", qtype: "AAAA", count: 3))
            default: out.append(Self.event(o, ip: "10.0.0.78", qname: "c2.evil.example", blockedBy: "c2.evil.example", count: 5))
            }
        }
        return out
    }

    static let filters: [EventFilter] = [
        EventFilter(),
        EventFilter(limit: 7),
        EventFilter(workloadKey: "container:c-web"),
        EventFilter(workloadName: "batch_job"),
        EventFilter(workloadName: "WEB"),
        EventFilter(clientIP: "10.0.0.77"),
        EventFilter(qname: NamePattern("api.example.org")),
        EventFilter(qname: NamePattern("*.evil.example")),
        EventFilter(qname: NamePattern("*.example.org")),
        EventFilter(qtype: "txt"),
        EventFilter(rcode: "servfail"),
        EventFilter(blockedOnly: true),
        EventFilter(source: "policy"),
        EventFilter(fromMicros: t0 + 5_000_000, untilMicros: t0 + 9_000_000),
        EventFilter(workloadKey: "container:c-web", blockedOnly: true, fromMicros: t0 + 1),
        EventFilter(limit: 5, before: EventCursor(timestampMicros: t0 + 7_500_000, id: 31)),
    ]

    @Test("Migrations apply once; a second resolver on the same database finds nothing left to do")
    func migrations() async throws {
        try await TestResources.with { r in
            let pg = try await r.keep(PostgresServer.start())
            let db = try await pg.createDatabase("migrations")
            let config = PostgresStoreConfiguration(host: "127.0.0.1", port: pg.port, username: pg.username,
                database: db, tls: "disable")
            // Two resolvers starting together: the advisory lock lets one migrate while the other waits.
            async let a = PostgresEventStore(configuration: config)
            async let b = PostgresEventStore(configuration: config)
            let (first, second) = try await (a, b)
            #expect(try await first.appliedMigrations() == PostgresEventStore.migrationNames)
            #expect(try await second.appliedMigrations() == PostgresEventStore.migrationNames)
            #expect(try await pg.psql("SELECT COUNT(*) FROM palisade_migrations", database: db) == "\(PostgresEventStore.migrationNames.count)")
            // The name index compares bytewise, as SQLite does: the subdomain ranges depend on it.
            #expect(try await pg.psql(
                "SELECT collation_name FROM information_schema.columns WHERE table_name = 'events' AND column_name = 'qname_rev'",
                database: db) == "C")
            first.close()
            second.close()
        }
    }

    @Test("The same events give the same answers from PostgreSQL as from SQLite, for every read query")
    func parityWithSQLite() async throws {
        try await TestResources.with { r in
            let pg = try await r.keep(PostgresServer.start())
            let db = try await pg.createDatabase("parity")
            let postgres = try await PostgresEventStore(configuration: PostgresStoreConfiguration(
                host: "127.0.0.1", port: pg.port, username: pg.username, database: db, tls: "disable"))
            defer { postgres.close() }
            let sqlite = try QueryStore.inMemory()
            let events = Self.corpus
            // Two batches, as the writer would: workloads are upserted across them.
            for store in [sqlite as any EventStore, postgres] {
                try await store.insert(Array(events.prefix(25)))
                try await store.insert(Array(events.dropFirst(25)))
            }

            for filter in Self.filters {
                let a = try await sqlite.search(filter)
                let b = try await postgres.search(filter)
                #expect(a == b, "search \(filter)")
                #expect(!a.events.isEmpty, "filter \(filter) should match something in the corpus")
            }
            #expect(try await sqlite.workloads(activeSinceMicros: 0) == postgres.workloads(activeSinceMicros: 0))
            #expect(try await sqlite.workload(key: "container:c-web") == postgres.workload(key: "container:c-web"))
            #expect(try await postgres.workload(key: "container:c-web")?.workload.name == "web-renamed")
            #expect(try await postgres.workload(key: "container:nope") == nil)
            for since in [Int64(0), Self.t0 + 10_000_000] {
                #expect(try await sqlite.blockedSummary(sinceMicros: since) == postgres.blockedSummary(sinceMicros: since))
                #expect(try await sqlite.topBlockedDomains(sinceMicros: since) == postgres.topBlockedDomains(sinceMicros: since))
                #expect(try await sqlite.topWorkloads(sinceMicros: since) == postgres.topWorkloads(sinceMicros: since))
            }
            #expect(try await sqlite.timeSeries(sinceMicros: Self.t0, bucket: .seconds(2))
                == postgres.timeSeries(sinceMicros: Self.t0, bucket: .seconds(2)))
            for store in [sqlite as any EventStore, postgres] {
                for (i, action) in ["quarantine", "deny-add", "release"].enumerated() {
                    let id = try await store.recordAction(ActionRecord(timestampMicros: Self.t0 + Int64(i), actor: "ops",
                        action: action, target: i == 1 ? "evil.example" : "container:c-web", reason: "ticket \(i)"))
                    #expect(id == Int64(i + 1))
                }
            }
            #expect(try await postgres.actions(limit: 10, beforeID: nil, target: "container:c-web").map(\.action)
                == ["release", "quarantine"])
            #expect(try await sqlite.actions(limit: 10, beforeID: 3, target: nil)
                == postgres.actions(limit: 10, beforeID: 3, target: nil))

            let counts = try await postgres.counts()
            #expect(counts == (try await sqlite.counts()))
            #expect(counts.events == 60)
            #expect(counts.queries == events.reduce(0) { $0 + $1.count })
        }
    }

    @Test("Retention deletes by age and by row cap on PostgreSQL and prunes orphaned workloads")
    func retention() async throws {
        try await TestResources.with { r in
            let pg = try await r.keep(PostgresServer.start())
            let db = try await pg.createDatabase("retention")
            let store = try await PostgresEventStore(configuration: PostgresStoreConfiguration(
                host: "127.0.0.1", port: pg.port, username: pg.username, database: db, tls: "disable"))
            defer { store.close() }
            try await store.insert(Self.corpus)
            // Events are 250 ms apart: everything before t0 + 5 s is the first 20.
            let service = QueryLogRetentionService(
                store: store, maxAge: .seconds(10), maxRows: 30, interval: .seconds(3600),
                now: { Self.t0 + 15_000_000 })
            let report = try await service.runOnce()
            #expect(report.deletedByAge == 20)
            #expect(report.deletedByRowCap == 10)
            let counts = try await store.counts()
            #expect(counts.events == 30)
            #expect(counts.oldestMicros == Self.t0 + 30 * 250_000)
            // Every workload still has events (each recurs every sixth event), so none was pruned; a workload
            // whose events all went is pruned.
            #expect(try await store.workload(key: "container:c-job") != nil)
            try await store.insert([Self.event(-1_000_000, workload: Workload(kind: .container, id: "gone", name: "gone"),
                qname: "old.example")])
            #expect(try await store.workload(key: "container:gone") != nil)
            #expect(try await service.runOnce().prunedWorkloads == 1)
            #expect(try await store.workload(key: "container:gone") == nil)
        }
    }

    @Test("The query-log writer writes to PostgreSQL through the same sink interface")
    func writer() async throws {
        try await TestResources.with { r in
            let pg = try await r.keep(PostgresServer.start())
            let db = try await pg.createDatabase("writer")
            let store = try await PostgresEventStore(configuration: PostgresStoreConfiguration(
                host: "127.0.0.1", port: pg.port, username: pg.username, database: db, tls: "disable"))
            defer { store.close() }
            let writer = QueryLogWriter(store: store, batchSize: 100, logger: Logger(label: "test"))
            for e in Self.corpus { #expect(writer.emit(e)) }
            await writer.flush()
            #expect(writer.statistics.written == 60)
            #expect(try await pg.psql("SELECT SUM(query_count) FROM events", database: db)
                == "\(Self.corpus.reduce(0) { $0 + $1.count })")
        }
    }

    @Test("An unreachable server is a clear error naming the database, not a crash or a hang")
    func unreachable() async throws {
        let port = try await TestNetwork.deadPort()
        let error = await #expect(throws: QueryStoreError.self) {
            _ = try await PostgresEventStore(configuration: PostgresStoreConfiguration(
                host: "127.0.0.1", port: port, username: "palisade", database: "nowhere", tls: "disable"))
        }
        #expect(error?.description.contains("postgres://palisade@127.0.0.1:\(port)/nowhere") == true)
        let badTLS = await #expect(throws: QueryStoreError.self) {
            _ = try await PostgresEventStore(configuration: PostgresStoreConfiguration(
                host: "127.0.0.1", port: port, username: "palisade", database: "x", tls: "sometimes"))
        }
        #expect(badTLS?.description.contains("tls") == true)
    }
}
