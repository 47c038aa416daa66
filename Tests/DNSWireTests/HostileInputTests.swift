import DNSWire
import Testing

/// One hostile packet and the error it must produce.
struct HostileCase: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    let reason: DecodeError.Reason
    let field: String
    let offset: Int
    var testDescription: String { self.name }
}

/// Packets that break one rule of STYLE §7 each. Every case checks the reason and that the error
/// names the right field and byte offset, so an operator could find the bad byte in a capture.
@Suite struct HostileInputTests {
    /// Header with one question for the root name of type A (ends at offset 17).
    static func rootQuestion(an: UInt16 = 0, ns: UInt16 = 0, ar: UInt16 = 0) -> PacketBuilder {
        let p = PacketBuilder(qd: 1, an: an, ns: ns, ar: ar)
        p.name()
        p.question()
        return p
    }

    /// Header with one answer owned by the root whose RDATA starts at offset 23.
    static func oneAnswer(_ type: RecordType, rdlength: Int? = nil, rdata: [UInt8], trailing: [UInt8] = []) -> [UInt8] {
        let p = PacketBuilder(an: 1)
        p.name()
        p.record(type: type, rdlength: rdlength, rdata: rdata)
        p.raw(trailing)
        return p.bytes
    }

    static let cases: [HostileCase] = {
        var out: [HostileCase] = []
        func add(_ name: String, _ bytes: [UInt8], _ reason: DecodeError.Reason, _ field: String, _ offset: Int) {
            out.append(HostileCase(name: name, bytes: bytes, reason: reason, field: field, offset: offset))
        }

        var p = PacketBuilder(qd: 1)
        p.u16(0xC00C).question()
        add("self-pointing compression pointer", p.bytes, .pointerLoop, "question[0].qname", 12)

        p = PacketBuilder(qd: 1)
        p.name(["a"], pointer: 12).question()
        add("pointer back to the start of its own name", p.bytes, .pointerLoop, "question[0].qname", 14)

        p = PacketBuilder(qd: 1)
        p.u16(0xC000 | 32).question().raw([UInt8](repeating: 0, count: 20))
        add("forward pointer", p.bytes, .forwardPointer, "question[0].qname", 12)

        // The question points forward at the answer's owner, which points back at the question.
        p = PacketBuilder(qd: 1, an: 1)
        p.u16(0xC000 | 18).question()
        p.u8(0).u16(0xC00C).record(type: .a, rdata: [192, 0, 2, 1])
        add("pointer cycle between question and answer", p.bytes, .forwardPointer, "question[0].qname", 12)

        // answer[0] holds 70 chained pointers in opaque RDATA; answer[1]'s owner starts the chain.
        p = rootQuestion(an: 2)
        p.name()
        var chain: [UInt8] = []
        let base = 28
        for k in 0..<70 {
            let target = k == 0 ? 12 : base + 2 * (k - 1)
            chain += [UInt8(0xC0 | (target >> 8)), UInt8(target & 0xFF)]
        }
        p.record(type: RecordType(65280), rdata: chain)
        p.u16(0xC000 | UInt16(base + 2 * 69)).record(type: .a, rdata: [192, 0, 2, 1])
        add("more than 64 pointer hops", p.bytes, .tooManyPointers, "answer[1].name", base + 12)

        p = PacketBuilder(qd: 1)
        p.u8(64).raw([UInt8](repeating: 0x61, count: 64)).u8(0).question()
        add("label of 64 octets", p.bytes, .badLabelType, "question[0].qname", 12)

        p = PacketBuilder(qd: 1)
        p.u8(0x80).raw([UInt8](repeating: 0x61, count: 8)).u8(0).question()
        add("label type 0x80", p.bytes, .badLabelType, "question[0].qname", 12)

        let l63 = String(repeating: "a", count: 63)
        p = PacketBuilder(qd: 1)
        p.name(l63, l63, l63, String(repeating: "b", count: 62)).question()
        add("name of 256 octets", p.bytes, .nameTooLong, "question[0].qname", 12 + 64 * 3)

        p = PacketBuilder(qd: 1, an: 1)
        p.name(l63, l63, l63).question()
        p.name([String(repeating: "c", count: 62)], pointer: 12).record(type: .a, rdata: [192, 0, 2, 1])
        add("name of 256 octets through a pointer", p.bytes, .nameTooLong, "answer[0].name", 12 + 128)

        p = PacketBuilder(qd: 0xFFFF)
        add("QDCOUNT larger than the message", p.bytes, .countExceedsMessage, "header", 4)

        p = rootQuestion(an: 3)
        p.name().record(type: .a, rdata: [192, 0, 2, 1])
        add("ANCOUNT larger than the message", p.bytes, .countExceedsMessage, "header", 4)

        add("truncated header", [0x12, 0x34, 0x01, 0x00, 0x00], .truncated, "header", 5)

        p = PacketBuilder(qd: 1)
        p.name("a").u16(1)
        add("truncated question", p.bytes, .truncated, "question[0].qclass", 17)

        p = PacketBuilder(an: 1)
        p.name("abc").u16(1).u16(1).u16(0)
        add("truncated resource record", p.bytes, .truncated, "answer[0].ttl", 21)

        add("RDLENGTH past the end of the message", Self.oneAnswer(.a, rdlength: 100, rdata: [192, 0, 2, 1]),
            .truncated, "answer[0].rdata", 23)
        add("A record with RDLENGTH 5", Self.oneAnswer(.a, rdata: [192, 0, 2, 1, 9]),
            .rdataLengthMismatch, "answer[0].A.address", 23)
        add("MX fields shorter than RDLENGTH", Self.oneAnswer(.mx, rdata: [0, 10, 0, 0xFF]),
            .rdataLengthMismatch, "answer[0].MX", 26)
        add("name in RDATA runs past RDLENGTH", Self.oneAnswer(.cname, rdlength: 3, rdata: [5, 0x61, 0x62], trailing: [0x63, 0x64, 0x65, 0]),
            .truncated, "answer[0].CNAME.cname", 23)
        add("pointed-to name runs into the name pointing at it", Self.oneAnswer(.cname, rdata: [0xC0, 22]),
            .forwardPointer, "answer[0].CNAME.cname", 22)
        add("empty TXT RDATA", Self.oneAnswer(.txt, rdata: []), .truncated, "answer[0].TXT.strings", 23)
        add("TXT string longer than RDLENGTH", Self.oneAnswer(.txt, rdata: [9, 0x61]), .truncated, "answer[0].TXT.strings", 23)

        p = rootQuestion()
        p.raw([1, 2, 3])
        add("trailing bytes", p.bytes, .trailingBytes, "message", 17)

        p = rootQuestion(ar: 2)
        p.opt()
        let secondOPT = p.offset
        p.opt()
        add("OPT twice", p.bytes, .duplicateOPT, "additional[1]", secondOPT)

        p = rootQuestion(ar: 1)
        p.name("a").record(type: .opt, class: 1232, rdata: [])
        add("OPT with a non-root owner", p.bytes, .badValue, "additional[0].name", 17)

        p = rootQuestion(an: 1)
        p.opt()
        add("OPT in the answer section", p.bytes, .badValue, "answer[0].type", 17)

        // OPT starts at 17; its RDATA (the first option) at 28.
        p = rootQuestion(ar: 1)
        p.opt(options: [(8, [0, 1, 33, 0, 192, 0, 2, 1, 0])])
        add("ECS source prefix longer than the address", p.bytes, .badValue, "additional[0].OPT.option[0].ECS", 28)

        p = rootQuestion(ar: 1)
        p.opt(options: [(8, [0, 1, 24, 0, 192, 0, 2, 0])])
        add("ECS address longer than the prefix needs", p.bytes, .badValue, "additional[0].OPT.option[0].ECS", 28)

        p = rootQuestion(ar: 1)
        p.opt(options: [(8, [0, 1, 23, 0, 192, 0, 3])])
        add("ECS address bits set past the prefix", p.bytes, .badValue, "additional[0].OPT.option[0].ECS", 28)

        p = rootQuestion(ar: 1)
        p.opt(options: [(8, [0, 3, 0, 0])])
        add("ECS with an unknown family", p.bytes, .badValue, "additional[0].OPT.option[0].ECS", 28)

        p = rootQuestion(ar: 1)
        p.opt(options: [(10, [UInt8](repeating: 7, count: 12))])
        add("cookie of 12 octets", p.bytes, .badValue, "additional[0].OPT.option[0].COOKIE", 28)

        p = rootQuestion(ar: 1)
        p.opt(options: [(11, [0])])
        add("TCP keepalive of 1 octet", p.bytes, .badValue, "additional[0].OPT.option[0].TCP-KEEPALIVE", 28)

        p = rootQuestion(ar: 1)
        p.raw([0]).record(type: .opt, class: 1232, rdata: [0xFD, 0xE9, 0, 10, 1, 2])
        add("OPT option running past RDLENGTH", p.bytes, .truncated, "additional[0].OPT.option[0].OPT65001", 28)

        let svcbOutOfOrder: [UInt8] = [0, 1, 0] + [0, 3, 0, 2, 0x01, 0xBB] + [0, 1, 0, 3, 2, 0x68, 0x32]
        add("SVCB keys out of order", Self.oneAnswer(.svcb, rdata: svcbOutOfOrder), .badValue, "answer[0].SVCB.svcParams.alpn", 32)
        let httpsRepeated: [UInt8] = [0, 1, 0] + [0, 3, 0, 2, 0x01, 0xBB] + [0, 3, 0, 2, 0x01, 0xBC]
        add("HTTPS key repeated", Self.oneAnswer(.https, rdata: httpsRepeated), .badValue, "answer[0].HTTPS.svcParams.port", 32)
        let mandatoryMissing: [UInt8] = [0, 1, 0] + [0, 0, 0, 2, 0, 3] + [0, 1, 0, 3, 2, 0x68, 0x32]
        add("SVCB mandatory key missing", Self.oneAnswer(.svcb, rdata: mandatoryMissing), .badValue,
            "answer[0].SVCB.svcParams.mandatory", 23 + mandatoryMissing.count)
        add("SVCB port of 3 octets", Self.oneAnswer(.svcb, rdata: [0, 1, 0, 0, 3, 0, 3, 1, 2, 3]), .badValue,
            "answer[0].SVCB.svcParams.port", 30)
        add("SVCB empty alpn-id", Self.oneAnswer(.svcb, rdata: [0, 1, 0, 0, 1, 0, 2, 0, 0]), .badValue,
            "answer[0].SVCB.svcParams.alpn", 30)
        add("SVCB value past RDLENGTH", Self.oneAnswer(.svcb, rdata: [0, 1, 0, 0, 3, 0, 9, 1]), .truncated,
            "answer[0].SVCB.svcParams.port", 30)

        add("NSEC bit map windows out of order", Self.oneAnswer(.nsec, rdata: [0, 1, 1, 0x40, 0, 1, 0x40]), .badValue,
            "answer[0].NSEC.typeBitMaps", 27)
        add("NSEC bit map of length 0", Self.oneAnswer(.nsec, rdata: [0, 0, 0]), .badValue, "answer[0].NSEC.typeBitMaps", 25)
        add("NSEC bit map ending in a zero octet", Self.oneAnswer(.nsec, rdata: [0, 0, 2, 0x40, 0]), .badValue,
            "answer[0].NSEC.typeBitMaps", 27)
        add("NSEC3 with an empty hash", Self.oneAnswer(.nsec3, rdata: [1, 0, 0, 0, 0, 0]), .badValue,
            "answer[0].NSEC3.nextHashedOwnerName", 28)
        add("CAA with an empty tag", Self.oneAnswer(.caa, rdata: [0, 0, 0x61]), .badValue, "answer[0].CAA.tag", 24)
        add("CAA tag with a space", Self.oneAnswer(.caa, rdata: [0, 2, 0x61, 0x20]), .badValue, "answer[0].CAA.tag", 24)
        add("DNSKEY without a key", Self.oneAnswer(.dnskey, rdata: [1, 1, 3, 13]), .truncated, "answer[0].DNSKEY.publicKey", 27)
        add("RRSIG without a signature", Self.oneAnswer(.rrsig, rdata: [0, 1, 13, 2] + [UInt8](repeating: 0, count: 14) + [0]),
            .truncated, "answer[0].RRSIG.signature", 42)
        add("DS without a digest", Self.oneAnswer(.ds, rdata: [0, 1, 13, 2]), .truncated, "answer[0].DS.digest", 27)
        add("NAPTR cut inside a string", Self.oneAnswer(.naptr, rdata: [0, 1, 0, 1, 5, 0x61]), .truncated, "answer[0].NAPTR.flags", 27)
        return out
    }()

