import DNSCache
import DNSPipeline
import DNSWire
import Synchronization
import TestSupport
import Testing

/// A terminal stage that defers like the UDP upstream stage: it registers its work in the first pass
/// and returns the stored result in the replay; the test completes the work when it chooses.
private final class DeferringStage: Stage, Sendable {
    let id: StageID = "deferring"
    let inner = ScriptedStage()
    private let started = Mutex<[(Query, @Sendable (Resolution) -> Void)]>([])
    private let asyncCalls = Mutex(0)

    /// How often the async path asked the upstream itself.
    var asyncUpstreamCalls: Int { self.asyncCalls.withLock { $0 } }

    func resolveNow(_ query: Query, in context: QueryContext, next: NextNow) throws -> Resolution? {
        guard let deferral = context.deferral else { return nil }
        if let r = deferral.result(for: query.question) { return r }
        deferral.request(query.question) { complete in
            self.started.withLock { $0.append((query, complete)) }
        }
        return nil
    }

    func resolve(_ query: Query, in context: QueryContext, next: @escaping Next) async throws -> Resolution {
        if let r = context.deferral?.result(for: query.question) { return r }
        self.asyncCalls.withLock { $0 += 1 }
        return try await self.inner.resolve(query, in: context, next: next)
    }

    /// Completes every started exchange with the scripted answer; returns how many there were.
    func completeAll() async throws -> Int {
        let started = self.started.withLock { s in
            defer { s = [] }
            return s
        }
        for (query, complete) in started {
            complete(try await self.inner.resolve(query, in: QueryContext(), next: { q, _ in .failure(for: q, text: "x") }))
        }
        return started.count
    }
}

/// Passes in the first pass, but needs the async path in the replay (like a response-policy CNAME chase).
private struct ReplayNeedsAsyncStage: Stage {
    let id: StageID = "replay-needs-async"
    func resolveNow(_ query: Query, in context: QueryContext, next: NextNow) throws -> Resolution? {
        let r = try next(query, context)
        return context.ingressChecked ? nil : r
    }
    func resolve(_ query: Query, in context: QueryContext, next: @escaping Next) async throws -> Resolution {
        try await next(query, context)
    }
}

/// The two-pass miss path (``Deferral``) through QueryProcessor with the real cache stage.
@Suite struct DeferralTests {
    let clock = ManualClock()
    let client = ClientInfo(address: .v4(IPv4Address(127, 0, 0, 1)), port: 5000, transport: .udp)

    func processor(_ stages: [any Stage]) -> QueryProcessor {
        QueryProcessor(chains: ChainReference(Chain(stages: stages)))
    }

    /// Runs one query through processOnLoop/resume, completing the deferred work; nil when it was not deferred.
    fileprivate func askDeferred(_ p: QueryProcessor, _ upstream: DeferringStage, _ message: DNSMessage) async throws
        -> DNSMessage?
    {
        guard case .deferred(let d) = p.processOnLoop(message.encode(), client: self.client) else { return nil }
        let bytes = Mutex<[UInt8]?>(nil)
        p.resume(d) { out in bytes.withLock { $0 = out } }
        #expect(try await upstream.completeAll() == 1)
        // The completion ran synchronously inside completeAll (no async fallback in this chain).
        return try bytes.withLock { $0 }.map { try DNSMessage.decode($0) }
    }

    @Test("A deferred miss is stored by the cache in the replay, and the next query is a synchronous hit")
    func missThenHit() async throws {
        let upstream = DeferringStage()
        try upstream.inner.answer("www.example.org.", .a, [try TestMessages.a("www.example.org.", "192.0.2.7", ttl: 300)])
        let cache = CacheStage(cache: MessageCache(configuration: .init(), clock: self.clock))
        let p = self.processor([SanitizeStage(), MetricsStage(), cache, upstream])
        let first = try #require(try await self.askDeferred(p, upstream, try TestMessages.query("www.example.org.", id: 7)))
        #expect(first.header.id == 7)
        #expect(first.answers.first?.ttl == 300)
        guard case .reply(let bytes) = p.processOnLoop(try TestMessages.query("www.example.org.", id: 8).encode(),
            client: self.client)
        else {
            Issue.record("the second query was not a synchronous cache hit")
            return
        }
        #expect(try DNSMessage.decode(bytes).header.id == 8)
        #expect(upstream.inner.calls.count == 1)
        #expect(upstream.asyncUpstreamCalls == 0)
    }

