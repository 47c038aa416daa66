import Foundation
import Testing
import TestSupport

/// RPZ blocking end to end: every action seen by `dig`, with the EDE 15 text naming the source (the RPZ
/// file's name) and the rule, and the same decisions in the SQLite query log after a graceful stop.
@Suite("Blocking end to end", .tags(.integration), .enabled(if: Requirements.nsdAndDig, Requirements.nsdAndDigMessage))
struct BlockingTests {
    /// NSD has real data for every name, so an answer that differs from it can only come from the policy.
    static let zone = exampleZone([
        "bad IN A 192.0.2.66", "x.wild IN A 192.0.2.67", "ok.wild IN A 192.0.2.68", "nodata IN A 192.0.2.69",
        "local IN A 192.0.2.70", "garden IN A 192.0.2.71",
    ])

    static let rules = rpzZone([
        "bad.example.org CNAME .",  // exact name: NXDOMAIN
        "*.wild.example.org CNAME .",  // wildcard: NXDOMAIN below wild.example.org
        "ok.wild.example.org CNAME rpz-passthru.",  // passthru wins over the wildcard for this one name
        "nodata.example.org CNAME *.",  // NODATA
        "local.example.org A 192.0.2.80",  // local data: an A record
        "garden.example.org CNAME www.example.org.",  // local data: a CNAME to a walled garden
    ])

    @Test("exact, wildcard, NODATA, passthru and local-data rules answer as RPZ says, with EDE 15 naming source and rule")
    func rpzActions() async throws {
        try await withDaemons { r in
            let palisade = try await Self.start(r)
            let port = palisade.dnsPort

            let bad = try await DigClient.dig("bad.example.org", port: port)
            #expect(bad.status == "NXDOMAIN", "\(bad)\n\(palisade.log)")
            #expect(bad.answers.isEmpty)
            #expect(Self.ede15(bad, names: "threats.rpz", rule: "bad.example.org"), "\(bad)")

            let wild = try await DigClient.dig("x.wild.example.org", port: port)
            #expect(wild.status == "NXDOMAIN", "\(wild)")
            #expect(Self.ede15(wild, names: "threats.rpz", rule: "*.wild.example.org"), "\(wild)")
            let deeper = try await DigClient.dig("a.b.wild.example.org", port: port)
            #expect(deeper.status == "NXDOMAIN", "\(deeper)")

            let passthru = try await DigClient.dig("ok.wild.example.org", port: port)
            #expect(passthru.status == "NOERROR", "\(passthru)")
            #expect(passthru.answerSet == ["ok.wild.example.org. IN A 192.0.2.68"], "\(passthru)")
            #expect(!passthru.hasExtendedError(15), "\(passthru)")

            let nodata = try await DigClient.dig("nodata.example.org", port: port)
            #expect(nodata.status == "NOERROR", "\(nodata)")
            #expect(nodata.answers.isEmpty, "NODATA must have no answers:\n\(nodata)")
            #expect(Self.ede15(nodata, names: "threats.rpz", rule: "nodata.example.org"), "\(nodata)")

            let local = try await DigClient.dig("local.example.org", port: port)
            #expect(local.status == "NOERROR", "\(local)")
            #expect(local.answerSet == ["local.example.org. IN A 192.0.2.80"], "\(local)")
            #expect(Self.ede15(local, names: "threats.rpz", rule: "local.example.org"), "\(local)")

            let garden = try await DigClient.dig("garden.example.org", port: port)
            #expect(garden.status == "NOERROR", "\(garden)")
            #expect(garden.answerSet.contains("garden.example.org. IN CNAME www.example.org."), "\(garden)")
            #expect(garden.answerSet.contains("www.example.org. IN A 192.0.2.1"), "the walled garden was not resolved:\n\(garden)")
            #expect(Self.ede15(garden, names: "threats.rpz", rule: "garden.example.org"), "\(garden)")

            // A name no rule matches, not asked before (the walled garden above cached www).
            let clean = try await DigClient.dig("mail.example.org", "MX", port: port)
            #expect(clean.answerSet == ["mail.example.org. IN MX 10 www.example.org."], "\(clean)")
            #expect(clean.extendedErrors.isEmpty, "\(clean)")

            // The query log: SIGTERM makes the writer flush what it holds before the process exits.
            #expect(await palisade.terminate(), "palisade did not stop on SIGTERM:\n\(palisade.log)")
            #expect(palisade.daemon.exitStatus == 0, "exit status \(palisade.daemon.exitStatus ?? -1):\n\(palisade.log)")
            try #require(Requirements.sqlite3, Requirements.sqlite3Message)
            let rows = try await Self.queryLog(palisade.queryLogPath)
            let expected: [(String, String, String)] = [
                ("bad.example.org", "NXDOMAIN", "bad.example.org"),
                ("x.wild.example.org", "NXDOMAIN", "*.wild.example.org"),
                ("nodata.example.org", "NOERROR", "nodata.example.org"),
                ("local.example.org", "NOERROR", "local.example.org"),
                ("garden.example.org", "NOERROR", "garden.example.org"),
            ]
            for (qname, rcode, rule) in expected {
                let row = rows.first { $0.qname == qname }
                #expect(row?.rcode == rcode, "\(qname): \(row.map { "\($0)" } ?? "not logged") in \(rows)")
                #expect(row?.source == "policy", "\(qname): \(row.map { "\($0)" } ?? "not logged")")
                #expect(row?.policySource == "threats.rpz", "\(qname): \(row.map { "\($0)" } ?? "not logged")")
                #expect(row?.policyRule == rule, "\(qname): \(row.map { "\($0)" } ?? "not logged")")
            }
            let upstreamRow = rows.first { $0.qname == "mail.example.org" }
            #expect(upstreamRow?.source == "upstream", "\(rows)")
            #expect(upstreamRow?.policySource == "", "\(rows)")
        }
    }

