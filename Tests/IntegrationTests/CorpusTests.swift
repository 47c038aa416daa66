import Foundation
import Testing
import TestSupport

/// Palisade, forwarding to NSD, must answer every question exactly as NSD does when asked directly:
/// same rcode and same answer RRsets (TTLs no larger than the zone's; the AA bit and record order may
/// differ). Both sides are read with BIND's `dig`, so neither Palisade's encoder nor its decoder judges
/// its own output.
@Suite("Answers match the authoritative server", .tags(.integration),
    .enabled(if: Requirements.nsdAndDig, Requirements.nsdAndDigMessage))
struct CorpusTests {
    /// Every record type the codec knows by name, a CNAME chain, a dangling CNAME, a wildcard, an empty
    /// non-terminal and names that do not exist.
    static let corpusZone = TestZone(origin: "corpus.example.", records: [
        "@ IN MX 10 mail",
        "@ IN MX 20 mail2",
        "@ IN TXT \"v=spf1 -all\"",
        "@ IN CAA 0 issue \"ca.example.net\"",
        "@ IN CAA 128 tbs \"unknown\"",
        "www IN A 192.0.2.1",
        "www IN A 192.0.2.2",
        "www IN AAAA 2001:db8::1",
        "mail IN A 192.0.2.25",
        "mail2 IN A 192.0.2.26",
        "txt IN TXT \"hello world\" \"second \\\"quoted\\\" string\"",
        "txt IN TXT \"\"",
        "_sip._tcp IN SRV 10 60 5060 sip",
        "_sip._tcp IN SRV 20 0 5061 sip",
        "sip IN A 192.0.2.50",
        "alias1 IN CNAME alias2",
        "alias2 IN CNAME alias3",
        "alias3 IN CNAME www",
        "dangling IN CNAME nothere",
        "naptr IN NAPTR 100 10 \"u\" \"E2U+sip\" \"!^.*$!sip:info@example.org!\" .",
        "naptr IN NAPTR 102 10 \"s\" \"SIP+D2T\" \"\" _sip._tcp",
        "svc IN HTTPS 1 . alpn=\"h2,h3\" ipv4hint=192.0.2.1 port=8443",
        "svc2 IN HTTPS 0 www",
        "*.wild IN A 192.0.2.99",
        "*.wild IN TXT \"wildcard\"",
        "deep.a.b.ent IN A 192.0.2.60",
        "ptr IN PTR www.corpus.example.",
        "caps IN A 192.0.2.77",
    ], ttl: 600)

    /// A reverse zone for real PTR lookups (TEST-NET-1 is not one of the RFC 6303 zones Palisade answers
    /// locally).
    static let reverseZone = TestZone(origin: "2.0.192.in-addr.arpa.", records: [
        "1 IN PTR www.corpus.example.",
        "25 IN PTR mail.corpus.example.",
    ])

    /// The questions: (name, type).
    static let corpus: [(String, String)] = [
        ("corpus.example", "SOA"), ("corpus.example", "NS"), ("corpus.example", "MX"), ("corpus.example", "TXT"),
        ("corpus.example", "CAA"), ("corpus.example", "A"),
        ("www.corpus.example", "A"), ("www.corpus.example", "AAAA"), ("WwW.CoRpUs.ExAmPlE", "A"),
        ("mail.corpus.example", "A"), ("mail.corpus.example", "AAAA"),
        ("txt.corpus.example", "TXT"),
        ("_sip._tcp.corpus.example", "SRV"),
        ("alias1.corpus.example", "A"), ("alias1.corpus.example", "AAAA"), ("alias2.corpus.example", "CNAME"),
        ("dangling.corpus.example", "A"),
        ("naptr.corpus.example", "NAPTR"),
        ("svc.corpus.example", "HTTPS"), ("svc2.corpus.example", "HTTPS"),
        ("ptr.corpus.example", "PTR"), ("1.2.0.192.in-addr.arpa", "PTR"), ("25.2.0.192.in-addr.arpa", "PTR"),
        ("9.2.0.192.in-addr.arpa", "PTR"),
        ("anything.wild.corpus.example", "A"), ("two.labels.wild.corpus.example", "TXT"),
        ("anything.wild.corpus.example", "MX"),
        ("ent.corpus.example", "A"), ("b.ent.corpus.example", "A"), ("deep.a.b.ent.corpus.example", "A"),
        ("nope.ent.corpus.example", "A"),
        ("nope.corpus.example", "A"), ("nope.corpus.example", "TXT"), ("deeper.nope.corpus.example", "AAAA"),
        ("caps.corpus.example", "TYPE65280"),
    ]

    @Test("every corpus question gets NSD's rcode and answer RRsets through Palisade")
    func corpusMatchesNSD() async throws {
        try await withNSDAndPalisade(zones: [Self.corpusZone, Self.reverseZone]) { nsd, palisade in
            var mismatches: [String] = []
            for (name, type) in Self.corpus {
                let direct = try await DigClient.dig(name, type, port: nsd.port, options: ["+norec"])
                let viaPalisade = try await DigClient.dig(name, type, port: palisade.dnsPort)
                let expected = try #require(direct.status, "NSD gave no answer to \(name) \(type):\n\(direct)")
                if viaPalisade.status != expected || viaPalisade.answerSet != direct.answerSet {
                    mismatches.append("""
                        \(name) \(type): NSD \(expected) \(direct.answerSet) \
                        vs Palisade \(viaPalisade.status ?? "no reply") \(viaPalisade.answerSet)
                        """)
                    continue
                }
                // RFC 1035 §6.1.3: a forwarder may only lower TTLs.
                let limit = direct.answerTTLs.max() ?? 0
                if let over = viaPalisade.answerTTLs.first(where: { $0 > limit }) {
                    mismatches.append("\(name) \(type): TTL \(over) above the zone's \(limit)")
                }
            }
            #expect(mismatches.isEmpty, "\(mismatches.joined(separator: "\n"))\n--- palisade log:\n\(palisade.log)")
        }
    }

    @Test("a second asking, answered from the cache, still matches NSD with counted-down TTLs")
    func cachedAnswersMatchNSD() async throws {
        try await withNSDAndPalisade(zones: [Self.corpusZone, Self.reverseZone]) { nsd, palisade in
            for (name, type) in [("www.corpus.example", "A"), ("alias1.corpus.example", "A"),
                ("nope.corpus.example", "A"), ("txt.corpus.example", "TXT")]
            {
                let direct = try await DigClient.dig(name, type, port: nsd.port, options: ["+norec"])
                let first = try await DigClient.dig(name, type, port: palisade.dnsPort)
                let second = try await DigClient.dig(name, type, port: palisade.dnsPort)
                #expect(second.status == direct.status, "\(name) \(type):\n\(second)")
                #expect(second.answerSet == direct.answerSet, "\(name) \(type):\n\(second)")
                #expect(second.answerSet == first.answerSet)
                let firstTTL = first.answerTTLs.max() ?? 0
                #expect(second.answerTTLs.allSatisfy { $0 <= firstTTL }, "\(name) \(type): TTL went up:\n\(second)")
            }
        }
    }
}
