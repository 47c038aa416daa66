import DNSWire
import Testing

@testable import DNSZoneTransfer

@Suite struct ZoneRecordSetTests {
    static let a = Build.rr("evil.example 300 IN CNAME .")
    static let b = Build.rr("bad.example 300 IN CNAME rpz-drop.")
    static let c = Build.rr("new.example 300 IN CNAME .")

    static func set(_ serial: UInt32, _ records: [ResourceRecord]) throws -> ZoneRecordSet {
        try ZoneRecordSet(zone: Build.zone, soa: Build.soa(serial), records: records)
    }

    @Test("Applying diffs deletes then adds, moves the SOA and returns the changes in order")
    func apply() throws {
        let old = try Self.set(1, [Self.a, Self.b])
        let diffs = [
            IXFRDiff(from: Build.soa(1), to: Build.soa(2), deleted: [Self.a], added: [Self.c]),
            IXFRDiff(from: Build.soa(2), to: Build.soa(3), deleted: [Self.b], added: []),
        ]
        let (new, changes) = try old.applying(diffs)
        #expect(new.serial == SerialNumber(3))
        #expect(new.records == [Self.c])
        #expect(changes == [.deleted(Self.a), .added(Self.c), .deleted(Self.b)])
        // The original is untouched.
        #expect(old.records == [Self.a, Self.b])
        #expect(old.serial == SerialNumber(1))
    }

    @Test("Deletions match whatever the TTL and case of the owner")
    func deletionIgnoresTTLAndCase() throws {
        var set = try Self.set(1, [Self.a])
        let other = Build.rr("EVIL.Example 60 IN CNAME .")
        try set.apply([IXFRDiff(from: Build.soa(1), to: Build.soa(2), deleted: [other])])
        #expect(set.count == 0)
    }

    @Test("Re-adding a present record only changes its TTL")
    func readd() throws {
        var set = try Self.set(1, [Self.a])
        let longer = Build.rr("evil.example 900 IN CNAME .")
        let changes = try set.apply([IXFRDiff(from: Build.soa(1), to: Build.soa(2), added: [Self.a, longer])])
        #expect(set.records == [longer])
        #expect(changes == [.deleted(Self.a), .added(longer)])
    }

    @Test("A diff that does not fit fails and leaves the set exactly as it was", arguments: [
        ([IXFRDiff(from: Build.soa(2), to: Build.soa(3))], "starts at serial 2"),
        ([IXFRDiff(from: Build.soa(1), to: Build.soa(1))], "not newer"),
        ([IXFRDiff(from: Build.soa(1), to: Build.soa(2_147_483_649))], "not newer"),
        ([IXFRDiff(from: Build.soa(1), to: Build.soa(2), deleted: [Self.a], added: [Self.c]),
          IXFRDiff(from: Build.soa(2), to: Build.soa(3), deleted: [Self.c, Build.rr("absent 300 IN CNAME .")])],
         "does not hold"),
        ([IXFRDiff(from: Build.soa(1), to: Build.soa(2), added: [Build.rr("x.example.org. 300 IN A 192.0.2.1")])],
         "outside zone"),
    ])
    func rejected(diffs: [IXFRDiff], message: String) throws {
        var set = try Self.set(1, [Self.a, Self.b])
        let error = #expect(throws: ZoneTransferError.self) { try set.apply(diffs) }
        #expect(error?.code == .diffNotApplicable)
        #expect(error?.message.contains(message) == true, "\(String(describing: error))")
        #expect(set.serial == SerialNumber(1))
        #expect(Set(set.records) == Set([Self.a, Self.b]))
        #expect(set.contains(Self.a) && set.contains(Self.b) && !set.contains(Self.c))
    }

    @Test("Serial arithmetic wraps: a diff from 4294967295 to 3 applies")
    func wrap() throws {
        var set = try Self.set(4_294_967_295, [Self.a])
        try set.apply([IXFRDiff(from: Build.soa(4_294_967_295), to: Build.soa(3), added: [Self.b])])
        #expect(set.serial == SerialNumber(3))
    }

    @Test("Many deletions compact the storage and keep every remaining record findable")
    func compaction() throws {
        let records = (0..<5000).map { Build.rr("r\($0) 300 IN CNAME .") }
        var set = try Self.set(1, records)
        try set.apply([IXFRDiff(from: Build.soa(1), to: Build.soa(2), deleted: Array(records[0..<4000]))])
        #expect(set.count == 1000)
        #expect(set.records == Array(records[4000...]))
        for r in records[4000...] { #expect(set.contains(r)) }
        try set.apply([IXFRDiff(from: Build.soa(2), to: Build.soa(3), deleted: [records[4500]])])
        #expect(set.count == 999)
    }

    @Test("Duplicates and extra SOAs in a full transfer are kept once / dropped")
    func duplicates() throws {
        let set = try Self.set(1, [Self.a, Self.a, Build.soa(1), Self.b])
        #expect(set.records == [Self.a, Self.b])
    }

    @Test("The zone text reads back to the same records with the SOA first")
    func zoneTextRoundTrip() throws {
        let records = [Self.a, Self.b, Build.rr("*.evil.example 300 IN CNAME ."),
            Build.rr("txt 60 IN TXT \"a b\" \"c\\\"d\""), Build.rr("32.1.2.0.192.rpz-ip 300 IN CNAME ."),
            Build.rr("local 300 IN A 192.0.2.7"), Build.rr("local 300 IN AAAA 2001:db8::7")]
        let set = try Self.set(9, records)
        let text = set.zoneText()
        #expect(text.hasPrefix("$ORIGIN rpz.test.\n@ 300 IN SOA "))
        let back = try ZoneFileReader.records(in: text)
        #expect(back.first == Build.soa(9))
        #expect(Array(back.dropFirst()) == records)
    }

    @Test("Owner names a primary could use to inject directives or comments read back as the same records")
    func hostileOwners() throws {
        let labels: [[UInt8]] = [Array("$ORIGIN".utf8), Array("$INCLUDE".utf8), Array("@".utf8), Array(";x".utf8),
            Array("a b".utf8), Array("(".utf8), [0, 10, 13, 255], Array("\\".utf8)]
        let records = try labels.map { label in
            ResourceRecord(name: try DomainName(labels: [label] + Build.zone.labels.map(Array.init)), ttl: 300,
                rdata: .cname(.init(target: .root)))
        }
        let set = try Self.set(3, records)
        let back = try ZoneFileReader.records(in: set.zoneText())
        #expect(Array(back.dropFirst()) == records)
    }
}
