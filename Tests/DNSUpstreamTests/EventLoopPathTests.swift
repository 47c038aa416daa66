import DNSPipeline
@testable import DNSUpstream
import DNSWire
import Foundation
import NIOCore
import Synchronization
import TestSupport
import Testing

/// Runs pool queries on one event loop, as the UDP listener's miss path does.
enum OnLoop {
    /// The outcome of ``UpstreamPool/query(_:on:completion:)`` and whether the completion ran on the loop.
    static func query(_ pool: UpstreamPool, _ message: DNSMessage, on loop: any EventLoop = TestNetwork.group.next())
        async -> (Result<UpstreamAnswer, UpstreamError>, Bool)
    {
        return await withCheckedContinuation { continuation in
            loop.execute {
                pool.query(message, on: loop) { result in
                    continuation.resume(returning: (result, loop.inEventLoop))
                }
            }
        }
    }

    /// `count` concurrent queries for `name(i)`, all started in one loop turn.
    static func queries(_ pool: UpstreamPool, count: Int, name: @escaping @Sendable (Int) -> String) async
        -> [Int: Result<UpstreamAnswer, UpstreamError>]
    {
        let loop = TestNetwork.group.next()
        return await withCheckedContinuation { continuation in
            loop.execute {
                let results = NIOLoopBoundBox([Int: Result<UpstreamAnswer, UpstreamError>](), eventLoop: loop)
                for i in 0..<count {
                    let message: DNSMessage
                    do {
                        message = try Fixtures.query(name(i))
                    } catch {
                        continuation.resume(returning: [:])
                        return
                    }
                    pool.query(message, on: loop) { result in
                        results.value[i] = result
                        if results.value.count == count { continuation.resume(returning: results.value) }
                    }
                }
            }
        }
    }

    /// Polls `condition` until it holds or `timeout` passes (for asynchronous socket closes).
    static func eventually(within timeout: Duration = .seconds(5), _ condition: () async -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if await condition() { return true }
            await Task.yield()
        }
        return await condition()
    }
}

/// The event-loop exchange (no task per query) over real sockets on 127.0.0.1.
@Suite(.tags(.integration))
struct EventLoopPathTests {
    static let real = IPv4Address(192, 0, 2, 1)
    static let forged = IPv4Address(192, 0, 2, 66)

    @Test("On both paths, replies with a wrong ID or question are ignored and counted; the real one is accepted",
        arguments: PoolPath.allCases, Fixtures.socketStrategies)
    func wrongIDAndQuestion(path: PoolPath, sockets: UDPSocketStrategy) async throws {
        let server = try await FakeUDPServer.start { q in
            FakeAnswer.wrongIDAndQuestionThenReal(q, forged: Self.forged, real: Self.real)
        }
        let metrics = TestMetrics()
        let pool = try Fixtures.pool(["127.0.0.1:\(server.port)"], configuration: Fixtures.fast(sockets: sockets),
            metrics: metrics)
        #expect(pool.runsOnEventLoop)
        let (result, onLoop) = try await path.query(pool, try Fixtures.query("www.example.org."))
        await pool.shutdown()
        await server.stop()
        #expect(onLoop)
        #expect(FakeAnswer.address(try result.get().reply) == Self.real)
        let id = "udp://127.0.0.1:\(server.port)"
        #expect(metrics.counter("palisade_upstream_mismatched_total", [("upstream", id), ("reason", "id")]) == 1)
        #expect(metrics.counter("palisade_upstream_mismatched_total", [("upstream", id), ("reason", "question")]) == 1)
    }

    @Test("On both paths, NSD's plain replies are taken as packets, with the records a decoded reply has",
        arguments: PoolPath.allCases, ["www.example.org. A", "www.example.org. AAAA", "mail.example.org. MX",
            "alias.example.org. A", "nope.example.org. A"])
    func packetsFromNSD(path: PoolPath, question: String) async throws {
        let nsd = try await NSDServer.start()
        let parts = question.split(separator: " ")
        let type: RecordType = switch parts[1] {
        case "AAAA": .aaaa
        case "MX": .mx
        default: .a
        }
        let query = try Fixtures.query(String(parts[0]), type)
        let pool = try Fixtures.pool(["127.0.0.1:\(nsd.port)"],
            configuration: Fixtures.fast(sockets: .pooled(size: 2, usesPerSocket: 100)))
        let (result, onLoop) = try await path.query(pool, query)
        let decoded = try await pool.query(query).reply
        await pool.shutdown()
        await nsd.stop()
        #expect(onLoop)
        let answer = try result.get()
        guard case .packet(let packet) = answer.received else {
            Issue.record("\(question): the reply was decoded, not taken as a packet")
            return
        }
        let m = packet.message
        #expect(m.rcode == decoded.rcode)
        #expect(m.answers == decoded.answers)
        #expect(m.authorities == decoded.authorities)
        #expect(m.additionals == decoded.additionals)
        #expect(packet.hasCNAMEAnswer == decoded.answers.contains { $0.type == .cname })
    }

