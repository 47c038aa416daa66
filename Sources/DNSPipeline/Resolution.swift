public import DNSWire
import Synchronization

/// The policy rule that produced an answer: which feed and which rule, for the EDE text, the log and metrics.
public struct PolicyHit: Sendable, Hashable, Codable {
    /// Name of the policy source (feed, list, RPZ zone, or `quarantine`).
    public var source: String
    /// The rule as written in the source (`*.evil.example`, `evil.example CNAME .`).
    public var rule: String
    /// What the rule did (`nxdomain`, `nodata`, `drop`, `passthru`, `tcp-only`, `local-data`, `log`).
    public var action: String
    /// Trigger kind (`qname`, `client-ip`, `response-ip`, `nsdname`, `nsip`, `list`).
    public var trigger: String

    /// Creates a policy hit.
    public init(source: String, rule: String, action: String, trigger: String) {
        self.source = source
        self.rule = rule
        self.action = action
        self.trigger = trigger
    }
}

/// Where an answer came from. The log, the metrics and the EDE code are derived from it.
public enum AnswerSource: Sendable, Hashable {
    case upstream(String)
    case cache
    case staleCache
    /// Boxed, like ``Reply/message(_:)``: a ``Resolution`` is returned through every stage, and four strings
    /// inline made each return copy 152 bytes (twice per stage in the chain: 5 % of the event loop on the cached
    /// hit mix, perf, session 6).
    indirect case policy(PolicyHit)
    case local
    case synthesized
    case failure

    /// Every kind's ``label``, in ``kindIndex`` order: the closed set of the metrics' and the query log's `source`.
    public static let labels = ["upstream", "cache", "stale", "policy", "local", "synthesized", "failure"]

    /// The kind's position in ``labels`` (the upstream's id and the policy hit left out).
    public var kindIndex: Int {
        switch self {
        case .upstream: 0
        case .cache: 1
        case .staleCache: 2
        case .policy: 3
        case .local: 4
        case .synthesized: 5
        case .failure: 6
        }
    }

    /// Closed, low-cardinality label for metrics.
    public var label: String { Self.labels[self.kindIndex] }
}

/// A detector's observation about a query or answer.
public struct Finding: Sendable, Hashable, Codable {
    /// Detector id (`dga`, `tunnel`, `fast-flux`, …).
    public var detector: String
    /// Score in 0…1.
    public var score: Double
    /// Human explanation.
    public var detail: String
    /// Whether the finding changed the answer (enforce mode).
    public var enforced: Bool

    /// Creates a finding.
    public init(detector: String, score: Double, detail: String, enforced: Bool = false) {
        self.detector = detector
        self.score = score
        self.detail = detail
        self.enforced = enforced
    }
}

/// A cached response stored pre-encoded, so a hit is a byte copy plus patches (no re-encoding).
///
/// The bytes hold the response with ID 0 and without an OPT record; the server patches the ID, the
/// flags, the question's case and the TTLs, and appends the client's OPT.
public final class CachedPacket: Sendable {
    /// The response bytes without OPT (ARCOUNT excludes it), with the TTLs at store time, then a table of the
    /// offsets of its TTL fields (2 bytes each, big-endian).
    ///
    /// One array rather than three: a cache hit copies the packet and rewrites its TTLs, and with the offsets and
    /// TTLs in arrays of their own it touched three cold heap objects instead of one (perf: 2 % of the loop's
    /// samples on the first read of the TTL array).
    package let storage: [UInt8]
    /// Length of the response in ``storage``.
    public let count: Int
    /// Response code.
    public let rcode: ResponseCode
    /// Whether the answer section holds a CNAME: the response policy stage needs the records only then (or when a
    /// zone has response triggers), and reading `message` out of the packet copies it.
    public let hasCNAMEAnswer: Bool
    /// Whether TC is set.
    public var isTruncated: Bool { self.storage[2] & 0x02 != 0 }
    /// Where the query log's group for the latest hit on this packet sits (-1: none): a hint that lets a repeated cache
    /// hit skip hashing the group key. ``QueryEventBuffer`` checks that group's slot in full before using it.
    let logGroupHint = Atomic<Int>(-1)
    /// The ``generation`` of the policy under which the response-policy stage last found this answer clean (0: never
    /// checked). A packet's bytes never change, and a clean verdict depends only on them, the question and the
    /// policy, so a hit under the same policy need not be checked again; a reload brings a new generation.
    package let cleanUnderPolicy = Atomic<UInt64>(0)
    /// The decoded message, once a consumer has asked for it (see ``message``).
    private let decoded: Mutex<DNSMessage?>

