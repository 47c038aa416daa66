public import DNSPipeline
public import DNSWire
import Synchronization

/// What kind of reply a response is, for caching decisions (CoreDNS `response.Typify`).
public enum ReplyKind: String, Sendable {
    case positive, nxdomain, nodata, referral, servfail, truncated, other
}

/// A bounded, sharded store of pre-encoded responses.
///
/// Entries are kept as wire bytes (``CachedPacket``) so a hit costs a copy and a few patches, not an
/// encode. Size is capped; eviction is CLOCK (second chance), so popular names survive scans.
public final class MessageCache<C: Clock<Duration>>: Sendable {
    /// A lookup result.
    public typealias Lookup = CacheLookup

    private let shards: [CacheShardBox]
    private let perShard: Int
    private let clock: C
    private let origin: C.Instant
    /// The configuration in force.
    public let configuration: CacheConfiguration

    /// Creates an empty cache.
    public init(configuration: CacheConfiguration, clock: C, shards: Int = 16) {
        self.configuration = configuration
        self.clock = clock
        self.origin = clock.now
        let n = max(1, shards)
        self.perShard = max(1, (configuration.maxEntries + n - 1) / n)
        self.shards = (0..<n).map { _ in CacheShardBox() }
    }

    private var now: Duration { self.origin.duration(to: self.clock.now) }

    private func shard(for key: CacheKey) -> Int {
        // The high bits: the dictionary inside the shard uses the low ones of the same hash.
        Int((UInt(bitPattern: key.precomputedHash) >> 48) % UInt(self.shards.count))
    }

    /// Number of entries (exported as a gauge).
    public var count: Int { self.shards.reduce(0) { acc, s in acc + s.withLock { $0.index.count } } }

    /// Looks a key up.
    public func lookup(_ key: CacheKey) -> Lookup {
        guard self.configuration.maxEntries > 0 else { return .miss }
        let now = self.now
        let cfg = self.configuration
        return self.shards[self.shard(for: key)].withLock { s -> Lookup in
            guard let i = s.index.slot(for: key.precomputedHash), s.slots[i]?.matches(key) == true else { return .miss }
            // Optional chaining calls `hit` on the entry in place: copying it out and back would retain and
            // release its key and packet on every hit.
            if let fresh = s.slots[i]?.hit(now: now, prefetchEnabled: cfg.prefetch) { return fresh }
            guard let e = s.slots[i] else { return .miss }
            let age = UInt32(clamping: (now - e.storedAt).components.seconds)
            if cfg.serveStale && age < e.ttl &+ cfg.staleTTL {
                return .stale(e.packet)
            }
            s.index.remove(key.precomputedHash)
            s.slots[i] = nil
            s.free.append(i)
            return .miss
        }
    }

    /// Stores a response under `key` if its kind is cacheable; returns the TTL used, or nil.
    @discardableResult
    public func store(_ key: CacheKey, message: DNSMessage) -> UInt32? {
        self.storeAnswer(key, message: message)?.ttl
    }

    /// Stores a response under `key` if its kind is cacheable; returns the TTL used and the packet stored, or nil.
    public func storeAnswer(_ key: CacheKey, message: DNSMessage) -> (ttl: UInt32, packet: CachedPacket)? {
        guard self.configuration.maxEntries > 0 else { return nil }
        let (kind, ttl) = self.cacheability(of: message)
        guard let ttl, ttl > 0 else {
            _ = kind
            return nil
        }
        let packet = Self.encode(message, clampTo: ttl, configuration: self.configuration)
        self.insert(key, packet: packet, ttl: ttl)
        return (ttl, packet)
    }

    /// Stores a response received as a packet (``CachedPacket/init(response:layout:)``) under `key` if its kind is
    /// cacheable, with its TTLs clamped as ``storeAnswer(_:message:)`` clamps them; returns the TTL used and the packet
    /// stored (the same object when no TTL needed clamping), or nil.
    public func storeAnswer(_ key: CacheKey, packet: CachedPacket) -> (ttl: UInt32, packet: CachedPacket)? {
        guard self.configuration.maxEntries > 0 else { return nil }
        guard let ttl = self.cacheability(of: packet).1, ttl > 0 else { return nil }
        let cfg = self.configuration
        let stored = packet.clampingTTLs(cfg.minTTL, max(cfg.maxTTL, cfg.minTTL))
        self.insert(key, packet: stored, ttl: ttl)
        return (ttl, stored)
    }

