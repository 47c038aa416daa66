import TestSupport
import DNSWire
import NIOCore
import Synchronization
import Testing

@testable import DNSZoneTransfer

/// Transfers from a real Knot DNS primary on loopback (started and stopped by each test).
@Suite(.tags(.integration), .serialized,
    .enabled(if: KnotPrimary.available, "knotd/knotc are not installed: install the Debian package knot (.ci/run does)"))
struct KnotIntegrationTests {
    static let options = ZoneTransferOptions(connectTimeout: .seconds(5), idleTimeout: .seconds(10),
        transferTimeout: .seconds(30), soaQueryTimeout: .milliseconds(500), soaQueryAttempts: 2)

    /// The records of the test zone other than the SOA, as Knot should send them.
    static func expected(_ origin: String) throws -> Set<ResourceRecord> {
        let all = try ZoneFileReader.records(in: KnotPrimary.rpzZone(origin))
        return Set(all.filter { $0.type != .soa })
    }

    static func source(_ knot: KnotPrimary, zone: String, mode: String = "axfr", key: TSIGKey? = nil)
        throws -> ZoneTransferSource
    {
        let text = "\(mode)://127.0.0.1:\(knot.port)/\(zone)" + (key == nil ? "" : "?tsig=\(key?.name.description ?? "")")
        return try ZoneTransferSource(location: try ZoneTransferLocation(parsing: text), key: key, options: Self.options)
    }

    @Test("An AXFR from Knot returns every record of the zone, and the text compiles back to them")
    func axfr() async throws {
        try await KnotPrimary.with { knot in
            let source = try Self.source(knot, zone: "open.test")
            let text = try await source.fetch()
            let records = try #require(await source.records())
            #expect(Set(records.records) == (try Self.expected("open.test.")))
            #expect(records.serial == SerialNumber(1))
            let reread = try ZoneFileReader.records(in: text)
            #expect(Set(reread.dropFirst()) == (try Self.expected("open.test.")))
            #expect(await source.status().lastKind == .axfr)
        }
    }

    @Test("A TSIG-signed AXFR from Knot succeeds; with a wrong secret it fails with BADSIG")
    func signed() async throws {
        try await KnotPrimary.with { knot in
            let good = try Self.source(knot, zone: "rpz.test", key: Build.key)
            _ = try await good.fetch()
            #expect(Set(try #require(await good.records()).records) == (try Self.expected("rpz.test.")))

            let bad = try Self.source(knot, zone: "rpz.test", key: Build.wrongKey)
            let error = await #expect(throws: ZoneTransferError.self) { try await bad.fetch() }
            #expect(error?.code == .tsigBadSig)
            #expect(error?.message.contains("BADSIG") == true)
            #expect(error?.message.contains("xfr.key.") == true)

            let unsigned = try Self.source(knot, zone: "rpz.test")
            let refused = await #expect(throws: ZoneTransferError.self) { try await unsigned.fetch() }
            #expect(refused?.code == .serverError)
            #expect(refused?.rcode == .notAuth)
        }
    }

    @Test("A zone Knot does not allow transferring fails with the RCODE and a hint")
    func notAllowed() async throws {
        try await KnotPrimary.with { knot in
            let error = await #expect(throws: ZoneTransferError.self) { try await Self.source(knot, zone: "closed.test").fetch() }
            #expect(error?.code == .serverError)
            #expect(error?.rcode == .notAuth)
            #expect(error?.message.contains("AXFR of closed.test. from 127.0.0.1:\(knot.port)") == true)
        }
    }

    @Test("A change on Knot is NOTIFYed, signed, to the listener and applied by IXFR within seconds")
    func notifyAndIXFR() async throws {
        let fetcher = ZoneTransferFetcher(keys: TSIGKeyRegistry([Build.key]), options: Self.options)
        let listener = try await NotifyListener.start(host: "127.0.0.1", port: 0,
            responder: NotifyResponder(authorizer: fetcher))
        defer { listener.close() }
        try await KnotPrimary.with(notifyPort: listener.port) { knot in

            let location = "ixfr://127.0.0.1:\(knot.port)/rpz.test?tsig=xfr.key"
            let first = String(decoding: try await fetcher.fetch(location), as: UTF8.self)
            #expect(first.contains("\nevil.example 300 IN CNAME .\n"))
            let source = try fetcher.source(for: location)
            #expect(await source.status().lastKind == .axfr)

            // What the policy manager would do on "refresh now": fetch the location again.
            let refreshes = Mutex(0)
            fetcher.setRefreshHandler { loc in
                _ = try? await fetcher.fetch(loc)
                refreshes.withLock { $0 += 1 }
            }
            try await knot.change(add: ["new.example 300 CNAME ."], remove: ["evil.example CNAME"])

            let applied = await Poll.until(timeout: .seconds(15), every: .milliseconds(50)) {
                await source.status().serial == 2
            }
            #expect(applied, "the change was not applied; knot log:\n\(knot.daemon.log)")
            let status = await source.status()
            #expect(status.lastKind == .ixfr)
            #expect(status.lastChangeCount == 2)
            #expect(status.ixfrFallbacks == 0)
            #expect(refreshes.withLock { $0 } >= 1)
            let evil = Build.rr("evil.example 300 IN CNAME .")
            let new = Build.rr("new.example 300 IN CNAME .")
            #expect(await source.lastChanges() == [.deleted(evil), .added(new)])
            let text = String(decoding: try await fetcher.fetch(location), as: UTF8.self)
            #expect(text.contains("\nnew.example 300 IN CNAME .\n"))
            #expect(!text.contains("\nevil.example 300 IN CNAME .\n"))
            #expect(text.contains("\n*.evil.example 300 IN CNAME .\n"))
            let records = try #require(await source.records())
            var expected = try Self.expected("rpz.test.")
            expected.remove(evil)
            expected.insert(new)
            #expect(Set(records.records) == expected)
        }
    }

    @Test("A stopped primary gives a clear error and the copy held stays as it was")
    func stoppedPrimary() async throws {
        try await KnotPrimary.with { knot in
            let source = try Self.source(knot, zone: "open.test", mode: "ixfr")
            let good = try await source.fetch()
            await knot.stop()
            let error = await #expect(throws: ZoneTransferError.self) { try await source.fetch() }
            #expect(error?.code == .connectionFailed)
            #expect(error?.message.contains("SOA query for open.test. to 127.0.0.1:\(knot.port)") == true)
            let status = await source.status()
            #expect(status.serial == 1)
            #expect(status.lastError != nil)
            #expect(Set(try #require(await source.records()).records) == (try Self.expected("open.test.")))
            // The text a caller kept is still what the source would rebuild.
            #expect(try #require(await source.records()).zoneText() == String(decoding: good, as: UTF8.self))
        }
    }
}
