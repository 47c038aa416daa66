import CDirectUDP
import DirectIO
import DNSPipeline
@testable import DNSUpstream
import DNSWire
import Foundation
import NIOCore
import Synchronization
import TestSupport
import Testing

/// A thread that runs a ``DirectLoop``, as a direct UDP listener's socket thread does (without a listening socket):
/// pool queries are posted to it and run there, on the upstream sockets the loop keeps (``DirectUpstreams``).
private final class DirectThread: @unchecked Sendable {
    // @unchecked: the loop's state is used on the thread only (work reaches it through `post`).
    let loop: DirectLoop
    private let wake: Int32
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let thread = Mutex<pthread_t?>(nil)

    init() throws {
        self.wake = pal_wake_create()
        try #require(self.wake >= 0)
        self.loop = try DirectLoop(home: TestNetwork.group.next(), wake: self.wake)
        Thread.detachNewThread { [self] in
            self.thread.withLock { $0 = pthread_self() }
            var tags = [UInt64](repeating: 0, count: 64)
            while !self.stopping.load(ordering: .acquiring) {
                _ = self.loop.runRound(tags: &tags, before: {}, other: { _ in })
            }
            self.loop.close()
            self.finished.signal()
        }
    }

    /// Whether the caller is this thread.
    var isCurrent: Bool { self.thread.withLock { $0.map { pthread_equal($0, pthread_self()) != 0 } ?? false } }

    /// Stops the thread after its current round and waits for it.
    func stop() {
        self.stopping.store(true, ordering: .releasing)
        pal_wake_signal(self.wake)
        self.finished.wait()
        close(self.wake)
    }

    /// The outcome of ``UpstreamPool/query(_:via:completion:)`` started on the thread, and whether the completion ran
    /// there.
    func query(_ pool: UpstreamPool, _ message: DNSMessage) async -> (Result<UpstreamAnswer, UpstreamError>, Bool) {
        let results = await self.queries(pool, [message])
        return results[0]
    }

    /// Several queries started in one round (their datagrams leave together).
    func queries(_ pool: UpstreamPool, _ messages: [DNSMessage]) async
        -> [(Result<UpstreamAnswer, UpstreamError>, Bool)]
    {
        let wires = messages.map { QueryWire($0)! }
        return await withCheckedContinuation { continuation in
            let results = Mutex([Int: (Result<UpstreamAnswer, UpstreamError>, Bool)]())
            self.loop.post {
                for (i, wire) in wires.enumerated() {
                    pool.query(wire, on: self.loop) { result in
                        let all = results.withLock { r -> [(Result<UpstreamAnswer, UpstreamError>, Bool)]? in
                            r[i] = (result, self.isCurrent)
                            return r.count == wires.count ? (0..<wires.count).map { r[$0]! } : nil
                        }
                        if let all { continuation.resume(returning: all) }
                    }
                }
            }
        }
    }

    /// Upstream sockets open on the thread.
    func openSockets() async -> Int {
        await withCheckedContinuation { c in
            self.loop.post { c.resume(returning: DirectUpstreams.on(self.loop).openSockets) }
        }
    }
}

/// The direct listener's upstream path (``DirectUpstreams``): the pool's order, timeouts, retries and failover on a
/// thread of its own with its own sockets, over real sockets on 127.0.0.1. The same rules as the event-loop path
/// (EventLoopPathTests), checked the same way.
@Suite(.tags(.integration), .serialized)
struct DirectPathTests {
    static let real = IPv4Address(192, 0, 2, 1)
    static let forged = IPv4Address(192, 0, 2, 66)

