import DNSWire
import Testing

@Suite struct ZoneFileWriterTests {
    private func records() throws -> [ResourceRecord] {
        let origin = try DomainName("example.org.")
        return [
            ResourceRecord(name: origin, ttl: 3600, rdata: .soa(.init(mname: try DomainName("ns1.example.org."),
                rname: try DomainName("host.example.org."), serial: 7, refresh: 3600, retry: 900, expire: 604_800,
                minimum: 300))),
            ResourceRecord(name: try DomainName("www.example.org."), ttl: 60,
                rdata: .a(.init(address: IPv4Address(192, 0, 2, 1)))),
            ResourceRecord(name: try DomainName("www.example.org."), ttl: 60,
                rdata: .aaaa(.init(address: try #require(IPv6Address("2001:db8::1"))))),
            ResourceRecord(name: try DomainName("t.example.org."), ttl: 3600,
                rdata: .txt(.init(strings: [Array(#"quote " and \ and ; "#.utf8), [0, 255]]))),
            ResourceRecord(name: try DomainName("odd\\.label.example.net."), ttl: 5,
                rdata: .cname(.init(target: .root))),
            ResourceRecord(name: try DomainName("x.example.org."), ttl: 5,
                rdata: .unknown(.init(type: RecordType(65280), bytes: [0, 1, 0]))),
            ResourceRecord(name: try DomainName("m.example.org."), dnsClass: .chaos, ttl: 5,
                rdata: .mx(.init(preference: 10, exchange: try DomainName("mx.example.org.")))),
        ]
    }

    @Test("written records read back to the same records")
    func roundTrip() throws {
        let rrs = try self.records()
        let text = ZoneFileWriter().write(rrs)
        #expect(try ZoneFileReader.records(in: text) == rrs)
        #expect(text.split(separator: "\n").count == rrs.count)
    }

    @Test("with an origin and default TTL, owners are relative and equal TTLs are omitted, and it still round-trips")
    func relativeOutput() throws {
        let rrs = try self.records()
        let writer = ZoneFileWriter(origin: try DomainName("example.org."), defaultTTL: 3600)
        let text = writer.write(rrs)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines[0] == "$ORIGIN example.org.")
        #expect(lines[1] == "$TTL 3600")
        #expect(lines[2].hasPrefix("@ IN SOA "))
        #expect(lines[3] == "www 60 IN A 192.0.2.1")
        #expect(lines[6].hasPrefix("odd\\.label.example.net. 5 IN CNAME ."))
        #expect(try ZoneFileReader.records(in: text) == rrs)
    }

    @Test("one line per record: owner, TTL, class, type, RDATA")
    func lineFormat() throws {
        let rr = ResourceRecord(name: try DomainName("a.example."), ttl: 30, rdata: .cname(.init(target: try DomainName("b.example."))))
        #expect(ZoneFileWriter().line(for: rr) == "a.example. 30 IN CNAME b.example.")
    }
}
