import DNSWire
import Testing

/// One RDATA value with a label for the test report.
struct RDataSample: Sendable, CustomTestStringConvertible {
    let label: String
    let rdata: RData
    var testDescription: String { self.label }
}

private func name(_ text: String) -> DomainName {
    // Invariant: the table below only holds valid names.
    try! DomainName(text)
}

/// Round trips for every RDATA type: wire decode → encode → decode, and presentation
/// parse → print → parse.
@Suite struct RDataRoundTripTests {
    static let samples: [RDataSample] = [
        .init(label: "A", rdata: .a(.init(address: IPv4Address(192, 0, 2, 1)))),
        .init(label: "AAAA", rdata: .aaaa(.init(address: IPv6Address("2001:db8::1")!))),
        .init(label: "NS", rdata: .ns(.init(target: name("ns1.example.org.")))),
        .init(label: "CNAME", rdata: .cname(.init(target: name("www.example.org.")))),
        .init(label: "DNAME", rdata: .dname(.init(target: name("example.net.")))),
        .init(label: "PTR", rdata: .ptr(.init(target: name("host.example.org.")))),
        .init(label: "MX", rdata: .mx(.init(preference: 10, exchange: name("mail.example.org.")))),
        .init(label: "TXT with escapes", rdata: .txt(.init(strings: [Array("a \"b\" \\c".utf8), [0, 255, 10], []]))),
        .init(label: "SOA", rdata: .soa(.init(mname: name("ns1.example.org."), rname: name("host\\.master.example.org."),
            serial: 2024010101, refresh: 7200, retry: 3600, expire: 1209600, minimum: 300))),
        .init(label: "SRV", rdata: .srv(.init(priority: 10, weight: 60, port: 5060, target: name("sip.example.org.")))),
        .init(label: "HINFO", rdata: .hinfo(.init(cpu: Array("PC-Intel-700mhz".utf8), os: Array("NetBSD 1.4".utf8)))),
        .init(label: "HINFO RFC 8482", rdata: .hinfo(.init(cpu: Array("RFC8482".utf8), os: []))),
        .init(label: "NAPTR", rdata: .naptr(.init(order: 100, preference: 10, flags: Array("S".utf8),
            services: Array("SIP+D2U".utf8), regexp: [], replacement: name("_sip._udp.example.org.")))),
        .init(label: "NAPTR regexp", rdata: .naptr(.init(order: 100, preference: 50, flags: Array("a".utf8),
            services: Array("z3950+N2L+N2C".utf8), regexp: Array("!^urn:cid:.+@([^\\.]+\\.)(.*)$!\\2!i".utf8),
            replacement: .root))),
        .init(label: "CAA issue", rdata: .caa(.init(flags: 0, tag: "issue", value: "ca.example.net; account=230123"))),
        .init(label: "CAA critical, odd value", rdata: .caa(.init(flags: 128, tag: Array("tbs".utf8), value: [0x22, 0x5C, 0, 0xFF, 0x20]))),
        .init(label: "CAA value over 255 octets", rdata: .caa(.init(flags: 0, tag: Array("iodef".utf8),
            value: [UInt8](repeating: 0x61, count: 300)))),
        .init(label: "SVCB alias mode", rdata: .svcb(.init(svcPriority: 0, targetName: name("svc.example.net.")))),
        .init(label: "SVCB all keys", rdata: .svcb(.init(svcPriority: 16, targetName: name("foo.example.org."), svcParams: [
            .mandatory([.alpn, .ipv4Hint]), .alpn([Array("h2".utf8), Array("h3-19".utf8)]), .noDefaultALPN, .port(53),
            .ipv4Hint([IPv4Address(192, 0, 2, 1), IPv4Address(192, 0, 2, 2)]), .ech([0, 1, 2, 3, 250]),
            .ipv6Hint([IPv6Address("2001:db8::1")!, IPv6Address("2001:db8::53:1")!]),
            .unknown(key: SvcParamKey(rawValue: 667), value: Array("hello".utf8)),
        ]))),
        .init(label: "SVCB alpn with comma and backslash", rdata: .svcb(.init(svcPriority: 1, targetName: .root, svcParams: [
            .alpn([Array("f\\oo,bar".utf8), Array("h2".utf8)]),
        ]))),
        .init(label: "SVCB unknown keys, empty and binary", rdata: .svcb(.init(svcPriority: 1, targetName: .root, svcParams: [
            .unknown(key: SvcParamKey(rawValue: 7), value: []), .unknown(key: SvcParamKey(rawValue: 65000), value: [0, 0x22, 0x5C, 0xFF]),
        ]))),
        .init(label: "HTTPS", rdata: .https(.init(svcPriority: 1, targetName: .root, svcParams: [
            .alpn([Array("h3".utf8), Array("h2".utf8)]), .ipv4Hint([IPv4Address(192, 0, 2, 7)]),
        ]))),
        .init(label: "TLSA", rdata: .tlsa(.init(certificateUsage: 3, selector: 1, matchingType: 1,
            certificateAssociationData: Array(1...32)))),
        .init(label: "SSHFP", rdata: .sshfp(.init(algorithm: 4, fingerprintType: 2, fingerprint: Array(100...131)))),
        .init(label: "DS", rdata: .ds(.init(keyTag: 60485, algorithm: 5, digestType: 1, digest: Array(200...219)))),
        .init(label: "DNSKEY", rdata: .dnskey(.init(flags: 257, protocol: 3, algorithm: 13, publicKey: Array(0...63)))),
        .init(label: "RRSIG", rdata: .rrsig(.init(typeCovered: .a, algorithm: 13, labels: 3, originalTTL: 86400,
            signatureExpiration: 1_048_354_263, signatureInception: 1_045_762_263, keyTag: 2642,
            signerName: name("example.com."), signature: Array(0...63)))),
        .init(label: "RRSIG of an unknown type, time 0", rdata: .rrsig(.init(typeCovered: RecordType(65280), algorithm: 8, labels: 0,
            originalTTL: 0, signatureExpiration: UInt32.max, signatureInception: 0, keyTag: 0, signerName: .root, signature: [1]))),
        .init(label: "NSEC", rdata: .nsec(.init(nextDomainName: name("host.example.com."),
            typeBitMaps: [.a, .mx, .rrsig, .nsec, RecordType(1234)]))),
        .init(label: "NSEC with an empty bit map", rdata: .nsec(.init(nextDomainName: name("a.example."), typeBitMaps: []))),
        .init(label: "NSEC with high windows", rdata: .nsec(.init(nextDomainName: .root,
            typeBitMaps: [.caa, RecordType(65280), RecordType(65535), RecordType(256)]))),
        .init(label: "NSEC3", rdata: .nsec3(.init(hashAlgorithm: 1, flags: 1, iterations: 12, salt: [0xAA, 0xBB, 0xCC, 0xDD],
            nextHashedOwnerName: Array(0..<20), typeBitMaps: [.ns, .soa, .mx, .rrsig, .dnskey, .nsec3param]))),
        .init(label: "NSEC3 without salt or types", rdata: .nsec3(.init(hashAlgorithm: 1, flags: 0, iterations: 0, salt: [],
            nextHashedOwnerName: [0xFF], typeBitMaps: []))),
        .init(label: "NSEC3PARAM", rdata: .nsec3param(.init(hashAlgorithm: 1, flags: 0, iterations: 0, salt: [0x9D, 0x25]))),
        .init(label: "NSEC3PARAM without salt", rdata: .nsec3param(.init(hashAlgorithm: 1, flags: 0, iterations: 10, salt: []))),
        .init(label: "unknown type", rdata: .unknown(.init(type: RecordType(65280), bytes: [10, 0, 0, 1]))),
        .init(label: "unknown type, empty", rdata: .unknown(.init(type: RecordType(65281), bytes: []))),
    ]

