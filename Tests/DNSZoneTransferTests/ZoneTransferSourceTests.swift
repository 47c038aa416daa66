import DNSWire
import Synchronization
import Testing

@testable import DNSZoneTransfer

/// The source's refresh logic against a scripted primary whose zone the test changes.
@Suite(.tags(.integration)) struct ZoneTransferSourceTests {
    typealias Query = ZoneTransferClientTests.Query
    static let a = Build.rr("evil.example 300 IN CNAME .")
    static let b = Build.rr("bad.example 300 IN CNAME rpz-drop.")
    static let c = Build.rr("new.example 300 IN CNAME .")

    /// How the fake primary answers IXFR.
    enum IXFRMode: Sendable {
        case incremental
        case refused
        case axfrForm
        /// Diffs deleting a record the client does not hold.
        case bogus
        case soaOnly
    }

    /// The fake primary's zone: version 1 holds a and b; version 2 deletes a and adds c.
    final class Zone: Sendable {
        let serial = Mutex<UInt32>(1)
        let mode = Mutex<IXFRMode>(.incremental)
        let broken = Mutex(false)

        func records(_ serial: UInt32) -> [ResourceRecord] { serial == 1 ? [ZoneTransferSourceTests.a, ZoneTransferSourceTests.b] : [ZoneTransferSourceTests.b, ZoneTransferSourceTests.c] }

        func script(_ raw: [UInt8]) -> [ScriptedPrimary.Step] {
            if self.broken.withLock({ $0 }) { return [.close] }
            let q = Query(raw)
            let serial = self.serial.withLock { $0 }
            switch q.question.type {
            case .soa:
                return [.message(q.reply([Build.soa(serial)]))]
            case .axfr:
                return [.message(q.reply([Build.soa(serial)] + self.records(serial) + [Build.soa(serial)]))]
            default:
                switch self.mode.withLock({ $0 }) {
                case .incremental:
                    return [.message(q.reply([Build.soa(2), Build.soa(1), ZoneTransferSourceTests.a, Build.soa(2),
                        ZoneTransferSourceTests.c, Build.soa(2)]))]
                case .refused:
                    return [.message(q.reply([], rcode: .refused))]
                case .axfrForm:
                    return [.message(q.reply([Build.soa(serial)] + self.records(serial) + [Build.soa(serial)]))]
                case .bogus:
                    return [.message(q.reply([Build.soa(2), Build.soa(1), Build.rr("ghost 300 IN CNAME ."), Build.soa(2),
                        Build.soa(2)]))]
                case .soaOnly:
                    return [.message(q.reply([Build.soa(serial)]))]
                }
            }
        }
    }

    static func source(port: Int, mode: ZoneTransferLocation.Mode = .ixfr) throws -> ZoneTransferSource {
        let location = try ZoneTransferLocation(parsing: "\(mode.rawValue)://127.0.0.1:\(port)/rpz.test")
        return try ZoneTransferSource(location: location, key: nil, options: .init(soaQueryAttempts: 0))
    }

    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test("fetchUpdate returns the IXFR changes to a caller at the serial they start from, and the text otherwise")
    func fetchUpdate() async throws {
        let zone = Zone()
        let primary = try await ScriptedPrimary.start { zone.script($0) }
        defer { primary.stop() }
        let source = try Self.source(port: primary.port)
        #expect(await source.heldText() == nil, "nothing is held before the first transfer")

        guard case .whole(let first) = try await source.fetchUpdate(since: nil) else {
            Issue.record("the first fetch must return the whole text")
            return
        }
        #expect(Self.text(first).contains("\nevil.example 300 IN CNAME .\n"))
        guard case .upToDate = try await source.fetchUpdate(since: 1) else {
            Issue.record("an unchanged zone must be up to date")
            return
        }
        zone.serial.withLock { $0 = 2 }
        guard case .incremental(let from, let to, let changes) = try await source.fetchUpdate(since: 1) else {
            Issue.record("an IXFR from the caller's serial must return the changes")
            return
        }
        #expect(from == 1 && to == 2)
        #expect(changes == [.deleted(Self.a), .added(Self.c)])
        // The text after the IXFR comes from the zone held: the primary is not asked anything more.
        let asked = primary.received.count
        let held = Self.text(try #require(await source.heldText()))
        #expect(held.contains("\nnew.example 300 IN CNAME .\n") && !held.contains("\nevil.example 300 IN CNAME .\n"))
        #expect(primary.received.count == asked)
        // Another caller holding another serial gets the whole text, rendered now.
        guard case .whole(let text) = try await source.fetchUpdate(since: 7) else {
            Issue.record("a caller at another serial must get the whole text")
            return
        }
        #expect(Self.text(text).contains("\nnew.example 300 IN CNAME .\n"))
        #expect(!Self.text(text).contains("\nevil.example 300 IN CNAME .\n"))
        guard case .upToDate = try await source.fetchUpdate(since: 2) else {
            Issue.record("the caller now at serial 2 must be up to date")
            return
        }
    }

    @Test("First fetch is an AXFR; an unchanged serial transfers nothing; a newer one applies the IXFR")
    func lifecycle() async throws {
        let zone = Zone()
        let primary = try await ScriptedPrimary.start { zone.script($0) }
        defer { primary.stop() }
        let source = try Self.source(port: primary.port)

        let first = Self.text(try await source.fetch())
        #expect(first.contains("\nevil.example 300 IN CNAME .\n"))
        var status = await source.status()
        #expect(status.lastKind == .axfr && status.serial == 1 && status.recordCount == 2)

        let again = try await source.fetch()
        #expect(Self.text(again) == first)
        #expect(await source.status().lastKind == .upToDate)
        #expect(Query(primary.received.last ?? []).question.type == .soa)

        zone.serial.withLock { $0 = 2 }
        let updated = Self.text(try await source.fetch())
        status = await source.status()
        #expect(status.lastKind == .ixfr)
        #expect(status.serial == 2)
        #expect(status.lastChangeCount == 2)
        #expect(await source.lastChanges() == [.deleted(Self.a), .added(Self.c)])
        #expect(!updated.contains("evil.example"))
        #expect(updated.contains("new.example"))
        let records = try #require(await source.records())
        #expect(Set(records.records) == Set([Self.b, Self.c]))
    }

    @Test("IXFR answers that cannot be used fall back to AXFR", arguments: [
        IXFRMode.refused, .axfrForm, .bogus, .soaOnly,
    ])
    func fallback(mode: IXFRMode) async throws {
        let zone = Zone()
        zone.mode.withLock { $0 = mode }
        let primary = try await ScriptedPrimary.start { zone.script($0) }
        defer { primary.stop() }
        let source = try Self.source(port: primary.port)
        _ = try await source.fetch()
        zone.serial.withLock { $0 = 2 }
        _ = try await source.fetch()
        let status = await source.status()
        #expect(status.serial == 2)
        let records = try #require(await source.records())
        #expect(Set(records.records) == Set([Self.b, Self.c]))
        if mode == .axfrForm {
            #expect(status.lastKind == .ixfrFull)
            #expect(status.ixfrFallbacks == 0)
        } else {
            #expect(status.lastKind == .axfr)
            #expect(status.ixfrFallbacks == 1)
        }
    }

    @Test("axfr:// locations never ask for IXFR")
    func axfrOnly() async throws {
        let zone = Zone()
        let primary = try await ScriptedPrimary.start { zone.script($0) }
        defer { primary.stop() }
        let source = try Self.source(port: primary.port, mode: .axfr)
        _ = try await source.fetch()
        zone.serial.withLock { $0 = 2 }
        _ = try await source.fetch()
        #expect(await source.status().lastKind == .axfr)
        #expect(!primary.received.contains { Query($0).question.type == .ixfr })
    }

    @Test("A failing primary leaves the copy and text as they were and records the error")
    func failureKeepsCopy() async throws {
        let zone = Zone()
        let primary = try await ScriptedPrimary.start { zone.script($0) }
        defer { primary.stop() }
        let source = try Self.source(port: primary.port)
        let good = try await source.fetch()
        zone.broken.withLock { $0 = true }
        let error = await #expect(throws: ZoneTransferError.self) { try await source.fetch() }
        #expect(error?.code == .connectionClosed)
        let status = await source.status()
        #expect(status.lastError?.contains("SOA query") == true)
        #expect(status.serial == 1)
        zone.broken.withLock { $0 = false }
        #expect(try await source.fetch() == good)
        #expect(await source.status().lastError == nil)
    }

    @Test("Concurrent fetches share one transfer")
    func coalesced() async throws {
        let zone = Zone()
        let primary = try await ScriptedPrimary.start { zone.script($0) }
        defer { primary.stop() }
        let source = try Self.source(port: primary.port)
        async let one = source.fetch()
        async let two = source.fetch()
        let (x, y) = try await (one, two)
        #expect(x == y)
        #expect(primary.received.count == 1)
    }
}
