import TestSupport
import DNSUpstream
import DNSWire
import Testing

@Suite struct UpstreamPoolTests {
    func query(_ name: String = "www.example.org.") throws -> DNSMessage {
        DNSMessage.query(id: 0, name: try DomainName(name), type: .a)
    }

    @Test("A failing upstream is skipped for the next one, and the attempt is counted by outcome")
    func failover() async throws {
        let metrics = TestMetrics()
        let a = ScriptedTransport(then: .fail(.networkError))
        let b = ScriptedTransport(then: .answer(IPv4Address(192, 0, 2, 99)))
        let pool = ScriptedPool.make([a, b], metrics: metrics)
        let answer = try await pool.query(try self.query())
        #expect(answer.upstream == "udp://192.0.2.2:53")
        #expect(FakeAnswer.address(answer.reply) == IPv4Address(192, 0, 2, 99))
        #expect(metrics.counter("palisade_upstream_queries_total", [("upstream", "udp://192.0.2.1:53"), ("outcome", "network_error")]) == 1)
        #expect(metrics.counter("palisade_upstream_queries_total", [("upstream", "udp://192.0.2.2:53"), ("outcome", "success")]) == 1)
        #expect(metrics.timerSamples("palisade_upstream_query_seconds", [("upstream", "udp://192.0.2.2:53")]) == 1)
    }

    @Test("A timeout is retried on the same upstream `retries` times; other errors are not")
    func retries() async throws {
        var config = UpstreamPoolConfiguration()
        config.upstream.retries = 2
        let timeouts = ScriptedTransport([.fail(.timeout), .fail(.timeout)], then: .answer(IPv4Address(192, 0, 2, 1)))
        let pool = ScriptedPool.make([timeouts], configuration: config)
        _ = try await pool.query(try self.query())
        #expect(timeouts.sent.count == 3)

        let refused = ScriptedTransport(then: .fail(.networkError))
        let other = ScriptedTransport(then: .answer(IPv4Address(192, 0, 2, 2)))
        let pool2 = ScriptedPool.make([refused, other], configuration: config)
        _ = try await pool2.query(try self.query())
        #expect(refused.sent.count == 1)
    }

    @Test("REFUSED moves on to the next upstream, and is returned when nobody does better")
    func refused() async throws {
        let a = ScriptedTransport(then: .rcode(.refused))
        let b = ScriptedTransport(then: .rcode(.nxDomain))
        let answer = try await ScriptedPool.make([a, b]).query(try self.query())
        #expect(answer.reply.rcode == .nxDomain)
        #expect(answer.upstream == "udp://192.0.2.2:53")

        let c = ScriptedTransport(then: .rcode(.refused))
        let d = ScriptedTransport(then: .rcode(.refused))
        let only = try await ScriptedPool.make([c, d]).query(try self.query())
        #expect(only.reply.rcode == .refused)
        #expect(only.upstream == "udp://192.0.2.1:53")
    }

