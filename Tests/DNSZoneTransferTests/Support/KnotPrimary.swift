import TestSupport
import DNSWire
import Foundation

/// A Knot DNS primary on 127.0.0.1 for integration tests, started by the test in its own temp directory
/// on a free port, stopped by PID.
///
/// Zones:
/// - `rpz.test.`: transfers need the TSIG key `xfr.key`; changes made with ``change(add:remove:)``
///   are kept in the journal (so IXFR is real) and NOTIFY goes to `notifyPort`, signed with the key;
/// - `open.test.`: transfers allowed from 127.0.0.1 without a key;
/// - `closed.test.`: no transfer allowed (Knot answers NOTAUTH).
final class KnotPrimary: Sendable {
    static let keySecret = Build.secret

    let port: Int
    let daemon: TestDaemon
    private let socket: String

    private init(port: Int, daemon: TestDaemon, socket: String) {
        self.port = port
        self.daemon = daemon
        self.socket = socket
    }

    /// Whether knotd and knotc are installed.
    static var available: Bool { TestBinaries.has("knotd", "knotc") }

    /// Zone text of a small RPZ zone with `serial`.
    static func rpzZone(_ origin: String = "rpz.test.", serial: UInt32 = 1) -> String {
        """
        $ORIGIN \(origin)
        $TTL 300
        @ SOA ns.\(origin) admin.\(origin) \(serial) 3600 600 86400 300
        @ NS ns.\(origin)
        ns A 192.0.2.53
        evil.example CNAME .
        *.evil.example CNAME .
        bad.example CNAME rpz-drop.
        passthru.example CNAME rpz-passthru.

        """
    }

    /// Starts knotd; ready when it answers rpz.test.'s SOA over UDP.
    /// - Parameter notifyPort: where NOTIFY for rpz.test. goes; nil sends none.
    /// - Parameter extraRecords: that many more `dN.example CNAME .` rules in rpz.test. (benchmarks).
    static func start(notifyPort: Int? = nil, extraRecords: Int = 0) async throws -> KnotPrimary {
        var lastLog = ""
        for _ in 0..<3 {
            let dir = try TemporaryDirectory(prefix: "palisade-knot")
            let port = try await TestNetwork.freePort()
            var rpz = Self.rpzZone()
            if extraRecords > 0 {
                rpz += (0..<extraRecords).map { "d\($0).example CNAME .\n" }.joined()
            }
            try dir.write("rpz.test.zone", rpz)
            try dir.write("open.test.zone", Self.rpzZone("open.test."))
            try dir.write("closed.test.zone", Self.rpzZone("closed.test."))
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
                key:
                  - id: xfr.key
                    algorithm: hmac-sha256
                    secret: \(Self.keySecret)

                """
            if let notifyPort {
                conf += """
                    remote:
                      - id: palisade
                        address: 127.0.0.1@\(notifyPort)
                        key: xfr.key

                    """
            }
            conf += """
                acl:
                  - id: signed-xfr
                    key: xfr.key
                    action: transfer
                  - id: open-xfr
                    address: 127.0.0.1
                    action: transfer
                zone:
                  - domain: rpz.test
                    storage: "\(dir.path)"
                    file: rpz.test.zone
                    acl: signed-xfr
                    zonefile-load: difference
                    journal-content: changes
                    semantic-checks: off
                \(notifyPort == nil ? "" : "    notify: palisade")
                  - domain: open.test
                    storage: "\(dir.path)"
                    file: open.test.zone
                    acl: open-xfr
                  - domain: closed.test
                    storage: "\(dir.path)"
                    file: closed.test.zone

                """
            let confPath = try dir.write("knot.conf", conf)
            let daemon = try TestDaemon(name: "knotd", executable: "knotd", arguments: ["-c", confPath], directory: dir)
            let soa = DNSMessage.query(id: 7, name: Build.name("rpz.test."), type: .soa, recursionDesired: false, edns: nil)
            let ready = await Poll.until(timeout: .seconds(extraRecords > 0 ? 120 : 10)) {
                guard daemon.isRunning else { return true }
                return await TestNetwork.udpQuery(soa, to: port, timeout: .milliseconds(200))?.answers.isEmpty == false
            }
            if ready, daemon.isRunning {
                return KnotPrimary(port: port, daemon: daemon, socket: dir.file("knot.sock"))
            }
            lastLog = daemon.log
            await daemon.stop()
        }
        throw TestDaemonError("knotd did not start:\n\(lastLog)")
    }

    /// Changes rpz.test. in one transaction (the serial is incremented by Knot): each `add` is
    /// `owner TTL TYPE RDATA` (owner relative), each `remove` is `owner TYPE`.
    func change(add: [String] = [], remove: [String] = []) async throws {
        try await self.knotc(["zone-begin", "rpz.test"])
        for a in add { try await self.knotc(["zone-set", "rpz.test"] + a.split(separator: " ").map(String.init)) }
        for r in remove { try await self.knotc(["zone-unset", "rpz.test"] + r.split(separator: " ").map(String.init)) }
        try await self.knotc(["zone-commit", "rpz.test"])
    }

    /// Runs knotc against this daemon's control socket, awaiting its exit without blocking a thread.
    @discardableResult
    func knotc(_ args: [String]) async throws -> String {
        guard let path = TestBinaries.path("knotc") else { throw TestDaemonError("knotc is not installed") }
        let output = self.daemon.directory.file("knotc-\(UInt32.random(in: 0...UInt32.max)).out")
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = ["-s", self.socket] + args
        p.standardOutput = handle
        p.standardError = handle
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            p.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do {
                try p.run()
            } catch {
                p.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        try? handle.close()
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        guard status == 0 else {
            throw TestDaemonError("knotc \(args.joined(separator: " ")) failed (\(status)): \(text)")
        }
        return text
    }

    /// Starts knotd, runs `body`, and stops knotd whether `body` threw or not.
    static func with<T>(notifyPort: Int? = nil, extraRecords: Int = 0, _ body: (KnotPrimary) async throws -> T)
        async throws -> T
    {
        let knot = try await Self.start(notifyPort: notifyPort, extraRecords: extraRecords)
        do {
            let result = try await body(knot)
            await knot.stop()
            return result
        } catch {
            await knot.stop()
            throw error
        }
    }

    /// Stops knotd and removes its directory.
    func stop() async {
        await self.daemon.stop()
    }
}