    @Test("On a direct thread, replies with a wrong ID or question are ignored and counted; the real one is accepted",
        arguments: Fixtures.socketStrategies)
    func forgeriesIgnored(sockets: UDPSocketStrategy) async throws {
        let server = try await FakeUDPServer.start { q in
            FakeAnswer.wrongIDAndQuestionThenReal(q, forged: Self.forged, real: Self.real)
        }
        let metrics = TestMetrics()
        let pool = try Fixtures.pool(["127.0.0.1:\(server.port)"], configuration: Fixtures.fast(sockets: sockets),
            metrics: metrics)
        let thread = try DirectThread()
        let (result, onThread) = await thread.query(pool, try Fixtures.query("www.example.org."))
        thread.stop()
        await pool.shutdown()
        await server.stop()
        #expect(onThread)
        #expect(FakeAnswer.address(try result.get().reply) == Self.real)
        let upstream = "udp://127.0.0.1:\(server.port)"
        #expect(metrics.counter("palisade_upstream_mismatched_total", [("upstream", upstream), ("reason", "id")]) == 1)
        #expect(metrics.counter("palisade_upstream_mismatched_total",
            [("upstream", upstream), ("reason", "question")]) == 1)
    }

    @Test("On a direct thread, forgeries alone never end the wait: the attempt times out")
    func forgeriesOnlyTimeOut() async throws {
        let server = try await FakeUDPServer.start { q in FakeAnswer.wrongIDOnly(q, forged: Self.forged) }
        let metrics = TestMetrics()
        let pool = try Fixtures.pool(["127.0.0.1:\(server.port)"],
            configuration: Fixtures.fast(timeout: .seconds(1), deadline: .seconds(1),
                sockets: .pooled(size: 2, usesPerSocket: 100)), metrics: metrics)
        let thread = try DirectThread()
        let start = ContinuousClock.now
        let (result, onThread) = await thread.query(pool, try Fixtures.query("www.example.org."))
        let elapsed = ContinuousClock.now - start
        thread.stop()
        await pool.shutdown()
        await server.stop()
        #expect(onThread)
        guard case .failure(let error) = result else {
            Issue.record("a forged reply was accepted")
            return
        }
        #expect(error.code == .timeout)
        // The thread's sweep may run up to its slack late, never early.
        #expect(elapsed >= .milliseconds(990) && elapsed < .seconds(2), "\(elapsed)")
        #expect(metrics.counter("palisade_upstream_mismatched_total",
            [("upstream", "udp://127.0.0.1:\(server.port)"), ("reason", "id")]) == 2)
    }

    @Test("On a direct thread, a silent upstream times out, is recorded as failing, and the query fails over",
        arguments: Fixtures.socketStrategies)
    func timeoutThenFailover(sockets: UDPSocketStrategy) async throws {
        let silent = try await FakeUDPServer.start { _ in [] }
        let live = try await FakeUDPServer.start { q in [.message(FakeAnswer.a(q, Self.real))] }
        let metrics = TestMetrics()
        let pool = try Fixtures.pool(["127.0.0.1:\(silent.port)", "127.0.0.1:\(live.port)"],
            configuration: Fixtures.fast(timeout: .milliseconds(300), deadline: .seconds(4), sockets: sockets),
            metrics: metrics)
        let thread = try DirectThread()
        let (result, onThread) = await thread.query(pool, try Fixtures.query("www.example.org."))
        let status = pool.status()
        thread.stop()
        await pool.shutdown()
        await silent.stop()
        await live.stop()
        #expect(onThread)
        let answer = try result.get()
        #expect(answer.upstream == "udp://127.0.0.1:\(live.port)")
        #expect(FakeAnswer.address(answer.reply) == Self.real)
        #expect(silent.queries.count == 1)
        #expect(status[0].consecutiveFailures == 1)
        #expect(status[1].consecutiveFailures == 0)
        #expect(metrics.counter("palisade_upstream_queries_total",
            [("upstream", "udp://127.0.0.1:\(silent.port)"), ("outcome", "timeout")]) == 1)
    }

    @Test("On a direct thread, a retry resends the query under a new ID and takes the reply to it")
    func retryResendsUnderNewID() async throws {
        let seen = Atomic<Int>(0)
        let server = try await FakeUDPServer.start { q in
            seen.add(1, ordering: .relaxed).newValue == 1 ? [] : [.message(FakeAnswer.a(q, Self.real))]
        }
        var configuration = Fixtures.fast(timeout: .milliseconds(300), deadline: .seconds(4),
            sockets: .pooled(size: 8, usesPerSocket: 100))
        configuration.upstream.retries = 1
        let pool = try Fixtures.pool(["127.0.0.1:\(server.port)"], configuration: configuration)
        let thread = try DirectThread()
        let query = try Fixtures.query("retry.example.org.", .aaaa)
        let (result, _) = await thread.query(pool, query)
        thread.stop()
        await pool.shutdown()
        await server.stop()
        #expect(FakeAnswer.address(try result.get().reply) == Self.real)
        let sent = server.queries
        try #require(sent.count == 2, "\(sent.count) datagrams reached the upstream")
        #expect(sent[0].header.id != sent[1].header.id, "the retry reused the first attempt's ID")
        #expect(sent.allSatisfy { $0.questions == query.questions })
    }

    @Test("On a direct thread, a refused port fails at once and the query fails over")
    func refusedPortFailsFast() async throws {
        let dead = try await TestNetwork.deadPort()
        let live = try await FakeUDPServer.start { q in [.message(FakeAnswer.a(q, Self.real))] }
        let pool = try Fixtures.pool(["127.0.0.1:\(dead)", "127.0.0.1:\(live.port)"],
            configuration: Fixtures.fast(timeout: .seconds(5), deadline: .seconds(10),
                sockets: .pooled(size: 2, usesPerSocket: 100)))
        let thread = try DirectThread()
        let start = ContinuousClock.now
        let (result, _) = await thread.query(pool, try Fixtures.query("www.example.org."))
        let elapsed = ContinuousClock.now - start
        thread.stop()
        await pool.shutdown()
        await live.stop()
        #expect(try result.get().upstream == "udp://127.0.0.1:\(live.port)")
        // ICMP port unreachable ends the attempt long before the 5 s timeout.
        #expect(elapsed < .seconds(2.5), "\(elapsed)")
    }

    @Test("On a direct thread, many queries started together each get their own answer",
        arguments: Fixtures.socketStrategies)
    func manyConcurrent(sockets: UDPSocketStrategy) async throws {
        // Each answer's address encodes the query's index, so a mixed-up reply is caught.
        let server = try await FakeUDPServer.start { q in
            let label = q.questions.first?.name.labels.first.map { String(decoding: $0, as: UTF8.self) } ?? ""
            let i = Int(label.dropFirst()) ?? 0
            return [.message(FakeAnswer.a(q, IPv4Address(10, 0, UInt8(i / 256), UInt8(i % 256))))]
        }
        let pool = try Fixtures.pool(["127.0.0.1:\(server.port)"], configuration: Fixtures.fast(sockets: sockets))
        let thread = try DirectThread()
        let count = 150
        let results = await thread.queries(pool, try (0..<count).map { try Fixtures.query("q\($0).example.org.") })
        let open = await thread.openSockets()
        thread.stop()
        await pool.shutdown()
        await server.stop()
        for i in 0..<count {
            let answer = try results[i].0.get()
            #expect(results[i].1)
            #expect(FakeAnswer.address(answer.reply) == IPv4Address(10, 0, UInt8(i / 256), UInt8(i % 256)))
            #expect(answer.reply.questions.first?.name == (try DomainName("q\(i).example.org.")))
        }
        #expect(server.queries.count == count)
        // A socket per query closes once its query is done; a pool keeps at most its size.
        if case .pooled(let size, _) = sockets { #expect(open <= size) } else { #expect(open == 0) }
        #expect(Set(server.queries.map(\.header.id)).count >= count - 2, "IDs are random per query")
    }

    @Test("Direct sockets carry at most their uses, change port, and close once drained")
    func socketsRecycled() async throws {
        let server = try await FakeUDPServer.start { q in [.message(FakeAnswer.a(q, Self.real))] }
        let pool = try Fixtures.pool(["127.0.0.1:\(server.port)"],
            configuration: Fixtures.fast(sockets: .pooled(size: 1, usesPerSocket: 5)))
        let thread = try DirectThread()
        var answered = 0
        for _ in 0..<20 {
            let (result, _) = await thread.query(pool, try Fixtures.query("www.example.org."))
            if case .success = result { answered += 1 }
        }
        // The 20th query used up the last socket: it closed once its reply was in.
        let open = await thread.openSockets()
        thread.stop()
        await pool.shutdown()
        await server.stop()
        #expect(answered == 20)
        #expect(open == 0)
        let perPort = Dictionary(grouping: server.sourcePorts, by: { $0 }).mapValues(\.count)
        #expect(perPort.count == 4, "ports \(server.sourcePorts)")
        #expect(perPort.values.allSatisfy { $0 == 5 })
    }

    @Test("When the direct thread stops, an outstanding query fails with shutdown, at once")
    func stopFailsOutstanding() async throws {
        let silent = try await FakeUDPServer.start { _ in [] }
        let pool = try Fixtures.pool(["127.0.0.1:\(silent.port)"],
            configuration: Fixtures.fast(timeout: .seconds(10), deadline: .seconds(10),
                sockets: .pooled(size: 2, usesPerSocket: 100)))
        let thread = try DirectThread()
        let query = try Fixtures.query("www.example.org.")
        async let outcome = thread.query(pool, query)
        // The query has left once the silent server saw it.
        let deadline = ContinuousClock.now + .seconds(5)
        while silent.queries.isEmpty, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        let start = ContinuousClock.now
        thread.stop()
        let (result, onThread) = await outcome
        #expect(ContinuousClock.now - start < .seconds(2))
        await pool.shutdown()
        await silent.stop()
        #expect(onThread)
        guard case .failure(let error) = result else {
            Issue.record("a silent server answered")
            return
        }
        #expect(error.code == .shutdown)
    }
}

