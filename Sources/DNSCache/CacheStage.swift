public import DNSPipeline
public import DNSWire
import Metrics

/// The `cache` stage: answers from the packet cache; on a miss calls `next` and stores what is cacheable.
///
/// Hits are served on the synchronous path (no task per query). A miss or an expired entry also runs
/// there when the query carries a ``Deferral`` (the server replays the chain once the upstream answered
/// on its event loop), including the store and serve-stale (RFC 8767); otherwise, and for prefetch,
/// the async path does it.
public struct CacheStage<C: Clock<Duration>>: Stage {
    public let id: StageID = "cache"
    /// The cache (shared across reloads when the configuration is unchanged).
    public let cache: MessageCache<C>
    private let hits = Counter(label: "palisade_cache_hits_total")
    private let misses = Counter(label: "palisade_cache_misses_total")
    private let staleServed = Counter(label: "palisade_cache_stale_served_total")
    private let prefetches = Counter(label: "palisade_cache_prefetches_total")

    /// Creates the stage over `cache`.
    public init(cache: MessageCache<C>) {
        self.cache = cache
    }

    private func key(_ q: Query) -> CacheKey {
        CacheKey(question: q.question, dnssecOK: q.dnssecOK, checkingDisabled: q.checkingDisabled)
    }

    public func resolveNow(_ query: Query, in context: QueryContext, next: NextNow) throws -> Resolution? {
        let key = self.key(query)
        let stale: CachedPacket?
        switch self.cache.lookup(key) {
        case .fresh(let p, let age, let prefetch):
            // A prefetch needs a second query in the background: the async path does it.
            guard !prefetch else { return nil }
            self.hits.increment()
            context.note(self.id, "hit, age \(age)s")
            return Resolution(reply: .cached(p, age: age), source: .cache)
        case .stale(let p):
            stale = p
        case .miss:
            stale = nil
        }
        // A miss needs `next`. Without a deferral the async path does it; with one, the stages below may
        // answer synchronously in the replay pass (see `Deferral`). No side effects until they answer.
        guard context.deferral != nil, let result = try next(query, context) else { return nil }
        self.misses.increment()
        context.note(self.id, stale == nil ? "miss" : "expired, refreshing (stale copy kept)")
        return self.finishMiss(result, key: key, stale: stale, query, context)
    }

    /// Stores a cacheable answer, or serves the stale copy when the stages below failed (RFC 8767).
    private func finishMiss(_ result: Resolution, key: CacheKey, stale: CachedPacket?, _ query: Query,
        _ context: QueryContext) -> Resolution
    {
        switch result.reply {
        case .message(let m):
            if m.rcode == .servFail, case .failure = result.source, let stale {
                return self.serveStale(stale, query, context)
            }
            if case .upstream = result.source, let stored = self.cache.storeAnswer(key, message: m) {
                context.note(self.id, "stored for \(stored.ttl)s")
                // Answer from the packet just stored, as a hit of age 0 would be: patching it costs less than
                // encoding the message again, and the first answer shows the same (clamped) TTLs as the hits after
                // it. Not when the upstream sent Extended DNS Errors: the stored packet has no OPT to carry them.
                if !Self.hasExtendedErrors(m) {
                    var answer = result
                    answer.reply = .cached(stored.packet, age: 0)
                    return answer
                }
            }
        case .cached(let p, _):
            // The upstream's reply taken as bytes (the event-loop path): stored without decoding or encoding it, and
            // answered from the packet stored (its TTLs clamped as a hit's are).
            if case .upstream = result.source, let stored = self.cache.storeAnswer(key, packet: p) {
                context.note(self.id, "stored for \(stored.ttl)s")
                var answer = result
                answer.reply = .cached(stored.packet, age: 0)
                return answer
            }
        default:
            break
        }
        return result
    }

    private static func hasExtendedErrors(_ m: DNSMessage) -> Bool {
        guard let edns = m.edns else { return false }
        return edns.options.contains { $0.code == .extendedError }
    }

    public func resolve(_ query: Query, in context: QueryContext, next: @escaping Next) async throws -> Resolution {
        let key = self.key(query)
        var stale: CachedPacket?
        switch self.cache.lookup(key) {
        case .fresh(let p, let age, let prefetch):
            self.hits.increment()
            if prefetch {
                self.prefetches.increment()
                context.note(self.id, "hit, age \(age)s, prefetching")
                let cache = self.cache
                Task {
                    var ok = false
                    if let r = try? await next(query, QueryContext()), case .message(let m) = r.reply, m.rcode != .servFail {
                        ok = cache.store(key, message: m) != nil
                    }
                    if !ok { cache.prefetchFailed(key) }
                }
            } else {
                context.note(self.id, "hit, age \(age)s")
            }
            return Resolution(reply: .cached(p, age: age), source: .cache)
        case .stale(let p):
            stale = p
        case .miss:
            break
        }
        self.misses.increment()
        context.note(self.id, stale == nil ? "miss" : "expired, refreshing (stale copy kept)")
        let result: Resolution
        do {
            result = try await next(query, context)
        } catch {
            if let stale { return self.serveStale(stale, query, context) }
            throw error
        }
        return self.finishMiss(result, key: key, stale: stale, query, context)
    }

    private func serveStale(_ p: CachedPacket, _ query: Query, _ context: QueryContext) -> Resolution {
        self.staleServed.increment()
        context.note(self.id, "upstream failed, serving stale answer (RFC 8767)")
        var m = p.message
        let t = self.cache.configuration.staleAnswerTTL
        m.answers = m.answers.map { var r = $0; r.ttl = t; return r }
        m.authorities = m.authorities.map { var r = $0; r.ttl = t; return r }
        m.additionals = m.additionals.map { var r = $0; r.ttl = t; return r }
        return Resolution(reply: .message(m), source: .staleCache, extendedErrors: [.extendedError(.staleAnswer, text: "")])
    }
}