    @Test("A deferred upstream failure serves the expired answer stale (EDE 3) in the replay")
    func serveStaleInReplay() async throws {
        let upstream = DeferringStage()
        try upstream.inner.answer("s.example.org.", .a, [try TestMessages.a("s.example.org.", "192.0.2.5", ttl: 60)])
        let cache = CacheStage(cache: MessageCache(configuration: .init(), clock: self.clock))
        let p = self.processor([cache, upstream])
        _ = try #require(try await self.askDeferred(p, upstream, try TestMessages.query("s.example.org.")))
        self.clock.advance(by: .seconds(120))
        upstream.inner.setFailing(true)
        let r = try #require(try await self.askDeferred(p, upstream, try TestMessages.query("s.example.org.")))
        #expect(r.rcode == .noError)
        #expect(r.answers.first?.ttl == 30)
        #expect(r.edns?.options.compactMap(\.extendedErrorValue).first?.code == .staleAnswer)
    }

    @Test("A replay that needs the async path falls back to it, which reuses the answer instead of asking again")
    func replayFallsBackToAsync() async throws {
        let upstream = DeferringStage()
        try upstream.inner.answer("f.example.org.", .a, [try TestMessages.a("f.example.org.", "192.0.2.9", ttl: 60)])
        let p = self.processor([ReplayNeedsAsyncStage(), upstream])
        guard case .deferred(let d) = p.processOnLoop(try TestMessages.query("f.example.org.", id: 99).encode(),
            client: self.client)
        else {
            Issue.record("the miss was not deferred")
            return
        }
        let out: [UInt8]? = try await withCheckedThrowingContinuation { continuation in
            p.resume(d) { continuation.resume(returning: $0) }
            Task {
                do {
                    _ = try await upstream.completeAll()
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
        let reply = try DNSMessage.decode(try #require(out))
        #expect(reply.header.id == 99)
        #expect(reply.answers.count == 1)
        #expect(upstream.inner.calls.count == 1)
        #expect(upstream.asyncUpstreamCalls == 0)
    }

    @Test("Without a stage that defers, a miss takes the async path as before")
    func noDeferringStage() throws {
        let p = self.processor([SanitizeStage(), ScriptedStage()])
        guard case .async = p.processOnLoop(try TestMessages.query("www.example.org.").encode(), client: self.client) else {
            Issue.record("expected the async path")
            return
        }
    }

    @Test("Only the first request of a pass is kept, and a result answers only its own question")
    func deferralBookkeeping() throws {
        let d = Deferral()
        let q1 = Question(name: try DomainName("a.example.org."), type: .a)
        let q2 = Question(name: try DomainName("b.example.org."), type: .a)
        let query = Query(message: try TestMessages.query("a.example.org."), client: self.client)
        let startedFirst = Mutex(0)
        let startedSecond = Mutex(0)
        #expect(d.request(q1) { done in
            startedFirst.withLock { $0 += 1 }
            done(.failure(for: query, text: "x"))
        })
        #expect(!d.request(q2) { _ in startedSecond.withLock { $0 += 1 } })
        #expect(d.isRequested)
        let calls = Mutex(0)
        #expect(d.start { r in calls.withLock { $0 += 1 }; d.complete(r) } )
        #expect(startedFirst.withLock { $0 } == 1 && startedSecond.withLock { $0 } == 0, "only the first request runs")
        #expect(calls.withLock { $0 } == 1, "the completion gets the resolution exactly once")
        #expect(!d.isRequested, "a started request is no longer pending")
        #expect(d.result(for: q1) != nil)
        #expect(d.result(for: q2) == nil)
        // Started once only.
        #expect(!d.start { _ in })
    }
}
