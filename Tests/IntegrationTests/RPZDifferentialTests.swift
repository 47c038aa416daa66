import DNSWire
import Foundation
import Testing
import TestSupport

/// One RPZ zone loaded into Unbound (Debian's build, as a forwarder) and into Palisade (`--rpz`), both
/// forwarding to the same NSD: every query of the corpus goes to both, and the normalised outcomes (rcode,
/// TC flag, answer section without TTLs, in sorted order, or "no reply") must be equal, except for the
/// differences documented in ``RPZDifferentialTests/expectedDifferences`` and in `docs/policy.md`
/// ("Differences from Unbound").
///
/// Not compared, on purpose: TTLs (Unbound answers local data with the RPZ record's TTL too, but cached
/// upstream TTLs count down), the authority and additional sections (Unbound answers RPZ hits with none,
/// Palisade passes the upstream's), the AA flag (Unbound sets it on RPZ answers) and EDE (Unbound 1.17 sends
/// none for RPZ hits; Palisade sends EDE 15/17 naming source and rule).
@Suite("RPZ differential against Unbound", .tags(.integration),
    .enabled(if: Requirements.nsdAndUnbound, Requirements.nsdAndUnboundMessage))
struct RPZDifferentialTests {
    /// NSD serves real data for every name, so an answer that differs from it can only come from policy.
    static let zone = TestZone(origin: "example.org.", records: [
        "www IN A 192.0.2.1", "www IN AAAA 2001:db8::1",
        "bad IN A 192.0.2.66", "sub.bad IN A 192.0.2.67",
        "wild IN A 192.0.2.68", "x.wild IN A 192.0.2.69", "a.b.wild IN A 192.0.2.70", "ok.wild IN A 192.0.2.71",
        "nodata IN A 192.0.2.72", "nodata IN TXT \"real\"",
        "x.pass IN A 192.0.2.73", "ok.pass IN A 192.0.2.74",
        "drop IN A 192.0.2.75", "local IN A 192.0.2.76", "garden IN A 192.0.2.77", "tcp IN A 192.0.2.78",
        "clean IN A 192.0.2.79", "clean IN TXT \"clean\"",
        "x.lw IN A 192.0.2.81", "x.gw IN A 192.0.2.82",
        "resp IN A 192.0.2.99", "resp6 IN AAAA 2001:db8::99", "resp2 IN A 192.0.2.98", "resp2 IN A 192.0.2.97",
        "alias IN CNAME www", "toblocked IN CNAME bad", "towild IN CNAME x.wild", "tolocal IN CNAME local",
        "togarden IN CNAME garden",
    ])

    /// A second zone whose name server the NSDNAME trigger names, so that trigger blocks only this zone.
    static let otherZone = TestZone(origin: "other.test.", records: ["www IN A 192.0.2.54"])

    static let rules = rpzZone([
        "bad.example.org CNAME .",  // exact: NXDOMAIN, names below stay clean
        "*.wild.example.org CNAME .",  // wildcard: NXDOMAIN strictly below wild.example.org
        "ok.wild.example.org A 192.0.2.90",  // exact local data beats the wildcard
        "nodata.example.org CNAME *.",  // NODATA for every type
        "*.pass.example.org CNAME .",
        "ok.pass.example.org CNAME rpz-passthru.",  // PASSTHRU beats the wildcard
        "drop.example.org CNAME rpz-drop.",
        "local.example.org A 192.0.2.80",  // local data: A, AAAA and TXT, NODATA for other types
        "local.example.org AAAA 2001:db8::80",
        "local.example.org TXT \"local data\"",
        "garden.example.org CNAME www.example.org.",  // walled garden
        "tcp.example.org CNAME rpz-tcp-only.",
        "*.lw.example.org A 192.0.2.91",  // wildcard local data, owned by the query name
        "*.gw.example.org CNAME www.example.org.",  // wildcard walled garden
        "32.2.0.0.127.rpz-client-ip CNAME .",  // client 127.0.0.2: everything NXDOMAIN
        "32.3.0.0.127.rpz-client-ip CNAME rpz-drop.",  // client 127.0.0.3: everything dropped
        "32.99.2.0.192.rpz-ip CNAME .",  // an answer holding 192.0.2.99: NXDOMAIN
        "128.99.zz.db8.2001.rpz-ip CNAME *.",  // an answer holding 2001:db8::99: NODATA
        "32.98.2.0.192.rpz-ip A 192.0.2.200",  // an answer holding 192.0.2.98: replaced by local data
        "ns.other.test.rpz-nsdname CNAME .",  // zones served by ns.other.test: NXDOMAIN
    ])

    /// One query of the corpus.
    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var type: RecordType
        /// The client address to send from (any of 127/8 is loopback).
        var source: String = "127.0.0.1"
        var tcp = false

