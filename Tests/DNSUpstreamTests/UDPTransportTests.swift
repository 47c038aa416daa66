import DNSPipeline
import DNSUpstream
import DNSWire
import NIOCore
import TestSupport
import Testing

/// UDP against a real authoritative server (NSD) on 127.0.0.1.
@Suite(.tags(.integration), .enabled(if: TestBinaries.has("nsd"), "nsd is not installed (apt-get install nsd; .ci/run installs it)"))
struct UDPWithNSDTests {
    @Test("A UDP query to NSD returns its answer", arguments: Fixtures.socketStrategies)
    func answer(sockets: UDPSocketStrategy) async throws {
        let nsd = try await NSDServer.start()
        let pool = try Fixtures.pool(["127.0.0.1:\(nsd.port)"], configuration: Fixtures.fast(sockets: sockets))
        let reply = await Result { try await pool.query(try Fixtures.query("www.example.org.")) }
        await pool.shutdown()
        await nsd.stop()
        let answer = try reply.get()
        #expect(answer.upstream == "udp://127.0.0.1:\(nsd.port)")
        #expect(FakeAnswer.address(answer.reply) == IPv4Address(192, 0, 2, 1))
        #expect(answer.reply.header.authoritative)
    }

    @Test("A truncated UDP answer is retried over TCP and returned whole")
    func truncationFallsBackToTCP() async throws {
        let nsd = try await NSDServer.start()
        let metrics = TestMetrics()
        let pool = try Fixtures.pool(["127.0.0.1:\(nsd.port)"], configuration: Fixtures.fast(), metrics: metrics)
        let result = await Result { () async throws -> (DNSMessage, DNSMessage) in
            // Plain UDP alone: the RRset does not fit 1232 bytes, so NSD sets TC.
            let udp = try #require(pool.upstreams.first?.transport as? UDPTransport)
            let truncated = try await udp.exchangeUDP(try Fixtures.query("big.example.org.", .txt),
                deadline: .now() + .seconds(2))
            let full = try await pool.query(try Fixtures.query("big.example.org.", .txt)).reply
            return (truncated, full)
        }
        await pool.shutdown()
        await nsd.stop()
        let (truncated, full) = try result.get()
        #expect(truncated.header.truncated)
        #expect(truncated.answers.count < TestZone.bigStringCount)
        #expect(!full.header.truncated)
        #expect(full.encode().count > 1232)
        #expect(Fixtures.txt(full).sorted() == (0..<TestZone.bigStringCount).map(TestZone.bigString).sorted())
        let id = "udp://127.0.0.1:\(nsd.port)"
        #expect(metrics.counter("palisade_upstream_tcp_fallback_total", [("upstream", id)]) == 1)
        #expect(metrics.counter("palisade_upstream_queries_total", [("upstream", id), ("outcome", "success")]) == 1)
    }

    @Test("The stage forwards to NSD and restores the client's ID and question")
    func stageThroughNSD() async throws {
        let nsd = try await NSDServer.start()
        let pool = try Fixtures.pool(["127.0.0.1:\(nsd.port)"], configuration: Fixtures.fast())
        let stage = UpstreamStage(pool: pool)
        let result = await Result {
            try await stage.resolve(try Fixtures.clientQuery("WWW.example.ORG.", .aaaa, id: 777), in: QueryContext(),
                next: Fixtures.terminal)
        }
        await pool.shutdown()
        await nsd.stop()
        let r = try result.get()
        let m = try #require(r.message)
        #expect(m.header.id == 777)
        #expect(m.questions.first?.name.description == "WWW.example.ORG.")
        #expect(m.answers.count == 1)
        #expect(r.source == .upstream("udp://127.0.0.1:\(nsd.port)"))
    }
}

/// Forged and stray replies from a scripted server (real sockets, no daemon needed).
@Suite(.tags(.integration))
struct UDPSpoofingTests {
    static let real = IPv4Address(192, 0, 2, 1)
    static let forged = IPv4Address(192, 0, 2, 66)

    @Test("Replies with a wrong ID or a wrong question are ignored and counted; the real one is accepted",
        arguments: Fixtures.socketStrategies)
    func wrongIDAndQuestion(sockets: UDPSocketStrategy) async throws {
        let server = try await FakeUDPServer.start { q in
            FakeAnswer.wrongIDAndQuestionThenReal(q, forged: Self.forged, real: Self.real)
        }
        let metrics = TestMetrics()
        let pool = try Fixtures.pool(["127.0.0.1:\(server.port)"], configuration: Fixtures.fast(sockets: sockets),
            metrics: metrics)
        let result = await Result { try await pool.query(try Fixtures.query("www.example.org.")) }
        await pool.shutdown()
        await server.stop()
        #expect(FakeAnswer.address(try result.get().reply) == Self.real)
        let id = "udp://127.0.0.1:\(server.port)"
        #expect(metrics.counter("palisade_upstream_mismatched_total", [("upstream", id), ("reason", "id")]) == 1)
        #expect(metrics.counter("palisade_upstream_mismatched_total", [("upstream", id), ("reason", "question")]) == 1)
    }