    private func insert(_ key: CacheKey, packet: CachedPacket, ttl: UInt32) {
        let now = self.now
        let cap = self.perShard
        self.shards[self.shard(for: key)].withLock { s in
            let entry = CacheEntry(key: key, packet: packet, storedAt: now, ttl: ttl)
            // The slot of this hash is replaced whoever holds it: the same key, or (once in 2^64) another key with
            // the same hash, which then misses until stored again — never answered with this entry's packet.
            if let i = s.index.slot(for: key.precomputedHash) {
                s.slots[i] = entry
                return
            }
            let slot: Int
            if let f = s.free.popLast() {
                slot = f
            } else if s.slots.count < cap {
                s.slots.append(nil)
                slot = s.slots.count - 1
            } else {
                // CLOCK: skip referenced entries once, evict the first unreferenced one.
                while true {
                    if s.hand >= s.slots.count { s.hand = 0 }
                    if let e = s.slots[s.hand], e.referenced {
                        s.slots[s.hand]?.referenced = false
                        s.hand += 1
                        continue
                    }
                    break
                }
                slot = s.hand
                if let old = s.slots[slot] { s.index.remove(old.hash) }
                s.hand += 1
            }
            s.slots[slot] = entry
            s.index.set(key.precomputedHash, slot: slot)
        }
    }

    /// Clears the prefetch flag after a failed refresh, so a later hit may try again.
    public func prefetchFailed(_ key: CacheKey) {
        self.shards[self.shard(for: key)].withLock { s in
            if let i = s.index.slot(for: key.precomputedHash), s.slots[i]?.matches(key) == true { s.slots[i]?.prefetching = false }
        }
    }

    /// Drops every entry.
    public func removeAll() {
        for s in self.shards { s.withLock { $0 = CacheShard() } }
    }

    /// Classifies a response and returns the TTL it may be cached for (nil: not cacheable).
    ///
    /// Truncated replies and SERVFAIL are never cached; negative answers need an SOA in the
    /// authority section (RFC 2308 §5) and are capped by `maxNegativeTTL`.
    public func cacheability(of m: DNSMessage) -> (ReplyKind, UInt32?) {
        var f = ReplyFacts(truncated: m.header.truncated, rcode: m.rcode, answerCount: m.answers.count)
        for rr in m.answers { f.minAnswerTTL = min(f.minAnswerTTL, rr.ttl) }
        for rr in m.authorities {
            f.authorityHasNS = f.authorityHasNS || rr.type == .ns
            f.authorityHasSOA = f.authorityHasSOA || rr.type == .soa
            if case .soa(let soa) = rr.rdata, f.firstSOA == nil { f.firstSOA = (rr.ttl, soa.minimum) }
        }
        return self.classify(f)
    }

    /// ``cacheability(of:)`` for a packet, read from its bytes through its table of TTL offsets (one entry per record,
    /// in section order): the same kinds and TTLs as for its decoded message.
    public func cacheability(of p: CachedPacket) -> (ReplyKind, UInt32?) {
        let facts = p.storage.withUnsafeBufferPointer { b -> ReplyFacts? in
            let n = p.count
            guard n >= 12 else { return nil }
            func u16(_ i: Int) -> Int { Int(b[i]) << 8 | Int(b[i + 1]) }
            func u32(_ i: Int) -> UInt32 {
                UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
            }
            let an = u16(6)
            let ns = u16(8)
            // A record whose TTL offset did not fit the table (past 64 KiB) would shift the sections: not cached.
            guard (b.count - n) / 2 == an + ns + u16(10) else { return nil }
            var f = ReplyFacts(truncated: p.isTruncated, rcode: p.rcode, answerCount: an)
            for i in 0..<(an + ns) {
                // Record i's TTL field: its type 4 bytes before, its RDLENGTH 4 after.
                let off = u16(n + 2 * i)
                guard off >= 16, off + 6 <= n else { return nil }
                guard i >= an else {
                    f.minAnswerTTL = min(f.minAnswerTTL, u32(off))
                    continue
                }
                let type = u16(off - 4)
                f.authorityHasNS = f.authorityHasNS || type == Int(RecordType.ns.rawValue)
                f.authorityHasSOA = f.authorityHasSOA || type == Int(RecordType.soa.rawValue)
                if type == Int(RecordType.soa.rawValue), f.firstSOA == nil {
                    // MINIMUM is the last field of SOA RDATA.
                    let end = off + 6 + u16(off + 4)
                    guard end <= n, end - 4 >= off + 6 else { return nil }
                    f.firstSOA = (u32(off), u32(end - 4))
                }
            }
            return f
        }
        guard let facts else { return (.other, nil) }
        return self.classify(facts)
    }

