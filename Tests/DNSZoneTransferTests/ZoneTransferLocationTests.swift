import DNSWire
import Testing

@testable import DNSZoneTransfer

@Suite struct ZoneTransferLocationTests {
    @Test("Valid locations parse into mode, address, port, zone and key", arguments: [
        ("axfr://192.0.2.1/rpz.example.org", "axfr://192.0.2.1:53/rpz.example.org."),
        ("AXFR://192.0.2.1:5353/rpz.example.org.", "axfr://192.0.2.1:5353/rpz.example.org."),
        ("ixfr://[2001:db8::1]:53/rpz.example.org?tsig=xfr.key", "ixfr://[2001:db8::1]:53/rpz.example.org.?tsig=xfr.key."),
        ("ixfr://[::1]/rpz.test/", "ixfr://[::1]:53/rpz.test."),
        ("axfr://127.0.0.1:1/x?TSIG=k", "axfr://127.0.0.1:1/x.?tsig=k."),
    ])
    func valid(text: String, canonical: String) throws {
        let location = try ZoneTransferLocation(parsing: text)
        #expect(location.description == canonical)
        #expect(try ZoneTransferLocation(parsing: location.description) == location)
    }

    @Test("Invalid locations fail with the reason", arguments: [
        ("192.0.2.1/rpz.test", "no scheme"),
        ("https://192.0.2.1/rpz.test", "not axfr or ixfr"),
        ("axfr://192.0.2.1", "no /zone"),
        ("axfr://192.0.2.1/", "no zone name"),
        ("axfr://ns.example.org/rpz.test", "not an IP address"),
        ("axfr://192.0.2.1:0/rpz.test", "not 1-65535"),
        ("axfr://192.0.2.1:99999/rpz.test", "not 1-65535"),
        ("axfr://2001:db8::1/rpz.test", "brackets"),
        ("axfr://[2001:db8::1/rpz.test", "unterminated"),
        ("axfr://[192.0.2.1]/rpz.test", "only for IPv6"),
        ("axfr://192.0.2.1/rpz.test?tsig", "has no value"),
        ("axfr://192.0.2.1/rpz.test?tsig=a&tsig=b", "given twice"),
        ("axfr://192.0.2.1/rpz.test?timeout=3", "unknown parameter"),
        ("axfr://192.0.2.1/rpz..test", "not a valid domain name"),
        ("axfr://user@192.0.2.1/rpz.test", "user information"),
        ("axfr://192.0.2.1/rpz.test#x", "fragment"),
    ])
    func invalid(text: String, reason: String) {
        let error = #expect(throws: ZoneTransferError.self) { try ZoneTransferLocation(parsing: text) }
        #expect(error?.code == .badLocation)
        #expect(error?.message.contains(reason) == true, "\(String(describing: error))")
    }

    @Test("Only axfr:// and ixfr:// are routed here")
    func handles() {
        #expect(ZoneTransferFetcher.handles("axfr://192.0.2.1/x"))
        #expect(ZoneTransferFetcher.handles("IXFR://192.0.2.1/x"))
        #expect(!ZoneTransferFetcher.handles("https://example.org/x"))
        #expect(!ZoneTransferFetcher.handles("/var/lib/feed.rpz"))
    }

    @Test("A location naming an unknown key fails with the known key names")
    func unknownKey() {
        let fetcher = ZoneTransferFetcher(keys: TSIGKeyRegistry([Build.key]))
        let error = #expect(throws: ZoneTransferError.self) { try fetcher.register("axfr://127.0.0.1/rpz.test?tsig=nope") }
        #expect(error?.code == .unknownKey)
        #expect(error?.message.contains("xfr.key.") == true)
    }
}