    @Test("On both paths, a correct-looking reply from another port is never accepted",
        arguments: PoolPath.allCases, Fixtures.socketStrategies)
    func otherSourcePort(path: PoolPath, sockets: UDPSocketStrategy) async throws {
        let server = try await FakeUDPServer.start { q in
            [.fromOtherPort(FakeAnswer.a(q, Self.forged)), .message(FakeAnswer.a(q, Self.real))]
        }
        let pool = try Fixtures.pool(["127.0.0.1:\(server.port)"], configuration: Fixtures.fast(sockets: sockets))
        let (result, _) = try await path.query(pool, try Fixtures.query("www.example.org."))
        await pool.shutdown()
        await server.stop()
        #expect(FakeAnswer.address(try result.get().reply) == Self.real)
    }

    @Test("On both paths, forgeries alone never end the wait: the attempt times out",
        arguments: PoolPath.allCases, Fixtures.socketStrategies)
    func forgeriesOnlyTimeOut(path: PoolPath, sockets: UDPSocketStrategy) async throws {
        let server = try await FakeUDPServer.start { q in FakeAnswer.wrongIDOnly(q, forged: Self.forged) }
        let metrics = TestMetrics()
        let pool = try Fixtures.pool(["127.0.0.1:\(server.port)"],
            configuration: Fixtures.fast(timeout: .seconds(1), deadline: .seconds(1), sockets: sockets), metrics: metrics)
        let (result, onLoop) = try await path.query(pool, try Fixtures.query("www.example.org."))
        await pool.shutdown()
        await server.stop()
        #expect(onLoop)
        guard case .failure(let error) = result else {
            Issue.record("a forged reply was accepted")
            return
        }
        #expect(error.code == .timeout)
        #expect(metrics.counter("palisade_upstream_mismatched_total",
            [("upstream", "udp://127.0.0.1:\(server.port)"), ("reason", "id")]) == 2)
    }

    @Test("On both paths, a silent upstream times out, is recorded as failing, and the query fails over",
        arguments: PoolPath.allCases, Fixtures.socketStrategies)
    func timeoutThenFailover(path: PoolPath, sockets: UDPSocketStrategy) async throws {
        let silent = try await FakeUDPServer.start { _ in [] }
        let live = try await FakeUDPServer.start { q in [.message(FakeAnswer.a(q, Self.real))] }
        let metrics = TestMetrics()
        let pool = try Fixtures.pool(["127.0.0.1:\(silent.port)", "127.0.0.1:\(live.port)"],
            configuration: Fixtures.fast(timeout: .milliseconds(300), deadline: .seconds(4), sockets: sockets),
            metrics: metrics)
        let (result, onLoop) = try await path.query(pool, try Fixtures.query("www.example.org."))
        let status = pool.status()
        await pool.shutdown()
        await silent.stop()
        await live.stop()
        #expect(onLoop)
        let answer = try result.get()
        #expect(answer.upstream == "udp://127.0.0.1:\(live.port)")
        #expect(FakeAnswer.address(answer.reply) == Self.real)
        #expect(silent.queries.count == 1)
        #expect(status[0].consecutiveFailures == 1)
        #expect(status[1].consecutiveFailures == 0)
        #expect(metrics.counter("palisade_upstream_queries_total",
            [("upstream", "udp://127.0.0.1:\(silent.port)"), ("outcome", "timeout")]) == 1)
    }

    @Test("On both paths, a retry resends the query encoded once, under a new ID, and takes the reply to it",
        arguments: PoolPath.allCases, Fixtures.socketStrategies)
    func retryResendsUnderNewID(path: PoolPath, sockets: UDPSocketStrategy) async throws {
        // The first datagram goes unanswered; every later one is answered.
        let seen = Atomic<Int>(0)
        let server = try await FakeUDPServer.start { q in
            seen.add(1, ordering: .relaxed).newValue == 1 ? [] : [.message(FakeAnswer.a(q, Self.real))]
        }
        var configuration = Fixtures.fast(timeout: .milliseconds(300), deadline: .seconds(4), sockets: sockets)
        configuration.upstream.retries = 1
        let pool = try Fixtures.pool(["127.0.0.1:\(server.port)"], configuration: configuration)
        var query = try Fixtures.query("retry.example.org.", .aaaa)
        query.header.checkingDisabled = true
        query.edns = EDNS(udpPayloadSize: 1232, dnssecOK: true)
        let (result, onLoop) = try await path.query(pool, query)
        await pool.shutdown()
        await server.stop()
        #expect(onLoop)
        #expect(FakeAnswer.address(try result.get().reply) == Self.real)
        let sent = server.queries
        try #require(sent.count == 2, "\(sent.count) datagrams reached the upstream")
        #expect(sent[0].header.id != sent[1].header.id, "the retry reused the first attempt's ID")
        // Apart from the ID, both attempts carry the same message: the question, CD, and EDNS with DO.
        for m in sent {
            var same = m
            same.header.id = 0
            var expected = query
            expected.header.id = 0
            #expect(same == expected, "\(m)")
        }
    }

    @Test("On both paths, a refused port fails at once and the query fails over", arguments: PoolPath.allCases)
    func refusedPortFailsFast(path: PoolPath) async throws {
        let dead = try await TestNetwork.deadPort()
        let live = try await FakeUDPServer.start { q in [.message(FakeAnswer.a(q, Self.real))] }
        let pool = try Fixtures.pool(["127.0.0.1:\(dead)", "127.0.0.1:\(live.port)"],
            configuration: Fixtures.fast(timeout: .seconds(5), deadline: .seconds(10),
                sockets: .pooled(size: 2, usesPerSocket: 100)))
        let start = ContinuousClock.now
        let (result, _) = try await path.query(pool, try Fixtures.query("www.example.org."))
        let elapsed = ContinuousClock.now - start
        await pool.shutdown()
        await live.stop()
        #expect(try result.get().upstream == "udp://127.0.0.1:\(live.port)")
        // ICMP port unreachable ends the attempt long before the 5 s timeout.
        #expect(elapsed < .seconds(2.5))
    }

    @Test("On both paths, many concurrent queries each get their own answer",
        arguments: PoolPath.allCases, Fixtures.socketStrategies)
    func manyConcurrent(path: PoolPath, sockets: UDPSocketStrategy) async throws {
        // Each answer's address encodes the query's index, so a mixed-up reply is caught.
        let server = try await FakeUDPServer.start { q in
            let label = q.questions.first?.name.labels.first.map { String(decoding: $0, as: UTF8.self) } ?? ""
            let i = Int(label.dropFirst()) ?? 0
            return [.message(FakeAnswer.a(q, IPv4Address(10, 0, UInt8(i / 256), UInt8(i % 256))))]
        }
        let pool = try Fixtures.pool(["127.0.0.1:\(server.port)"], configuration: Fixtures.fast(sockets: sockets))
        let count = 150
        let results = try await path.queries(pool, count: count) { "q\($0).example.org." }
        await pool.shutdown()
        await server.stop()
        #expect(results.count == count)
        for i in 0..<count {
            let answer = try #require(results[i]).get()
            #expect(FakeAnswer.address(answer.reply) == IPv4Address(10, 0, UInt8(i / 256), UInt8(i % 256)))
            #expect(answer.reply.questions.first?.name == (try DomainName("q\(i).example.org.")))
        }
        #expect(server.queries.count == count)
    }

    @Test("On both paths, a reply of a thousand bytes arrives whole",
        arguments: PoolPath.allCases, Fixtures.socketStrategies)
    func largeReply(path: PoolPath, sockets: UDPSocketStrategy) async throws {
        // Larger than the slice a vector read gets per message when the receive buffer is too small.
        let text = [UInt8](repeating: UInt8(ascii: "x"), count: 250)
        let server = try await FakeUDPServer.start { q in
            var r = q.makeResponse()
            r.answers = (0..<4).map { _ in
                ResourceRecord(name: q.questions.first?.name ?? .root, ttl: 60, rdata: .txt(RData.TXT(strings: [text])))
            }
            return [.message(r)]
        }
        let pool = try Fixtures.pool(["127.0.0.1:\(server.port)"], configuration: Fixtures.fast(sockets: sockets))
        let (result, _) = try await path.query(pool, try Fixtures.query("big.example.org.", .txt))
        await pool.shutdown()
        await server.stop()
        let reply = try result.get().reply
        #expect(reply.encode().count > 1000)
        #expect(Fixtures.txt(reply) == Array(repeating: String(repeating: "x", count: 250), count: 4))
    }

    @Test("Pooled loop sockets ask for more receive buffer than the kernel's default")
    func socketsHaveLargeReceiveBuffers() async throws {
        // With a few sockets per loop, replies that arrive while the loop is busy queue on each; the default
        // buffer (net.core.rmem_default) would drop them sooner.
        let text = try String(contentsOfFile: "/proc/sys/net/core/rmem_default", encoding: .utf8)
        let rmemDefault = try #require(Int(text.trimmingCharacters(in: .whitespacesAndNewlines)))
        let server = try await FakeUDPServer.start { q in [.message(FakeAnswer.a(q, Self.real))] }
        let pool = try Fixtures.pool(["127.0.0.1:\(server.port)"],
            configuration: Fixtures.fast(sockets: .pooled(size: 3, usesPerSocket: 100)))
        let udp = try #require(pool.upstreams.first?.udp)
        let loop = TestNetwork.group.next()
        let (result, _) = await OnLoop.query(pool, try Fixtures.query("www.example.org."), on: loop)
        let sizes = await udp.loopSocketReceiveBuffers()
        await pool.shutdown()
        await server.stop()
        _ = try result.get()
        #expect(sizes.count == 3)
        #expect(sizes.allSatisfy { $0 > rmemDefault }, "SO_RCVBUF \(sizes), default \(rmemDefault)")
    }

    @Test("Pooled loop sockets carry at most their uses, change port, and close once drained")
    func socketsRecycled() async throws {
        let server = try await FakeUDPServer.start { q in [.message(FakeAnswer.a(q, Self.real))] }
        let pool = try Fixtures.pool(["127.0.0.1:\(server.port)"],
            configuration: Fixtures.fast(sockets: .pooled(size: 1, usesPerSocket: 5)))
        let udp = try #require(pool.upstreams.first?.udp)
        // One loop: each loop has its own socket set.
        let loop = TestNetwork.group.next()
        var answered = 0
        for _ in 0..<20 {
            let (result, _) = await OnLoop.query(pool, try Fixtures.query("www.example.org."), on: loop)
            if case .success = result { answered += 1 }
        }
        // The 20th query used up the last socket: it closes once its reply is in, and none replaces it
        // until the next query.
        let drained = await OnLoop.eventually { await udp.loopSocketCount() == 0 }
        await pool.shutdown()
        await server.stop()
        #expect(answered == 20)
        #expect(drained)
        let ports = server.sourcePorts
        #expect(ports.count == 20)
        let perPort = Dictionary(grouping: ports, by: { $0 }).mapValues(\.count)
        #expect(perPort.count == 4, "ports \(ports)")
        #expect(perPort.values.allSatisfy { $0 == 5 })
        // IDs stay random on a reused socket.
        #expect(Set(server.queries.map(\.header.id)).count >= 16)
    }

    @Test("On both paths, concurrent queries on one pooled socket get distinct IDs and replies reach the right query",
        arguments: PoolPath.allCases)
    func distinctIDsOnOneSocket(path: PoolPath) async throws {
        let server = try await FakeUDPServer.start { q in
            let label = q.questions.first?.name.labels.first.map { String(decoding: $0, as: UTF8.self) } ?? ""
            return [.message(FakeAnswer.a(q, IPv4Address(10, 1, 0, UInt8(Int(label.dropFirst()) ?? 0))))]
        }
        let pool = try Fixtures.pool(["127.0.0.1:\(server.port)"],
            configuration: Fixtures.fast(sockets: .pooled(size: 1, usesPerSocket: 1000)))
        let results = try await path.queries(pool, count: 200) { "n\($0).example.org." }
        await pool.shutdown()
        await server.stop()
        #expect(Set(server.sourcePorts).count == 1)
        // Outstanding at the same time on one socket: no two share an ID.
        #expect(Set(server.queries.map(\.header.id)).count == 200)
        for i in 0..<200 {
            #expect(FakeAnswer.address(try #require(results[i]).get().reply) == IPv4Address(10, 1, 0, UInt8(i)))
        }
    }

    @Test("The processor answers a miss on the event loop: the stage defers, the chain is replayed there")
    func processorReplaysOnLoop() async throws {
        let server = try await FakeUDPServer.start { q in [.message(FakeAnswer.a(q, Self.real))] }
        let pool = try Fixtures.pool(["127.0.0.1:\(server.port)"],
            configuration: Fixtures.fast(sockets: .pooled(size: 2, usesPerSocket: 100)))
        let recorder = RecordingStage()
        let processor = QueryProcessor(chains: ChainReference(Chain(stages: [recorder, UpstreamStage(pool: pool)])))
        let client = ClientInfo(address: .v4(IPv4Address(127, 0, 0, 1)), port: 40000, transport: .udp)
        let bytes = DNSMessage.query(id: 4242, name: try DomainName("WWW.Example.org."), type: .a).encode()
        let loop = TestNetwork.group.next()
        let (deferred, out, onLoop) = await withCheckedContinuation { continuation in
            loop.execute {
                guard case .deferred(let d) = processor.processOnLoop(bytes, client: client) else {
                    continuation.resume(returning: (false, [UInt8]?.none, false))
                    return
                }
                processor.resume(d) { out in continuation.resume(returning: (true, out, loop.inEventLoop)) }
            }
        }
        await pool.shutdown()
        await server.stop()
        #expect(deferred)
        #expect(onLoop)
        let reply = try DNSMessage.decode(try #require(out))
        #expect(reply.header.id == 4242)
        #expect(reply.questions.first?.name.description == "WWW.Example.org.")
        #expect(FakeAnswer.address(reply) == Self.real)
        // Two synchronous passes (the first without result), and the async path never ran.
        #expect(recorder.calls == ["now:nil", "now:upstream"])
    }

    @Test("Off the event loop, or without a deferral, the stage leaves the miss to the async path")
    func noDeferralOffLoop() async throws {
        let pool = try Fixtures.pool(["127.0.0.1:53"])
        let stage = UpstreamStage(pool: pool)
        let q = try Fixtures.clientQuery("www.example.org.")
        let deferral = Deferral()
        let withDeferral = try stage.resolveNow(q, in: QueryContext(deferral: deferral), next: { _, _ in nil })
        let without = try stage.resolveNow(q, in: QueryContext(), next: { _, _ in nil })
        await pool.shutdown()
        #expect(withDeferral == nil)
        #expect(without == nil)
        // Not on an event loop thread: nothing registered.
        #expect(!deferral.isRequested)
    }
}

