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

/// What only the direct listener's upstream path (``DirectUpstreams``) has to show, over real sockets on 127.0.0.1: its
/// sockets' lifetime on the thread, and its own deadline sweep. The rules both paths share (forgeries, timeouts,
/// failover, retries, refused ports, concurrency, truncation) are checked on both in EventLoopPathTests.
@Suite(.tags(.integration), .serialized)
struct DirectPathTests {
    static let real = IPv4Address(192, 0, 2, 1)
    static let forged = IPv4Address(192, 0, 2, 66)

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
        _ = await OnLoop.eventually { !silent.queries.isEmpty }
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
        _ = await OnLoop.eventually { !silent.queries.isEmpty }
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
        _ = await OnLoop.eventually { !silent.queries.isEmpty }
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

extension DirectPathTests {
    @Test("On a direct thread, one round's queries to an upstream leave from one socket, the next round's from another")
    func oneSocketPerRound() async throws {
        let server = try await FakeUDPServer.start { q in [.message(FakeAnswer.a(q, Self.real))] }
        let pool = try Fixtures.pool(["127.0.0.1:\(server.port)"],
            configuration: Fixtures.fast(sockets: .pooled(size: 4, usesPerSocket: 1000)))
        let thread = try DirectThread()
        // The first round opens the four sockets; the two after it find them open.
        for round in 0..<3 {
            let queries = try (0..<20).map { try Fixtures.query("r\(round)-\($0).example.org.") }
            let results = await thread.queries(pool, queries)
            #expect(results.allSatisfy { FakeAnswer.address(try? $0.0.get().reply) == Self.real })
        }
        thread.stop()
        await pool.shutdown()
        await server.stop()
        let ports = server.sourcePorts
        try #require(ports.count == 60)
        #expect(Set(ports).count == 4, "\(ports)")
        let second = Set(ports[20..<40])
        let third = Set(ports[40..<60])
        #expect(second.count == 1 && third.count == 1 && second != third, "\(second) then \(third)")
    }
}

extension Result {
    fileprivate var failure: Failure? {
        if case .failure(let e) = self { return e }
        return nil
    }
}
