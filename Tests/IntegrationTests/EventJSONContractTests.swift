import Foundation
import Testing
import TestSupport

/// The Event object is written by two encoders: the JSON-lines export (streaming bytes, module Incidents)
/// and the HTTP API (a value tree that also renders YAML, module WebConsole). They serve different paths on
/// purpose, so this test is what keeps them one contract: the same queries, seen through both, must give
/// the same objects member for member (only `id` differs: the export numbers lines, the API shows row ids).
@Suite("One Event JSON contract for the export and the API", .tags(.integration),
    .enabled(if: Requirements.nsdAndDig, "needs nsd and dig"))
struct EventJSONContractTests {
    @Test("Allowed, blocked, NXDOMAIN and identified queries encode identically in the export and the API")
    func sameObjects() async throws {
        try await withDaemons { r in
            let nsd = r.keep(try await NSDServer.start(zones: [exampleZone(["www IN A 192.0.2.80", "bad IN A 192.0.2.66"])]))
            let dir = try r.directory(prefix: "palisade-eventjson")
            let blocklist = try dir.write("threats.txt", "bad.example.org\n")
            let identity = try dir.write("identity.yaml", """
                - match: 127.0.0.2
                  name: "billing \\"api\\""
                  image: registry.example.org/billing:1.4
                  labels: {team: payments, tier: "back end"}
                """)
            let exportPath = dir.file("events.jsonl")
            let config = """
                queryLog:
                  aggregateWindowMs: 0
                export:
                  json:
                    path: "\(exportPath)"
                    flushIntervalMilliseconds: 20
                """
            let palisade = r.keep(try await PalisadeProcess.start(config: config,
                arguments: ["--blocklist", blocklist, "--identity-file", identity], upstreams: ["127.0.0.1:\(nsd.port)"]))
            let asked: [(String, String, String)] = [
                ("www.example.org", "A", "127.0.0.2"), ("bad.example.org", "A", "127.0.0.2"),
                ("nothere.example.org", "AAAA", "127.0.0.3"), ("www.example.org", "TXT", "127.0.0.3"),
            ]
            for (name, type, source) in asked {
                let a = try await DigClient.dig(name, type, port: palisade.dnsPort, source: source)
                #expect(a.status != "", "\(a)")
            }
            let httpPort = try #require(palisade.httpPort)

            var exported: [[String: Any]] = []
            var listed: [[String: Any]] = []
            let both = await Poll.until(timeout: .seconds(10), every: .milliseconds(50)) {
                let text = (try? String(contentsOfFile: exportPath, encoding: .utf8)) ?? ""
                exported = text.split(separator: "\n").compactMap {
                    try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
                }
                guard let body = try? await HTTPTestClient.get("/api/v1/events?limit=100", port: httpPort).body,
                    let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
                else { return false }
                listed = object["events"] as? [[String: Any]] ?? []
                return exported.count == asked.count && listed.count == asked.count
            }
            try #require(both, "export has \(exported.count), API \(listed.count) of \(asked.count)\n\(palisade.log)")

            func key(_ e: [String: Any]) -> String { "\(e["qname"] ?? "")/\(e["qtype"] ?? "")" }
            let byKey = Dictionary(uniqueKeysWithValues: listed.map { (key($0), $0) })
            for e in exported {
                let api = try #require(byKey[key(e)], "the API has no \(key(e))")
                #expect(Set(e.keys) == Set(api.keys), "members differ for \(key(e))")
                var a = api
                var x = e
                a["id"] = nil
                x["id"] = nil
                let xs = try Self.canonical(x)
                let as_ = try Self.canonical(a)
                #expect(xs == as_, "\(key(e)) differs:\nexport \(xs)\napi    \(as_)")
            }
            // The cases the comparison is meant to cover are really there.
            let blocked = try #require(byKey["bad.example.org/A"])
            #expect(blocked["blocked"] as? Bool == true)
            #expect((blocked["workload"] as? [String: Any])?["name"] as? String == "billing \"api\"")
            #expect(byKey["nothere.example.org/AAAA"]?["rcode"] as? String == "NXDOMAIN")
            #expect((byKey["www.example.org/A"]?["answers"] as? [String])?.contains("A 192.0.2.80") == true)
        }
    }

    /// JSON text with sorted keys: equal objects give equal text whatever the member order.
    static func canonical(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }
}
