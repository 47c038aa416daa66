public import DNSPipeline
public import DNSWire
import Metrics

/// The `cache` stage: answers from the packet cache; on a miss calls `next` and stores what is cacheable.
///
/// Hits are served on the synchronous path (no task per query). Serve-stale (RFC 8767) and
/// prefetch need `next`, so they run on the async path.
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
        if case .fresh(let p, let age, let prefetch) = self.cache.lookup(self.key(query)), !prefetch {
            self.hits.increment()
            context.note(self.id, "hit, age \(age)s")
            return Resolution(reply: .cached(p, age: age), source: .cache)
        }
        // A miss, a stale entry or a prefetch needs `next`: the async path does it. No side effects here.
        return nil
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
        switch result.reply {
        case .message(let m):
            if m.rcode == .servFail, case .failure = result.source, let stale {
                return self.serveStale(stale, query, context)
            }
            if case .upstream = result.source, let ttl = self.cache.store(key, message: m) {
                context.note(self.id, "stored for \(ttl)s")
            }
        default:
            break
        }
        return result
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
