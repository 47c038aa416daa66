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