    /// The decoded message, for consumers that need records (response policy on CNAME answers or response triggers,
    /// trace, serve-stale).
    ///
    /// Decoded from ``bytes`` on first use and kept. A cache full of packets that nobody reads records from then
    /// holds no record graph: on the cache-miss mix every store evicts an entry, and freeing the cold records of the
    /// evicted message (a dozen objects) was about 3 % of the event loop.
    public var message: DNSMessage {
        self.decoded.withLock { kept in
            if let kept { return kept }
            let m = self.decodeBytes()
            kept = m
            return m
        }
    }

    /// The first `limit` answer records, for a one-off reader (the query log's answer text): from the kept message
    /// when a consumer already decoded it, else decoded from the bytes up to those records and not kept (keeping them
    /// would hand every logged miss's record graph to the cache, see ``message``); the rest of the message is not read.
    /// None if the bytes ever failed to decode.
    public func answersForOneRead(limit: Int) -> [ResourceRecord] {
        if let kept = self.decoded.withLock({ $0 }) { return Array(kept.answers.prefix(limit)) }
        return (try? DNSMessage.decodeAnswers(self.bytes, limit: limit)) ?? []
    }

    /// The query log's answer texts (`A 192.0.2.1`, `AAAA 2001:db8::1`) of the first `limit` answer records, read in
    /// place when every one of them is an A or AAAA record; nil otherwise (then ``answersForOneRead(limit:)`` decodes
    /// them). Decoding the records and copying the bytes for it was a third of building a row on the cache-miss mix,
    /// where nearly every answer is one address (perf). The walk checks every offset against ``count`` and follows
    /// no pointer (an owner name is skipped, never read), so a packet it cannot read just takes the slow path.
    public func addressAnswerTexts(limit: Int) -> [String]? {
        self.storage.withUnsafeBufferPointer { s -> [String]? in
            let end = self.count
            guard end >= 12, end <= s.count else { return nil }
            let questions = Int(s[4]) << 8 | Int(s[5])
            let answers = min(Int(s[6]) << 8 | Int(s[7]), max(0, limit))
            // Past a name: its labels, ended by the root or by a compression pointer. nil when it runs past the end.
            func skipName(_ at: Int) -> Int? {
                var i = at
                while i < end {
                    let b = Int(s[i])
                    if b == 0 { return i + 1 }
                    if b & 0xC0 == 0xC0 { return i + 2 <= end ? i + 2 : nil }
                    if b & 0xC0 != 0 { return nil }
                    i += 1 + b
                }
                return nil
            }
            var at = 12
            for _ in 0..<questions {
                guard let next = skipName(at), next + 4 <= end else { return nil }
                at = next + 4
            }
            var texts: [String] = []
            texts.reserveCapacity(answers)
            for _ in 0..<answers {
                guard let next = skipName(at), next + 10 <= end else { return nil }
                let type = Int(s[next]) << 8 | Int(s[next + 1])
                let length = Int(s[next + 8]) << 8 | Int(s[next + 9])
                let data = next + 10
                guard data + length <= end else { return nil }
                if type == Int(RecordType.a.rawValue) && length == 4 {
                    texts.append("A " + IPv4Address(s[data], s[data + 1], s[data + 2], s[data + 3]).description)
                } else if type == Int(RecordType.aaaa.rawValue) && length == 16,
                    let address = IPv6Address(bytes: s[data..<(data + 16)])
                {
                    texts.append("AAAA " + address.description)
                } else {
                    return nil
                }
                at = data + length
            }
            return texts
        }
    }

    /// The bytes decoded. They are our own encoding of a decoded message, so this does not fail; if it ever did, the
    /// consumers get a message with no records rather than a crash.
    private func decodeBytes() -> DNSMessage {
        (try? DNSMessage.decode(self.bytes)) ?? DNSMessage(header: Header(id: 0, flags: 0x8000))
    }

    /// Whether a packet's ``storage`` has one question and its name (written in full at offset 12: nothing precedes it
    /// that a pointer could reach) equals `name`, a lowercased wire name, ignoring ASCII case.
    ///
    /// Static, on the storage: the cache's entry keeps the storage array beside the packet, so the check loads the bytes
    /// and the packet object in parallel rather than one after the other (each was a cache miss of its own on the hit
    /// path: perf annotate). The name's own zero byte ends it inside the packet, before the TTL table.
    package static func questionNameEquals(_ storage: [UInt8], lowercased name: [UInt8]) -> Bool {
        let n = name.count
        guard n > 0, 12 + n <= storage.count else { return false }
        return storage.withUnsafeBufferPointer { s in
            // Exactly one question (QDCOUNT at bytes 4–5), so offset 12 holds its name.
            guard s[4] == 0, s[5] == 1 else { return false }
            return name.withUnsafeBufferPointer { k in
                for i in 0..<n where DomainName.lower(s[12 + i]) != k[i] { return false }
                return true
            }
        }
    }

