import DNSPipeline
import Foundation
import QueryStore
import Testing

/// Fills a temporary on-disk store with synthetic events and times inserts and the console's queries.
///
/// Disabled unless `PALISADE_BENCH_ROWS` is set; run it in release mode through `bench/store/run.sh`.
/// The database is deleted afterwards (set `PALISADE_BENCH_KEEP=1` to keep it and print its path).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["PALISADE_BENCH_ROWS"] != nil))
struct QueryStoreBenchmark {
    /// SplitMix64: a fixed seed gives the same data set on every run.
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            self.state &+= 0x9E37_79B9_7F4A_7C15
            var z = self.state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        /// Uniform in 0..<n.
        mutating func below(_ n: Int) -> Int { Int(self.next() % UInt64(n)) }
        /// Skewed towards 0 (square of a uniform): a few busy workloads and names, a long tail.
        mutating func skewed(_ n: Int) -> Int {
            let u = Double(self.next() >> 11) / Double(1 << 53)
            return min(n - 1, Int(u * u * Double(n)))
        }
    }

    static let span: Int64 = 7 * 24 * 3_600_000_000
    static let workloadCount = 300
    static let end: Int64 = 1_700_000_000_000_000

    private func milliseconds(_ d: Duration) -> Double {
        Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) / 1e15
    }

    /// Runs `body` once cold, then `runs` more times; returns (first, median of the rest) in ms and a result.
    private func time<T>(_ runs: Int = 5, _ body: () async throws -> T) async throws -> (Double, Double, T) {
        let clock = ContinuousClock()
        var start = clock.now
        var result = try await body()
        let first = self.milliseconds(clock.now - start)
        var samples: [Double] = []
        for _ in 0..<runs {
            start = clock.now
            result = try await body()
            samples.append(self.milliseconds(clock.now - start))
        }
        samples.sort()
        return (first, samples[samples.count / 2], result)
    }

    @Test("insert N synthetic events and time the console's queries")
    func benchmark() async throws {
        let rows = Int(ProcessInfo.processInfo.environment["PALISADE_BENCH_ROWS"] ?? "") ?? 1_000_000
        let keep = ProcessInfo.processInfo.environment["PALISADE_BENCH_KEEP"] != nil
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("palisade-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { if !keep { try? FileManager.default.removeItem(at: dir) } }
        let path = dir.appendingPathComponent("bench.sqlite").path
        let store = try QueryStore(path: path)

        // Pools, so generating an event costs little next to inserting it.
        let workloads: [Workload] = (0..<Self.workloadCount).map { (i: Int) -> Workload in
            let isPod = i % 10 == 0
            let id = String(format: "%064x", i * 7919 + 1)
            let name = isPod ? "ns-\(i % 7)/job-\(i)" : "service-\(i)"
            let labels: [String: String] = ["team": "t\(i % 12)", "env": i % 3 == 0 ? "prod" : "dev"]
            return Workload(
                kind: isPod ? .pod : .container, id: id, name: name, image: "registry.example.org/app-\(i % 40):1",
                labels: labels)
        }
        let domains = (0..<5_000).map { "site\($0).example\($0 % 50).org" }
        let names = (0..<100_000).map { i in
            ["www", "api", "cdn", "static", "login", "img\(i % 9)", "x\(i)"][i % 7] + "." + domains[i % domains.count]
        }
        let blockedNames = (0..<2_000).map { "c2-\($0).evil\($0 % 20).example" }
        let answerPool = (0..<1_000).map { ["192.0.2.\($0 % 250)", "198.51.100.\($0 % 200)"] }
        let qtypes = ["A", "A", "A", "AAAA", "AAAA", "HTTPS", "TXT", "MX"]
        let hit = PolicyHit(source: "threat-feed", rule: "*.evil.example", action: "nxdomain", trigger: "qname")

        var rng = Generator(state: 42)
        let step = Self.span / Int64(rows)
        let start = Self.end - Self.span
        let batchSize = 1_000
        var insertTime = Duration.zero
        let clock = ContinuousClock()
        var written = 0
        while written < rows {
            let n = min(batchSize, rows - written)
            var batch: [QueryEvent] = []
            batch.reserveCapacity(n)
            for j in 0..<n {
                let i = written + j
                let ts = start + Int64(i) * step + Int64(rng.below(Int(max(step, 1))))
                let identified = rng.below(100) >= 5
                let w = workloads[rng.skewed(Self.workloadCount)]
                let blocked = rng.below(100) == 0
                var qname = blocked ? blockedNames[rng.skewed(blockedNames.count)] : names[rng.skewed(names.count)]
                // An old incident: 30 % of the queries 6 days ago went to one domain's subdomains.
                if i >= rows / 100 * 12 && i < rows / 100 * 14 && rng.below(10) < 3 {
                    qname = "b\(rng.below(5_000)).incident.example"
                }
                batch.append(
                    QueryEvent(
                        timestampMicros: ts,
                        clientIP: identified ? "10.0.\(w.id.count % 7).\(rng.below(250))" : "192.0.2.\(rng.below(50))",
                        transport: "udp", workload: identified ? w : nil, qname: qname,
                        qtype: qtypes[rng.below(qtypes.count)],
                        rcode: blocked ? "NXDOMAIN" : "NOERROR",
                        answers: blocked ? [] : answerPool[rng.below(answerPool.count)],
                        source: blocked ? "policy" : (rng.below(3) == 0 ? "upstream" : "cache"),
                        upstream: blocked ? nil : "resolver-1", policy: blocked ? hit : nil, findings: [],
                        latencyMicros: Int64(rng.below(20_000))))
            }
            let t0 = clock.now
            try await store.insert(batch)
            insertTime += clock.now - t0
            written += n
        }
        let insertSeconds = self.milliseconds(insertTime) / 1000
        let fileMB = { () -> Double in
            let size = ["", "-wal"].compactMap {
                try? FileManager.default.attributesOfItem(atPath: path + $0)[.size] as? NSNumber
            }.reduce(0) { $0 + $1.int64Value }
            return Double(size) / 1_048_576
        }
        let rate = Int(Double(rows) / insertSeconds)
        let megabytes = String(format: "%.0f", fileMB())
        print(
            "bench: inserted \(rows) events in \(String(format: "%.1f", insertSeconds)) s"
                + " (\(rate) events/s, batches of \(batchSize)), db \(megabytes) MB")

        // The DNS path's cost: emit into a writer's queue, first while the queue grows (cold), then again
        // after a flush has handed the grown buffer back (warm: no allocation). A separate in-memory store.
        let sink = QueryLogWriter(
            store: try QueryStore.inMemory(), queueCapacity: 200_000, clock: ContinuousClock(), logger: quietLogger)
        let sample = makeEvent(workload: workloads[0])
        for round in ["cold", "warm"] {
            let e0 = clock.now
            for _ in 0..<200_000 { sink.emit(sample) }
            let emitNs = self.milliseconds(clock.now - e0) * 1e6 / 200_000
            print("bench: emit (\(round) queue): \(String(format: "%.0f", emitNs)) ns per event (200 000 events)")
            await sink.flush()
        }

        let busy = QueryStore.workloadKey(for: workloads[3])
        let quiet = QueryStore.workloadKey(for: workloads[250])
        let hourAgo = Self.end - 3_600_000_000
        let dayAgo = Self.end - 86_400_000_000
        func report<T>(_ label: String, _ figures: (Double, Double, T), _ extra: String = "") {
            let first = String(format: "%.2f", figures.0)
            let median = String(format: "%.2f", figures.1)
            print("bench: \(label): first \(first) ms, median \(median) ms \(extra)")
        }

        /// The console's queries; returns the slowest median of the workload + 1 h searches.
        func queries() async throws -> Double {
            var goal = 0.0
            for (label, key) in [("busy", busy), ("quiet", quiet)] {
                let filter = EventFilter(workloadKey: key, fromMicros: hourAgo, untilMicros: Self.end)
                let r = try await self.time { try await store.search(filter) }
                goal = max(goal, r.1)
                report(
                    "search \(label) workload + 1 h", r,
                    "(\(r.2.events.count) rows) plan \(try await store.searchPlan(filter))")
                if let next = r.2.next {
                    var page2 = filter
                    page2.before = next
                    report("  its page 2", try await self.time { try await store.search(page2) })
                }
            }
            for (label, filter) in [
                ("search 1 h, no other filter", EventFilter(fromMicros: hourAgo)),
                ("search blocked only, 24 h", EventFilter(blockedOnly: true, fromMicros: dayAgo)),
                ("search busy workload, blocked only, 7 d", EventFilter(workloadKey: busy, blockedOnly: true)),
                ("search exact qname, 7 d", EventFilter(qname: .exact(blockedNames[1]))),
                ("search exact qname + workload, 7 d", EventFilter(workloadKey: busy, qname: .exact(names[5]))),
                ("search qname suffix, 1 h", EventFilter(qname: NamePattern("*.evil3.example"), fromMicros: hourAgo)),
                ("search qname suffix (rare), 7 d", EventFilter(qname: NamePattern("*.site4321.example21.org"))),
                ("search qname suffix (2 % of names), 7 d", EventFilter(qname: NamePattern("*.example21.org"))),
                ("search qname suffix (old incident), 7 d", EventFilter(qname: NamePattern("*.incident.example"))),
                ("search workload name substring, 1 h", EventFilter(workloadName: "job-1", fromMicros: hourAgo)),
                ("search qtype TXT + rcode, 1 h", EventFilter(qtype: "TXT", rcode: "NOERROR", fromMicros: hourAgo)),
                ("search client IP, 1 h", EventFilter(clientIP: "192.0.2.7", fromMicros: hourAgo)),
            ] {
                let r = try await self.time { try await store.search(filter) }
                report(label, r, "(\(r.2.events.count) rows) plan \(try await store.searchPlan(filter))")
            }
            report("blockedSummary 1 h", try await self.time { try await store.blockedSummary(sinceMicros: hourAgo) })
            report("blockedSummary 24 h", try await self.time { try await store.blockedSummary(sinceMicros: dayAgo) })
            report(
                "topBlockedDomains 24 h", try await self.time { try await store.topBlockedDomains(sinceMicros: dayAgo) }
            )
            report("topWorkloads 1 h", try await self.time { try await store.topWorkloads(sinceMicros: hourAgo) })
            report("topWorkloads 24 h", try await self.time(3) { try await store.topWorkloads(sinceMicros: dayAgo) })
            report(
                "timeSeries 24 h / 5 min",
                try await self.time {
                    try await store.timeSeries(sinceMicros: dayAgo, untilMicros: Self.end, bucket: .seconds(300))
                })
            report(
                "timeSeries 7 d / 1 h",
                try await self.time(3) {
                    try await store.timeSeries(sinceMicros: Self.end - Self.span, bucket: .seconds(3600))
                })
            report(
                "workloads active 24 h", try await self.time { try await store.workloads(activeSinceMicros: dayAgo) })
            report("counts", try await self.time(3) { try await store.counts() })
            return goal
        }

        print("bench: -- queries on the freshly filled database (no planner statistics)")
        var goal = try await queries()

        // Retention: trim the oldest 10 % by the row cap, in default-sized chunks (then PRAGMA optimize).
        let retention = QueryLogRetentionService(
            store: store, maxAge: nil, maxRows: rows - rows / 10, clock: ContinuousClock(), logger: quietLogger)
        let t0 = clock.now
        let trimmed = try await retention.runOnce()
        let retentionMs = String(format: "%.1f", self.milliseconds(clock.now - t0))
        print("bench: retention deleted \(trimmed.deletedByRowCap) events in \(retentionMs) ms")
        print("bench: -- queries after retention and PRAGMA optimize")
        goal = max(goal, try await queries())

        if rows <= 2_000_000 { #expect(try await store.integrityCheck().isEmpty) }
        try store.close()
        if keep { print("bench: kept \(path)") }
        print("bench: workload + 1 h search median \(String(format: "%.2f", goal)) ms (goal < 200 ms)")
        #expect(goal < 200)
    }
}