/// Records which path ran and what the stages below returned.
private final class RecordingStage: Stage {
    let id: StageID = "recording"
    private let log = Mutex<[String]>([])
    var calls: [String] { self.log.withLock { $0 } }

    func resolveNow(_ query: Query, in context: QueryContext, next: NextNow) throws -> Resolution? {
        let r = try next(query, context)
        let what: String
        switch r?.source {
        case .none: what = "nil"
        case .upstream: what = "upstream"
        default: what = "other"
        }
        self.log.withLock { $0.append("now:\(what)") }
        return r
    }

    func resolve(_ query: Query, in context: QueryContext, next: @escaping Next) async throws -> Resolution {
        self.log.withLock { $0.append("async") }
        return try await next(query, context)
    }
}

/// The event-loop exchange against a real authoritative server (NSD) on 127.0.0.1.
@Suite(.tags(.integration), .enabled(if: TestBinaries.has("nsd"), "nsd is not installed (apt-get install nsd; .ci/run installs it)"))
struct EventLoopPathWithNSDTests {
    @Test("On both paths, a truncated UDP answer is retried over TCP and the whole answer returns to the path's thread",
        arguments: PoolPath.allCases, Fixtures.socketStrategies)
    func truncationFallsBackToTCP(path: PoolPath, sockets: UDPSocketStrategy) async throws {
        let nsd = try await NSDServer.start()
        let metrics = TestMetrics()
        let pool = try Fixtures.pool(["127.0.0.1:\(nsd.port)"], configuration: Fixtures.fast(sockets: sockets),
            metrics: metrics)
        let (result, onLoop) = try await path.query(pool, try Fixtures.query("big.example.org.", .txt))
        await pool.shutdown()
        await nsd.stop()
        #expect(onLoop)
        let full = try result.get().reply
        #expect(!full.header.truncated)
        #expect(full.encode().count > 1232)
        #expect(Fixtures.txt(full).sorted() == (0..<TestZone.bigStringCount).map(TestZone.bigString).sorted())
        #expect(metrics.counter("palisade_upstream_tcp_fallback_total", [("upstream", "udp://127.0.0.1:\(nsd.port)")]) == 1)
    }
}

