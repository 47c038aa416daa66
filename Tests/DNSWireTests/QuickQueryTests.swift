import DNSWire
import TestSupport
import Testing

@Suite struct QuickQueryTests {
    static let queries = ["query-a", "query-noedns", "query-do-cd", "query-ecs", "query-cookie", "query-padding",
        "query-keepalive", "query-ede-unknown"]

    @Test("QuickQuery agrees with the full decoder on real queries", arguments: Self.queries)
    func agreesWithDecoder(name: String) throws {
        let bytes = try Fixtures.packet(name)
        let q = try #require(QuickQuery.parse(bytes))
        let m = try DNSMessage.decode(bytes)
        #expect(q.id == m.header.id)
        #expect(q.flags == m.header.flags)
        #expect(q.type == m.questions[0].type)
        #expect(q.dnsClass == m.questions[0].dnsClass)
        #expect(Array(q.receivedName(in: bytes)) == m.questions[0].name.wire)
        #expect(q.lowercasedName == m.questions[0].name.lowercased.wire)
        #expect(q.recursionDesired == m.header.recursionDesired)
        #expect(q.checkingDisabled == m.header.checkingDisabled)
        #expect(q.edns?.udpPayloadSize == m.edns?.udpPayloadSize)
        #expect(q.edns?.dnssecOK == m.edns?.dnssecOK)
        #expect(q.arcount == (m.edns == nil ? 0 : 1))
        if let e = q.edns {
            // The option bytes are exactly the OPT RDATA.
            var w = WireWriter()
            m.edns?.encode(into: &w)
            #expect(Array(bytes[e.optionsRange]) == Array(w.bytes.dropFirst(11)))
            #expect(e.recordRange.upperBound == bytes.count)
            #expect(q.questionEnd == e.recordRange.lowerBound)
        } else {
            #expect(q.questionEnd == bytes.count)
        }
        bytes.withUnsafeBytes { raw in #expect(QuickQuery.parse(raw) == q) }
    }

    @Test("QuickQuery lowercases the name but keeps the received case in the packet")
    func mixedCase() throws {
        let p = PacketBuilder(id: 9, qd: 1)
        p.name("WwW", "ExAmPlE", "oRg").question(type: .aaaa)
        let q = try #require(QuickQuery.parse(p.bytes))
        #expect(q.lowercasedName == Array("\u{3}www\u{7}example\u{3}org\u{0}".utf8))
        #expect(Array(q.receivedName(in: p.bytes)) == Array("\u{3}WwW\u{7}ExAmPlE\u{3}oRg\u{0}".utf8))
        #expect(q.type == .aaaa)
        #expect(q.edns == nil)
    }

    /// Valid messages that are not plain queries, and malformed ones: all go to the full decoder.
    static let rejected: [(String, [UInt8])] = {
        var out: [(String, [UInt8])] = []
        func query(flags: UInt16 = 0x0100, qd: UInt16 = 1, an: UInt16 = 0, ar: UInt16 = 0, type: RecordType = .a,
            class c: DNSClass = .in, _ extra: (PacketBuilder) -> Void = { _ in }) -> [UInt8]
        {
            let p = PacketBuilder(flags: flags, qd: qd, an: an, ar: ar)
            p.name("example", "org").question(type: type, class: c)
            extra(p)
            return p.bytes
        }
        out.append(("a response", query(flags: 0x8100)))
        out.append(("opcode NOTIFY", query(flags: 0x2000)))
        out.append(("TC set", query(flags: 0x0300)))
        out.append(("Z bit set", query(flags: 0x0140)))
        out.append(("RCODE set", query(flags: 0x0101)))
        out.append(("two questions", query(qd: 2) { $0.name("example", "net").question() }))
        out.append(("no question", PacketBuilder().bytes + [0, 0, 0, 0, 0]))
        out.append(("an answer record", query(an: 1) { $0.name().record(type: .a, rdata: [1, 2, 3, 4]) }))
        out.append(("class CH", query(class: .chaos)))
        out.append(("type ANY", query(type: .any)))
        out.append(("type AXFR", query(type: .axfr)))
        out.append(("type OPT", query(type: .opt)))
        out.append(("type 0", query(type: RecordType(0))))
        out.append(("compressed name", {
            let p = PacketBuilder(qd: 1)
            p.name(["www"], pointer: 12).question()
            return p.bytes
        }()))
        out.append(("trailing bytes", query { $0.raw([0]) }))
        out.append(("truncated question", Array(query().dropLast())))
        out.append(("two additional records", query(ar: 2) { $0.opt().opt() }))
        out.append(("OPT with a non-root owner", query(ar: 1) { $0.name("a").record(type: .opt, class: 1232, rdata: []) }))
        out.append(("additional record that is not OPT", query(ar: 1) { $0.name().record(type: .a, rdata: [1, 2, 3, 4]) }))
        out.append(("EDNS version 1", query(ar: 1) { $0.opt(ttl: 0x0001_0000) }))
        out.append(("extended RCODE in a query", query(ar: 1) { $0.opt(ttl: 0x0100_0000) }))
        out.append(("OPT RDATA shorter than RDLENGTH", Array(query(ar: 1) { $0.opt(options: [(12, [0, 0])]) }.dropLast())))
        out.append(("OPT option overrunning RDATA", query(ar: 1) { $0.raw([0]).record(type: .opt, class: 512, rdata: [0, 12, 0, 9]) }))
        out.append(("malformed ECS", query(ar: 1) { $0.opt(options: [(8, [0, 1, 40, 0, 1, 2, 3, 4, 5])]) }))
        out.append(("malformed cookie", query(ar: 1) { $0.opt(options: [(10, [1, 2, 3])]) }))
        out.append(("label of 64", {
            let p = PacketBuilder(qd: 1)
            p.u8(64).raw([UInt8](repeating: 0x61, count: 64)).u8(0).question()
            return p.bytes
        }()))
        out.append(("header only", PacketBuilder(qd: 1).bytes))
        return out
    }()

    @Test("QuickQuery returns nil for anything but a plain query", arguments: Self.rejected.indices)
    func rejectsOdd(_ i: Int) {
        let (label, bytes) = Self.rejected[i]
        #expect(QuickQuery.parse(bytes) == nil, "\(label)")
    }

    @Test("QuickQuery accepts a query with DO, CD, AD and unknown options")
    func acceptsOptions() throws {
        let p = PacketBuilder(flags: 0x0130, qd: 1, ar: 1)
        p.name("example", "org").question(type: .https)
        p.opt(udp: 4096, ttl: 0x8000, options: [(65001, [1, 2]), (12, [0, 0, 0])])
        let q = try #require(QuickQuery.parse(p.bytes))
        #expect(q.checkingDisabled && q.authenticData && q.recursionDesired)
        #expect(q.edns?.dnssecOK == true)
        #expect(q.edns?.udpPayloadSize == 4096)
        #expect(q.edns.map { $0.optionsRange.count } == 13)
    }

    @Test("Responses in the golden set are never taken for queries")
    func responsesRejected() throws {
        for name in Fixtures.packetNames() where name.hasPrefix("resp-") {
            #expect(QuickQuery.parse(try Fixtures.packet(name)) == nil, "\(name)")
        }
    }
}
