import DNSWire
import Foundation
import Testing
import TestSupport

/// An RPZ zone served by a Knot primary, transferred by `palisade serve` (`ixfr://` source, NOTIFY): a change
/// on the primary reaches Palisade by IXFR and is applied to the compiled zone incrementally.
@Suite("RPZ by zone transfer end to end", .tags(.integration),
    .enabled(if: TestBinaries.has("nsd", "knotd", "knotc"), "needs nsd and knot (Debian: nsd, knot)"))
struct RPZZoneTransferTests {
    static let zone = exampleZone(["a IN A 192.0.2.10", "b IN A 192.0.2.11"])

    /// Whether `name` is answered NXDOMAIN by the policy (EDE 15), not by NSD.
    static func isBlocked(_ name: String, port: Int) async throws -> Bool {
        let m = try await DNSTestClient.query(name, .a, port: port, timeout: .seconds(5))
        return m.rcode == .nxDomain && m.extendedError?.code == .blocked
    }

    @Test("a change on the primary is NOTIFYed, transferred by IXFR and applied without recompiling the zone")
    func ixfrAppliedIncrementally() async throws {
        try await withDaemons { r in
            let nsd = r.keep(try await NSDServer.start(zones: [Self.zone]))
            let notifyPort = try await TestNetwork.freePort()
            let knot = r.keep(try await KnotPrimary.start(
                rpzZone: rpzZone(["a.example.org CNAME .", "*.wild.example.org CNAME ."]), notifyPort: notifyPort))
            let config = """
                policy:
                  notifyListen: "127.0.0.1:\(notifyPort)"
                  sources:
                    - name: xfr
                      kind: rpz
                      location: "ixfr://127.0.0.1:\(knot.port)/rpz.test"
                """
            let palisade = r.keep(try await PalisadeProcess.start(config: config, upstreams: ["127.0.0.1:\(nsd.port)"]))
            let port = palisade.dnsPort
            #expect(try await Self.isBlocked("a.example.org", port: port), "\(palisade.log)")
            #expect(try await Self.isBlocked("x.wild.example.org", port: port))
            #expect(try await Self.isBlocked("b.example.org", port: port) == false)

            try await knot.change(add: ["b.example.org 300 CNAME ."], remove: ["a.example.org CNAME"])
            let applied = await Poll.until(timeout: .seconds(20), every: .milliseconds(100)) {
                let b = (try? await Self.isBlocked("b.example.org", port: port)) == true
                let a = (try? await Self.isBlocked("a.example.org", port: port)) == true
                return b && !a
            }
            #expect(applied, "the change did not reach palisade:\n\(palisade.log)\n--- knot:\n\(knot.daemon.log)")
            #expect(try await Self.isBlocked("x.wild.example.org", port: port), "untouched rules stay")
            #expect(palisade.log.contains("xfr.kind=ixfr "), "the update must come by IXFR:\n\(palisade.log)")
            // The incremental path does not rewrite the data directory's copy at once (it is rewritten at most
            // every five minutes); a full recompile would have saved the new text right away.
            let stored = try String(contentsOfFile: palisade.dataDirectory + "/feeds/xfr.feed", encoding: .utf8)
            #expect(stored.contains("a.example.org"), "the stored copy was rewritten: the update was not incremental")
            #expect(palisade.isRunning, "\(palisade.log)")
        }
    }
}