    @Test("Every interpreted RDATA type has a round-trip sample")
    func coverage() {
        let covered = Set(Self.samples.map(\.rdata.type))
        for t: RecordType in [.a, .aaaa, .ns, .cname, .dname, .ptr, .mx, .txt, .soa, .srv, .hinfo, .naptr, .caa, .svcb,
            .https, .tlsa, .sshfp, .ds, .dnskey, .rrsig, .nsec, .nsec3, .nsec3param]
        {
            #expect(covered.contains(t), "no sample for \(t)")
            #expect(RData.isInterpreted(t))
        }
    }

    @Test("RDATA decodes to what was encoded, alone and inside a compressed message", arguments: Self.samples)
    func wireRoundTrip(_ sample: RDataSample) throws {
        var w = WireWriter(compression: false)
        sample.rdata.encode(into: &w)
        var r = WireReader(bytes: w.bytes)
        let decoded = try RData.decode(type: sample.rdata.type, from: &r, length: w.bytes.count)
        #expect(decoded == sample.rdata)
        #expect(r.offset == w.bytes.count)

        let owner = try DomainName("example.org.")
        var m = DNSMessage(header: Header(id: 7, isResponse: true),
            questions: [Question(name: owner, type: sample.rdata.type)],
            answers: [ResourceRecord(name: owner, ttl: 300, rdata: sample.rdata),
                ResourceRecord(name: owner, ttl: 300, rdata: sample.rdata)])
        m.edns = EDNS(dnssecOK: true)
        let again = try DNSMessage.decode(m.encode())
        #expect(again == m)
    }

