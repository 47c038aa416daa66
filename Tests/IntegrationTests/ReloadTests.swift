import DNSWire
import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SIGHUP re-reads the configuration file and swaps in a new pipeline; a broken file leaves the old one
/// serving and says so in the log.
@Suite("SIGHUP reload", .tags(.integration), .enabled(if: TestBinaries.has("nsd"), "needs nsd (Debian: nsd)"))
struct ReloadTests {
    static let zone = exampleZone(["a IN A 192.0.2.10", "b IN A 192.0.2.11"])

    static func config(rpz: String) -> String {
        """
        policy:
          sources:
            - name: reloadable
              kind: rpz
              location: "\(rpz)"
        """
    }

    /// The current verdict on `name`: blocked (NXDOMAIN from the policy) or resolved from NSD.
    static func isBlocked(_ name: String, port: Int) async throws -> Bool {
        let m = try await DNSTestClient.query(name, .a, port: port, timeout: .seconds(5))
        return m.rcode == .nxDomain && m.extendedError?.code == .blocked
    }

    @Test("SIGHUP applies an edited configuration; an invalid one is rejected and the old one keeps serving")
    func reloadAndFailedReload() async throws {
        try await withDaemons { r in
            let nsd = r.keep(try await NSDServer.start(zones: [Self.zone]))
            let dir = try r.directory(prefix: "palisade-reload")
            let blockA = try dir.write("block-a.rpz", rpzZone(["a.example.org CNAME ."]))
            let blockB = try dir.write("block-b.rpz", rpzZone(["b.example.org CNAME ."]))
            let palisade = r.keep(try await PalisadeProcess.start(config: Self.config(rpz: blockA),
                upstreams: ["127.0.0.1:\(nsd.port)"]))
            let port = palisade.dnsPort
            #expect(try await Self.isBlocked("a.example.org", port: port), "\(palisade.log)")
            #expect(try await Self.isBlocked("b.example.org", port: port) == false)

            // Point the configuration at the second RPZ, then SIGHUP.
            try Self.config(rpz: blockB).write(toFile: palisade.configPath, atomically: true, encoding: .utf8)
            palisade.signal(SIGHUP)
            let swapped = await Poll.until(timeout: .seconds(30), every: .milliseconds(50)) {
                let a = try? await Self.isBlocked("a.example.org", port: port)
                let b = try? await Self.isBlocked("b.example.org", port: port)
                return a == false && b == true
            }
            #expect(swapped, "the reload did not take effect:\n\(palisade.log)")
            let resolved = try await DNSTestClient.query("a.example.org", .a, port: port)
            #expect(resolved.answers.map(\.rdata.presentation) == ["192.0.2.10"], "\(resolved)")

            // A broken file: the reload fails, is logged, and the previous configuration keeps serving.
            try "policy: {sources: [unterminated\n".write(toFile: palisade.configPath, atomically: true, encoding: .utf8)
            palisade.signal(SIGHUP)
            let logged = await Poll.until(timeout: .seconds(30), every: .milliseconds(50)) {
                palisade.log.contains("reload failed")
            }
            #expect(logged, "no 'reload failed' in the log:\n\(palisade.log)")
            #expect(palisade.isRunning)
            #expect(try await Self.isBlocked("b.example.org", port: port), "\(palisade.log)")
            #expect(try await Self.isBlocked("a.example.org", port: port) == false)
        }
    }

    @Test(
        "a failed reload is counted in palisade_config_reload_failures_total")
    func failedReloadIsCounted() async throws {
        try await withDaemons { r in
            let nsd = r.keep(try await NSDServer.start(zones: [Self.zone]))
            let dir = try r.directory(prefix: "palisade-reload")
            let blockA = try dir.write("block-a.rpz", rpzZone(["a.example.org CNAME ."]))
            let palisade = r.keep(try await PalisadeProcess.start(config: Self.config(rpz: blockA),
                upstreams: ["127.0.0.1:\(nsd.port)"]))
            let http = try #require(palisade.httpPort)
            try "policy: {sources: [unterminated\n".write(toFile: palisade.configPath, atomically: true, encoding: .utf8)
            palisade.signal(SIGHUP)
            #expect(await Poll.until(timeout: .seconds(30)) { palisade.log.contains("reload failed") }, "\(palisade.log)")
            let counted = await Poll.until(timeout: .seconds(10), every: .milliseconds(100)) {
                guard let metrics = try? await HTTPTestClient.get("/metrics", port: http) else { return false }
                let line = metrics.body.split(separator: "\n").first { $0.hasPrefix("palisade_config_reload_failures_total") }
                return line.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) } == 1
            }
            #expect(counted, "palisade_config_reload_failures_total is not 1 after a failed reload")
        }
    }
}
