/// Cache behaviour an operator can tune.
public struct CacheConfiguration: Codable, Sendable, Equatable {
    /// Most entries kept (positive and negative together). Default 100 000.
    public var maxEntries: Int
    /// Lower clamp for positive TTLs, seconds. Default 0.
    public var minTTL: UInt32
    /// Upper clamp for positive TTLs, seconds. Default 86 400 (one day).
    public var maxTTL: UInt32
    /// Upper clamp for negative answers (RFC 2308 §5), seconds. Default 3 600.
    public var maxNegativeTTL: UInt32
    /// Serve expired answers when every upstream fails (RFC 8767). Default true.
    public var serveStale: Bool
    /// How long after expiry an answer may still be served stale, seconds. Default 86 400 (RFC 8767 suggests 1–3 days).
    public var staleTTL: UInt32
    /// TTL given to a stale answer (RFC 8767 §4 recommends 30 s). Default 30.
    public var staleAnswerTTL: UInt32
    /// Refresh popular names shortly before they expire. Default true.
    public var prefetch: Bool

    /// Defaults as documented per field.
    public init(maxEntries: Int = 100_000, minTTL: UInt32 = 0, maxTTL: UInt32 = 86_400, maxNegativeTTL: UInt32 = 3_600,
        serveStale: Bool = true, staleTTL: UInt32 = 86_400, staleAnswerTTL: UInt32 = 30, prefetch: Bool = true)
    {
        self.maxEntries = maxEntries
        self.minTTL = minTTL
        self.maxTTL = maxTTL
        self.maxNegativeTTL = maxNegativeTTL
        self.serveStale = serveStale
        self.staleTTL = staleTTL
        self.staleAnswerTTL = staleAnswerTTL
        self.prefetch = prefetch
    }

    public init(from decoder: any Decoder) throws {
        let d = CacheConfiguration()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.maxEntries = try c.decodeIfPresent(Int.self, forKey: .maxEntries) ?? d.maxEntries
        self.minTTL = try c.decodeIfPresent(UInt32.self, forKey: .minTTL) ?? d.minTTL
        self.maxTTL = try c.decodeIfPresent(UInt32.self, forKey: .maxTTL) ?? d.maxTTL
        self.maxNegativeTTL = try c.decodeIfPresent(UInt32.self, forKey: .maxNegativeTTL) ?? d.maxNegativeTTL
        self.serveStale = try c.decodeIfPresent(Bool.self, forKey: .serveStale) ?? d.serveStale
        self.staleTTL = try c.decodeIfPresent(UInt32.self, forKey: .staleTTL) ?? d.staleTTL
        self.staleAnswerTTL = try c.decodeIfPresent(UInt32.self, forKey: .staleAnswerTTL) ?? d.staleAnswerTTL
        self.prefetch = try c.decodeIfPresent(Bool.self, forKey: .prefetch) ?? d.prefetch
    }

    /// Problems with the values, each naming its key.
    public func validate(path: String) -> [String] {
        var e: [String] = []
        if self.maxEntries < 0 { e.append("\(path).maxEntries: must be >= 0") }
        if self.minTTL > self.maxTTL { e.append("\(path).minTTL: must not exceed maxTTL (\(self.maxTTL))") }
        return e
    }
}
