import DNSUpstream
import DNSWire
import TestSupport
import Testing

/// DNS over TCP (RFC 7766): pipelining, out-of-order replies, reuse, idle close and reconnection.
@Suite(.tags(.integration))
struct TCPTransportTests {
    /// Answers `nN.example.org.` with 192.0.2.N.
    static func numbered(_ q: DNSMessage) -> DNSMessage {
        let first = q.questions.first?.name.labels.first.map { String(decoding: $0, as: UTF8.self) } ?? ""
        return FakeAnswer.a(q, IPv4Address(192, 0, 2, UInt8(first.dropFirst()) ?? 0))
    }

    static func tcpTransport(_ pool: UpstreamPool) throws -> TCPTransport {
        try #require(pool.upstreams.first?.transport as? TCPTransport)
    }

    @Test("Pipelined queries answered in reverse order are each matched to their own question by ID")
    func outOfOrder() async throws {
        let server = try await FakeTCPServer.start(mode: .reverseBatches(5), answer: Self.numbered)
        var config = Fixtures.fast(timeout: .seconds(5))
        config.upstream.tcpMaxConnections = 1
        let pool = try Fixtures.pool(["tcp://127.0.0.1:\(server.port)"], configuration: config)
        let result = await Result {
            try await withThrowingTaskGroup(of: (Int, IPv4Address?).self) { group in
                for n in 1...5 {
                    group.addTask {
                        let r = try await pool.query(try Fixtures.query("n\(n).example.org."))
                        return (n, FakeAnswer.address(r.reply))
                    }
                }
                var out: [Int: IPv4Address?] = [:]
                for try await (n, a) in group { out[n] = a }
                return out
            }
        }
        await pool.shutdown()
        await server.stop()
        let answers = try result.get()
        for n in 1...5 { #expect(answers[n] == IPv4Address(192, 0, 2, UInt8(n))) }
        #expect(server.connections == 1)
        #expect(server.queries == 5)
    }

    @Test("Sequential queries reuse one connection")
    func reuse() async throws {
        let server = try await FakeTCPServer.start(mode: .echo, answer: Self.numbered)
        let metrics = TestMetrics()
        let pool = try Fixtures.pool(["tcp://127.0.0.1:\(server.port)"], configuration: Fixtures.fast(), metrics: metrics)
        let result = await Result {
            for n in 1...10 {
                let r = try await pool.query(try Fixtures.query("n\(n).example.org."))
                #expect(FakeAnswer.address(r.reply) == IPv4Address(192, 0, 2, UInt8(n)))
            }
        }
        let gauge = metrics.gauge("palisade_upstream_connections", [("upstream", "tcp://127.0.0.1:\(server.port)")])
        await pool.shutdown()
        await server.stop()
        try result.get()
        #expect(server.connections == 1)
        #expect(gauge == 1)
    }

    @Test("A connection the server closes after each reply is reopened for the next query")
    func reconnect() async throws {
        let server = try await FakeTCPServer.start(mode: .closeAfterEachReply, answer: Self.numbered)
        let pool = try Fixtures.pool(["tcp://127.0.0.1:\(server.port)"], configuration: Fixtures.fast())
        let result = await Result {
            for n in 1...4 {
                let r = try await pool.query(try Fixtures.query("n\(n).example.org."))
                #expect(FakeAnswer.address(r.reply) == IPv4Address(192, 0, 2, UInt8(n)))
            }
        }
        await pool.shutdown()
        await server.stop()
        try result.get()
        #expect(server.connections == 4)
        #expect(server.queries == 4)
    }

    @Test("An idle connection is closed after the idle timeout and reopened on demand")
    func idleTimeout() async throws {
        let server = try await FakeTCPServer.start(mode: .echo, answer: Self.numbered)
        var config = Fixtures.fast()
        config.upstream.tcpIdleTimeout = .milliseconds(300)
        let pool = try Fixtures.pool(["tcp://127.0.0.1:\(server.port)"], configuration: config)
        let transport = try Self.tcpTransport(pool)
        let result = await Result { () async throws -> Bool in
            _ = try await pool.query(try Fixtures.query("n1.example.org."))
            #expect(server.connections == 1)
            let closed = await Poll.until(timeout: .seconds(5)) { transport.connectionCount == 0 }
            _ = try await pool.query(try Fixtures.query("n2.example.org."))
            return closed
        }
        await pool.shutdown()
        await server.stop()
        #expect(try result.get())
        #expect(server.connections == 2)
    }

    @Test("A TCP upstream that refuses connections fails fast with a network error")
    func refused() async throws {
        let dead = try await TestNetwork.deadPort()
        let pool = try Fixtures.pool(["tcp://127.0.0.1:\(dead)"], configuration: Fixtures.fast(timeout: .seconds(5)))
        let start = ContinuousClock.now
        let result = await Result { try await pool.query(try Fixtures.query("n1.example.org.")) }
        await pool.shutdown()
        guard case .failure(let error as UpstreamError) = result else {
            Issue.record("expected an upstream error, got \(result)")
            return
        }
        #expect(error.code == .networkError)
        #expect(ContinuousClock.now - start < .seconds(2.5))
    }
}

/// TCP against NSD: many concurrent queries over a reused connection.
@Suite(.tags(.integration), .enabled(if: TestBinaries.has("nsd"), "nsd is not installed (apt-get install nsd; .ci/run installs it)"))
struct TCPWithNSDTests {
    @Test("Concurrent queries to NSD are pipelined over at most the configured connections")
    func pipelining() async throws {
        let nsd = try await NSDServer.start()
        var config = Fixtures.fast(timeout: .seconds(5))
        config.upstream.tcpMaxConnections = 1
        let pool = try Fixtures.pool(["tcp://127.0.0.1:\(nsd.port)"], configuration: config)
        let transport = try #require(pool.upstreams.first?.transport as? TCPTransport)
        let names: [(String, RecordType)] = [("www.example.org.", .a), ("www.example.org.", .aaaa),
            ("mail.example.org.", .mx), ("big.example.org.", .txt), ("nope.example.org.", .a)]
        let result = await Result {
            try await withThrowingTaskGroup(of: (Int, DNSMessage).self) { group in
                for i in 0..<40 {
                    let (name, type) = names[i % names.count]
                    group.addTask { (i, try await pool.query(try Fixtures.query(name, type)).reply) }
                }
                var out: [Int: DNSMessage] = [:]
                for try await (i, m) in group { out[i] = m }
                return out
            }
        }
        let connections = transport.connectionCount
        await pool.shutdown()
        await nsd.stop()
        let replies = try result.get()
        #expect(replies.count == 40)
        for (i, m) in replies {
            let (name, type) = names[i % names.count]
            #expect(m.questions.first?.name == (try DomainName(name)))
            #expect(m.questions.first?.type == type)
            if type == .txt { #expect(Fixtures.txt(m).count == TestZone.bigStringCount) }
            if name.hasPrefix("nope") { #expect(m.rcode == .nxDomain) }
        }
        #expect(connections == 1)
    }
}

/// The same transports to an IPv6 loopback upstream.
@Suite(.tags(.integration), .enabled(if: TestNetwork.hasIPv6Loopback, "no IPv6 loopback ([::1]) on this machine"))
struct IPv6UpstreamTests {
    @Test("An upstream at [::1] answers over UDP with either socket strategy and over TCP",
        arguments: Fixtures.socketStrategies)
    func ipv6(sockets: UDPSocketStrategy) async throws {
        let udp = try await FakeUDPServer.start(host: "::1") { q in [.message(FakeAnswer.a(q, IPv4Address(192, 0, 2, 6)))] }
        let tcp = try await FakeTCPServer.start(host: "::1", mode: .echo) { q in FakeAnswer.a(q, IPv4Address(192, 0, 2, 7)) }
        let pool = try Fixtures.pool(["[::1]:\(udp.port)"], configuration: Fixtures.fast(sockets: sockets))
        let tcpPool = try Fixtures.pool(["tcp://[::1]:\(tcp.port)"], configuration: Fixtures.fast())
        let result = await Result { () async throws -> (UpstreamAnswer, UpstreamAnswer) in
            (try await pool.query(try Fixtures.query("www.example.org.")),
                try await tcpPool.query(try Fixtures.query("www.example.org.")))
        }
        await pool.shutdown()
        await tcpPool.shutdown()
        await udp.stop()
        await tcp.stop()
        let (a, b) = try result.get()
        #expect(a.upstream == "udp://[::1]:\(udp.port)")
        #expect(FakeAnswer.address(a.reply) == IPv4Address(192, 0, 2, 6))
        #expect(FakeAnswer.address(b.reply) == IPv4Address(192, 0, 2, 7))
    }

    @Test("An upstream at [::1] answers on the callback paths, and a reply from another port is not taken",
        arguments: PoolPath.allCases, Fixtures.socketStrategies)
    func ipv6Paths(path: PoolPath, sockets: UDPSocketStrategy) async throws {
        let udp = try await FakeUDPServer.start(host: "::1") { q in
            [.fromOtherPort(FakeAnswer.a(q, IPv4Address(192, 0, 2, 66))),
                .message(FakeAnswer.a(q, IPv4Address(192, 0, 2, 6)))]
        }
        let pool = try Fixtures.pool(["[::1]:\(udp.port)"], configuration: Fixtures.fast(sockets: sockets))
        let (result, onThread) = try await path.query(pool, try Fixtures.query("www.example.org."))
        await pool.shutdown()
        await udp.stop()
        #expect(onThread)
        let answer = try result.get()
        #expect(answer.upstream == "udp://[::1]:\(udp.port)")
        #expect(FakeAnswer.address(answer.reply) == IPv4Address(192, 0, 2, 6))
    }
}
