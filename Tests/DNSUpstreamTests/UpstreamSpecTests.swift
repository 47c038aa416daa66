import DNSUpstream
import DNSWire
import Testing

@Suite struct UpstreamSpecTests {
    @Test("Spec strings of every accepted form normalize to one canonical id", arguments: [
        ("192.0.2.1", "udp://192.0.2.1:53"),
        ("192.0.2.1:5353", "udp://192.0.2.1:5353"),
        ("  192.0.2.1:5353 ", "udp://192.0.2.1:5353"),
        ("2001:db8::1", "udp://[2001:db8::1]:53"),
        ("[2001:db8::1]", "udp://[2001:db8::1]:53"),
        ("[2001:DB8::1]:5300", "udp://[2001:db8::1]:5300"),
        ("udp://192.0.2.1", "udp://192.0.2.1:53"),
        ("UDP://192.0.2.1:54", "udp://192.0.2.1:54"),
        ("tcp://192.0.2.1", "tcp://192.0.2.1:53"),
        ("tcp://[::1]:53", "tcp://[::1]:53"),
        ("tls://192.0.2.1", "tls://192.0.2.1:853"),
        ("tls://192.0.2.1:8853#dns.example.org", "tls://192.0.2.1:8853#dns.example.org"),
        ("tls://[2001:db8::1]#dns.example.org", "tls://[2001:db8::1]:853#dns.example.org"),
        ("https://dns.example.org/dns-query", "https://dns.example.org:443/dns-query"),
        ("https://DNS.example.org", "https://dns.example.org:443/dns-query"),
        ("https://192.0.2.1:8443/resolve", "https://192.0.2.1:8443/resolve"),
        ("https://[2001:db8::1]:8443/dns-query", "https://[2001:db8::1]:8443/dns-query"),
    ])
    func parsesAcceptedForms(input: String, expected: String) throws {
        let spec = try UpstreamSpec.parse(input)
        #expect(spec.description == expected)
        // The canonical form parses back to the same spec.
        #expect(try UpstreamSpec.parse(spec.description) == spec)
    }

    @Test("Parsed specs carry kind, address, port, server name and path")
    func parsedFields() throws {
        let tls = try UpstreamSpec.parse("tls://192.0.2.7:8853#dns.example.org")
        #expect(tls.kind == .tls)
        #expect(tls.address == IPAddress("192.0.2.7"))
        #expect(tls.port == 8853)
        #expect(tls.serverName == "dns.example.org")
        let doh = try UpstreamSpec.parse("https://dns.example.org:8443/q")
        #expect(doh.kind == .https)
        #expect(doh.address == nil)
        #expect(doh.host == "dns.example.org")
        #expect(doh.url == "https://dns.example.org:8443/q")
    }

    @Test("Bad spec strings are rejected with a message naming the problem", arguments: [
        ("", "empty"),
        ("ftp://192.0.2.1", "unknown scheme"),
        ("http://dns.example.org/dns-query", "use https://"),
        ("192.0.2.1:0", "out of range"),
        ("192.0.2.1:65536", "out of range"),
        ("192.0.2.1:http", "not a number"),
        ("192.0.2.1:", "not a number"),
        ("dns.example.org", "not an IP address"),
        ("tcp://dns.example.org:53", "not an IP address"),
        ("192.0.2.1#dns.example.org", "only meaningful for tls"),
        ("tls://192.0.2.1#", "not a valid host name"),
        ("tls://192.0.2.1#bad_name..example", "not a valid host name"),
        ("[2001:db8::1", "missing \"]\""),
        ("[2001:db8::1]x53", "unexpected"),
        ("[192.0.2.1]:53", "not an IPv6 address"),
        ("2001:db8::zz", "not an IPv6 address"),
        ("udp://192.0.2.1/dns-query", "path is only allowed"),
        ("https://", "missing host"),
        ("https://dns.example.org/q?dns=x", "must not contain a query"),
        ("https://user@dns.example.org/", "credentials"),
        ("udp://", "missing address"),
    ])
    func rejectsBadSpecs(input: String, fragment: String) {
        do {
            let spec = try UpstreamSpec.parse(input)
            Issue.record("\"\(input)\" parsed as \(spec)")
        } catch {
            #expect(error.code == .badSpec)
            #expect(error.message.contains(fragment), "message was: \(error.message)")
            #expect(error.message.contains("\"\(input)\""), "the message quotes the spec: \(error.message)")
        }
    }
}