    @Test("RDATA presentation parses back to equal RDATA and prints the same", arguments: Self.samples)
    func presentationRoundTrip(_ sample: RDataSample) throws {
        let text = sample.rdata.presentation
        let parsed = try RData.parse(type: sample.rdata.type, text: text, origin: .root)
        #expect(parsed == sample.rdata, "\(text)")
        #expect(parsed.presentation == text)
        // The RFC 3597 generic form parses to the same value for every type.
        var w = WireWriter(compression: false)
        sample.rdata.encode(into: &w)
        let generic = "\\# \(w.bytes.count) \(Presentation.hex(w.bytes))"
        if !w.bytes.isEmpty { #expect(try RData.parse(type: sample.rdata.type, text: generic, origin: .root) == sample.rdata) }
    }

    /// Zone-file text as people write it, and how this codec prints it back.
    static let texts: [(RecordType, String, String)] = [
        (.svcb, "1 svc.example.org. port=8443 alpn=h3,h2 mandatory=port",
            "1 svc.example.org. mandatory=\"port\" alpn=\"h3,h2\" port=\"8443\""),
        (.https, "1 . alpn=\"h2\" key667=hello no-default-alpn", "1 . alpn=\"h2\" no-default-alpn key667=\"hello\""),
        (.https, "1 . key1=h2 key3=\"443\"", "1 . alpn=\"h2\" port=\"443\""),
        (.svcb, "1 foo.example.com. key667=\"hello\\210qoo\"", "1 foo.example.com. key667=\"hello\\210qoo\""),
        (.svcb, "1 foo.example.com. ipv6hint=\"2001:db8::1,2001:db8::53:1\"",
            "1 foo.example.com. ipv6hint=\"2001:db8::1,2001:db8::53:1\""),
        (.svcb, "16 foo.example.org. alpn=\"f\\\\\\\\oo\\\\,bar,h2\"", "16 foo.example.org. alpn=\"f\\\\\\\\oo\\\\,bar,h2\""),
        (.nsec3, "1 1 12 aabbccdd 2t7b4g4vsa5smi47k61mv5bv1a22bojr MX DNSKEY NS SOA NSEC3PARAM RRSIG",
            "1 1 12 aabbccdd 2t7b4g4vsa5smi47k61mv5bv1a22bojr NS SOA MX RRSIG DNSKEY NSEC3PARAM"),
        (.nsec3param, "1 0 12 AABBCCDD", "1 0 12 aabbccdd"),
        (.nsec3param, "1 0 0 -", "1 0 0 -"),
        (.rrsig, "A 8 3 86400 20030322173103 20030220173103 2642 example.com. oJB1W6WNGv+ldvQ3WDG0MQkg5IEhjRip8WTr PYGv07h108dUKGMeDPKijVCHX3DDKdfb+v6o B9wfuh3DTJXUAfI/M0zmO/zz8bW0Rznl8O3t GNazPwQKkRN20XPXV6nwwfoXmJQbsLNrLfkG J5D6fwFm8nN+6pBzeDQfsS3Ap3o=",
            "A 8 3 86400 20030322173103 20030220173103 2642 example.com. oJB1W6WNGv+ldvQ3WDG0MQkg5IEhjRip8WTrPYGv07h108dUKGMeDPKijVCHX3DDKdfb+v6oB9wfuh3DTJXUAfI/M0zmO/zz8bW0Rznl8O3tGNazPwQKkRN20XPXV6nwwfoXmJQbsLNrLfkGJ5D6fwFm8nN+6pBzeDQfsS3Ap3o="),
        (.rrsig, "A 8 3 86400 1048354263 1045762263 2642 example.com. AQID",
            "A 8 3 86400 20030322173103 20030220173103 2642 example.com. AQID"),
        (.dnskey, "256 3 5 AQPSKmynfzW4kyBv015MUG2DeIQ3 Cbl+BBZH4b/0PY1kxkmvHjcZc8no kfzj31GajIQKY+5CptLr3buXA10h WqTkF7H6RfoRqXQeogmMHfpftf6z Mv1LyBUgia7za6ZEzOJBOztyvhjL 742iU/TpPSEDhm2SNKLijfUppn1U aNvv4w==",
            "256 3 5 AQPSKmynfzW4kyBv015MUG2DeIQ3Cbl+BBZH4b/0PY1kxkmvHjcZc8nokfzj31GajIQKY+5CptLr3buXA10hWqTkF7H6RfoRqXQeogmMHfpftf6zMv1LyBUgia7za6ZEzOJBOztyvhjL742iU/TpPSEDhm2SNKLijfUppn1UaNvv4w=="),
        (.ds, "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118", "60485 5 1 2bb183af5f22588179a53b0a98631fad1a292118"),
        (.tlsa, "3 1 1 0102030405060708 090a0b0c0d0e0f10", "3 1 1 0102030405060708090a0b0c0d0e0f10"),
        (.sshfp, "4 2 A1B2C3", "4 2 a1b2c3"),
        (.caa, "0 issue \"letsencrypt.org; validationmethods=dns-01\"", "0 issue \"letsencrypt.org; validationmethods=dns-01\""),
        (.caa, "0 issue letsencrypt.org", "0 issue \"letsencrypt.org\""),
        (.naptr, "100 10 \"\" \"\" \"!^.*$!sip:info@example.org!\" .", "100 10 \"\" \"\" \"!^.*$!sip:info@example.org!\" ."),
        (.hinfo, "\"RFC8482\" \"\"", "\"RFC8482\" \"\""),
        (.txt, "hello \"big world\"", "\"hello\" \"big world\""),
        (.nsec, "host.example.com. A MX RRSIG NSEC TYPE1234", "host.example.com. A MX RRSIG NSEC TYPE1234"),
        (.a, "\\# 4 c0000201", "192.0.2.1"),
        (RecordType(65280), "\\# 3 010203", "\\# 3 010203"),
    ]

    @Test("Zone-file text parses and prints in canonical form", arguments: Self.texts.indices)
    func canonicalText(_ i: Int) throws {
        let (type, text, printed) = Self.texts[i]
        let parsed = try RData.parse(type: type, text: text, origin: .root)
        #expect(parsed.presentation == printed)
        #expect(try RData.parse(type: type, text: printed, origin: .root) == parsed)
    }

    static let badTexts: [(RecordType, String)] = [
        (.svcb, "1 . alpn=h2 alpn=h3"),
        (.svcb, "1 . foo=1"),
        (.svcb, "1 . mandatory=mandatory"),
        (.svcb, "1 . mandatory=port"),
        (.svcb, "1 . port=abc"),
        (.svcb, "1 . port"),
        (.svcb, "1 . ipv4hint=192.0.2"),
        (.svcb, "1 . alpn=\"\""),
        (.svcb, "1 . alpn=h2,,h3"),
        (.svcb, "1 . no-default-alpn=x"),
        (.svcb, "1 . key65535=x"),
        (.svcb, "1 . key01=x"),
        (.svcb, "1"),
        (.nsec3, "1 0 0 - !!!!"),
        (.nsec3, "1 0 0 abc 2t7b4g4vsa5smi47k61mv5bv1a22bojr"),
        (.nsec3, "1 0 0 - 2t7b4g4vsa5smi47k61mv5bv1a22bojr FOO"),
        (.rrsig, "A 8 3 86400 20031322173103 20030220173103 2642 example.com. AQID"),
        (.rrsig, "FOO 8 3 86400 20030322173103 20030220173103 2642 example.com. AQID"),
        (.rrsig, "A 8 3 86400 21060207062816 20030220173103 2642 example.com. AQID"),
        (.dnskey, "256 3 5 AQ=D"),
        (.dnskey, "256 3 5"),
        (.caa, "0 is-sue x"),
        (.caa, "256 issue x"),
        (.hinfo, "\"PC\""),
        (.ds, "60485 5 1"),
        (.tlsa, "3 1 1 xyz"),
        (.naptr, "100 10 S SIP+D2U \"\""),
        (.a, "\\# 5 c0000201"),
        (.txt, "\"unterminated"),
    ]

    @Test("Bad zone-file text is rejected as badPresentation", arguments: Self.badTexts.indices)
    func badText(_ i: Int) {
        let (type, text) = Self.badTexts[i]
        #expect {
            _ = try RData.parse(type: type, text: text, origin: .root)
        } throws: { error in
            guard let e = error as? DecodeError else { return false }
            return e.reason == .badPresentation || e.reason == .truncated || e.reason == .rdataLengthMismatch
        }
    }

    @Test("The DNSKEY key tag matches RFC 4034's example key")
    func keyTag() throws {
        // RFC 4034 §5.4: the DS record for this key carries key tag 60485.
        let key = try RData.parse(type: .dnskey, text: """
            256 3 5 AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvxegXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/rljwvFw==
            """, origin: .root)
        guard case .dnskey(let k) = key else { return #expect(Bool(false)) }
        #expect(k.keyTag == 60485)
        #expect(k.isZoneKey)
        #expect(!k.isSecureEntryPoint)
    }
}