    /// The response bytes (ID 0, no OPT).
    public var bytes: [UInt8] { Array(self.storage[0..<self.count]) }

    /// Offsets of the TTL fields in ``bytes``.
    public var ttlOffsets: [Int] {
        stride(from: self.count, to: self.storage.count - 1, by: 2).map { Int(self.storage[$0]) << 8 | Int(self.storage[$0 + 1]) }
    }

    /// Wraps a response already laid out as ``storage`` is: `count` bytes of response, then the TTL offsets.
    /// - Parameter message: its decoded form, kept when given (else decoded from the bytes when first asked for).
    public init(storage: [UInt8], count: Int, rcode: ResponseCode, hasCNAMEAnswer: Bool, message: DNSMessage? = nil) {
        self.storage = storage
        self.count = min(count, storage.count)
        self.rcode = rcode
        self.hasCNAMEAnswer = hasCNAMEAnswer
        self.decoded = Mutex(message)
    }

    /// Wraps a response received as bytes, whose `layout` ``ResponseLayout/read(_:)`` gave: the packet is the message
    /// as received, with ID 0 and without its OPT record, the TTLs unchanged. Its message is decoded when first asked
    /// for (the layout's subset always decodes).
    public convenience init(response bytes: [UInt8], layout: ResponseLayout) {
        let n = layout.length
        var storage: [UInt8] = []
        storage.reserveCapacity(n + 2 * layout.recordCount)
        storage.append(contentsOf: bytes[0..<n])
        storage[0] = 0
        storage[1] = 0
        if layout.hasOPT {
            storage[10] = UInt8(layout.additionalCount >> 8)
            storage[11] = UInt8(layout.additionalCount & 0xFF)
        }
        layout.appendTTLOffsets(of: bytes, to: &storage)
        self.init(storage: storage, count: n, rcode: layout.rcode, hasCNAMEAnswer: layout.hasCNAMEAnswer)
    }

    /// The same packet with every TTL clamped to `low...high`; the packet itself when all are inside already.
    public func clampingTTLs(_ low: UInt32, _ high: UInt32) -> CachedPacket {
        let n = self.count
        var out: [UInt8]? = nil
        self.storage.withUnsafeBufferPointer { src in
            Self.forEachTTL(src, count: n) { off, t in
                let c = min(max(t, low), high)
                guard c != t else { return }
                if out == nil { out = self.storage }
                out!.withUnsafeMutableBufferPointer { Self.writeTTL(c, to: $0.baseAddress!, at: off) }
            }
        }
        guard let out else { return self }
        return CachedPacket(storage: out, count: n, rcode: self.rcode, hasCNAMEAnswer: self.hasCNAMEAnswer)
    }

    /// Calls `body` with the offset and stored value of each TTL field that the table after the first `n` bytes of
    /// `storage` lists, skipping any that does not lie inside those bytes.
    @inline(__always)
    static func forEachTTL(_ storage: UnsafeBufferPointer<UInt8>, count n: Int, _ body: (Int, UInt32) -> Void) {
        var i = n
        while i + 2 <= storage.count {
            let off = Int(storage[i]) << 8 | Int(storage[i + 1])
            i += 2
            guard off + 4 <= n else { continue }
            body(off, UInt32(storage[off]) << 24 | UInt32(storage[off + 1]) << 16 | UInt32(storage[off + 2]) << 8
                | UInt32(storage[off + 3]))
        }
    }

    /// Writes `ttl` big-endian at `offset` of `bytes`.
    @inline(__always)
    static func writeTTL(_ ttl: UInt32, to bytes: UnsafeMutablePointer<UInt8>, at offset: Int) {
        bytes[offset] = UInt8(ttl >> 24)
        bytes[offset + 1] = UInt8((ttl >> 16) & 0xFF)
        bytes[offset + 2] = UInt8((ttl >> 8) & 0xFF)
        bytes[offset + 3] = UInt8(ttl & 0xFF)
    }

    /// Wraps an encoded response whose decoded form is at hand.
    public convenience init(bytes: [UInt8], ttlOffsets: [Int], ttls: [UInt32], rcode: ResponseCode, message: DNSMessage) {
        self.init(bytes: bytes, ttlOffsets: ttlOffsets, ttls: ttls, rcode: rcode,
            hasCNAMEAnswer: message.answers.contains { $0.type == .cname }, decoded: message)
    }

