import Atomics
public import DNSWire

#if canImport(Glibc)
import Glibc
#endif

/// The counts and latencies of answered queries: `palisade_queries_total{rcode}`,
/// `palisade_queries_by_type_total{qtype}`, `palisade_answers_total{source}` and the histogram
/// `palisade_query_duration_seconds{source}`, rendered in the Prometheus text format by ``render()``.
///
/// Counted here rather than through swift-metrics because this is the one place that counts every query:
/// three `Counter` increments and a `Timer` (a Prometheus histogram behind a lock that compares the value with
/// every bucket bound and adds to each bucket it falls under) were 2.8 % of the event loop's samples on the
/// cached-hit mix, their clock read included (perf, BENCHMARKS.md session 13). Here a query is five relaxed atomic additions to memory no
/// other thread writes in the common case: the slots are striped by thread (16 stripes, each on cache lines of its
/// own), a bucket holds only its own range (the cumulative counts are summed when rendered), and the count of a
/// source is the sum of its buckets.
///
/// Process-wide (``shared``), so a reload's new chain keeps counting where the old one stopped, as the registry's
/// metrics of the same name did.
public final class QueryMetrics: @unchecked Sendable {
    // @unchecked: `slots` is written and read only through relaxed atomic operations (``add(_:_:)``, ``totals()``), and is
    // allocated in `init` and freed in `deinit` only.
    /// The instance the `metrics` stage records into and `/metrics` renders.
    public static let shared = QueryMetrics()

