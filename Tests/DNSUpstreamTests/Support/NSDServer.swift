import DNSWire
import Foundation

/// An NSD authoritative server on 127.0.0.1 serving generated zones, for tests.
///
/// Started in the foreground (`nsd -d`) in its own temp directory on a free port, ready when it answers
/// the first zone's SOA over UDP; ``stop()`` signals the PID it started and removes the directory.
final class NSDServer: Sendable {
    /// The UDP and TCP port.
    let port: Int
    /// The process.
    let daemon: TestDaemon

    private init(port: Int, daemon: TestDaemon) {
        self.port = port
        self.daemon = daemon
    }

    /// Starts NSD serving `zones`.
    /// - Throws: ``TestDaemonError`` with NSD's log when it does not become ready within ten seconds.
    static func start(zones: [TestZone] = [.example()]) async throws -> NSDServer {
        var lastLog = ""
        // A port found free can be taken before NSD binds it: retry with a new one.
        for _ in 0..<3 {
            let dir = try TemporaryDirectory(prefix: "palisade-nsd")
            let port = try await TestNetwork.freePort()
            var conf = """
                server:
                  ip-address: 127.0.0.1@\(port)
                  port: \(port)
                  username: ""
                  chroot: ""
                  zonesdir: "\(dir.path)"
                  pidfile: "\(dir.file("nsd.pid"))"
                  database: ""
                  zonelistfile: "\(dir.file("zone.list"))"
                  xfrdfile: "\(dir.file("xfrd.state"))"
                  xfrdir: "\(dir.path)"
                  logfile: "\(dir.file("nsd.log"))"
                  server-count: 1
                  tcp-count: 64
                  rrl-ratelimit: 0
                  rrl-whitelist-ratelimit: 0
                  verbosity: 1
                remote-control:
                  control-enable: no

                """
            for (i, zone) in zones.enumerated() {
                try dir.write("zone\(i).zone", zone.text)
                conf += "zone:\n  name: \"\(zone.origin)\"\n  zonefile: \"zone\(i).zone\"\n"
            }
            let confPath = try dir.write("nsd.conf", conf)
            let daemon = try TestDaemon(name: "nsd", executable: "nsd", arguments: ["-d", "-c", confPath], directory: dir)
            let soa = DNSMessage.query(id: 1, name: try DomainName(zones.first?.origin ?? "."), type: .soa)
            let ready = await Poll.until {
                guard daemon.isRunning else { return true }
                return await TestNetwork.udpQuery(soa, to: port, timeout: .milliseconds(200)) != nil
            }
            if ready, daemon.isRunning {
                return NSDServer(port: port, daemon: daemon)
            }
            lastLog = daemon.log + ((try? String(contentsOfFile: dir.file("nsd.log"), encoding: .utf8)) ?? "")
            await daemon.stop()
        }
        throw TestDaemonError("nsd did not start:\n\(lastLog)")
    }

    /// Stops NSD and removes its directory.
    func stop() async {
        await self.daemon.stop()
    }
}
