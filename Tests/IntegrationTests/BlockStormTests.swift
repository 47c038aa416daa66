import DNSWire
import Foundation
import Testing
import TestSupport

/// A client flooding the resolver with distinct blocked names (a DGA on exact-name rules, a scan of a feed) is
/// answered exactly as before, while the query log keeps a row per name only up to `queryLog.blockStormThreshold`
/// and folds the rest into a storm row: seen here through the real server and its HTTP API.
@Suite("Block storms in the query log", .tags(.integration), .enabled(if: Requirements.nsdAndDig, Requirements.nsdAndDigMessage))
struct BlockStormTests {
    @Test("Past the threshold, a client's new blocked names are still blocked and fold into one storm row")
    func stormRow() async throws {
        try await withDaemons { r in
            let nsd = r.keep(try await NSDServer.start(zones: [exampleZone(["www IN A 192.0.2.80"])]))
            let dir = try r.directory(prefix: "palisade-storm")
            let names = (0..<40).map { "s\($0).storm.example.org" }
            let blocklist = try dir.write("threats.txt", names.joined(separator: "\n") + "\n")
            let config = """
                queryLog:
                  aggregateWindowMs: 2000
                  blockStormThreshold: 10
                """
            let palisade = r.keep(try await PalisadeProcess.start(config: config, arguments: ["--blocklist", blocklist],
                upstreams: ["127.0.0.1:\(nsd.port)"]))
            for name in names {
                let reply = try await DNSTestClient.query(name, .a, port: palisade.dnsPort)
                #expect(reply.rcode == .nxDomain, "\(name) is answered as blocked whatever the log does")
                #expect(reply.extendedError?.text.contains("rule \(name)") == true, "each answer names its own rule")
            }
            let www = try await DNSTestClient.query("www.example.org", .a, port: palisade.dnsPort)
            #expect(www.rcode == .noError)
            let httpPort = try #require(palisade.httpPort)

            var rows: [[String: Any]] = []
            let complete = await Poll.until(timeout: .seconds(15), every: .milliseconds(100)) {
                guard let body = try? await HTTPTestClient.get("/api/v1/events?limit=100&blocked=true", port: httpPort).body,
                    let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
                else { return false }
                rows = object["events"] as? [[String: Any]] ?? []
                return rows.reduce(0) { $0 + ($1["count"] as? Int ?? 0) } == names.count
            }
            let counted = rows.reduce(0) { $0 + ($1["count"] as? Int ?? 0) }
            try #require(complete, "the blocked rows count \(counted) queries of \(names.count)\n\(rows)\n\(palisade.log)")
            func detectors(_ row: [String: Any]) -> [String] {
                (row["findings"] as? [[String: Any]] ?? []).compactMap { $0["detector"] as? String }
            }
            let storms = rows.filter { detectors($0) == ["block-storm"] }
            let own = rows.filter { detectors($0).isEmpty }
            #expect(storms.count == 1 && own.count == 10, "\(rows)")
            let storm = try #require(storms.first)
            #expect(storm["count"] as? Int == 30)
            #expect((storm["qname"] as? String)?.hasPrefix("s10.storm.example.org") == true, "\(storm)")
            #expect((storm["other_names"] as? [String])?.count == 16, "the first 16 names after the row's own")
            #expect((storm["policy"] as? [String: Any])?["rule"] as? String == "s10.storm.example.org")
            let metrics = try await HTTPTestClient.get("/metrics", port: httpPort).body
            #expect(PrometheusText.value(metrics, "palisade_querylog_block_storm_rows_total") == 1, "one storm row opened")
            let ownNames = Set(own.compactMap { ($0["qname"] as? String)?.split(separator: ".").first.map(String.init) })
            #expect(ownNames == Set((0..<10).map { "s\($0)" }), "the first ten names keep their own rows")
        }
    }
}
