import DNSPipeline
import DNSPolicy
import DNSWire

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Benchmarks the policy engine: generate a synthetic feed, then load it and measure time, RSS and lookups.
///
///     policy-bench gen rpz|domains|hosts COUNT FILE    write a synthetic feed
///     policy-bench load rpz|domains|hosts|auto FILE    load it (streamed from the file), report time and RSS
///     policy-bench load-memory KIND FILE               read the file into memory first, then compile
///     policy-bench parse FILE                          only run the zone-file reader over the file
@main
struct PolicyBench {
    static func main() throws {
        let args = CommandLine.arguments
        guard args.count >= 3 else {
            print("usage: policy-bench gen KIND COUNT FILE | load KIND FILE | load-memory KIND FILE | parse FILE")
            exit(2)
        }
        switch args[1] {
        case "gen":
            guard args.count == 5, let count = Int(args[3]) else { exit(2) }
            try Self.generate(kind: args[2], count: count, path: args[4])
        case "load", "load-memory":
            guard args.count == 4, let kind = PolicySourceConfig.Kind(rawValue: args[2]) else { exit(2) }
            try Self.load(kind: kind, path: args[3], fromMemory: args[1] == "load-memory")
        case "parse":
            try Self.parse(path: args[2])
        default:
            exit(2)
        }
    }

    // MARK: Generation

    /// Deterministic pseudo-random names that look like threat-feed entries (15–30 characters).
    struct Names {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let tlds = ["com", "net", "org", "info", "xyz", "top", "ru", "cn", "io", "site"]
        let letters = Array("abcdefghijklmnopqrstuvwxyz0123456789")

        mutating func next() -> UInt64 {
            self.state ^= self.state << 13
            self.state ^= self.state >> 7
            self.state ^= self.state << 17
            return self.state
        }

        mutating func label(_ length: Int) -> String {
            var s = ""
            for _ in 0..<length { s.append(self.letters[Int(self.next() % UInt64(self.letters.count))]) }
            return s
        }

        mutating func name(_ i: Int) -> String {
            let r = self.next()
            let tld = self.tlds[Int(r % UInt64(self.tlds.count))]
            let base = "\(self.label(6 + Int(r >> 8 % 8)))\(i)"
            switch r >> 20 % 4 {
            case 0: return "\(self.label(3 + Int(r >> 30 % 5))).\(base).\(tld)"
            default: return "\(base).\(tld)"
            }
        }
    }

    static func generate(kind: String, count: Int, path: String) throws {
        guard let f = fopen(path, "w") else {
            print("cannot write \(path)")
            exit(1)
        }
        defer { fclose(f) }
        var names = Names()
        func put(_ s: String) { fputs(s, f) }
        switch kind {
        case "rpz":
            put("$TTL 300\n@ SOA ns.rpz.example. hostmaster.rpz.example. 2024010101 3600 600 86400 300\n")
            put("  NS ns.rpz.example.\n")
            for i in 0..<count {
                let n = names.name(i)
                switch i % 20 {
                case 0: put("*.\(n) CNAME .\n")
                case 1: put("\(n) CNAME rpz-passthru.\n")
                case 2: put("\(n) CNAME *.\n")
                default: put("\(n) CNAME .\n")
                }
            }
        case "domains":
            put("# synthetic domains list\n")
            for i in 0..<count { put("\(names.name(i))\n") }
        case "hosts":
            put("# synthetic hosts file\n127.0.0.1 localhost\n")
            for i in 0..<count { put("0.0.0.0 \(names.name(i))\n") }
        default:
            print("unknown kind \(kind)")
            exit(2)
        }
    }

    // MARK: Measurement

    static func fmt(_ x: Double, _ digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let v = (x * scale).rounded() / scale
        return digits == 0 ? String(Int(v)) : String(v)
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// CPU time of this process: the machine is shared, so wall time alone is noisy.
    static func cpu() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// (current RSS, peak RSS) in MiB from /proc/self/status.
    static func rss() -> (Double, Double) {
        guard let f = fopen("/proc/self/status", "r") else { return (0, 0) }
        defer { fclose(f) }
        var current = 0.0
        var peak = 0.0
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, 256, f) != nil {
            let s = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let fields = s.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
            let value = (fields.count > 1 ? Double(String(fields[1])) ?? 0 : 0) / 1024
            if s.hasPrefix("VmRSS:") { current = value }
            if s.hasPrefix("VmHWM:") { peak = value }
        }
        return (current, peak)
    }

    /// `POLICY_BENCH_ONE_THREAD=1` compiles an RPZ zone on one thread (the reader does not get its own).
    static let parallel: PolicySourceLoader.ParallelReading =
        getenv("POLICY_BENCH_ONE_THREAD").map { String(cString: $0) == "1" } == true ? .never : .standard

