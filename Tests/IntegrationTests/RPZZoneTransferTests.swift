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
            let knot = r.keep(try await KnotRPZPrimary.start(notifyPort: notifyPort,
                rules: ["a.example.org CNAME .", "*.wild.example.org CNAME ."]))
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

/// A Knot DNS primary on 127.0.0.1 serving `rpz.test.` to 127.0.0.1 without a key, keeping changes in its
/// journal (so IXFR is real) and sending NOTIFY to `notifyPort`.
final class KnotRPZPrimary: StoppableTestResource {
    let port: Int
    let daemon: TestDaemon

    private init(port: Int, daemon: TestDaemon) {
        self.port = port
        self.daemon = daemon
    }

    static func start(notifyPort: Int, rules: [String]) async throws -> KnotRPZPrimary {
        var lastLog = ""
        for _ in 0..<3 {
            let dir = try TemporaryDirectory(prefix: "palisade-knot-rpz")
            let port = try await TestNetwork.freePort()
            try dir.write("rpz.test.zone", rpzZone(rules))
            let conf = """
                server:
                  listen: 127.0.0.1@\(port)
                  rundir: "\(dir.path)"
                  udp-workers: 1
                  tcp-workers: 1
                  background-workers: 1
                database:
                  storage: "\(dir.path)"
                control:
                  listen: "\(dir.file("knot.sock"))"
                log:
                  - target: stderr
                    any: info
                remote:
                  - id: palisade
                    address: 127.0.0.1@\(notifyPort)
                acl:
                  - id: open-xfr
                    address: 127.0.0.1
                    action: transfer
                zone:
                  - domain: rpz.test
                    storage: "\(dir.path)"
                    file: rpz.test.zone
                    acl: open-xfr
                    zonefile-load: difference
                    journal-content: changes
                    semantic-checks: off
                    notify: palisade

                """
            let confPath = try dir.write("knot.conf", conf)
            let daemon = try TestDaemon(name: "knotd", executable: "knotd", arguments: ["-c", confPath], directory: dir)
            let soa = DNSMessage.query(id: 7, name: try DomainName("rpz.test."), type: .soa, recursionDesired: false,
                edns: nil)
            let ready = await Poll.until {
                guard daemon.isRunning else { return true }
                return await TestNetwork.udpQuery(soa, to: port, timeout: .milliseconds(200))?.answers.isEmpty == false
            }
            if ready, daemon.isRunning { return KnotRPZPrimary(port: port, daemon: daemon) }
            lastLog = daemon.log
            await daemon.stop()
        }
        throw TestDaemonError("knotd did not start:\n\(lastLog)")
    }

    /// Changes rpz.test. in one transaction (Knot increments the serial): each `add` is `owner TTL TYPE
    /// RDATA`, each `remove` is `owner TYPE` (owners relative to the zone).
    func change(add: [String] = [], remove: [String] = []) async throws {
        let socket = self.daemon.directory.file("knot.sock")
        func knotc(_ args: [String]) async throws {
            let out = try await ExternalTool.run("knotc", ["-s", socket] + args)
            guard out.status == 0 else { throw TestDaemonError("knotc \(args.joined(separator: " ")) failed: \(out)") }
        }
        try await knotc(["zone-begin", "rpz.test"])
        for a in add { try await knotc(["zone-set", "rpz.test"] + a.split(separator: " ").map(String.init)) }
        for r in remove { try await knotc(["zone-unset", "rpz.test"] + r.split(separator: " ").map(String.init)) }
        try await knotc(["zone-commit", "rpz.test"])
    }

    /// Stops knotd and removes its directory.
    func stop() async {
        await self.daemon.stop()
    }
}
