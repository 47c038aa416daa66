import DNSCache
import DNSPipeline
import DNSWire
import TestSupport
import Testing

@Suite struct MessageCacheTests {
    func key(_ name: String, _ type: RecordType = .a, dnssecOK: Bool = false) throws -> CacheKey {
        CacheKey(question: Question(name: try DomainName(name), type: type), dnssecOK: dnssecOK, checkingDisabled: false)
    }

    func positive(_ name: String, ttl: UInt32) throws -> DNSMessage {
        var m = try TestMessages.query(name).makeResponse()
        m.answers = [try TestMessages.a(name, "192.0.2.1", ttl: ttl)]
        return m
    }

    @Test("A stored answer is found again with its age, and expires after its TTL")
    func expiry() throws {
        let clock = ManualClock()
        let cache = MessageCache(configuration: .init(serveStale: false), clock: clock)
        let k = try self.key("www.example.org.")
        #expect(cache.store(k, message: try self.positive("www.example.org.", ttl: 60)) == 60)
        clock.advance(by: .seconds(20))
        guard case .fresh(_, let age, _) = cache.lookup(k) else {
            Issue.record("expected a fresh hit")
            return
        }
        #expect(age == 20)
        clock.advance(by: .seconds(40))
        guard case .miss = cache.lookup(k) else {
            Issue.record("expected a miss after the TTL")
            return
        }
    }

    @Test("Keys differ by case-insensitive name, type and the DO bit")
    func keys() throws {
        let cache = MessageCache(configuration: .init(), clock: ManualClock())
        cache.store(try self.key("WWW.Example.ORG."), message: try self.positive("www.example.org.", ttl: 60))
        guard case .fresh = cache.lookup(try self.key("www.example.org.")) else {
            Issue.record("lookup must ignore case")
            return
        }
        guard case .miss = cache.lookup(try self.key("www.example.org.", .aaaa)) else {
            Issue.record("type is part of the key")
            return
        }
        guard case .miss = cache.lookup(try self.key("www.example.org.", dnssecOK: true)) else {
            Issue.record("DO is part of the key")
            return
        }
    }

    @Test("Negative answers need an SOA and are capped by maxNegativeTTL (RFC 2308)")
    func negative() throws {
        let cache = MessageCache(configuration: .init(maxNegativeTTL: 100), clock: ManualClock())
        var nx = try TestMessages.query("nope.example.org.").makeResponse(rcode: .nxDomain)
        #expect(cache.store(try self.key("nope.example.org."), message: nx) == nil)
        let zone = try DomainName("example.org.")
        nx.authorities = [ResourceRecord(name: zone, ttl: 3600, rdata: .soa(.init(mname: zone, rname: zone, serial: 1,
            refresh: 1, retry: 1, expire: 1, minimum: 900)))]
        #expect(cache.store(try self.key("nope.example.org."), message: nx) == 100)
    }

    @Test("Truncated and SERVFAIL replies are never cached")
    func uncacheable() throws {
        let cache = MessageCache(configuration: .init(), clock: ManualClock())
        var tc = try self.positive("a.example.org.", ttl: 60)
        tc.header.truncated = true
        #expect(cache.store(try self.key("a.example.org."), message: tc) == nil)
        let sf = try TestMessages.query("b.example.org.").makeResponse(rcode: .servFail)
        #expect(cache.store(try self.key("b.example.org."), message: sf) == nil)
    }

    @Test("TTLs are clamped to minTTL and maxTTL")
    func clamps() throws {
        let cache = MessageCache(configuration: .init(minTTL: 30, maxTTL: 100), clock: ManualClock())
        #expect(cache.store(try self.key("a.example.org."), message: try self.positive("a.example.org.", ttl: 5)) == 30)
        #expect(cache.store(try self.key("b.example.org."), message: try self.positive("b.example.org.", ttl: 5000)) == 100)
    }