    @Test("A correct-looking reply from another port is never accepted", arguments: Fixtures.socketStrategies)
    func otherSourcePort(sockets: UDPSocketStrategy) async throws {
        let server = try await FakeUDPServer.start { q in
            [.fromOtherPort(FakeAnswer.a(q, Self.forged)), .message(FakeAnswer.a(q, Self.real))]
        }
        let metrics = TestMetrics()
        let pool = try Fixtures.pool(["127.0.0.1:\(server.port)"], configuration: Fixtures.fast(sockets: sockets),
            metrics: metrics)
        let result = await Result { try await pool.query(try Fixtures.query("www.example.org.")) }
        await pool.shutdown()
        await server.stop()
        #expect(FakeAnswer.address(try result.get().reply) == Self.real)
        // Both strategies use connected sockets: the kernel drops the forgery before we see it (the
        // matcher's own source check is covered by ReplyMatcherTests).
        #expect(metrics.counter("palisade_upstream_mismatched_total",
            [("upstream", "udp://127.0.0.1:\(server.port)"), ("reason", "source")]) == 0)
    }

    @Test("Garbage and non-responses are ignored and counted")
    func garbage() async throws {
        let server = try await FakeUDPServer.start { q in
            [.raw([0xDE]), .raw([0xDE, 0xAD, 0xBE, 0xEF]), .message(q), .message(FakeAnswer.a(q, Self.real))]
        }
        let metrics = TestMetrics()
        let pool = try Fixtures.pool(["127.0.0.1:\(server.port)"], configuration: Fixtures.fast(), metrics: metrics)
        let result = await Result { try await pool.query(try Fixtures.query("www.example.org.")) }
        await pool.shutdown()
        await server.stop()
        #expect(FakeAnswer.address(try result.get().reply) == Self.real)
        let id = "udp://127.0.0.1:\(server.port)"
        // [0xDE] has no ID; [DE AD BE EF] has the wrong ID (with odds 1 in 65536 it is right and malformed).
        let malformed = metrics.counter("palisade_upstream_mismatched_total", [("upstream", id), ("reason", "malformed")])
        let wrongID = metrics.counter("palisade_upstream_mismatched_total", [("upstream", id), ("reason", "id")])
        #expect(malformed + wrongID == 2)
        #expect(malformed >= 1)
        #expect(metrics.counter("palisade_upstream_mismatched_total", [("upstream", id), ("reason", "not_response")]) == 1)
    }

    @Test("Forged replies alone never end the wait: the query times out", arguments: Fixtures.socketStrategies)
    func forgeriesOnlyTimeOut(sockets: UDPSocketStrategy) async throws {
        let server = try await FakeUDPServer.start { q in FakeAnswer.wrongIDOnly(q, forged: Self.forged) }
        let metrics = TestMetrics()
        let pool = try Fixtures.pool(["127.0.0.1:\(server.port)"],
            // Long enough that a loaded machine still reads both forgeries before the deadline.
            configuration: Fixtures.fast(timeout: .seconds(2), sockets: sockets), metrics: metrics)
        let result = await Result { try await pool.query(try Fixtures.query("www.example.org.")) }
        await pool.shutdown()
        await server.stop()
        #expect(throws: UpstreamError.self) { try result.get() }
        if case .failure(let e as UpstreamError) = result { #expect(e.code == .timeout) }
        #expect(metrics.counter("palisade_upstream_mismatched_total",
            [("upstream", "udp://127.0.0.1:\(server.port)"), ("reason", "id")]) == 2)
    }

    @Test("Every query gets a fresh random ID and, per query, a fresh source port; EDNS says 1232")
    func randomIDsAndPorts() async throws {
        let server = try await FakeUDPServer.start { q in [.message(FakeAnswer.a(q, Self.real))] }
        let pool = try Fixtures.pool(["127.0.0.1:\(server.port)"], configuration: Fixtures.fast())
        let stage = UpstreamStage(pool: pool)
        let result = await Result {
            for _ in 0..<40 {
                _ = try await stage.resolve(try Fixtures.clientQuery("www.example.org.", id: 1), in: QueryContext(),
                    next: Fixtures.terminal)
            }
        }
        await pool.shutdown()
        await server.stop()
        try result.get()
        let queries = server.queries
        #expect(queries.count == 40)
        // 40 draws from 65536: a handful of collisions at most, never a constant or a counter.
        #expect(Set(queries.map(\.header.id)).count >= 36)
        #expect(!queries.contains { $0.header.id == 1 })
        #expect(Set(server.sourcePorts).count >= 36)
        #expect(queries.allSatisfy { $0.edns?.udpPayloadSize == 1232 })
    }

    @Test("Pooled sockets reuse a small set of random ports")
    func pooledPorts() async throws {
        let server = try await FakeUDPServer.start { q in [.message(FakeAnswer.a(q, Self.real))] }
        let pool = try Fixtures.pool(["127.0.0.1:\(server.port)"],
            configuration: Fixtures.fast(sockets: .pooled(size: 2, usesPerSocket: 5)))
        let result = await Result {
            for _ in 0..<20 { _ = try await pool.query(try Fixtures.query("www.example.org.")) }
        }
        await pool.shutdown()
        await server.stop()
        try result.get()
        let ports = server.sourcePorts
        #expect(ports.count == 20)
        // Sequential queries use one socket at a time, replaced after five uses: four distinct ports.
        #expect(Set(ports).count == 4)
    }
}