    @Test("a stream of new names below a wildcard rule is logged as the rule's rows, keeping the names asked")
    func wildcardFloodIsGroupedByRule() async throws {
        try await withDaemons { r in
            let palisade = try await Self.start(r)
            // A DGA or a tunnel: a new name on every query, all below one blocked domain; one name comes twice.
            let names = (0..<20).map { "n\($0).wild.example.org" } + ["n3.wild.example.org"]
            for name in names {
                let answer = try await DigClient.dig(name, port: palisade.dnsPort)
                #expect(answer.status == "NXDOMAIN", "\(name): \(answer)")
            }
            // SIGTERM hands the open groups to the writer, which flushes before the process exits.
            #expect(await palisade.terminate(), "palisade did not stop on SIGTERM:\n\(palisade.log)")
            try #require(Requirements.sqlite3, Requirements.sqlite3Message)
            let out = try await ExternalTool.run("sqlite3", ["-readonly", "-separator", "|", palisade.queryLogPath,
                "SELECT qname, query_count, IFNULL(other_names, '') FROM events "
                    + "WHERE policy_rule = '*.wild.example.org' ORDER BY id"])
            #expect(out.status == 0, "\(out)")
            let rows = out.output.split(separator: "\n").map { $0.split(separator: "|", maxSplits: 2).map(String.init) }
            // The first block is logged at once; the rest of the window is one row for the rule.
            #expect(rows.count == 2, "\(rows)")
            guard rows.count == 2, rows.allSatisfy({ $0.count == 3 }) else { return }
            #expect(rows[0][0].hasPrefix("n0.wild.example.org") && rows[0][1] == "1" && rows[0][2] == "", "\(rows)")
            #expect(rows[1][0].hasPrefix("n1.wild.example.org") && rows[1][1] == "20", "\(rows)")
            let others = (2..<18).map { "\"n\($0).wild.example.org\"" }.joined(separator: ",")
            #expect(rows[1][2] == "[\(others)]", "the next 16 distinct names, in order: \(rows[1][2])")
        }
    }

    /// NSD with `zone`, and Palisade forwarding to it with `rules` loaded as `threats.rpz`.
    static func start(_ r: TestResources) async throws -> PalisadeProcess {
        let nsd = r.keep(try await NSDServer.start(zones: [Self.zone]))
        let rpz = try r.directory(prefix: "palisade-rpz").write("threats.rpz", Self.rules)
        return r.keep(try await PalisadeProcess.start(arguments: ["--rpz", rpz], upstreams: ["127.0.0.1:\(nsd.port)"]))
    }

    /// Whether `answer` carries EDE 15 whose text names `names` (the source) and `rule`.
    static func ede15(_ answer: DigAnswer, names source: String, rule: String) -> Bool {
        answer.extendedErrors.contains { $0.hasPrefix("EDE: 15") && $0.contains(source) && $0.contains("rule \(rule)") }
    }

    struct LogRow: Sendable, CustomStringConvertible {
        var qname, rcode, source, policySource, policyRule: String
        var description: String { "\(self.qname)|\(self.rcode)|\(self.source)|\(self.policySource)|\(self.policyRule)" }
    }

    /// Reads the query log with the `sqlite3` shell (an outside reader, as an operator would use).
    static func queryLog(_ path: String) async throws -> [LogRow] {
        let out = try await ExternalTool.run("sqlite3", ["-readonly", "-separator", "|", path,
            "SELECT qname, rcode, source, IFNULL(policy_source, ''), IFNULL(policy_rule, '') FROM events ORDER BY id"])
        #expect(out.status == 0, "\(out)")
        return out.output.split(separator: "\n").compactMap { line in
            let f = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard f.count == 5 else { return nil }
            // The owner may be stored with or without the root dot.
            let qname = f[0].hasSuffix(".") ? String(f[0].dropLast()) : f[0]
            return LogRow(qname: qname.lowercased(), rcode: f[1], source: f[2], policySource: f[3], policyRule: f[4])
        }
    }
}
