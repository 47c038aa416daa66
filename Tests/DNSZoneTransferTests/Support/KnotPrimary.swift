import DNSWire
import TestSupport

/// The Knot primary these tests transfer from: `rpz.test.` needs the TSIG key `xfr.key` (``Build/secret``),
/// `open.test.` is open to 127.0.0.1 and `closed.test.` refuses transfers (see ``KnotPrimary``).
extension KnotPrimary {
    static let keySecret = Build.secret

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

    /// Starts knotd, runs `body`, and stops knotd whether `body` threw or not.
    /// - Parameter notifyPort: where NOTIFY for rpz.test. goes; nil sends none.
    /// - Parameter extraRecords: that many more `dN.example CNAME .` rules in rpz.test. (benchmarks).
    static func with<T>(notifyPort: Int? = nil, extraRecords: Int = 0, _ body: (KnotPrimary) async throws -> T)
        async throws -> T
    {
        var rpz = Self.rpzZone()
        if extraRecords > 0 {
            rpz += (0..<extraRecords).map { "d\($0).example CNAME .\n" }.joined()
        }
        let knot = try await Self.start(rpzZone: rpz, tsigSecret: Self.keySecret, notifyPort: notifyPort,
            extraZones: { Self.rpzZone($0) }, readyTimeout: .seconds(extraRecords > 0 ? 120 : 10))
        do {
            let result = try await body(knot)
            await knot.stop()
            return result
        } catch {
            await knot.stop()
            throw error
        }
    }
}
