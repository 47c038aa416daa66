public import DNSWire
import Metrics

/// `metrics`: counts every answered query by rcode, qtype and answer source, and times it.
///
/// Counters are created once for closed label sets, so the hot path only increments.
public struct MetricsStage: Stage {
    public let id: StageID = "metrics"

    static let rcodes = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "DROP", "other"]
    static let qtypes: [RecordType] = [.a, .aaaa, .cname, .mx, .txt, .ptr, .srv, .ns, .soa, .https, .svcb, .any, .caa]
    static let sources = ["upstream", "cache", "stale", "policy", "local", "synthesized", "failure"]

    private let byRcode: [Counter]
    private let byType: [Counter]
    private let byTypeOther: Counter
    private let bySource: [Counter]
    private let latency: [Timer]

    /// Creates the stage and its counters.
    public init() {
        self.byRcode = Self.rcodes.map { Counter(label: "palisade_queries_total", dimensions: [("rcode", $0)]) }
        self.byType = Self.qtypes.map { Counter(label: "palisade_queries_by_type_total", dimensions: [("qtype", $0.description)]) }
        self.byTypeOther = Counter(label: "palisade_queries_by_type_total", dimensions: [("qtype", "other")])
        self.bySource = Self.sources.map { Counter(label: "palisade_answers_total", dimensions: [("source", $0)]) }
        self.latency = Self.sources.map {
            Timer(label: "palisade_query_duration_seconds", dimensions: [("source", $0)], preferredDisplayUnit: .seconds)
        }
    }

    private func record(_ q: Query, _ r: Resolution, _ start: ContinuousClock.Instant) {
        let rc: Int
        if let code = r.rcode {
            rc = code.rawValue <= 5 ? Int(code.rawValue) : 7
        } else {
            rc = 6
        }
        self.byRcode[rc].increment()
        if let i = Self.qtypes.firstIndex(of: q.question.type) { self.byType[i].increment() } else { self.byTypeOther.increment() }
        let si: Int
        switch r.source {
        case .upstream: si = 0
        case .cache: si = 1
        case .staleCache: si = 2
        case .policy: si = 3
        case .local: si = 4
        case .synthesized: si = 5
        case .failure: si = 6
        }
        self.bySource[si].increment()
        self.latency[si].record(duration: start.duration(to: .now))
    }

    public func resolveNow(_ query: Query, in context: QueryContext, next: NextNow) throws -> Resolution? {
        let start = context.startInstant
        guard let r = try next(query, context) else { return nil }
        self.record(query, r, start)
        return r
    }

    public func resolve(_ query: Query, in context: QueryContext, next: @escaping Next) async throws -> Resolution {
        let start = context.startInstant
        let r = try await next(query, context)
        self.record(query, r, start)
        return r
    }
}