/// The loop sockets' timeouts: one sweep for the queries sent in order, a timer of its own for a query whose deadline
/// is shorter than one already queued.
@Suite(.tags(.integration))
struct LoopSocketTimeoutTests {
    /// Sends `deadlines.count` queries in one loop turn on one pooled UDP transport to a silent server, the i-th with
    /// deadline now + `deadlines[i]`; returns the indices in the order they failed and each failure's code.
    static func silentExchanges(_ deadlines: [TimeAmount]) async throws -> (order: [Int], codes: [UpstreamError.Code]) {
        let silent = try await FakeUDPServer.start { _ in [] }
        let metrics = UpstreamMetrics(upstream: "silent", factory: TestMetrics())
        let server = try SocketAddress(ipAddress: "127.0.0.1", port: silent.port)
        let options = UpstreamOptions(timeout: .seconds(5), udpSockets: .pooled(size: 1, usesPerSocket: 1000))
        let tcp = TCPTransport(id: "silent", server: server, tls: nil, options: options, group: TestNetwork.group,
            metrics: metrics)
        let udp = UDPTransport(id: "silent", server: server, strategy: options.udpSockets, fallback: tcp,
            group: TestNetwork.group, metrics: metrics)
        let loop = TestNetwork.group.next()
        let queries = try deadlines.indices.map { try #require(QueryWire(try Fixtures.query("q\($0).example.org."))) }
        let outcome: ([Int], [UpstreamError.Code]) = await withCheckedContinuation { continuation in
            loop.execute {
                let done = NIOLoopBoundBox(([Int](), [UpstreamError.Code]()), eventLoop: loop)
                let now = NIODeadline.now()
                for (i, q) in queries.enumerated() {
                    udp.send(q, deadline: now + deadlines[i], on: loop, receiver: Outcome { result in
                        guard case .failure(let error) = result else {
                            Issue.record("a silent server answered")
                            return
                        }
                        done.value.0.append(i)
                        done.value.1.append(UpstreamError.wrapping(error, upstream: "silent").code)
                        if done.value.0.count == queries.count { continuation.resume(returning: done.value) }
                    })
                }
            }
        }
        await udp.shutdown()
        await silent.stop()
        #expect(silent.queries.count == deadlines.count)
        return outcome
    }

    @Test("Queries sent in order time out in order, every one of them, through the one sweep")
    func sweepInOrder() async throws {
        let deadlines = (0..<50).map { TimeAmount.milliseconds(200 + Int64($0 / 10) * 60) }
        let (order, codes) = try await Self.silentExchanges(deadlines)
        #expect(codes.allSatisfy { $0 == .timeout })
        // Same-deadline groups may fail in any order within a sweep; the groups fail in deadline order.
        #expect(order.map { $0 / 10 } == order.map { $0 / 10 }.sorted())
        #expect(Set(order) == Set(0..<50))
    }

    @Test("A deadline shorter than one queued before it still fires first")
    func shorterDeadlineFiresFirst() async throws {
        let (order, codes) = try await Self.silentExchanges([.seconds(3), .milliseconds(150), .seconds(3)])
        #expect(codes == [.timeout, .timeout, .timeout])
        #expect(order.first == 1)
    }
}

/// Hands one query's outcome from the loop sockets to a closure (the transport's callers are objects of their own).
private final class Outcome: LoopExchangeReceiver {
    let body: @Sendable (Result<UpstreamReply, any Error>) -> Void

    init(_ body: @escaping @Sendable (Result<UpstreamReply, any Error>) -> Void) {
        self.body = body
    }

    func loopExchangeFinished(_ result: Result<UpstreamReply, any Error>) { self.body(result) }
}
