@testable import DNSPolicy
import DNSWire
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
import TestSupport
#endif

/// Not a timed test: prints what an IXFR costs applied incrementally versus a full recompile of the zone
/// (what every refresh did before). Runs only with `PALISADE_BENCH_IXFR=<rules>` (e.g. 1000000); build in
/// release for meaningful figures:
///
///     PALISADE_BENCH_IXFR=1000000 PALISADE_TARGETS=DNSPolicy swift test -c release --filter IXFRBenchmark
@Suite("IXFR benchmark", .enabled(if: ProcessInfo.processInfo.environment["PALISADE_BENCH_IXFR"] != nil))
struct IXFRBenchmark {
    static var rules: Int { Int(ProcessInfo.processInfo.environment["PALISADE_BENCH_IXFR"] ?? "") ?? 1_000_000 }
    static var changes: Int { Int(ProcessInfo.processInfo.environment["PALISADE_BENCH_IXFR_CHANGES"] ?? "") ?? 100 }

    static func cpu() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    static func fmt(_ x: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", x) }

    /// The i-th synthetic feed name (deterministic) and its rule, in the mix of `bench/policy` (85% `CNAME .`,
    /// 5% each wildcard, PASSTHRU, NODATA).
    static func rule(_ i: Int) -> (owner: String, target: String) {
        var rng = SplitMix64(seed: UInt64(i) &* 0x9E37_79B9)
        let letters = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        var label = ""
        for _ in 0..<(8 + Int(rng.next() % 8)) { label.append(letters[Int(rng.next() % UInt64(letters.count))]) }
        let tld = ["com", "net", "org", "info", "xyz", "top"][Int(rng.next() % 6)]
        let name = "\(label)\(i).\(tld)"
        switch i % 20 {
        case 0: return ("*.\(name)", ".")
        case 1: return (name, "rpz-passthru.")
        case 2: return (name, "*.")
        default: return (name, ".")
        }
    }

    @Test("an IXFR applied incrementally versus a full recompile (prints figures)")
    func measure() throws {
        let count = Self.rules
        let changes = Self.changes
        var text = "$ORIGIN rpz.bench.\n$TTL 300\n@ SOA ns.rpz.bench. hostmaster.rpz.bench. 1 3600 600 86400 300\n"
        text.reserveCapacity(count * 32)
        for i in 0..<count {
            let r = Self.rule(i)
            text += "\(r.owner) CNAME \(r.target)\n"
        }
        let bytes = Array(text.utf8)
        text = ""
        let config = PolicySourceConfig(name: "bench", kind: .rpz, location: "bench.rpz")
        let c0 = Self.cpu()
        let base = try PolicySourceLoader.compile(config, bytes: bytes, fileName: "bench.rpz")
        let full = Self.cpu() - c0
        print("IXFR benchmark: full recompile of \(base.ruleCount) rules (\(bytes.count / 1_048_576) MiB): \(Self.fmt(full, 3)) s CPU")

        let origin = try DomainName("rpz.bench.")
        func record(_ owner: String, _ target: String) throws -> ResourceRecord {
            ResourceRecord(name: try DomainName(owner, origin: origin), ttl: 300,
                rdata: .cname(.init(target: try DomainName(target))))
        }
        var round = 0
        func update(from serial: UInt32) throws -> RPZUpdate {
            var list: [RPZUpdate.Change] = []
            for k in 0..<(changes / 2) {
                // Existing rules spread over the zone (never the same one twice across rounds).
                let i = ((round * changes + k) * 7919) % count
                let r = Self.rule(i)
                list.append(.deleted(try record(r.owner, r.target)))
            }
            for k in 0..<(changes - changes / 2) { list.append(.added(try record("new\(round)-\(k).bench.example", "."))) }
            round += 1
            return RPZUpdate(changes: list, fromSerial: serial, toSerial: serial &+ 1)
        }
        let first = try update(from: 1)
        let reps = 50
        var updated = base
        let c1 = Self.cpu()
        for _ in 0..<reps { updated = try base.applying(first) }
        let incremental = (Self.cpu() - c1) / Double(reps)
        print("IXFR benchmark: \(changes) changes applied incrementally: \(Self.fmt(incremental * 1e6, 1)) µs CPU (mean of \(reps)), "
            + "rules \(base.ruleCount) -> \(updated.ruleCount); the full recompile costs \(Self.fmt(full / incremental, 0))x as much")
        #expect(updated.ruleCount == base.ruleCount, "half deleted, half added")

        // Lookups with and without the overlay: half names of the feed (one label below), half misses.
        var queries: [DomainName] = []
        for i in 0..<200_000 {
            let r = Self.rule(i * 5 % count)
            let owner = r.owner.hasPrefix("*.") ? String(r.owner.dropFirst(2)) : r.owner
            queries.append(try DomainName(i % 2 == 0 ? "www.\(owner)." : "miss\(i).example."))
        }
        let client = IPAddress.v4(IPv4Address(192, 0, 2, 1))
        for (label, source) in [("base index only", base), ("base + overlay", updated)] {
            let engine = PolicyEngine(sources: [source])
            var matched = 0
            let t0 = Self.cpu()
            for q in queries where engine.evaluateQuery(name: q, type: .a, client: client) != nil { matched += 1 }
            let t1 = Self.cpu()
            print("IXFR benchmark: lookups, \(label): \(Self.fmt((t1 - t0) / Double(queries.count) * 1e9, 0)) ns each (\(matched) matched)")
        }

        // Successive IXFRs: the overlay grows, and each update copies it (bounded by the merge threshold).
        var current = updated
        var worst = 0.0
        let c2 = Self.cpu()
        for _ in 0..<100 {
            let u = try update(from: current.serial ?? 0)
            let a = Self.cpu()
            current = try current.applying(u)
            worst = Swift.max(worst, Self.cpu() - a)
        }
        let all = Self.cpu() - c2
        print("IXFR benchmark: 100 successive IXFRs of \(changes) changes: \(Self.fmt(all * 1e3, 1)) ms CPU in all, slowest "
            + "\(Self.fmt(worst * 1e3, 2)) ms; overlay \(current.overlay.count) names (merge at "
            + "\(RPZUpdate.mergeThreshold(baseCount: base.names.count)))")
    }
}
