import DNSCache
import DNSPipeline
import DNSWire
import TestSupport
import Testing

/// The chain through QueryProcessor with real stages and a scripted upstream, in process.
@Suite struct PipelineTests {
    struct Harness {
        let clock = ManualClock()
        let upstream = ScriptedStage()
        let processor: QueryProcessor
        init(cache: CacheConfiguration = .init()) {
            let cacheStage = CacheStage(cache: MessageCache(configuration: cache, clock: self.clock))
            let chain = Chain(stages: [IngressGuardStage(allowed: IPNetwork.privateAndLoopback), SanitizeStage(),
                MetricsStage(), LocalDataStage(), cacheStage, self.upstream])
            self.processor = QueryProcessor(chains: ChainReference(chain))
        }

        func ask(_ message: DNSMessage, from ip: String = "127.0.0.1", transport: Transport = .udp) async throws -> DNSMessage? {
            let client = ClientInfo(address: try #require(IPAddress(ip)), port: 5000, transport: transport)
            let bytes: [UInt8]?
            switch self.processor.processNow(message.encode(), client: client) {
            case .reply(let b): bytes = b
            case .drop: bytes = nil
            case .async(let q): bytes = await self.processor.process(q)
            }
            return try bytes.map { try DNSMessage.decode($0) }
        }
    }

    @Test("A miss goes upstream once; the second query is a cache hit with a lower TTL and the client's ID and case")
    func cacheHit() async throws {
        let h = Harness()
        try h.upstream.answer("www.example.org.", .a, [try TestMessages.a("www.example.org.", "192.0.2.7", ttl: 300)])
        let first = try #require(try await h.ask(try TestMessages.query("www.example.org.", id: 1)))
        #expect(first.answers.first?.ttl == 300)
        h.clock.advance(by: .seconds(100))
        let q2 = try TestMessages.query("WwW.ExAmPlE.oRg.", id: 0xBEEF)
        let client = ClientInfo(address: .v4(IPv4Address(127, 0, 0, 1)), transport: .udp)
        guard case .reply(let bytes) = h.processor.processNow(q2.encode(), client: client) else {
            Issue.record("a cache hit must be answered on the synchronous path")
            return
        }
        let second = try DNSMessage.decode(bytes)
        #expect(second.header.id == 0xBEEF)
        #expect(second.questions.first?.name.description == "WwW.ExAmPlE.oRg.")
        #expect(second.answers.first?.ttl == 200)
        #expect(second.edns != nil)
        #expect(h.upstream.calls.count == 1)
    }

    @Test("A query without OPT gets an answer without OPT (RFC 6891 §7)")
    func noOPT() async throws {
        let h = Harness()
        try h.upstream.answer("a.example.org.", .a, [try TestMessages.a("a.example.org.", "192.0.2.1")])
        let r = try #require(try await h.ask(try TestMessages.query("a.example.org.", edns: nil)))
        #expect(r.edns == nil)
        let r2 = try #require(try await h.ask(try TestMessages.query("a.example.org.", edns: nil)))
        #expect(r2.edns == nil)
        #expect(r2.answers.count == 1)
    }

    @Test("Clients outside the allowed ranges are REFUSED")
    func acl() async throws {
        let h = Harness()
        let r = try #require(try await h.ask(try TestMessages.query("a.example.org."), from: "203.0.113.9"))
        #expect(r.rcode == .refused)
        #expect(h.upstream.calls.isEmpty)
    }

    @Test("Opcode other than QUERY gets NOTIMP; two questions get FORMERR")
    func sanitize() async throws {
        let h = Harness()
        var m = try TestMessages.query("a.example.org.")
        m.header.opcode = .update
        #expect(try await h.ask(m)?.rcode == .notImp)
        var two = try TestMessages.query("a.example.org.")
        two.questions.append(Question(name: try DomainName("b.example.org."), type: .a))
        #expect(try await h.ask(two)?.rcode == .formErr)
        #expect(h.upstream.calls.isEmpty)
    }

    @Test("A readable header with a bad body gets FORMERR; a short packet and a response are dropped")
    func badPackets() throws {
        let h = Harness()
        let client = ClientInfo(address: .v4(IPv4Address(127, 0, 0, 1)), transport: .udp)
        var bytes = try TestMessages.query("a.example.org.").encode()
        bytes[5] = 9  // QDCOUNT 9: more than the message holds
        guard case .reply(let out) = h.processor.processNow(bytes, client: client) else {
            Issue.record("expected FORMERR")
            return
        }
        let m = try DNSMessage.decode(out)
        #expect(m.rcode == .formErr)
        #expect(m.header.id == 0x1234)
        guard case .drop = h.processor.processNow([1, 2, 3], client: client) else {
            Issue.record("a short packet must be dropped")
            return
        }
        var resp = try TestMessages.query("a.example.org.").encode()
        resp[2] |= 0x80
        guard case .drop = h.processor.processNow(resp, client: client) else {
            Issue.record("a response must never be answered")
            return
        }
    }

    @Test("When the upstream fails, an expired answer is served stale with EDE 3")
    func serveStale() async throws {
        let h = Harness()
        try h.upstream.answer("s.example.org.", .a, [try TestMessages.a("s.example.org.", "192.0.2.5", ttl: 60)])
        _ = try await h.ask(try TestMessages.query("s.example.org."))
        h.clock.advance(by: .seconds(120))
        h.upstream.setFailing(true)
        let r = try #require(try await h.ask(try TestMessages.query("s.example.org.")))
        #expect(r.rcode == .noError)
        #expect(r.answers.first?.ttl == 30)
        #expect(r.edns?.options.compactMap(\.extendedErrorValue).first?.code == .staleAnswer)
    }

    @Test("localhost is answered locally and private reverse names never go upstream")
    func localData() async throws {
        let h = Harness()
        let r = try #require(try await h.ask(try TestMessages.query("db.localhost.")))
        #expect(r.answers.first?.rdata == .a(.init(address: IPv4Address(127, 0, 0, 1))))
        let p = try #require(try await h.ask(try TestMessages.query("5.0.168.192.in-addr.arpa.", .ptr)))
        #expect(p.rcode == .nxDomain)
        #expect(h.upstream.calls.isEmpty)
    }

    @Test("A UDP answer larger than the client's buffer is truncated with TC=1")
    func truncation() async throws {
        let h = Harness()
        let name = "big.example.org."
        let records = try (0..<60).map { i in try TestMessages.a(name, "192.0.2.\(i)") }
        try h.upstream.answer(name, .a, records)
        let small = try #require(try await h.ask(try TestMessages.query(name, edns: nil)))
        #expect(small.header.truncated)
        #expect(small.answers.isEmpty)
        let tcp = try #require(try await h.ask(try TestMessages.query(name, edns: nil), transport: .tcp))
        #expect(!tcp.header.truncated)
        #expect(tcp.answers.count == 60)
    }
}