    /// `rcode` label values: RCODE 0–5 by name, `DROP` for no answer, `other` for the rest.
    public static let rcodes = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "DROP", "other"]
    /// Types counted under their own `qtype` label; the rest are `other`.
    public static let qtypes: [RecordType] = [.a, .aaaa, .cname, .mx, .txt, .ptr, .srv, .ns, .soa, .https, .svcb, .any, .caa]
    /// Upper bounds of the latency buckets (the `+Inf` bucket follows), the same as every other duration histogram's
    /// (`MetricsBootstrap` builds the registry's default from this list).
    public static let bucketBounds: [Duration] = [
        .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
        .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5),
    ]

    private static let boundNanos: [Int64] = bucketBounds.map { nanoseconds($0) }
    private static let buckets = bucketBounds.count + 1
    // Slot layout of one stripe.
    private static let rcodeBase = 0
    private static let typeBase = rcodeBase + rcodes.count
    private static let sourceBase = typeBase + qtypes.count + 1
    private static let bucketBase = sourceBase + AnswerSource.labels.count
    private static let sumBase = bucketBase + AnswerSource.labels.count * buckets
    /// Slots per stripe, rounded up to whole 64-byte cache lines.
    private static let stride = (sumBase + AnswerSource.labels.count + 7) / 8 * 8
    private static let stripes = 16

    private let slots: UnsafeMutablePointer<UnsafeAtomic<Int>.Storage>

    /// Creates zeroed counters (tests; the server uses ``shared``).
    public init() {
        let n = Self.stride * Self.stripes
        // Aligned to a cache line, so stripes never share one.
        let raw = UnsafeMutableRawPointer.allocate(byteCount: n * MemoryLayout<Int>.stride, alignment: 64)
        self.slots = raw.bindMemory(to: UnsafeAtomic<Int>.Storage.self, capacity: n)
        self.slots.initialize(repeating: UnsafeAtomic<Int>.Storage(0), count: n)
    }

    deinit {
        self.slots.deinitialize(count: Self.stride * Self.stripes)
        UnsafeMutableRawPointer(self.slots).deallocate()
    }

    /// Counts one answered query: its rcode (nil: no answer was sent), type, answer source and time in the pipeline.
    public func record(rcode: ResponseCode?, type: RecordType, source: AnswerSource, latency: Duration) {
        let rc: Int
        if let rcode {
            rc = rcode.rawValue <= 5 ? Int(rcode.rawValue) : 7
        } else {
            rc = 6
        }
        var ti = Self.qtypes.count
        for (i, t) in Self.qtypes.enumerated() where t == type {
            ti = i
            break
        }
        let si = source.kindIndex
        let nanos = Self.nanoseconds(latency)
        var b = 0
        let bounds = Self.boundNanos
        while b < bounds.count && nanos > bounds[b] { b += 1 }
        let base = self.slots + self.stripe() * Self.stride
        Self.add(base + Self.rcodeBase + rc, 1)
        Self.add(base + Self.typeBase + ti, 1)
        Self.add(base + Self.sourceBase + si, 1)
        Self.add(base + Self.bucketBase + si * Self.buckets + b, 1)
        Self.add(base + Self.sumBase + si, Int(truncatingIfNeeded: nanos))
    }

    /// The Prometheus text exposition of every series, all label values included (zero until counted).
    public func render() -> String {
        let totals = self.totals()
        var out = ""
        out.reserveCapacity(8192)
        out += "# TYPE palisade_queries_total counter\n"
        for (i, rc) in Self.rcodes.enumerated() {
            out += "palisade_queries_total{rcode=\"\(rc)\"} \(totals[Self.rcodeBase + i])\n"
        }
        out += "# TYPE palisade_queries_by_type_total counter\n"
        for (i, t) in Self.qtypes.enumerated() {
            out += "palisade_queries_by_type_total{qtype=\"\(t.description)\"} \(totals[Self.typeBase + i])\n"
        }
        out += "palisade_queries_by_type_total{qtype=\"other\"} \(totals[Self.typeBase + Self.qtypes.count])\n"
        out += "# TYPE palisade_answers_total counter\n"
        for (i, s) in AnswerSource.labels.enumerated() {
            out += "palisade_answers_total{source=\"\(s)\"} \(totals[Self.sourceBase + i])\n"
        }
        out += "# TYPE palisade_query_duration_seconds histogram\n"
        for (i, s) in AnswerSource.labels.enumerated() {
            var cumulative = 0
            for b in 0..<Self.buckets {
                cumulative += totals[Self.bucketBase + i * Self.buckets + b]
                let le = b < Self.boundNanos.count ? Self.secondsText(nanos: Self.boundNanos[b]) : "+Inf"
                out += "palisade_query_duration_seconds_bucket{source=\"\(s)\",le=\"\(le)\"} \(cumulative)\n"
            }
            let sum = Self.secondsText(nanos: Int64(totals[Self.sumBase + i]))
            out += "palisade_query_duration_seconds_sum{source=\"\(s)\"} \(sum)\n"
            out += "palisade_query_duration_seconds_count{source=\"\(s)\"} \(cumulative)\n"
        }
        return out
    }

    /// Every slot summed over the stripes.
    private func totals() -> [Int] {
        var t = [Int](repeating: 0, count: Self.stride)
        for s in 0..<Self.stripes {
            for i in 0..<Self.stride {
                t[i] &+= UnsafeAtomic<Int>(at: self.slots + s * Self.stride + i).load(ordering: .relaxed)
            }
        }
        return t
    }

    /// The calling thread's stripe: event-loop threads are few and long-lived, so each usually has one to itself.
    @inline(__always)
    private func stripe() -> Int {
        let t = UInt(truncatingIfNeeded: pthread_self())
        // Thread control blocks sit at page-aligned addresses a stack apart: mix the bits above the page offset.
        return Int(truncatingIfNeeded: ((t >> 12) ^ (t >> 21) ^ (t >> 30)) & UInt(Self.stripes - 1))
    }

    @inline(__always)
    private static func add(_ p: UnsafeMutablePointer<UnsafeAtomic<Int>.Storage>, _ n: Int) {
        UnsafeAtomic<Int>(at: p).wrappingIncrement(by: n, ordering: .relaxed)
    }

    static func nanoseconds(_ d: Duration) -> Int64 {
        let c = d.components
        return c.seconds &* 1_000_000_000 &+ c.attoseconds / 1_000_000_000
    }

    /// Seconds as swift-prometheus writes a `Duration` (`0.00005`, `1.0`), so that every `le` label reads the same
    /// as the registry's other duration histograms.
    static func secondsText(nanos: Int64) -> String {
        let seconds = nanos / 1_000_000_000
        var fraction = String(nanos % 1_000_000_000)
        fraction = String(repeating: "0", count: 9 - fraction.count) + fraction
        while fraction.count > 1 && fraction.hasSuffix("0") { fraction.removeLast() }
        return "\(seconds).\(fraction)"
    }
}