    /// The cache's rules (RFC 2308 for negative answers), on what they read from a response however it is held.
    private func classify(_ f: ReplyFacts) -> (ReplyKind, UInt32?) {
        let cfg = self.configuration
        if f.truncated { return (.truncated, nil) }
        if f.rcode == .servFail { return (.servfail, nil) }
        let negativeTTL = f.firstSOA.map { min(min($0.ttl, $0.minimum), cfg.maxNegativeTTL) }
        if f.rcode == .nxDomain { return (.nxdomain, negativeTTL) }
        guard f.rcode == .noError else { return (.other, nil) }
        if f.answerCount == 0 {
            if f.authorityHasNS && !f.authorityHasSOA { return (.referral, nil) }
            return (.nodata, negativeTTL)
        }
        return (.positive, min(max(f.minAnswerTTL, cfg.minTTL), cfg.maxTTL))
    }

    /// Encodes a response for the packet cache: ID 0, no OPT, TTLs clamped, TTL offsets recorded.
    static func encode(_ message: DNSMessage, clampTo ttl: UInt32, configuration cfg: CacheConfiguration) -> CachedPacket {
        var m = message
        m.header.id = 0
        let rcode = m.rcode
        m.edns = nil
        m.header.rcodeLow = UInt8(rcode.rawValue & 0x0F)
        let low = cfg.minTTL
        let high = max(cfg.maxTTL, cfg.minTTL)
        // Copy a section only when one of its TTLs is outside the clamps (most answers are inside them).
        func clamp(_ rrs: inout [ResourceRecord]) {
            guard rrs.contains(where: { $0.ttl < low || $0.ttl > high }) else { return }
            for i in rrs.indices { rrs[i].ttl = min(max(rrs[i].ttl, low), high) }
        }
        clamp(&m.answers)
        clamp(&m.authorities)
        clamp(&m.additionals)
        var w = WireWriter(capacity: 512)
        w.writeUInt16(0)
        w.writeUInt16(m.header.flags)
        w.writeUInt16(UInt16(m.questions.count))
        w.writeUInt16(UInt16(m.answers.count))
        w.writeUInt16(UInt16(m.authorities.count))
        w.writeUInt16(UInt16(m.additionals.count))
        for q in m.questions {
            w.writeName(q.name, compress: true)
            w.writeUInt16(q.type.rawValue)
            w.writeUInt16(q.dnsClass.rawValue)
        }
        var offsets: [Int] = []
        offsets.reserveCapacity(m.answers.count + m.authorities.count + m.additionals.count)
        func write(_ section: [ResourceRecord]) {
            for rr in section {
                w.writeName(rr.name, compress: true)
                w.writeUInt16(rr.type.rawValue)
                w.writeUInt16(rr.dnsClass.rawValue)
                offsets.append(w.bytes.count)
                w.writeUInt32(rr.ttl)
                let lenAt = w.bytes.count
                w.writeUInt16(0)
                rr.rdata.encode(into: &w)
                w.patchUInt16(UInt16(w.bytes.count - lenAt - 2), at: lenAt)
            }
        }
        write(m.answers)
        write(m.authorities)
        write(m.additionals)
        // The TTL offsets follow the packet in the same array (see ``CachedPacket``); a field past 64 KiB (no such
        // packet is cached: TCP caps messages there) would not fit the table, and keeps its stored TTL.
        let count = w.bytes.count
        for off in offsets where off <= 0xFFFF { w.writeUInt16(UInt16(off)) }
        // A CNAME answer is read as records on every hit (the response policy follows the chain): keep its message.
        // Any other is decoded from the bytes only if a consumer asks (see ``CachedPacket/message``).
        let hasCNAME = m.answers.contains { $0.type == .cname }
        return CachedPacket(storage: w.bytes, count: count, rcode: rcode, hasCNAMEAnswer: hasCNAME,
            message: hasCNAME ? m : nil)
    }
}

