import DNSWire
import Testing
import TestSupport

@testable import DNSPipeline

/// ``CachedPacket/addressAnswerTexts(limit:)`` reads the query log's answer texts in place: it must give exactly what
/// decoding the records gives, or nil so that the decoding path runs.
@Suite("Address answer texts read in place")
struct AddressAnswerTextTests {
    /// What the log built before: each decoded record's type and presentation.
    private func decodedTexts(_ bytes: [UInt8], limit: Int) throws -> [String] {
        try DNSMessage.decode(bytes).answers.prefix(limit).map { "\($0.type.description) \($0.rdata.presentation)" }
    }

    private func packet(_ m: DNSMessage) -> (CachedPacket, [UInt8]) {
        let bytes = m.encode()
        return (CachedPacket(storage: bytes, count: bytes.count, rcode: .noError, hasCNAMEAnswer: false), bytes)
    }

    private func randomAddress(_ rng: inout SplitMix64) -> RData {
        if rng.next() % 2 == 0 {
            return .a(.init(address: IPv4Address(UInt32(truncatingIfNeeded: rng.next()))))
        }
        // Zero runs of every length, so that RFC 5952's compression is exercised.
        var high = rng.next()
        var low = rng.next()
        let zeros = Int(rng.next() % 9)
        let start = Int(rng.next() % UInt64(9 - zeros))
        for g in start..<(start + zeros) {
            let mask = ~(UInt64(0xFFFF) << UInt64(48 - 16 * (g % 4)))
            if g < 4 { high &= mask } else { low &= mask }
        }
        return .aaaa(.init(address: IPv6Address(high: high, low: low)))
    }

    @Test("Random A and AAAA answers, compressed and not, with authority and additional records after them")
    func randomAddressAnswers() throws {
        var rng = SplitMix64(seed: 23)
        let qname = try DomainName("x1.miss.bench.test.")
        for round in 0..<2_000 {
            let count = Int(rng.next() % 12)
            var answers: [ResourceRecord] = []
            for i in 0..<count {
                // The question's name (compressed to a pointer) or a name of its own (written out, or partly pointed).
                let owner = i % 3 == 2 ? try DomainName("h\(i).other.example.") : qname
                answers.append(ResourceRecord(name: owner, ttl: UInt32(rng.next() % 86_400),
                    rdata: self.randomAddress(&rng)))
            }
            let extra = round % 4 == 0
                ? [ResourceRecord(name: qname, ttl: 60, rdata: .cname(.init(target: try DomainName("t.example."))))]
                : []
            let m = DNSMessage(header: Header(id: 0, flags: 0x8180), questions: [Question(name: qname, type: .a)],
                answers: answers, authorities: extra, additionals: extra)
            let (p, bytes) = self.packet(m)
            for limit in [0, 1, 8] {
                #expect(p.addressAnswerTexts(limit: limit) == (try self.decodedTexts(bytes, limit: limit)),
                    "round \(round), \(count) answers, limit \(limit)")
            }
        }
    }

    @Test("Any other record type among the answers read takes the decoding path; one after them does not matter")
    func otherTypesFallBack() throws {
        let qname = try DomainName("www.example.")
        let a = ResourceRecord(name: qname, ttl: 60, rdata: .a(.init(address: IPv4Address(192, 0, 2, 1))))
        let cname = ResourceRecord(name: qname, ttl: 60, rdata: .cname(.init(target: try DomainName("cdn.example."))))
        let mx = ResourceRecord(name: qname, ttl: 60, rdata: .mx(.init(preference: 10, exchange: qname)))
        for (answers, limit, read) in [([cname, a], 8, false), ([a, mx], 8, false), ([a, a, cname], 2, true),
            ([a, cname], 1, true)]
        {
            let m = DNSMessage(header: Header(id: 0, flags: 0x8180), questions: [Question(name: qname, type: .a)],
                answers: answers)
            let (p, bytes) = self.packet(m)
            let texts = p.addressAnswerTexts(limit: limit)
            #expect((texts != nil) == read, "\(answers.map(\.type)) limit \(limit)")
            if let texts { #expect(texts == (try self.decodedTexts(bytes, limit: limit))) }
        }
    }

    @Test("A packet cut short, or with a bad label, gives nil and never reads past its end")
    func truncatedAndMalformed() throws {
        let qname = try DomainName("www.example.")
        let answers = [
            ResourceRecord(name: qname, ttl: 60, rdata: .a(.init(address: IPv4Address(192, 0, 2, 1)))),
            ResourceRecord(name: try DomainName("v6.example."), ttl: 60,
                rdata: .aaaa(.init(address: IPv6Address(high: 0x2001_0db8_0000_0000, low: 1)))),
        ]
        let m = DNSMessage(header: Header(id: 0, flags: 0x8180), questions: [Question(name: qname, type: .a)],
            answers: answers)
        let bytes = m.encode()
        #expect(self.packet(m).0.addressAnswerTexts(limit: 8) == ["A 192.0.2.1", "AAAA 2001:db8::1"])
        for cut in 0..<bytes.count {
            // The storage keeps every byte; only `count` says where the packet ends.
            let p = CachedPacket(storage: bytes, count: cut, rcode: .noError, hasCNAMEAnswer: false)
            #expect(p.addressAnswerTexts(limit: 8) == nil, "cut at \(cut)")
        }
        // A label length with the reserved 0b01 / 0b10 top bits.
        var bad = bytes
        bad[12] = 0x41
        #expect(CachedPacket(storage: bad, count: bad.count, rcode: .noError, hasCNAMEAnswer: false)
            .addressAnswerTexts(limit: 8) == nil)
        // An A record whose RDATA is not four bytes: the decoder rejects it, so the fast path must not accept it.
        var long = DNSMessage(header: Header(id: 0, flags: 0x8180), questions: [Question(name: qname, type: .a)],
            answers: [ResourceRecord(name: qname, ttl: 60, rdata: .a(.init(address: IPv4Address(192, 0, 2, 1))))])
            .encode()
        let rdlength = long.count - 6
        long[rdlength] = 0
        long[rdlength + 1] = 3
        long.removeLast()
        #expect(CachedPacket(storage: long, count: long.count, rcode: .noError, hasCNAMEAnswer: false)
            .addressAnswerTexts(limit: 8) == nil)
        #expect(throws: (any Error).self) { try DNSMessage.decode(long) }
    }
}
