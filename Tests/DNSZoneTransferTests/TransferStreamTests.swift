import DNSWire
import Testing

@testable import DNSZoneTransfer

@Suite struct TransferStreamTests {
    static let a = Build.rr("evil.example 300 IN CNAME .")
    static let b = Build.rr("bad.example 300 IN CNAME rpz-drop.")
    static let c = Build.rr("new.example 300 IN CNAME .")

    func axfr(_ messages: [[ResourceRecord]], maxRecords: Int = 1000) throws -> TransferStream {
        var s = TransferStream(zone: Build.zone, request: .axfr, maxRecords: maxRecords)
        for m in messages { try s.consume(message: m) }
        return s
    }

    func ixfr(from serial: UInt32, _ messages: [[ResourceRecord]]) throws -> TransferStream {
        var s = TransferStream(zone: Build.zone, request: .ixfr(current: SerialNumber(serial)), maxRecords: 1000)
        for m in messages { try s.consume(message: m) }
        return s
    }

    @Test("An AXFR split over messages completes at the closing SOA with every record")
    func axfrAcrossMessages() throws {
        let s = try self.axfr([[Build.soa(5), Self.a], [Self.b], [Build.soa(5)]])
        #expect(s.isComplete)
        guard case .full(let set) = try s.content() else {
            Issue.record("not a full zone")
            return
        }
        #expect(set.serial == SerialNumber(5))
        #expect(set.records == [Self.a, Self.b])
    }

    @Test("An AXFR stream is incomplete until the closing SOA arrives")
    func axfrIncomplete() throws {
        let s = try self.axfr([[Build.soa(5), Self.a]])
        #expect(!s.isComplete)
        #expect(throws: ZoneTransferError.self) { try s.content() }
    }

    @Test("AXFR protocol violations are refused with a message naming the record", arguments: [
        ([[Self.a]], "not the SOA"),
        ([[Build.soa(5), Self.a, Build.soa(6)]], "closing SOA has serial 6"),
        ([[Build.soa(5), Build.soa(5), Self.a]], "follows the closing SOA"),
        ([[Build.soa(5), Build.rr("x.example.org. 300 IN A 192.0.2.1")]], "outside zone"),
        ([[Build.soa(5), Build.rr("below 300 IN SOA a. b. 1 2 3 4 5")]], "SOA below the apex"),
        ([[Build.soa(5), ResourceRecord(name: Build.name("x.rpz.test."), dnsClass: .chaos, ttl: 0, rdata: .txt(.init(strings: [[1]])))]], "class CH"),
    ])
    func axfrViolations(messages: [[ResourceRecord]], message: String) {
        let error = #expect(throws: ZoneTransferError.self) { try self.axfr(messages) }
        #expect(error?.code == .badResponse)
        #expect(error?.message.contains(message) == true, "\(String(describing: error))")
    }

    @Test("More records than maxRecords is refused before they are stored")
    func recordLimit() {
        let many = [Build.soa(1)] + (0..<20).map { Build.rr("r\($0) 300 IN CNAME .") }
        let error = #expect(throws: ZoneTransferError.self) { try self.axfr([many], maxRecords: 10) }
        #expect(error?.code == .limitExceeded)
    }

    @Test("An IXFR in incremental form yields each diff with its deletions and additions")
    func incremental() throws {
        let s = try self.ixfr(from: 1, [
            [Build.soa(3), Build.soa(1), Self.a, Build.soa(2), Self.c],
            [Build.soa(2), Self.b, Build.soa(3), Build.soa(3)],
        ])
        guard case .incremental(let soa, let diffs) = try s.content() else {
            Issue.record("not incremental")
            return
        }
        #expect(soa == Build.soa(3))
        #expect(diffs.count == 2)
        #expect(diffs[0].fromSerial == SerialNumber(1) && diffs[0].toSerial == SerialNumber(2))
        #expect(diffs[0].deleted == [Self.a] && diffs[0].added == [Self.c])
        #expect(diffs[1].fromSerial == SerialNumber(2) && diffs[1].toSerial == SerialNumber(3))
        #expect(diffs[1].deleted == [Self.b] && diffs[1].added.isEmpty)
    }

    @Test("An IXFR answered in AXFR form yields the whole zone")
    func ixfrAXFRForm() throws {
        let s = try self.ixfr(from: 1, [[Build.soa(4), Self.a, Self.b, Build.soa(4)]])
        guard case .full(let set) = try s.content() else {
            Issue.record("not full")
            return
        }
        #expect(set.count == 2)
    }

    @Test("An IXFR answered by a lone SOA message means up to date (or use AXFR)")
    func soaOnly() throws {
        let s = try self.ixfr(from: 1, [[Build.soa(1)]])
        guard case .soaOnly(let soa) = try s.content() else {
            Issue.record("not soaOnly")
            return
        }
        #expect(soa == Build.soa(1))
    }

    @Test("IXFR sequences with wrong serials are refused", arguments: [
        ([[Build.soa(3), Build.soa(2), Self.a]], "continues with serial 2"),
        ([[Build.soa(3), Build.soa(1), Self.a, Build.soa(2), Self.c, Build.soa(7)]], "followed by an SOA with serial 7"),
        ([[Build.soa(3), Build.soa(1), Build.soa(3), Build.soa(3), Self.a]], "follows the closing SOA"),
    ])
    func ixfrViolations(messages: [[ResourceRecord]], message: String) {
        let error = #expect(throws: ZoneTransferError.self) { try self.ixfr(from: 1, messages) }
        #expect(error?.code == .badResponse)
        #expect(error?.message.contains(message) == true, "\(String(describing: error))")
    }
}