    @Test("The size cap holds: storing more names than fit evicts old ones")
    func sizeCap() throws {
        let cache = MessageCache(configuration: .init(maxEntries: 64), clock: ManualClock(), shards: 4)
        for i in 0..<1000 {
            cache.store(try self.key("h\(i).example.org."), message: try self.positive("h\(i).example.org.", ttl: 60))
        }
        #expect(cache.count <= 64)
        #expect(cache.count >= 32)
        guard case .fresh = cache.lookup(try self.key("h999.example.org.")) else {
            Issue.record("the newest entry must be present")
            return
        }
    }

    @Test("Expired entries inside the stale window are reported stale")
    func stale() throws {
        let clock = ManualClock()
        let cache = MessageCache(configuration: .init(serveStale: true, staleTTL: 100), clock: clock)
        let k = try self.key("s.example.org.")
        cache.store(k, message: try self.positive("s.example.org.", ttl: 10))
        clock.advance(by: .seconds(50))
        guard case .stale = cache.lookup(k) else {
            Issue.record("expected stale")
            return
        }
        clock.advance(by: .seconds(100))
        guard case .miss = cache.lookup(k) else {
            Issue.record("expected a miss after the stale window")
            return
        }
    }
}

extension MessageCacheTests {
    @Test("Keys are equal exactly when name (any case), type, class, DO and CD are, and hash alike when equal")
    func keyIdentity() throws {
        let base = try self.key("www.example.org.")
        #expect(try self.key("WWW.Example.ORG.") == base)
        #expect(try self.key("WWW.Example.ORG.").hashValue == base.hashValue)
        #expect(try self.key("www.example.org.", .aaaa) != base)
        #expect(try self.key("www.example.org.", dnssecOK: true) != base)
        #expect(try self.key("www.example.com.") != base)
        let cd = CacheKey(question: Question(name: try DomainName("www.example.org."), type: .a), dnssecOK: false,
            checkingDisabled: true)
        #expect(cd != base)
        // Every distinct key must find its own entry, never a neighbour's.
        let cache = MessageCache(configuration: .init(serveStale: false), clock: ManualClock())
        for i in 0..<200 {
            #expect(cache.store(try self.key("h\(i).example."), message: try self.positive("h\(i).example.", ttl: 60)) == 60)
        }
        for i in 0..<200 {
            guard case .fresh(let p, _, _) = cache.lookup(try self.key("H\(i).EXAMPLE.")) else {
                Issue.record("h\(i) not found")
                continue
            }
            #expect(p.message.answers.first?.name == (try DomainName("h\(i).example.")))
        }
    }
}

@Suite struct CachedPacketLayoutTests {
    @Test("A hit rewrites every section's TTLs from the one packed array, clamped at store time, with the client's ID and case")
    func hitRewritesEveryTTL() throws {
        let clock = ManualClock()
        let cache = MessageCache(configuration: .init(maxTTL: 200, serveStale: false), clock: clock)
        var m = try TestMessages.query("www.example.org.").makeResponse()
        m.answers = [try TestMessages.a("www.example.org.", "192.0.2.1", ttl: 300),
                     try TestMessages.a("www.example.org.", "192.0.2.2", ttl: 120)]
        m.authorities = [ResourceRecord(name: try DomainName("example.org."), ttl: 100,
            rdata: .ns(.init(target: try DomainName("ns1.example.org."))))]
        m.additionals = [try TestMessages.a("ns1.example.org.", "192.0.2.53", ttl: 50)]
        let key = CacheKey(question: Question(name: try DomainName("www.example.org."), type: .a), dnssecOK: false,
            checkingDisabled: false)
        #expect(cache.store(key, message: m) == 120)  // the answer section's smallest TTL
        clock.advance(by: .seconds(30))
        guard case .fresh(let packet, let age, _) = cache.lookup(key) else {
            Issue.record("expected a fresh hit")
            return
        }
        #expect(age == 30)
        // Four TTL fields, each inside the packet.
        #expect(packet.ttlOffsets.count == 4)
        #expect(packet.ttlOffsets.allSatisfy { $0 >= 12 && $0 + 4 <= packet.count })

        let asked = try TestMessages.query("WWW.Example.ORG.", id: 0xBEEF)
        let query = Query(message: asked, client: ClientInfo(address: IPAddress("127.0.0.1")!, transport: .udp),
            maxResponseSize: 1232)
        let out = try #require(ResponseEncoder.encode(Resolution(reply: .cached(packet, age: age), source: .cache), for: query))
        let reply = try DNSMessage.decode(out)
        #expect(reply.header.id == 0xBEEF)
        #expect(reply.questions.first?.name.wire == asked.questions.first?.name.wire)
        // 300 was clamped to 200 when stored; every TTL then lost the 30 seconds of age.
        #expect(reply.answers.map(\.ttl) == [170, 90])
        #expect(reply.authorities.map(\.ttl) == [70])
        #expect(reply.additionals.filter { $0.type != .opt }.map(\.ttl) == [20])
        // The records themselves come back unchanged, and the message decoded on demand holds the stored TTLs.
        #expect(reply.answers.map(\.rdata) == m.answers.map(\.rdata))
        #expect(packet.message.answers.map(\.ttl) == [200, 120])
        #expect(packet.message.additionals.map(\.ttl) == [50])
    }