    /// Wraps an encoded response; its message is decoded from `bytes` when first asked for.
    public convenience init(bytes: [UInt8], ttlOffsets: [Int], ttls: [UInt32], rcode: ResponseCode, hasCNAMEAnswer: Bool) {
        self.init(bytes: bytes, ttlOffsets: ttlOffsets, ttls: ttls, rcode: rcode, hasCNAMEAnswer: hasCNAMEAnswer,
            decoded: nil)
    }

    private init(bytes: [UInt8], ttlOffsets: [Int], ttls: [UInt32], rcode: ResponseCode, hasCNAMEAnswer: Bool,
        decoded: DNSMessage?)
    {
        var storage = bytes
        var table: [UInt8] = []
        for i in 0..<min(ttlOffsets.count, ttls.count) {
            // A TTL field lies inside the packet; one outside it is dropped here, as the patch skipped it before.
            let off = ttlOffsets[i]
            guard off >= 0, off + 4 <= bytes.count, off <= 0xFFFF else { continue }
            storage.withUnsafeMutableBufferPointer { Self.writeTTL(ttls[i], to: $0.baseAddress!, at: off) }
            table.append(contentsOf: [UInt8(off >> 8), UInt8(off & 0xFF)])
        }
        storage.append(contentsOf: table)
        self.storage = storage
        self.count = bytes.count
        self.rcode = rcode
        self.hasCNAMEAnswer = hasCNAMEAnswer
        self.decoded = Mutex(decoded)
    }
}

/// What goes back to the client.
public enum Reply: Sendable {
    /// A message to encode (boxed: see ``AnswerSource/policy(_:)``).
    indirect case message(DNSMessage)
    /// A cached packet whose TTLs must be reduced by `age` seconds.
    case cached(CachedPacket, age: UInt32)
    /// No answer at all (RPZ DROP, rate limit).
    case drop
}

/// The outcome of resolving one query.
public struct Resolution: Sendable {
    /// The reply.
    public var reply: Reply
    /// Where it came from.
    public var source: AnswerSource
    /// Detector findings collected on the way.
    public var findings: [Finding]
    /// Extended DNS Errors to attach to the reply (RFC 8914).
    public var extendedErrors: [EDNSOption]
    /// The time from the query's arrival to this outcome, once the `metrics` stage has measured it; the `query-log`
    /// stage, which wraps it, reuses the figure instead of reading the clock a second time. Nil before.
    public var latency: Duration?

    /// Creates a resolution.
    public init(reply: Reply, source: AnswerSource, findings: [Finding] = [], extendedErrors: [EDNSOption] = []) {
        self.reply = reply
        self.source = source
        self.findings = findings
        self.extendedErrors = extendedErrors
    }

    /// The reply as a message (decoded from a cached packet with TTLs aged), or nil for a drop.
    public var message: DNSMessage? {
        switch self.reply {
        case .message(let m): return m
        case .cached(let p, let age):
            var m = p.message
            m.answers = m.answers.map { var r = $0; r.ttl = r.ttl > age ? r.ttl - age : 0; return r }
            m.authorities = m.authorities.map { var r = $0; r.ttl = r.ttl > age ? r.ttl - age : 0; return r }
            m.additionals = m.additionals.map { var r = $0; r.ttl = r.ttl > age ? r.ttl - age : 0; return r }
            return m
        case .drop: return nil
        }
    }

    /// Response code of the reply (nil for a drop).
    public var rcode: ResponseCode? {
        switch self.reply {
        case .message(let m): m.rcode
        case .cached(let p, _): p.rcode
        case .drop: nil
        }
    }

    /// The policy hit, when the answer came from policy.
    public var policy: PolicyHit? {
        if case .policy(let p) = self.source { return p }
        return nil
    }

    /// A SERVFAIL for `query` with an EDE, used when a stage fails internally.
    public static func failure(for query: Query, ede: ExtendedErrorCode = .other, text: String) -> Resolution {
        Resolution(reply: .message(query.message.makeResponse(rcode: .servFail)), source: .failure,
            extendedErrors: [.extendedError(ede, text: text)])
    }

    /// An answer with `rcode` and no records for `query`.
    public static func rcode(_ rcode: ResponseCode, for query: Query, source: AnswerSource) -> Resolution {
        Resolution(reply: .message(query.message.makeResponse(rcode: rcode)), source: source)
    }
}