extension DirectPathTests {
    @Test("A pool shut down (a reload retiring it) closes its sockets on the direct thread and fails what is in flight")
    func poolShutdownClosesSockets() async throws {
        let silent = try await FakeUDPServer.start { _ in [] }
        let live = try await FakeUDPServer.start { q in [.message(FakeAnswer.a(q, Self.real))] }
        let configuration = Fixtures.fast(timeout: .seconds(10), deadline: .seconds(10),
            sockets: .pooled(size: 4, usesPerSocket: 100))
        let old = try Fixtures.pool(["127.0.0.1:\(silent.port)"], configuration: configuration)
        let thread = try DirectThread()
        async let pending = thread.query(old, try Fixtures.query("www.example.org."))
        let deadline = ContinuousClock.now + .seconds(5)
        while silent.queries.isEmpty, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(await thread.openSockets() == 1)
        let start = ContinuousClock.now
        await old.shutdown()
        let (result, onThread) = try await pending
        #expect(ContinuousClock.now - start < .seconds(2))
        #expect(onThread)
        #expect((try? result.get()) == nil && (result.failure?.code == .shutdown), "\(result)")
        #expect(await thread.openSockets() == 0)
        // The retired pool refuses further work on the thread; the new one (after the reload) opens its own sockets.
        let (late, _) = await thread.query(old, try Fixtures.query("late.example.org."))
        #expect(late.failure?.code == .shutdown)
        let new = try Fixtures.pool(["127.0.0.1:\(live.port)"], configuration: configuration)
        let (fresh, _) = await thread.query(new, try Fixtures.query("www.example.org."))
        #expect(FakeAnswer.address(try fresh.get().reply) == Self.real)
        thread.stop()
        await new.shutdown()
        await silent.stop()
        await live.stop()
    }
}

