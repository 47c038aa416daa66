import DNSWire
import TestSupport
import Testing

/// ``ResponseLayout`` reads a subset of what the decoder accepts, never more, and agrees with the decoder on everything
/// it reports.
@Suite struct ResponseLayoutTests {
    /// Checks the layout of `bytes` against the decoder; returns whether the layout accepted them.
    @discardableResult
    static func agree(_ bytes: [UInt8], _ context: String) -> Bool {
        guard let layout = ResponseLayout.read(bytes) else { return false }
        let m: DNSMessage
        do {
            m = try DNSMessage.decode(bytes)
        } catch {
            Issue.record("\(context): the layout accepted what the decoder rejects: \(error)")
            return true
        }
        #expect(m.questions.count == 1, "\(context)")
        #expect(layout.flags == m.header.flags, "\(context)")
        #expect(layout.questionType == m.questions.first?.type, "\(context)")
        #expect(layout.questionClass == m.questions.first?.dnsClass, "\(context)")
        #expect(Array(bytes[12..<layout.questionNameEnd]) == m.questions.first?.name.wire, "\(context)")
        #expect(layout.answerCount == m.answers.count, "\(context)")
        #expect(layout.authorityCount == m.authorities.count, "\(context)")
        #expect(layout.additionalCount == m.additionals.count, "\(context)")
        #expect(layout.hasOPT == (m.edns != nil), "\(context)")
        #expect(layout.rcode == m.rcode, "\(context)")
        #expect(layout.hasCNAMEAnswer == m.answers.contains { $0.type == .cname }, "\(context)")
        // The TTL table: one offset per record, in order, each holding that record's TTL.
        var table: [UInt8] = []
        layout.appendTTLOffsets(of: bytes, to: &table)
        let offsets = stride(from: 0, to: table.count, by: 2).map { Int(table[$0]) << 8 | Int(table[$0 + 1]) }
        let ttls = offsets.map { o in
            UInt32(bytes[o]) << 24 | UInt32(bytes[o + 1]) << 16 | UInt32(bytes[o + 2]) << 8 | UInt32(bytes[o + 3])
        }
        #expect(ttls == (m.answers + m.authorities + m.additionals).map(\.ttl), "\(context)")
        // Without its OPT record the message is still one the decoder takes, with the same records.
        var cut = Array(bytes[0..<layout.length])
        cut[10] = UInt8(layout.additionalCount >> 8)
        cut[11] = UInt8(layout.additionalCount & 0xFF)
        let again = try? DNSMessage.decode(cut)
        #expect(again?.answers == m.answers && again?.additionals == m.additionals && again?.edns == nil,
            "\(context): \(bytes) \(String(describing: again)) \(m)")
        // The bytes a forwarder rewrites (ID, counts, TTLs) are never part of a name: rewritten, the records read the
        // same.
        var patched = cut
        patched[0] = 0xFF
        patched[1] = 0xFF
        for o in offsets {
            for k in 0..<4 { patched[o + k] = 0xAB }
        }
        let rewritten = try? DNSMessage.decode(patched)
        let same = rewritten.map { r in
            func names(_ m: DNSMessage) -> [ResourceRecord] {
                (m.answers + m.authorities + m.additionals).map { var x = $0; x.ttl = 0; return x }
            }
            return names(r) == names(again ?? m) && r.questions == m.questions
        }
        #expect(same == true, "\(context): rewriting the ID and TTLs changed the records")
        return true
    }

    @Test("Golden responses: the common ones are read in place and agree with the decoder; the others are left to it")
    func goldenPackets() throws {
        var accepted: Set<String> = []
        for name in Fixtures.packetNames() where name.hasPrefix("resp-") {
            if Self.agree(try Fixtures.packet(name), name) { accepted.insert(name) }
        }
        let covered = [
            "resp-a-nodo", "resp-dname", "resp-soa", "resp-ptr", "resp-ns-glue", "resp-mixed-case", "resp-truncated",
        ]
        for name in covered {
            #expect(accepted.contains(name), "\(name) should be in the subset")
        }
        // DNSSEC and service types (`resp-a` carries an RRSIG), EDNS options and extended rcodes are not.
        for name in ["resp-a", "resp-dnskey", "resp-ds", "resp-caa", "resp-cookie", "resp-ecs", "resp-badvers"] {
            #expect(!accepted.contains(name), "\(name) should be left to the decoder")
        }
    }

    /// A reply to `www.example.org. A`: a CNAME (compressed to the question), an A, an SOA in the authority section, an
    /// MX, SRV and TXT in the additional section, then an empty OPT.
    static func reply() -> [UInt8] {
        let b = PacketBuilder(id: 7, flags: 0x8180, qd: 1, an: 2, ns: 1, ar: 4)
        b.name("www", "example", "org").question(type: .a)
        b.u16(0xC00C).record(type: .cname, rdata: [3] + Array("web".utf8) + [0xC0, 16])
        let web = 12 + 17 + 4 + 2 + 10
        b.name([], pointer: web).record(type: .a, ttl: 60, rdata: [192, 0, 2, 1])
        let soa: [UInt8] = [2] + Array("ns".utf8) + [0xC0, 16] + [0xC0, 16] + Array(repeating: 1, count: 20)
        b.u16(0xC010).record(type: .soa, ttl: 3600, rdata: soa)
        b.u16(0xC010).record(type: .mx, rdata: [0, 10, 0xC0, 16])
        b.u16(0xC010).record(type: .srv, rdata: [0, 1, 0, 2, 0, 53, 0xC0, 16])
        b.u16(0xC010).record(type: .txt, rdata: [3] + Array("abc".utf8) + [0])
        b.opt()
        return b.bytes
    }

    @Test("A reply with every covered type is read in place, and agrees with the decoder")
    func coveredTypes() throws {
        let bytes = Self.reply()
        #expect(Self.agree(bytes, "reply"))
        let layout = try #require(ResponseLayout.read(bytes))
        #expect(layout.hasOPT && layout.length == bytes.count - 11)
        #expect(layout.hasCNAMEAnswer)
        #expect(layout.recordCount == 6)
    }

    @Test("What the decoder takes but the subset does not cover gives nil, and so does what the decoder rejects",
        arguments: [
            "an EDNS option", "extended rcode bits", "OPT not last", "empty class-ANY RDATA",
            "question through a pointer",
            "RRSIG", "A of 5 bytes", "CNAME with a byte after its name", "TXT string past RDLENGTH", "trailing byte",
            "forward pointer", "two questions", "SOA without MINIMUM", "pointer into the header", "pointer into a TTL",
            "pointer into a label",
        ])
    func outside(_ what: String) {
        let b = PacketBuilder(id: 7, flags: 0x8180, qd: 1, an: 1)
        var decodes = false
        switch what {
        case "an EDNS option":
            b.bytes[11] = 1
            b.name("a", "org").question().u16(0xC00C).record(type: .a, rdata: [1, 2, 3, 4]).opt(options: [(3, [1])])
            decodes = true
        case "extended rcode bits":
            b.bytes[11] = 1
            b.name("a", "org").question().u16(0xC00C).record(type: .a, rdata: [1, 2, 3, 4]).opt(ttl: 0x0100_0000)
            decodes = true
        case "OPT not last":
            b.bytes[11] = 2
            b.name("a", "org").question().u16(0xC00C).record(type: .a, rdata: [1, 2, 3, 4]).opt()
            b.u16(0xC00C).record(type: .a, rdata: [1, 2, 3, 4])
            decodes = true
        case "empty class-ANY RDATA":
            b.name("a", "org").question().u16(0xC00C).record(type: .a, class: 255, rdata: [])
            decodes = true
        case "question through a pointer":
            // The name "\0" at offset 3 of the header (the low byte of the ID is 7, the flags' first byte 0x81…): a
            // pointer to the last header byte, which is the ARCOUNT's low byte, 0, the root.
            b.u16(0xC00B).question().u8(0).record(type: .a, rdata: [1, 2, 3, 4])
            decodes = true
        case "RRSIG":
            b.name("a", "org").question().u16(0xC00C)
                .record(type: .rrsig, rdata: [0, 1, 8, 2, 0, 0, 0, 60] + Array(repeating: 0, count: 8) + [0, 1, 0, 9])
            decodes = true
        case "A of 5 bytes":
            b.name("a", "org").question().u16(0xC00C).record(type: .a, rdata: [1, 2, 3, 4, 5])
        case "CNAME with a byte after its name":
            b.name("a", "org").question().u16(0xC00C).record(type: .cname, rdata: [0xC0, 12, 9])
        case "TXT string past RDLENGTH":
            b.name("a", "org").question().u16(0xC00C).record(type: .txt, rdata: [5, 65])
        case "trailing byte":
            b.name("a", "org").question().u16(0xC00C).record(type: .a, rdata: [1, 2, 3, 4]).u8(0)
        case "forward pointer":
            b.name("a", "org").question().u16(0xC0FF).record(type: .a, rdata: [1, 2, 3, 4])
        case "two questions":
            b.bytes[5] = 2
            b.name("a", "org").question().name("b", "org").question().u16(0xC00C).record(type: .a, rdata: [1, 2, 3, 4])
            decodes = true
        case "SOA without MINIMUM":
            b.bytes[7] = 0
            b.bytes[9] = 1
            b.name("a", "org").question().u16(0xC00C)
                .record(type: .soa, rdata: [0xC0, 12, 0xC0, 12] + Array(repeating: 0, count: 16))
        case "pointer into the header":
            // ARCOUNT's low byte (0) read as the root: a name that would change when a forwarder rewrites the count.
            b.name("a", "org").question().u16(0xC00B).record(type: .a, rdata: [1, 2, 3, 4])
            decodes = true
        case "pointer into a TTL":
            // The first answer's TTL is 0x00000100; the second answer's owner points at its last byte, 0, the root.
            b.bytes[7] = 2
            b.name("a", "org").question().u16(0xC00C).record(type: .a, ttl: 0x0000_0100, rdata: [1, 2, 3, 4])
            // TTL at 12 + 7 + 4 + 2 + 4 = 29; its fourth byte (offset 32) is 0: the root.
            b.u16(0xC000 | 32).record(type: .a, rdata: [1, 2, 3, 4])
            decodes = true
        case "pointer into a label":
            // The question's one label holds the bytes 1 'x' 0, so offset 13, inside it, reads as the name "x.".
            b.bytes[7] = 2
            b.raw([3, 1, UInt8(ascii: "x"), 0, 0]).question().u16(0xC00C).record(type: .a, rdata: [1, 2, 3, 4])
            b.u16(0xC000 | 13).record(type: .a, rdata: [1, 2, 3, 4])
            decodes = true
        default:
            Issue.record("unknown case \(what)")
        }
        #expect(ResponseLayout.read(b.bytes) == nil)
        #expect((decodeError(b.bytes) == nil) == decodes, "\(String(describing: decodeError(b.bytes)))")
    }

    @Test("Mutations of a covered reply: whatever the layout accepts, the decoder accepts and agrees with")
    func mutations() {
        let original = Self.reply()
        var g = SplitMix64(seed: 0x1A_F0_07)
        var accepted = 0
        var rejectedByBoth = 0
        let rounds = 20_000
        for i in 0..<rounds {
            let bytes = MutationSmokeTests.mutate(original, &g)
            if Self.agree(bytes, "mutation \(i)") {
                accepted += 1
            } else if decodeError(bytes) != nil {
                rejectedByBoth += 1
            }
        }
        // Both outcomes are common, so the rule was tested on both sides.
        #expect(accepted > rounds / 20)
        #expect(rejectedByBoth > rounds / 4)
    }
}