    @Test("Hostile input is rejected with the right reason, field and offset", arguments: Self.cases)
    func rejects(_ c: HostileCase) throws {
        let error = try #require(decodeError(c.bytes), "\(c.name) decoded without error")
        #expect(error.reason == c.reason, "\(error)")
        #expect(error.field == c.field, "\(error)")
        #expect(error.offset == c.offset, "\(error)")
        #expect(error.offset >= 0 && error.offset <= c.bytes.count)
        #expect(QuickQuery.parse(c.bytes) == nil, "QuickQuery accepted what the decoder rejects")
    }

    @Test("A name of exactly 255 octets is accepted, also through a pointer")
    func longestName() throws {
        let l63 = String(repeating: "a", count: 63)
        let p = PacketBuilder(qd: 1, an: 1)
        p.name(l63, l63, l63, String(repeating: "b", count: 61)).question()
        p.name([String(repeating: "c", count: 61)], pointer: 12 + 128).record(type: .a, rdata: [192, 0, 2, 1])
        let m = try DNSMessage.decode(p.bytes)
        #expect(m.questions[0].name.wire.count == 255)
        #expect(m.answers[0].name.wire.count == 62 + 64 + 62 + 1)
    }

    @Test("64 pointer hops are allowed")
    func sixtyFourHops() throws {
        let p = Self.rootQuestion(an: 2)
        p.name()
        var chain: [UInt8] = []
        for k in 0..<64 {
            let target = k == 0 ? 12 : 28 + 2 * (k - 1)
            chain += [UInt8(0xC0 | (target >> 8)), UInt8(target & 0xFF)]
        }
        p.record(type: RecordType(65280), rdata: chain)
        // The owner's own pointer is hop 1; 63 more through the chain reach the root: 64 in total.
        p.u16(0xC000 | UInt16(28 + 2 * 62)).record(type: .a, rdata: [192, 0, 2, 1])
        let m = try DNSMessage.decode(p.bytes)
        #expect(m.answers[1].name == .root)
    }

    @Test("Empty RDATA is accepted for class ANY and NONE (RFC 2136) and round-trips")
    func emptyUpdateRDATA() throws {
        let p = PacketBuilder(flags: 0x2800, an: 2)
        p.name("example", "org").record(type: .a, class: 255, ttl: 0, rdata: [])
        p.name("example", "org").record(type: .mx, class: 254, ttl: 0, rdata: [])
        let m = try DNSMessage.decode(p.bytes)
        #expect(m.answers.map(\.rdata) == [.unknown(.init(type: .a, bytes: [])), .unknown(.init(type: .mx, bytes: []))])
        #expect(try DNSMessage.decode(m.encode()) == m)
        // The same records in class IN are malformed.
        let q = PacketBuilder(an: 1)
        q.name("example", "org").record(type: .a, rdata: [])
        #expect(decodeError(q.bytes)?.reason == .rdataLengthMismatch)
    }
}