extension DirectPathTests {
    @Test("On a direct thread, a deadline shorter than one queued before it still fires first, on time")
    func shorterDeadlineFiresFirst() async throws {
        let silent = try await FakeUDPServer.start { _ in [] }
        let sockets = UDPSocketStrategy.pooled(size: 2, usesPerSocket: 100)
        let slow = try Fixtures.pool(["127.0.0.1:\(silent.port)"],
            configuration: Fixtures.fast(timeout: .seconds(3), deadline: .seconds(3), sockets: sockets))
        let quick = try Fixtures.pool(["127.0.0.1:\(silent.port)"],
            configuration: Fixtures.fast(timeout: .milliseconds(300), deadline: .milliseconds(300), sockets: sockets))
        let thread = try DirectThread()
        async let first = thread.query(slow, try Fixtures.query("slow.example.org."))
        let deadline = ContinuousClock.now + .seconds(5)
        while silent.queries.isEmpty, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        let start = ContinuousClock.now
        let (second, _) = await thread.query(quick, try Fixtures.query("quick.example.org."))
        let elapsed = ContinuousClock.now - start
        #expect(second.failure?.code == .timeout)
        #expect(elapsed >= .milliseconds(290) && elapsed < .seconds(1), "\(elapsed)")
        let (firstResult, _) = try await first
        #expect(firstResult.failure?.code == .timeout)
        thread.stop()
        await slow.shutdown()
        await quick.shutdown()
        await silent.stop()
    }
}

extension Result {
    fileprivate var failure: Failure? {
        if case .failure(let e) = self { return e }
        return nil
    }
}

/// The direct path against a real authoritative server (NSD) on 127.0.0.1.
@Suite(.tags(.integration),
    .enabled(if: TestBinaries.has("nsd"), "nsd is not installed (apt-get install nsd; .ci/run installs it)"))
struct DirectPathWithNSDTests {
    @Test("On a direct thread, a truncated UDP answer is retried over TCP on the home loop and returns to the thread")
    func truncationFallsBackToTCP() async throws {
        let nsd = try await NSDServer.start()
        let metrics = TestMetrics()
        let pool = try Fixtures.pool(["127.0.0.1:\(nsd.port)"],
            configuration: Fixtures.fast(sockets: .pooled(size: 8, usesPerSocket: 100)), metrics: metrics)
        let thread = try DirectThread()
        let (result, onThread) = await thread.query(pool, try Fixtures.query("big.example.org.", .txt))
        thread.stop()
        await pool.shutdown()
        await nsd.stop()
        #expect(onThread)
        let full = try result.get().reply
        #expect(!full.header.truncated)
        #expect(full.encode().count > 1232)
        #expect(Fixtures.txt(full).sorted() == (0..<TestZone.bigStringCount).map(TestZone.bigString).sorted())
        #expect(metrics.counter("palisade_upstream_tcp_fallback_total",
            [("upstream", "udp://127.0.0.1:\(nsd.port)")]) == 1)
    }
}