        var id: String { "\(self.name)/\(self.type)" + (self.source == "127.0.0.1" ? "" : "@\(self.source)") + (self.tcp ? "/tcp" : "") }
        var description: String { self.id }
    }

    static let corpus: [Case] = [
        // Blocked exact, names under it, case variations.
        Case(name: "bad.example.org", type: .a), Case(name: "bad.example.org", type: .aaaa),
        Case(name: "BaD.ExAmPlE.oRg", type: .a), Case(name: "sub.bad.example.org", type: .a),
        // Blocked wildcard: the apex of the wildcard is clean, one and two labels below are blocked.
        Case(name: "wild.example.org", type: .a), Case(name: "x.wild.example.org", type: .a),
        Case(name: "a.b.wild.example.org", type: .a), Case(name: "X.WILD.example.org", type: .a),
        // Exact local data beats the wildcard, for every type.
        Case(name: "ok.wild.example.org", type: .a), Case(name: "ok.wild.example.org", type: .aaaa),
        Case(name: "ok.wild.example.org", type: .txt),
        // NODATA.
        Case(name: "nodata.example.org", type: .a), Case(name: "nodata.example.org", type: .txt),
        // PASSTHRU beats a wildcard.
        Case(name: "x.pass.example.org", type: .a), Case(name: "ok.pass.example.org", type: .a),
        Case(name: "OK.Pass.Example.Org", type: .a),
        // DROP.
        Case(name: "drop.example.org", type: .a),
        // Local data.
        Case(name: "local.example.org", type: .a), Case(name: "local.example.org", type: .aaaa),
        Case(name: "local.example.org", type: .txt), Case(name: "local.example.org", type: .mx),
        Case(name: "LOCAL.example.org", type: .a),
        Case(name: "a.x.lw.example.org", type: .a), Case(name: "Y.lw.example.org", type: .a),
        Case(name: "y.lw.example.org", type: .aaaa),
        // Walled garden, exact and wildcard.
        Case(name: "garden.example.org", type: .a), Case(name: "garden.example.org", type: .aaaa),
        Case(name: "x.gw.example.org", type: .a),
        // TCP-only: TC over UDP, the real answer over TCP.
        Case(name: "tcp.example.org", type: .a), Case(name: "tcp.example.org", type: .a, tcp: true),
        // Clean names.
        Case(name: "clean.example.org", type: .a), Case(name: "clean.example.org", type: .txt),
        Case(name: "www.example.org", type: .aaaa), Case(name: "missing.example.org", type: .a),
        Case(name: "alias.example.org", type: .a), Case(name: "www.example.org", type: .mx),
        // Client-IP triggers.
        Case(name: "clean.example.org", type: .a, source: "127.0.0.2"),
        Case(name: "www.example.org", type: .aaaa, source: "127.0.0.2"),
        Case(name: "clean.example.org", type: .a, source: "127.0.0.3"),
        Case(name: "clean.example.org", type: .txt, source: "127.0.0.4"),
        // Response-IP triggers.
        Case(name: "resp.example.org", type: .a), Case(name: "resp6.example.org", type: .aaaa),
        Case(name: "resp2.example.org", type: .a),
        // CNAME targets matching QNAME triggers (the chain is kept).
        Case(name: "toblocked.example.org", type: .a), Case(name: "towild.example.org", type: .a),
        Case(name: "tolocal.example.org", type: .a), Case(name: "tolocal.example.org", type: .txt),
        Case(name: "togarden.example.org", type: .a),
        // NSDNAME: NSD puts the zone's NS in the authority section, which both see.
        Case(name: "www.other.test", type: .a),
    ]

    /// A difference between Unbound and Palisade that the draft allows, with both outcomes as observed.
    struct ExpectedDifference: Sendable {
        var unbound: String
        var palisade: String
        var reason: String
    }

    /// Every difference the test accepts, by case id. Keep in step with `docs/policy.md`.
    static let expectedDifferences: [String: ExpectedDifference] = [
        "tolocal.example.org/TXT": ExpectedDifference(
            unbound: "NOERROR | tolocal.example.org. CNAME local.example.org.",
            palisade: "NOERROR | local.example.org. TXT \"local data\" | tolocal.example.org. CNAME local.example.org.",
            reason: "Unbound rewrites a CNAME target only when the upstream answer has records of the query type "
                + "at that target; Palisade applies the target's rule whatever the upstream had there, as it does "
                + "for the query name (the draft's CNAME-target rule does not depend on the upstream's data)")
    ]

    /// The normalised outcome of one query: `RCODE[ TC] | owner TYPE rdata | …` (answers sorted, owners
    /// lower-cased, no TTLs), or `no reply`.
    static func outcome(_ m: DNSMessage?) -> String {
        guard let m else { return "no reply" }
        var parts = ["\(m.rcode)" + (m.header.truncated ? " TC" : "")]
        parts += m.answers.map { "\($0.name.description.lowercased()) \($0.type) \($0.rdata.presentation)" }.sorted()
        return parts.joined(separator: " | ")
    }

    /// What a reply answers, for a failure report: its ID and question (a reply to another question would show here).
    static func header(_ m: DNSMessage?) -> String {
        guard let m else { return "" }
        let q = m.questions.map { "\($0.name) \($0.type)" }.joined(separator: ", ")
        let ede = (m.edns?.options ?? []).compactMap(\.extendedErrorValue).map { "EDE \($0.code.rawValue) \($0.text)" }
        return " (id \(m.header.id), question \(q), \(m.authorities.count) authority, \(m.additionals.count) additional"
            + (ede.isEmpty ? "" : ", " + ede.joined(separator: ", ")) + ")"
    }

    /// Sends `c` to `port` and returns the reply (nil when none comes: DROP).
    static func ask(_ c: Case, port: Int) async throws -> DNSMessage? {
        let query = try DNSTestClient.makeQuery(c.name, c.type)
        if c.tcp {
            let connection = try await TCPTestConnection.connect(port: port)
            defer { connection.close() }
            try await connection.send(query)
            switch await connection.receiveFrame(timeout: .seconds(3)) {
            case .message(let bytes): return try DNSTestClient.decode(bytes)
            case .closed, .timeout: return nil
            }
        }
        guard let bytes = try await DNSTestClient.udpExchange(query.encode(), port: port, source: c.source,
            matchingID: query.header.id, timeout: .seconds(2))
        else { return nil }
        return try DNSTestClient.decode(bytes)
    }

    @Test("every corpus query gets the same rcode and answers from Unbound and Palisade, except documented differences")
    func sameAnswers() async throws {
        try await withDaemons { r in
            let nsd = r.keep(try await NSDServer.start(zones: [Self.zone, Self.otherZone]))
            let unbound = r.keep(try await UnboundServer.RPZForwarder.start(forwardPort: nsd.port, rpzName: "rpz.test.",
                rpzZone: Self.rules))
            let dir = try r.directory(prefix: "palisade-rpzdiff")
            let rpz = try dir.write("policy.rpz", Self.rules)
            let palisade = r.keep(try await PalisadeProcess.start(arguments: ["--rpz", rpz],
                upstreams: ["127.0.0.1:\(nsd.port)"]))

            var undocumented: [String] = []
            var seen: Set<String> = []
            for c in Self.corpus {
                let unboundReply = try await Self.ask(c, port: unbound.port)
                let palisadeReply = try await Self.ask(c, port: palisade.dnsPort)
                let u = Self.outcome(unboundReply)
                let p = Self.outcome(palisadeReply)
                guard u != p else { continue }
                seen.insert(c.id)
                guard let expected = Self.expectedDifferences[c.id] else {
                    undocumented.append("\(c.id)\n    unbound:  \(u)\(Self.header(unboundReply))"
                        + "\n    palisade: \(p)\(Self.header(palisadeReply))")
                    continue
                }
                #expect(u == expected.unbound && p == expected.palisade,
                    "\(c.id) differs, but not as documented:\n    unbound:  \(u)\n    palisade: \(p)")
            }
            let report = undocumented.joined(separator: "\n")
            let title = "undocumented differences (fix Palisade, or document them in expectedDifferences and "
                + "docs/policy.md):"
            let logs = "--- unbound log:\n\(unbound.log)\n--- palisade log:\n\(palisade.log)"
            #expect(undocumented.isEmpty, "\(title)\n\(report)\n\(logs)")
            let stale = Set(Self.expectedDifferences.keys).subtracting(seen).sorted()
            #expect(stale.isEmpty, "documented differences that no longer occur (remove them): \(stale)")
            // Unbound must really have applied the zone (a zone it failed to load would make everything "clean").
            #expect(unbound.log.contains("rpz: applied [rpz.test.] bad.example.org."), "\(unbound.log)")
            #expect(palisade.isRunning, "palisade is no longer running:\n\(palisade.log)")
        }
    }

    @Test("the expected-differences table only names cases of the corpus")
    func tableNamesCorpusCases() {
        let ids = Set(Self.corpus.map(\.id))
        #expect(Set(Self.expectedDifferences.keys).isSubset(of: ids))
    }
}

extension Requirements {
    /// NSD and Unbound, for the RPZ differential test.
    static let nsdAndUnbound = TestBinaries.has("nsd", "unbound")
    /// The message shown when NSD or Unbound is missing.
    static let nsdAndUnboundMessage: Comment = "needs nsd and unbound (Debian: nsd, unbound; scripts/test.sh installs them)"
}