    @Test("An entry answers only the key whose name is the packet's question: the index holds hashes, the packet decides")
    func entryCheckedAgainstPacketQuestion() throws {
        let cache = MessageCache(configuration: .init(serveStale: false), clock: ManualClock())
        let key = CacheKey(question: Question(name: try DomainName("asked.example."), type: .a), dnssecOK: false,
            checkingDisabled: false)
        // A reply whose question is another name, stored under the key: a lookup must not hand it out.
        var other = try TestMessages.query("other.example.").makeResponse()
        other.answers = [try TestMessages.a("other.example.", "192.0.2.9", ttl: 60)]
        #expect(cache.store(key, message: other) == 60)
        guard case .miss = cache.lookup(key) else {
            Issue.record("an entry whose packet asks another name answered the key")
            return
        }
        // Stored with its own question, the same key hits, in any case.
        var own = try TestMessages.query("Asked.Example.").makeResponse()
        own.answers = [try TestMessages.a("asked.example.", "192.0.2.1", ttl: 60)]
        cache.store(key, message: own)
        guard case .fresh(let p, _, _) = cache.lookup(key) else {
            Issue.record("expected a hit")
            return
        }
        #expect(p.message.answers.first?.rdata == own.answers.first?.rdata)
        #expect(cache.count == 1)
    }

    @Test("TTL offsets outside the packet are dropped when it is wrapped, and never written")
    func badOffsetsDropped() throws {
        let bytes = try TestMessages.query("a.example.").makeResponse().encode()
        let p = CachedPacket(bytes: bytes, ttlOffsets: [-4, bytes.count - 2, 70_000], ttls: [1, 2, 3], rcode: .noError,
            hasCNAMEAnswer: false)
        #expect(p.ttlOffsets.isEmpty)
        #expect(p.bytes == bytes)
    }
}

/// A reply taken as bytes (``CachedPacket/init(response:layout:)``) is classified, clamped and stored as its decoded
/// form is.
@Suite struct PacketStoreTests {
    static let zone = try! DomainName("example.org.")

    static func soa(ttl: UInt32, minimum: UInt32) -> ResourceRecord {
        ResourceRecord(name: zone, ttl: ttl, rdata: .soa(.init(mname: zone, rname: zone, serial: 1, refresh: 1,
            retry: 1, expire: 1, minimum: minimum)))
    }

