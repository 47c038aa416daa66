public import DNSWire

/// RFC-correct cache key: lowercased name, type, class, DO and CD, compared in full.
public struct CacheKey: Hashable, Sendable {
    /// Lowercased wire name.
    public let name: [UInt8]
    /// QTYPE.
    public let type: UInt16
    /// QCLASS.
    public let dnsClass: UInt16
    /// DNSSEC OK and Checking Disabled, packed.
    public let flags: UInt8
    /// The key's hash, computed once: the shard choice and the shard's dictionary both need it. Hashing the
    /// name element by element twice per query was the cache's largest single cost on the hit path (perf,
    /// cached-hit mix, log off: the dictionary's `find` 3–4 % of the event loop, the whole lookup ~10 %).
    let precomputedHash: Int

    /// Builds the key for a question and the DO/CD bits.
    public init(question: Question, dnssecOK: Bool, checkingDisabled: Bool) {
        self.name = DomainName.lowercase(question.name.wire)
        self.type = question.type.rawValue
        self.dnsClass = question.dnsClass.rawValue
        self.flags = (dnssecOK ? 1 : 0) | (checkingDisabled ? 2 : 0)
        // Hasher is randomly seeded per process, so a client cannot aim names at one bucket; the bytes go in
        // as one block rather than element by element.
        var h = Hasher()
        self.name.withUnsafeBytes { h.combine(bytes: $0) }
        h.combine(UInt64(self.type) << 24 | UInt64(self.dnsClass) << 8 | UInt64(self.flags))
        self.precomputedHash = h.finalize()
    }

    /// Feeds the precomputed hash.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.precomputedHash)
    }

    /// Equal when every field is equal (the hash is compared first because it differs for almost every pair).
    public static func == (a: CacheKey, b: CacheKey) -> Bool {
        a.precomputedHash == b.precomputedHash && a.type == b.type && a.dnsClass == b.dnsClass && a.flags == b.flags
            && a.name == b.name
    }
}