// The storage types live outside the generic `MessageCache<C>`: nested in it, they were generic too, and every hit
// looked their metadata up at run time (`swift_getGenericMetadata`, 1.9 % of the event loop on the cached-hit mix).

/// What the cache's rules read from a response (``MessageCache/cacheability(of:)``), from its records or its bytes.
private struct ReplyFacts {
    var truncated: Bool
    var rcode: ResponseCode
    var answerCount: Int
    /// The smallest TTL in the answer section (`UInt32.max` when it is empty).
    var minAnswerTTL = UInt32.max
    /// Whether the authority section holds an NS record, and an SOA record.
    var authorityHasNS = false
    var authorityHasSOA = false
    /// TTL and MINIMUM of the authority section's first SOA record.
    var firstSOA: (ttl: UInt32, minimum: UInt32)? = nil

    init(truncated: Bool, rcode: ResponseCode, answerCount: Int) {
        self.truncated = truncated
        self.rcode = rcode
        self.answerCount = answerCount
    }
}

/// A cache lookup result (``MessageCache/Lookup``).
public enum CacheLookup: Sendable {
    /// A fresh answer, `age` seconds old; `prefetch` is true when it is popular and close to expiry.
    case fresh(CachedPacket, age: UInt32, prefetch: Bool)
    /// Expired but within the stale window.
    case stale(CachedPacket)
    case miss
}

/// One cached answer, found through its key's hash (``CacheShard/index``) and checked against the key here.
///
/// The entry keeps the key's hash, type, class and flags, but not its name: the name is checked against the
/// question in the packet's own bytes. A hit reads those bytes anyway to copy them, so the check reads no memory of its
/// own, where comparing with a stored copy of the name read one more heap object (perf, hit mix: about 7 % of the
/// loop's samples in `CacheKey.==` and the array comparison under it). A/B runs showed no throughput change this
/// machine could resolve (BENCHMARKS.md, session 7); the entry is smaller by the name it no longer holds.
struct CacheEntry {
    var hash: Int
    var type: UInt16
    var dnsClass: UInt16
    var flags: UInt8
    var referenced = false
    var prefetching = false
    var hits: UInt32 = 0
    var ttl: UInt32
    var storedAt: Duration
    var packet: CachedPacket
    /// The packet's ``CachedPacket/storage``, the same array: ``matches(_:)`` reads the question from it without first
    /// loading the packet object.
    let bytes: [UInt8]

    init(key: CacheKey, packet: CachedPacket, storedAt: Duration, ttl: UInt32) {
        self.hash = key.precomputedHash
        self.type = key.type
        self.dnsClass = key.dnsClass
        self.flags = key.flags
        self.ttl = ttl
        self.storedAt = storedAt
        self.packet = packet
        self.bytes = packet.storage
    }

    /// Whether this entry answers `key`: same hash, type, class and flags, and the packet's question name equals the
    /// key's (lowercased) name, ignoring case.
    func matches(_ key: CacheKey) -> Bool {
        guard self.hash == key.precomputedHash, self.type == key.type, self.dnsClass == key.dnsClass,
            self.flags == key.flags
        else { return false }
        return CachedPacket.questionNameEquals(self.bytes, lowercased: key.name)
    }

    /// Counts a hit and returns the fresh answer, or nil when the entry has expired.
    mutating func hit(now: Duration, prefetchEnabled: Bool) -> CacheLookup? {
        let age = UInt32(clamping: (now - self.storedAt).components.seconds)
        guard age < self.ttl else { return nil }
        self.hits &+= 1
        self.referenced = true
        var prefetch = false
        // Prefetch when 90 % of the TTL has passed and the name was asked for more than once.
        if prefetchEnabled && !self.prefetching && self.hits >= 2 && self.ttl >= 10
            && age >= self.ttl - self.ttl / 10
        {
            self.prefetching = true
            prefetch = true
        }
        return .fresh(self.packet, age: age, prefetch: prefetch)
    }
}

struct CacheShard {
    /// Key hash → slot. Lookups check the slot's entry against the key (``CacheEntry/matches(_:)``).
    var index = HashSlotIndex()
    var slots: [CacheEntry?] = []
    var hand = 0
    var free: [Int] = []
}

final class CacheShardBox: Sendable {
    let lock = Mutex(CacheShard())
    func withLock<R>(_ body: (inout sending CacheShard) -> sending R) -> sending R { self.lock.withLock(body) }
}
