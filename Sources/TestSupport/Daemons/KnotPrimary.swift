import DNSWire
import Foundation

/// A Knot DNS primary on 127.0.0.1 for tests, started in its own temp directory on a free port and
/// stopped by PID.
///
/// It serves `rpz.test.` from the text it is given, keeping changes made with ``change(add:remove:)`` in
/// its journal (so an IXFR is real, not a full zone), and sends NOTIFY for it to `notifyPort`. With a
/// TSIG secret, transfers of `rpz.test.` and the NOTIFY need the key `xfr.key` (HMAC-SHA256); without
/// one, transfers are open to 127.0.0.1. With `extraZones`, it also serves `open.test.` (transfers
/// allowed from 127.0.0.1 without a key) and `closed.test.` (no transfer allowed: Knot answers NOTAUTH),
/// both with the text `extraZoneText(origin)` returns.
public final class KnotPrimary: StoppableTestResource {
    /// The UDP and TCP port.
    public let port: Int
    /// The process.
    public let daemon: TestDaemon

    private init(port: Int, daemon: TestDaemon) {
        self.port = port
        self.daemon = daemon
    }

    /// Whether knotd and knotc are installed (Debian package `knot`).
    public static var available: Bool { TestBinaries.has("knotd", "knotc") }

    /// Starts knotd; ready when it answers rpz.test.'s SOA over UDP.
    /// - Parameters:
    ///   - rpzZone: the zone text of `rpz.test.`.
    ///   - tsigSecret: base64 secret of `xfr.key`; nil for unsigned transfers.
    ///   - notifyPort: where NOTIFY for rpz.test. goes; nil sends none.
    ///   - extraZones: the text of `open.test.` and `closed.test.` for an origin; nil serves neither.
    ///   - readyTimeout: how long a large zone may take to load.
    /// - Throws: ``TestDaemonError`` with Knot's log when it does not start in three attempts.
    public static func start(rpzZone: String, tsigSecret: String? = nil, notifyPort: Int? = nil,
        extraZones: (@Sendable (String) -> String)? = nil, readyTimeout: Duration = .seconds(10)) async throws
        -> KnotPrimary
    {
        var lastLog = ""
        for _ in 0..<3 {
            let dir = try TemporaryDirectory(prefix: "palisade-knot")
            let port = try await TestNetwork.freePort()
            try dir.write("rpz.test.zone", rpzZone)
            if let extraZones {
                try dir.write("open.test.zone", extraZones("open.test."))
                try dir.write("closed.test.zone", extraZones("closed.test."))
            }
            let confPath = try dir.write("knot.conf",
                Self.configuration(dir: dir, port: port, tsigSecret: tsigSecret, notifyPort: notifyPort,
                    extraZones: extraZones != nil))
            let daemon = try TestDaemon(name: "knotd", executable: "knotd", arguments: ["-c", confPath], directory: dir)
            let soa = DNSMessage.query(id: 7, name: try DomainName("rpz.test."), type: .soa, recursionDesired: false,
                edns: nil)
            let ready = await Poll.until(timeout: readyTimeout) {
                guard daemon.isRunning else { return true }
                return await TestNetwork.udpQuery(soa, to: port, timeout: .milliseconds(200))?.answers.isEmpty == false
            }
            if ready, daemon.isRunning { return KnotPrimary(port: port, daemon: daemon) }
            lastLog = daemon.log
            await daemon.stop()
        }
        throw TestDaemonError("knotd did not start:\n\(lastLog)")
    }

    private static func configuration(dir: TemporaryDirectory, port: Int, tsigSecret: String?, notifyPort: Int?,
        extraZones: Bool) -> String
    {
        var conf = """
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

            """
        if let tsigSecret {
            conf += """
                key:
                  - id: xfr.key
                    algorithm: hmac-sha256
                    secret: \(tsigSecret)

                """
        }
        if let notifyPort {
            conf += """
                remote:
                  - id: palisade
                    address: 127.0.0.1@\(notifyPort)
                \(tsigSecret == nil ? "" : "    key: xfr.key")

                """
        }
        conf += "acl:\n"
        if tsigSecret != nil {
            conf += """
                  - id: signed-xfr
                    key: xfr.key
                    action: transfer

                """
        }
        conf += """
              - id: open-xfr
                address: 127.0.0.1
                action: transfer
            zone:
              - domain: rpz.test
                storage: "\(dir.path)"
                file: rpz.test.zone
                acl: \(tsigSecret == nil ? "open-xfr" : "signed-xfr")
                zonefile-load: difference
                journal-content: changes
                semantic-checks: off
            \(notifyPort == nil ? "" : "    notify: palisade")

            """
        if extraZones {
            conf += """
                  - domain: open.test
                    storage: "\(dir.path)"
                    file: open.test.zone
                    acl: open-xfr
                  - domain: closed.test
                    storage: "\(dir.path)"
                    file: closed.test.zone

                """
        }
        return conf
    }

    /// Changes rpz.test. in one transaction (Knot increments the serial): each `add` is `owner TTL TYPE
    /// RDATA`, each `remove` is `owner TYPE` (owners relative to the zone).
    public func change(add: [String] = [], remove: [String] = []) async throws {
        try await self.knotc(["zone-begin", "rpz.test"])
        for a in add { try await self.knotc(["zone-set", "rpz.test"] + a.split(separator: " ").map(String.init)) }
        for r in remove { try await self.knotc(["zone-unset", "rpz.test"] + r.split(separator: " ").map(String.init)) }
        try await self.knotc(["zone-commit", "rpz.test"])
    }

    /// Runs knotc against this daemon's control socket.
    /// - Throws: ``TestDaemonError`` with knotc's output when it exits non-zero.
    @discardableResult
    public func knotc(_ args: [String]) async throws -> String {
        let out = try await ExternalTool.run("knotc", ["-s", self.daemon.directory.file("knot.sock")] + args)
        guard out.status == 0 else { throw TestDaemonError("knotc \(args.joined(separator: " ")) failed: \(out)") }
        return out.output
    }

    /// Stops knotd and removes its directory.
    public func stop() async {
        await self.daemon.stop()
    }
}