    /// Replies of every kind the cache tells apart.
    static func replies() throws -> [(String, DNSMessage)] {
        let name = "www.example.org."
        let q = try TestMessages.query(name)
        var positive = q.makeResponse()
        let ns = ResourceRecord(name: zone, ttl: 7, rdata: .ns(.init(target: try DomainName("ns.example.org."))))
        positive.answers = [
            try TestMessages.a(name, "192.0.2.1", ttl: 300), try TestMessages.a(name, "192.0.2.2", ttl: 20),
        ]
        positive.authorities = [ns]
        var cname = q.makeResponse()
        let web = try DomainName("web.example.org.")
        cname.answers = [ResourceRecord(name: try DomainName(name), ttl: 5000, rdata: .cname(.init(target: web))),
            try TestMessages.a("web.example.org.", "192.0.2.3", ttl: 90000)]
        var nx = q.makeResponse(rcode: .nxDomain)
        nx.authorities = [Self.soa(ttl: 3600, minimum: 900)]
        let nxWithoutSOA = q.makeResponse(rcode: .nxDomain)
        var nodata = q.makeResponse()
        nodata.authorities = [Self.soa(ttl: 60, minimum: 900)]
        var referral = q.makeResponse()
        referral.authorities = [ns]
        var truncated = positive
        truncated.header.truncated = true
        let servfail = q.makeResponse(rcode: .servFail)
        let refused = q.makeResponse(rcode: .refused)
        var withOPT = positive
        withOPT.edns = EDNS(udpPayloadSize: 1232)
        var withoutOPT = positive
        withoutOPT.edns = nil
        return [("positive", positive), ("cname", cname), ("nxdomain", nx), ("nxdomain without SOA", nxWithoutSOA),
            ("nodata", nodata), ("referral", referral), ("truncated", truncated), ("servfail", servfail),
            ("refused", refused), ("positive with OPT", withOPT), ("positive without OPT", withoutOPT)]
    }

    @Test("Every kind of reply gets the same kind and TTL from its bytes as from its message, and the same stored TTLs")
    func sameAsMessage() throws {
        for config in [CacheConfiguration(), CacheConfiguration(minTTL: 30, maxTTL: 1000, maxNegativeTTL: 100)] {
            for (what, m) in try Self.replies() {
                let bytes = m.encode()
                let layout = try #require(ResponseLayout.read(bytes), "\(what)")
                let packet = CachedPacket(response: bytes, layout: layout)
                let viaMessage = MessageCache(configuration: config, clock: ManualClock())
                let viaPacket = MessageCache(configuration: config, clock: ManualClock())
                #expect(viaPacket.cacheability(of: packet) == viaMessage.cacheability(of: m), "\(what)")
                let key = CacheKey(question: m.questions[0], dnssecOK: false, checkingDisabled: false)
                let a = viaMessage.storeAnswer(key, message: m)
                let b = viaPacket.storeAnswer(key, packet: packet)
                #expect(a?.ttl == b?.ttl, "\(what)")
                #expect((a == nil) == (b == nil), "\(what)")
                guard let a, let b else { continue }
                // The stored packets decode to the same records with the same (clamped) TTLs, without OPT.
                #expect(b.packet.message.answers == a.packet.message.answers, "\(what)")
                #expect(b.packet.message.authorities == a.packet.message.authorities, "\(what)")
                #expect(b.packet.message.edns == nil, "\(what)")
                #expect(b.packet.ttlOffsets.count == a.packet.ttlOffsets.count, "\(what)")
                guard case .fresh(let hit, _, _) = viaPacket.lookup(key) else {
                    Issue.record("\(what): the stored packet is not found")
                    continue
                }
                #expect(hit === b.packet, "\(what)")
            }
        }
    }

    @Test("A packet whose TTLs are all inside the clamps is stored as it is; one outside gets a clamped copy")
    func clampCopies() throws {
        let replies = try Self.replies()
        let positive = try #require(replies.first { $0.0 == "positive" }?.1)
        let bytes = positive.encode()
        let packet = CachedPacket(response: bytes, layout: try #require(ResponseLayout.read(bytes)))
        let key = CacheKey(question: positive.questions[0], dnssecOK: false, checkingDisabled: false)
        let loose = MessageCache(configuration: .init(minTTL: 0, maxTTL: 86400), clock: ManualClock())
        #expect(loose.storeAnswer(key, packet: packet)?.packet === packet)
        let tight = MessageCache(configuration: .init(minTTL: 30, maxTTL: 100), clock: ManualClock())
        let stored = try #require(tight.storeAnswer(key, packet: packet))
        #expect(stored.packet !== packet)
        #expect(stored.ttl == 30)
        #expect(stored.packet.message.answers.map(\.ttl) == [100, 30])
        #expect(stored.packet.message.authorities.map(\.ttl) == [30])
        // The packet received is unchanged.
        #expect(packet.message.answers.map(\.ttl) == [300, 20])
    }
}
