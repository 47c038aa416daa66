import DNSUpstream
import DNSWire
import Foundation
import TestSupport
import Testing

/// Loopback throughput of the transports against NSD. Off by default (it measures, it does not check);
/// run with `PALISADE_BENCH=1 swift test --filter UpstreamBenchmarkTests`. Figures go to stderr.
@Suite(.tags(.integration), .serialized,
    .enabled(if: ProcessInfo.processInfo.environment["PALISADE_BENCH"] != nil, "set PALISADE_BENCH=1 to run benchmarks"),
    .enabled(if: TestBinaries.has("nsd"), "nsd is not installed"))
struct UpstreamBenchmarkTests {
    static func report(_ line: String) {
        FileHandle.standardError.write(Data(("BENCH " + line + "\n").utf8))
    }

    /// Sends `total` queries with `concurrency` in flight; returns queries per second.
    static func measure(_ pool: UpstreamPool, total: Int, concurrency: Int) async throws -> Double {
        let query = try Fixtures.query("www.example.org.")
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<concurrency {
                let share = total / concurrency + (worker < total % concurrency ? 1 : 0)
                group.addTask {
                    for _ in 0..<share { _ = try await pool.query(query) }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Double(total) / seconds
    }

    @Test("UDP round trips per second on loopback, per socket strategy", arguments: [1, 32])
    func udpStrategies(concurrency: Int) async throws {
        let nsd = try await NSDServer.start()
        let strategies: [(String, UDPSocketStrategy)] = [
            ("per-query", .perQuery), ("pooled(4)", .pooled(size: 4, usesPerSocket: 1000)),
            ("pooled(64)", .pooled(size: 64, usesPerSocket: 1000)),
        ]
        let result = await Result {
            for (name, strategy) in strategies {
                let pool = try Fixtures.pool(["127.0.0.1:\(nsd.port)"], configuration: Fixtures.fast(sockets: strategy))
                _ = try await Self.measure(pool, total: 500, concurrency: concurrency)  // warm-up
                let qps = try await Self.measure(pool, total: 10_000, concurrency: concurrency)
                await pool.shutdown()
                Self.report("udp \(name) concurrency=\(concurrency): \(Int(qps)) queries/s")
            }
        }
        await nsd.stop()
        try result.get()
    }

    @Test("TCP pipelined round trips per second on loopback", arguments: [1, 32])
    func tcp(concurrency: Int) async throws {
        let nsd = try await NSDServer.start()
        let result = await Result {
            let pool = try Fixtures.pool(["tcp://127.0.0.1:\(nsd.port)"], configuration: Fixtures.fast())
            _ = try await Self.measure(pool, total: 500, concurrency: concurrency)
            let qps = try await Self.measure(pool, total: 10_000, concurrency: concurrency)
            await pool.shutdown()
            Self.report("tcp concurrency=\(concurrency): \(Int(qps)) queries/s")
        }
        await nsd.stop()
        try result.get()
    }
}
