import Foundation
import QueryStore
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The acceptance test: `kill -9` while the query log is being written leaves a database that opens
/// cleanly and holds every event Palisade counted as logged, less at most one batch.
///
/// Design, so that the bound is exact rather than a guess:
/// 1. `palisade serve` logs to SQLite in a temporary `--data-dir` with `batchSize` 200 and a 100 ms flush
///    interval; NSD is the upstream. The cached mix is primed with one `dig` per name.
/// 2. `dnsperf` drives the cached mix for 3 s, then stops (its last answers arrive within its 1 s timeout).
/// 3. The test scrapes `/metrics` every few milliseconds for A = `palisade_queries_total` (every query the
///    metrics stage answered; the query-log stage wraps it, so each one was also offered to the log),
///    D = `palisade_querylog_buffer_dropped_total` + `palisade_querylog_dropped_total` (events Palisade
///    counted as lost) and W = `palisade_querylog_written_queries_total` (queries that committed rows stand for:
///    identical queries are folded into one row per aggregation window, so a row counts `query_count`). As soon
///    as the backlog A − D − W is at most one batch, it sends SIGKILL to the PID at once. The load has
///    stopped, so A and D are final; the writer may still hold that last batch, queued or in its open
///    transaction, when the process dies.
/// 4. It opens the database with `QueryStore` (which runs the migrator): `PRAGMA integrity_check` is ok,
///    the migrations are recorded, and the queries E = SUM(query_count) satisfy W ≤ E ≤ A − D (a committed
///    transaction survives the crash in the WAL; nothing is invented), hence A − D − E ≤ one batch.
/// A kill that lands after the last commit gives E = A − D exactly; one that lands mid-transaction loses
/// that transaction only. Both satisfy the bound; the test prints which happened.
@Suite("kill -9 while logging", .tags(.integration),
    .enabled(if: Requirements.nsdAndDig && TestBinaries.has("dnsperf"), "needs nsd, dig and dnsperf (scripts/test.sh installs them)"))
struct KillNineTests {
    static let batchSize = 200

    @Test("After kill -9 the query log opens cleanly and holds the answered queries less the dropped, within one batch")
    func killNine() async throws {
        try await withDaemons { r in
            let nsd = r.keep(try await NSDServer.start(zones: [exampleZone()]))
            let config = """
                queryLog:
                  store: true
                  aggregateWindowMs: 2000
                  sqlite:
                    batchSize: \(Self.batchSize)
                    flushIntervalMilliseconds: 100
                """
            let palisade = r.keep(try await PalisadeProcess.start(config: config, upstreams: ["127.0.0.1:\(nsd.port)"]))
            let httpPort = try #require(palisade.httpPort)
            let mix = [("www.example.org", "A"), ("www.example.org", "AAAA"), ("mail.example.org", "MX"),
                ("alias.example.org", "CNAME")]
            for (name, type) in mix {
                let a = try await DigClient.dig(name, type, port: palisade.dnsPort)
                #expect(a.status == "NOERROR", "\(a)\n\(palisade.log)")
            }
            let dir = try r.directory(prefix: "palisade-kill9")
            let queries = try dir.write("queries.txt", mix.map { "\($0.0) \($0.1)" }.joined(separator: "\n") + "\n")
            let perf = try await ExternalTool.run("dnsperf",
                ["-s", "127.0.0.1", "-p", "\(palisade.dnsPort)", "-a", "127.0.0.3", "-d", queries, "-l", "3", "-t", "1",
                    "-c", "4", "-q", "64"], timeout: .seconds(15))
            let completed = perf.output.split(separator: "\n").first { $0.contains("Queries completed:") }
            #expect(completed != nil, "dnsperf printed no summary:\n\(perf.output)\n\(perf.errorOutput)")

            // Kill as soon as at most one batch is outstanding (see the type's comment).
            var last: (answered: Double, dropped: Double, written: Double)?
            // Repeated queries are folded into one row per aggregation window (2 s here), so the backlog
            // falls to one batch only once the last window has closed.
            let ready = await Poll.until(timeout: .seconds(10), every: .milliseconds(2)) {
                guard let m = try? await HTTPTestClient.get("/metrics", port: httpPort).body,
                    let answered = PrometheusText.value(m, "palisade_queries_total")
                else { return false }
                let dropped = (PrometheusText.value(m, "palisade_querylog_buffer_dropped_total") ?? 0)
                    + (PrometheusText.value(m, "palisade_querylog_dropped_total") ?? 0)
                let written = PrometheusText.value(m, "palisade_querylog_written_queries_total") ?? 0
                last = (answered, dropped, written)
                return answered - dropped - written <= Double(Self.batchSize)
            }
            palisade.signal(SIGKILL)
            #expect(await Poll.until(timeout: .seconds(5)) { !palisade.isRunning }, "palisade survived SIGKILL")
            #expect(ready, "the log backlog never fell to one batch: \(String(describing: last))")
            let (answered, dropped, written) = try #require(last)
            #expect(answered > 1000, "too little load to mean anything: \(answered) queries\n\(perf.output)")

            let store = try QueryStore(path: palisade.queryLogPath)
            #expect(try await store.integrityCheck() == [], "PRAGMA integrity_check reported problems")
            #expect(try await store.appliedMigrations().first == "v1-events")
            // Rows fold identical queries; their query_count adds up to the queries they stand for.
            let events = Double(try await store.counts().queries)
            try store.close()
            #expect(events >= written, "committed events were lost: \(events) < written \(written)")
            #expect(events <= answered - dropped, "more events than answered − dropped: \(events) > \(answered) − \(dropped)")
            #expect(answered - dropped - events <= Double(Self.batchSize),
                "lost more than one batch: answered \(answered), dropped \(dropped), events \(events)")
            print("kill -9: answered \(Int(answered)), dropped \(Int(dropped)), written at scrape \(Int(written)), "
                + "events after restart \(Int(events)), lost \(Int(answered - dropped - events)); "
                + "\(completed.map(String.init) ?? "")")
        }
    }
}
