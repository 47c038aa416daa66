import DNSWire
import Foundation
import Testing
import TestSupport

extension Tag {
    /// Tests that start real processes (Palisade, NSD, Unbound) and talk to them over loopback sockets.
    @Tag static var integration: Self
}

/// What a suite needs installed; each test is skipped, with the reason shown, when something is missing.
/// `scripts/test.sh` installs all of it on Debian.
enum Requirements {
    /// NSD, the authoritative server every end-to-end test forwards to, and BIND's `dig`.
    static let nsdAndDig = TestBinaries.has("nsd", "dig")
    /// Knot's `kdig` (DoT and DoH client) and `openssl` (test certificates).
    static let kdigAndOpenSSL = TestBinaries.has("nsd", "kdig", "openssl")
    /// The `sqlite3` command-line shell, to read the query log as an outside tool would.
    static let sqlite3 = TestBinaries.has("sqlite3")
    /// The message shown when NSD or dig is missing.
    static let nsdAndDigMessage: Comment = "needs nsd and dig (Debian: nsd, bind9-dnsutils; scripts/test.sh installs them)"
    /// The failure shown when the sqlite3 shell is missing: the query-log checks need it, so they fail rather than pass
    /// without looking.
    static let sqlite3Message: Comment = "needs the sqlite3 shell (Debian: sqlite3; scripts/test.sh installs it)"
    /// The message shown when kdig or openssl is missing.
    static let kdigMessage: Comment = "needs nsd, kdig and openssl (Debian: nsd, knot-dnsutils, openssl)"
}

/// The zone most end-to-end tests serve from NSD: `example.org.` with `www` (A, AAAA), `mail` (MX),
/// `alias` (CNAME) and `big` (a TXT RRset larger than 1232 bytes), plus `extra` records.
func exampleZone(_ extra: [String] = []) -> TestZone {
    var zone = TestZone.example()
    zone.records += extra
    return zone
}

/// Starts NSD with `zones` and Palisade forwarding to it, runs `body`, and stops both.
func withNSDAndPalisade<T>(zones: [TestZone] = [exampleZone()], config: String? = nil, arguments: [String] = [],
    environment: [String: String] = [:], _ body: (NSDServer, PalisadeProcess) async throws -> T) async throws -> T
{
    try await withDaemons { r in
        let nsd = r.keep(try await NSDServer.start(zones: zones))
        let palisade = r.keep(try await PalisadeProcess.start(config: config, arguments: arguments,
            upstreams: ["127.0.0.1:\(nsd.port)"], environment: environment))
        let value = try await body(nsd, palisade)
        // Whatever the test checked, the process must have survived it (a crash shows its backtrace here).
        #expect(palisade.isRunning, "palisade is no longer running:\n\(palisade.log)")
        return value
    }
}

/// Runs `body` with a scope that stops what it keeps, once one of the few daemon slots is free.
///
/// Swift Testing runs every test at once; on a two-core machine twenty Palisade processes starting
/// together would make each one's readiness and timing depend on the others. The slots bound that, so
/// each test's deadlines measure its own daemons.
func withDaemons<T>(_ body: (TestResources) async throws -> T) async throws -> T {
    await DaemonSlots.shared.acquire()
    do {
        let value = try await TestResources.with(body)
        await DaemonSlots.shared.release()
        return value
    } catch {
        await DaemonSlots.shared.release()
        throw error
    }
}

/// A counting semaphore for ``withDaemons(_:)``.
actor DaemonSlots {
    static let shared = DaemonSlots(slots: max(2, ProcessInfo.processInfo.activeProcessorCount))
    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(slots: Int) { self.free = slots }

    func acquire() async {
        if self.free > 0 {
            self.free -= 1
            return
        }
        await withCheckedContinuation { self.waiting.append($0) }
    }

    func release() {
        if self.waiting.isEmpty {
            self.free += 1
        } else {
            self.waiting.removeFirst().resume()
        }
    }
}

/// The source directory of the package (for files the tests read, such as the bundled feed).
let packageRoot = PalisadeProcess.packageRoot

/// An RPZ zone file (draft-vixie-dnsop-dns-rpz) with the given trigger lines after its SOA and NS.
func rpzZone(_ rules: [String]) -> String {
    ([
        "$ORIGIN rpz.test.",
        "$TTL 300",
        "@ IN SOA ns.rpz.test. hostmaster.rpz.test. 1 3600 600 86400 300",
        "  IN NS ns.rpz.test.",
    ] + rules).joined(separator: "\n") + "\n"
}

extension DNSMessage {
    /// The first Extended DNS Error option (RFC 8914), decoded.
    var extendedError: (code: ExtendedErrorCode, text: String)? {
        self.edns?.option(.extendedError)?.extendedErrorValue
    }
}