    @Test("When every upstream fails the last error is thrown")
    func allFail() async throws {
        let pool = ScriptedPool.make([ScriptedTransport(then: .fail(.timeout)), ScriptedTransport(then: .fail(.tlsError))])
        await #expect {
            try await pool.query(try self.query())
        } throws: { error in
            (error as? UpstreamError)?.code == .tlsError
        }
    }

    @Test("Consecutive failures mark an upstream down; it is skipped, then probed after the backoff")
    func healthMarking() async throws {
        let clock = ManualClock()
        let metrics = TestMetrics()
        var config = UpstreamPoolConfiguration(strategy: .sequential, failureThreshold: 2, downBackoff: .seconds(30))
        config.upstream.retries = 0
        let flaky = ScriptedTransport([.fail(.timeout), .fail(.timeout)], then: .answer(IPv4Address(192, 0, 2, 1)))
        let backup = ScriptedTransport(then: .answer(IPv4Address(192, 0, 2, 2)))
        let pool = ScriptedPool.make([flaky, backup], configuration: config, clock: clock, metrics: metrics)
        let healthGauge = { metrics.gauge("palisade_upstream_healthy", [("upstream", "udp://192.0.2.1:53")]) }

        _ = try await pool.query(try self.query())
        #expect(pool.status()[0].state == .healthy)
        _ = try await pool.query(try self.query())
        #expect(pool.status()[0].state == .down)
        #expect(healthGauge() == 0)

        // While down, queries go straight to the backup.
        for _ in 0..<3 {
            #expect(try await pool.query(try self.query()).upstream == "udp://192.0.2.2:53")
        }
        #expect(flaky.sent.count == 2)

        // After the backoff the next real query tries it again and it recovers.
        clock.advance(by: .seconds(30))
        #expect(pool.status()[0].state == .probing)
        #expect(try await pool.query(try self.query()).upstream == "udp://192.0.2.1:53")
        #expect(pool.status()[0].state == .healthy)
        #expect(healthGauge() == 1)
    }

    @Test("A health probe brings back an upstream whose backoff ended, without real traffic")
    func probe() async throws {
        let clock = ManualClock()
        let config = UpstreamPoolConfiguration(failureThreshold: 1, downBackoff: .seconds(10))
        let t = ScriptedTransport([.fail(.networkError), .fail(.networkError)], then: .rcode(.refused))
        let pool = ScriptedPool.make([t, ScriptedTransport(then: .answer(IPv4Address(192, 0, 2, 2)))],
            configuration: config, clock: clock)
        _ = try await pool.query(try self.query())
        #expect(pool.status()[0].state == .down)
        #expect(await pool.probe().isEmpty)  // not due yet: nothing sent
        #expect(t.sent.count == 1)
        clock.advance(by: .seconds(10))
        #expect(await pool.probe().isEmpty)  // due, probe fails: down for twice as long
        #expect(t.sent.count == 2)
        #expect(t.sent.last?.questions.first?.type == .ns)
        clock.advance(by: .seconds(19))
        #expect(pool.status()[0].state == .down)
        clock.advance(by: .seconds(1))
        #expect(await pool.probe() == ["udp://192.0.2.1:53"])
        #expect(pool.status()[0].state == .healthy)
    }

    @Test("Health probes run on the injected clock until cancelled")
    func probeLoop() async throws {
        let clock = ManualClock()
        let config = UpstreamPoolConfiguration(failureThreshold: 1, downBackoff: .seconds(5))
        let t = ScriptedTransport([.fail(.networkError)], then: .rcode(.noError))
        let pool = ScriptedPool.make([t], configuration: config, clock: clock)
        await #expect(throws: UpstreamError.self) { try await pool.query(try self.query()) }
        let task = Task { await pool.runHealthProbes(every: .seconds(5)) }
        #expect(await Poll.until { clock.sleeperCount == 1 })
        clock.advance(by: .seconds(5))
        #expect(await Poll.until { pool.status()[0].state == .healthy })
        task.cancel()
        clock.advance(by: .seconds(5))
        await task.value
    }

    @Test("Round-robin spreads queries over the upstreams in turn")
    func roundRobin() async throws {
        let ts = (0..<3).map { ScriptedTransport(then: .answer(IPv4Address(192, 0, 2, UInt8($0 + 1)))) }
        let pool = ScriptedPool.make(ts, configuration: UpstreamPoolConfiguration(strategy: .roundRobin))
        var ids: [String] = []
        for _ in 0..<6 { ids.append(try await pool.query(try self.query()).upstream) }
        #expect(ids == ["udp://192.0.2.1:53", "udp://192.0.2.2:53", "udp://192.0.2.3:53",
            "udp://192.0.2.1:53", "udp://192.0.2.2:53", "udp://192.0.2.3:53"])
    }

    @Test("Invalid pool options are rejected with the field named", arguments: [
        (UpstreamPoolConfiguration(queryDeadline: .zero), "query deadline"),
        (UpstreamPoolConfiguration(failureThreshold: 0), "failure threshold"),
        (UpstreamPoolConfiguration(downBackoff: .seconds(10), maxDownBackoff: .seconds(1)), "backoff"),
        (UpstreamPoolConfiguration(upstream: UpstreamOptions(timeout: .zero)), "timeout"),
        (UpstreamPoolConfiguration(upstream: UpstreamOptions(udpSockets: .pooled(size: 0, usesPerSocket: 1))), "pool size"),
        (UpstreamPoolConfiguration(upstream: UpstreamOptions(tls: UpstreamTLSOptions(verifyCertificate: false))), "pins"),
        (UpstreamPoolConfiguration(upstream: UpstreamOptions(tls: UpstreamTLSOptions(pins: ["md5/abc"]))), "md5/abc"),
    ])
    func validation(config: UpstreamPoolConfiguration, fragment: String) {
        #expect {
            try config.validate()
        } throws: { error in
            (error as? UpstreamConfigurationError)?.message.contains(fragment) ?? false
        }
    }

    @Test("A pool needs at least one upstream and no duplicates")
    func poolErrors() {
        #expect(throws: UpstreamConfigurationError.self) {
            try UpstreamPool(specs: [], group: TestNetwork.group)
        }
        #expect {
            try UpstreamPool(specs: ["192.0.2.1", "udp://192.0.2.1:53"], group: TestNetwork.group)
        } throws: { error in
            (error as? UpstreamConfigurationError)?.message.contains("listed twice") ?? false
        }
        #expect {
            try UpstreamPool(specs: ["192.0.2.1", "tls://nope"], group: TestNetwork.group)
        } throws: { error in
            (error as? UpstreamConfigurationError)?.message.contains("\"tls://nope\"") ?? false
        }
        #expect {
            try UpstreamPool(specs: ["https://dns.example.org"],
                configuration: UpstreamPoolConfiguration(upstream: UpstreamOptions(
                    tls: UpstreamTLSOptions(pins: ["sha256/" + Base64.encode([UInt8](repeating: 1, count: 32))]))),
                group: TestNetwork.group)
        } throws: { error in
            (error as? UpstreamConfigurationError)?.message.contains("tls:// upstreams only") ?? false
        }
        #expect {
            try UpstreamPool(specs: ["tls://192.0.2.1"],
                configuration: UpstreamPoolConfiguration(upstream: UpstreamOptions(
                    tls: UpstreamTLSOptions(caFile: "/nonexistent/ca.pem"))),
                group: TestNetwork.group)
        } throws: { error in
            (error as? UpstreamConfigurationError)?.message.contains("/nonexistent/ca.pem") ?? false
        }
    }
}
