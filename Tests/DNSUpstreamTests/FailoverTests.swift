import TestSupport
import DNSPipeline
import DNSUpstream
import DNSWire
import Testing

/// Failover, health, selection order and conditional forwarding over real loopback sockets.
@Suite(.tags(.integration))
struct FailoverTests {
    @Test("A dead upstream fails fast, the query fails over, and repeated failures mark it down until probed")
    func deadUpstream() async throws {
        let live = try await FakeUDPServer.start { q in [.message(FakeAnswer.a(q, IPv4Address(192, 0, 2, 1)))] }
        let dead = try await TestNetwork.deadPort()
        let clock = ManualClock()
        let metrics = TestMetrics()
        var config = Fixtures.fast(timeout: .seconds(5), deadline: .seconds(10))
        config.failureThreshold = 2
        config.downBackoff = .seconds(30)
        let pool = try Fixtures.pool(["127.0.0.1:\(dead)", "127.0.0.1:\(live.port)"], configuration: config,
            metrics: metrics, clock: clock)
        let deadID = "udp://127.0.0.1:\(dead)"
        let deadAttempts = { metrics.counter("palisade_upstream_queries_total", [("upstream", deadID), ("outcome", "network_error")]) }
        let result = await Result { () async throws -> [String] in
            var states: [String] = []
            let start = ContinuousClock.now
            _ = try await pool.query(try Fixtures.query("www.example.org."))
            // ICMP port unreachable ends the attempt long before the 5 s timeout.
            #expect(ContinuousClock.now - start < .seconds(2.5))
            states.append(pool.status()[0].state.rawValue)
            _ = try await pool.query(try Fixtures.query("www.example.org."))
            states.append(pool.status()[0].state.rawValue)
            #expect(deadAttempts() == 2)
            // Down: not tried at all.
            for _ in 0..<3 { #expect(try await pool.query(try Fixtures.query("www.example.org.")).upstream.contains("\(live.port)")) }
            #expect(deadAttempts() == 2)
            #expect(metrics.gauge("palisade_upstream_healthy", [("upstream", deadID)]) == 0)
            // The backoff ends: the next query probes it, fails, and it is down again.
            clock.advance(by: .seconds(30))
            states.append(pool.status()[0].state.rawValue)
            _ = try await pool.query(try Fixtures.query("www.example.org."))
            #expect(deadAttempts() == 3)
            states.append(pool.status()[0].state.rawValue)
            return states
        }
        await pool.shutdown()
        await live.stop()
        #expect(try result.get() == ["healthy", "down", "probing", "down"])
    }

    @Test("Total failure is SERVFAIL with EDE 23 for a refused port and EDE 22 for a silent server")
    func totalFailure() async throws {
        let silent = try await FakeUDPServer.start { _ in [] }
        let dead = try await TestNetwork.deadPort()
        let refusedPool = try Fixtures.pool(["127.0.0.1:\(dead)"], configuration: Fixtures.fast())
        let silentPool = try Fixtures.pool(["127.0.0.1:\(silent.port)"],
            configuration: Fixtures.fast(timeout: .milliseconds(200), deadline: .milliseconds(600)))
        let result = await Result { () async throws -> (Resolution, Resolution) in
            let a = try await UpstreamStage(pool: refusedPool).resolve(try Fixtures.clientQuery("www.example.org."),
                in: QueryContext(), next: Fixtures.terminal)
            let b = try await UpstreamStage(pool: silentPool).resolve(try Fixtures.clientQuery("www.example.org."),
                in: QueryContext(), next: Fixtures.terminal)
            return (a, b)
        }
        await refusedPool.shutdown()
        await silentPool.shutdown()
        await silent.stop()
        let (refused, timedOut) = try result.get()
        #expect(refused.rcode == .servFail)
        #expect(refused.extendedErrors.first?.extendedErrorValue?.code == .networkError)
        #expect(timedOut.rcode == .servFail)
        #expect(timedOut.extendedErrors.first?.extendedErrorValue?.code == .noReachableAuthority)
        // 600 ms deadline, 200 ms per attempt, no retries: the silent server saw exactly one query.
        #expect(silent.queries.count == 1)
    }

    @Test("The overall deadline stops failover before every upstream is tried")
    func deadline() async throws {
        let servers = try await [FakeUDPServer.start { _ in [] }, FakeUDPServer.start { _ in [] }, FakeUDPServer.start { _ in [] }]
        let pool = try Fixtures.pool(servers.map { "127.0.0.1:\($0.port)" },
            configuration: Fixtures.fast(timeout: .seconds(1), deadline: .milliseconds(1500)))
        let start = ContinuousClock.now
        let result = await Result { try await pool.query(try Fixtures.query("www.example.org.")) }
        let elapsed = ContinuousClock.now - start
        await pool.shutdown()
        for s in servers { await s.stop() }
        #expect(throws: UpstreamError.self) { try result.get() }
        // 1 s to the first, the 0.5 s left to the second, nothing to the third.
        #expect(servers.map { $0.queries.count } == [1, 1, 0])
        #expect(elapsed < .seconds(3))
    }

    @Test("Sequential and round-robin selection send queries in the documented order", arguments: [
        (SelectionStrategy.sequential, [0, 0, 0, 0, 0, 0]),
        (.roundRobin, [0, 1, 2, 0, 1, 2]),
    ])
    func selectionOrder(strategy: SelectionStrategy, expected: [Int]) async throws {
        let servers = try await (0..<3).asyncMap { i in
            try await FakeUDPServer.start { q in [.message(FakeAnswer.a(q, IPv4Address(192, 0, 2, UInt8(i + 1))))] }
        }
        let pool = try Fixtures.pool(servers.map { "127.0.0.1:\($0.port)" }, configuration: Fixtures.fast(strategy: strategy))
        let result = await Result { () async throws -> [Int] in
            var order: [Int] = []
            for _ in 0..<6 {
                let r = try await pool.query(try Fixtures.query("www.example.org."))
                order.append(Int((FakeAnswer.address(r.reply)?.value ?? 0) & 0xFF) - 1)
            }
            return order
        }
        await pool.shutdown()
        for s in servers { await s.stop() }
        #expect(try result.get() == expected)
    }

    @Test("Random selection reaches every upstream")
    func randomSelection() async throws {
        let servers = try await (0..<3).asyncMap { _ in
            try await FakeUDPServer.start { q in [.message(FakeAnswer.a(q, IPv4Address(192, 0, 2, 1)))] }
        }
        let pool = try Fixtures.pool(servers.map { "127.0.0.1:\($0.port)" }, configuration: Fixtures.fast(strategy: .random))
        let result = await Result {
            for _ in 0..<40 { _ = try await pool.query(try Fixtures.query("www.example.org.")) }
        }
        await pool.shutdown()
        for s in servers { await s.stop() }
        try result.get()
        // Each server is missed by all 40 draws with probability (2/3)^40 ≈ 1e-7.
        #expect(servers.allSatisfy { !$0.queries.isEmpty })
        #expect(servers.map { $0.queries.count }.reduce(0, +) == 40)
    }

    @Test("Conditional forwarding sends each name to its longest matching zone's upstream")
    func conditionalForwarding() async throws {
        let byZone = try await ["default", "cluster", "svc"].asyncMap { tag in
            try await FakeUDPServer.start { q in
                [.message(FakeAnswer.a(q, IPv4Address(192, 0, 2, tag == "default" ? 10 : tag == "cluster" ? 20 : 30)))]
            }
        }
        let router = try UpstreamRouter(defaultSpecs: ["127.0.0.1:\(byZone[0].port)"],
            zones: ["cluster.local": ["127.0.0.1:\(byZone[1].port)"], "svc.cluster.local.": ["127.0.0.1:\(byZone[2].port)"]],
            configuration: Fixtures.fast(), group: TestNetwork.group, metrics: TestMetrics(), logger: Fixtures.logger)
        let stage = UpstreamStage(router: router)
        let names = ["www.example.org.", "node1.cluster.local.", "web.default.svc.cluster.local.", "cluster.local."]
        let result = await Result { () async throws -> [(IPv4Address?, AnswerSource)] in
            var out: [(IPv4Address?, AnswerSource)] = []
            for n in names {
                let r = try await stage.resolve(try Fixtures.clientQuery(n), in: QueryContext(), next: Fixtures.terminal)
                out.append((FakeAnswer.address(r.message), r.source))
            }
            return out
        }
        await router.shutdown()
        for s in byZone { await s.stop() }
        let answers = try result.get()
        #expect(answers.map { $0.0?.description } == ["192.0.2.10", "192.0.2.20", "192.0.2.30", "192.0.2.20"])
        #expect(answers[2].1 == .upstream("udp://127.0.0.1:\(byZone[2].port)"))
        #expect(byZone.map { $0.queries.count } == [1, 2, 1])
    }
}

extension Sequence {
    /// `map` with an async transform, in order.
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for e in self { out.append(try await transform(e)) }
        return out
    }
}