    static func load(kind: PolicySourceConfig.Kind, path: String, fromMemory: Bool) throws {
        let (rss0, _) = Self.rss()
        let config = PolicySourceConfig(name: "bench", kind: kind, location: path)
        let t0 = Self.now()
        let c0 = Self.cpu()
        let source: CompiledPolicySource
        if fromMemory {
            guard let f = fopen(path, "r") else { exit(1) }
            fseek(f, 0, SEEK_END)
            let size = ftell(f)
            fseek(f, 0, SEEK_SET)
            var bytes = [UInt8](repeating: 0, count: size)
            _ = bytes.withUnsafeMutableBytes { fread($0.baseAddress, 1, size, f) }
            fclose(f)
            source = try PolicySourceLoader.compile(config, bytes: bytes, fileName: path, parallel: Self.parallel)
        } else {
            source = try PolicySourceLoader.compile(config, path: path, parallel: Self.parallel)
        }
        let t1 = Self.now()
        let c1 = Self.cpu()
        let engine = PolicyEngine(sources: [source])
        let (rss1, peak) = Self.rss()
        print("loaded \(source.ruleCount) rules (\(source.stats.entries) entries, \(source.stats.badLines) bad, "
            + "\(source.stats.duplicates) duplicates) in \(fmt(t1 - t0, 3)) s wall, \(fmt(c1 - c0, 3)) s CPU")
        let l = source.names.layout
        print("arena \(l.arenaUsed / 1024) KiB used of \(l.arenaCapacity / 1024) KiB, \(l.slots) slots")
        print("index \(source.memoryBytes / 1_048_576) MiB; RSS before \(Int(rss0)) MiB, after \(Int(rss1)) MiB, "
            + "peak \(Int(peak)) MiB")

        // Lookups: half names from the feed (re-generated), half random misses.
        var names = Names()
        var missNames = Names(state: 12345)
        let sample = 200_000
        var queries: [DomainName] = []
        queries.reserveCapacity(sample)
        for i in 0..<sample {
            let hit = "www.\(names.name(i))."
            queries.append(try DomainName(i % 2 == 0 ? hit : "miss\(i).\(missNames.label(8)).example."))
        }
        let client = IPAddress.v4(IPv4Address(192, 0, 2, 1))
        var matched = 0
        let t2 = Self.cpu()
        let rounds = 5
        for _ in 0..<rounds {
            for q in queries where engine.evaluateQuery(name: q, type: .a, client: client) != nil {
                matched += 1
            }
        }
        let t3 = Self.cpu()
        print("\(rounds * sample) query-phase lookups (half feed names, half misses), \(matched) matched, "
            + "\(fmt((t3 - t2) / Double(rounds * sample) * 1e9, 0)) ns/lookup")

        // Misses only, and the response phase on a plain answer: the per-query cost when nothing matches.
        let misses = queries.enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
        var answer = DNSMessage.query(id: 1, name: misses[0], type: .a).makeResponse()
        answer.answers = [ResourceRecord(name: misses[0], ttl: 60, rdata: .a(.init(address: IPv4Address(192, 0, 2, 9))))]
        let m0 = Self.mallocCount()
        let t4 = Self.cpu()
        var found = 0
        for q in misses {
            if engine.evaluateQuery(name: q, type: .a, client: client) != nil { found += 1 }
            if engine.evaluateResponse(name: q, type: .a, client: client, response: answer) != nil { found += 1 }
        }
        let t5 = Self.cpu()
        let m1 = Self.mallocCount()
        let perMiss = fmt((t5 - t4) / Double(misses.count) * 1e9, 0)
        var allocations = "allocations not counted (run with LD_PRELOAD=malloc-count.so)"
        if let m0, let m1 { allocations = "\(m1 - m0) allocations" }
        print("\(misses.count) misses (query + response phase): \(perMiss) ns each, \(found) matched, \(allocations)")
        withExtendedLifetime(engine) {}
    }

    /// Calls to malloc so far, when malloc-count.so is preloaded.
    static func mallocCount() -> UInt? {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "palisade_malloc_count") else { return nil }
        return symbol.assumingMemoryBound(to: UInt.self).pointee
    }

    static func parse(path: String) throws {
        guard let f = fopen(path, "r") else { exit(1) }
        fseek(f, 0, SEEK_END)
        let size = ftell(f)
        fseek(f, 0, SEEK_SET)
        var bytes = [UInt8](repeating: 0, count: size)
        _ = bytes.withUnsafeMutableBytes { fread($0.baseAddress, 1, size, f) }
        fclose(f)
        let t0 = Self.cpu()
        var reader = ZoneFileReader(options: .init(errorMode: .collect))
        var count = 0
        try reader.read(bytes) { _, _ in count += 1 }
        let t1 = Self.cpu()
        print("parsed \(count) records (\(reader.errorCount) errors) from \(size / 1_048_576) MiB in "
            + "\(fmt(t1 - t0, 3)) s CPU")
    }
}
