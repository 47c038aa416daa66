import Foundation
import Testing
import TestSupport

/// A fleet's query log: two `palisade serve` processes log to one PostgreSQL server (Debian's, started by
/// the test) and either one's queries can be read back from the shared database.
@Suite("Query log on PostgreSQL", .tags(.integration),
    .enabled(if: Requirements.nsdAndDig && PostgresServer.isAvailable, "needs nsd, dig and PostgreSQL"))
struct PostgresQueryLogTests {
    @Test("Two resolvers log to one PostgreSQL database; blocks and repeats are all accounted for")
    func fleetLogsToOneDatabase() async throws {
        try await withDaemons { r in
            let nsd = r.keep(try await NSDServer.start(zones: [exampleZone(["bad IN A 192.0.2.66"])]))
            let pg = r.keep(try await PostgresServer.start())
            let db = try await pg.createDatabase("fleet")
            let dir = try r.directory(prefix: "palisade-pg")
            let list = try dir.write("threats.txt", "bad.example.org\n")
            let password = try dir.write("pg-password", "unused-with-trust\n")
            let config = """
                queryLog:
                  backend: postgres
                  aggregateWindowMs: 500
                  postgres:
                    host: 127.0.0.1
                    port: \(pg.port)
                    user: \(pg.username)
                    passwordFile: \(password)
                    database: \(db)
                    tls: disable
                """
            let a = r.keep(try await PalisadeProcess.start(config: config, arguments: ["--blocklist", list],
                upstreams: ["127.0.0.1:\(nsd.port)"]))
            let b = r.keep(try await PalisadeProcess.start(config: config, arguments: ["--blocklist", list],
                upstreams: ["127.0.0.1:\(nsd.port)"]))
            for _ in 0..<5 {
                let ok = try await DigClient.dig("www.example.org", port: a.dnsPort)
                #expect(ok.status == "NOERROR", "\(ok)\n\(a.log)")
            }
            for _ in 0..<3 {
                let bad = try await DigClient.dig("bad.example.org", port: b.dnsPort)
                #expect(bad.status == "NXDOMAIN", "\(bad)\n\(b.log)")
            }
            // A graceful stop hands over the open aggregation groups and flushes the writer.
            #expect(await a.terminate(), "\(a.log)")
            #expect(await b.terminate(), "\(b.log)")
            let total = try await pg.psql("SELECT SUM(query_count) FROM events", database: db)
            #expect(total == "8", "\(a.log)\n\(b.log)")
            let blocked = try await pg.psql(
                "SELECT qname, policy_source, policy_rule, SUM(query_count) FROM events WHERE blocked = 1 GROUP BY 1, 2, 3",
                database: db)
            #expect(blocked == "bad.example.org|threats.txt|bad.example.org|3", "\(b.log)")
            let migrations = try await pg.psql("SELECT string_agg(name, ',' ORDER BY name) FROM palisade_migrations",
                database: db)
            #expect(migrations == "v1-events,v2-actions,v3-query-count,v4-other-names")
        }
    }

    @Test("An unreachable PostgreSQL server stops start-up with an error naming the database")
    func unreachableIsAStartupError() async throws {
        try await withDaemons { r in
            let dir = try r.directory(prefix: "palisade-pg-down")
            let port = try await TestNetwork.deadPort()
            let config = try dir.write("palisade.yaml", """
                queryLog:
                  backend: postgres
                  postgres: {host: 127.0.0.1, port: \(port), user: palisade, database: fleet, tls: disable}
                """)
            let check = try await ExternalTool.run(try PalisadeProcess.binary(), ["serve", "--config", config,
                "--no-default-feeds", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:9"], timeout: .seconds(30))
            #expect(check.status != 0)
            #expect(check.errorOutput.contains("postgres://palisade@127.0.0.1:\(port)/fleet"), "\(check)")
        }
    }
}
