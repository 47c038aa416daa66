public import DNSWire

/// One query as the log, the store, the console and alerts see it.
public struct QueryEvent: Sendable, Hashable, Codable {
    /// Wall-clock time the query arrived, microseconds since the Unix epoch.
    public var timestampMicros: Int64
    /// Client address text.
    public var clientIP: String
    /// Transport (`udp`, `tcp`, `dot`, `doh`).
    public var transport: String
    /// The workload, when identified.
    public var workload: Workload?
    /// Question name (presentation form, lower case).
    public var qname: String
    /// Question type mnemonic.
    public var qtype: String
    /// Response code (`NOERROR`, …) or `DROP`.
    public var rcode: String
    /// Answer records' data, presentation form, at most a few.
    public var answers: [String]
    /// Answer source label (`cache`, `upstream`, `policy`, …).
    public var source: String
    /// Upstream id, when the answer came from one.
    public var upstream: String?
    /// Policy hit, when policy answered.
    public var policy: PolicyHit?
    /// Detector findings.
    public var findings: [Finding]
    /// Time spent in the pipeline, microseconds (with ``count`` > 1: the slowest of them).
    public var latencyMicros: Int64
    /// How many identical queries this event stands for (same client, workload, question, answer source,
    /// rcode and policy hit, within the query log's aggregation window; see ``QueryEventBuffer``). 1 when
    /// aggregation is off.
    public var count: Int
    /// Other names the event stands for, in the order first asked: set when a rule covering a whole subtree
    /// (`*.evil.example`) blocked the queries, which are then grouped by the rule rather than the name
    /// (``QueryEventBuffer``). At most ``QueryEventBuffer/maxOtherNames``; ``qname`` is the first name asked.
    public var otherNames: [String]

    /// Creates an event.
    public init(timestampMicros: Int64, clientIP: String, transport: String, workload: Workload?, qname: String,
        qtype: String, rcode: String, answers: [String], source: String, upstream: String?, policy: PolicyHit?,
        findings: [Finding], latencyMicros: Int64, count: Int = 1, otherNames: [String] = [])
    {
        self.count = count
        self.otherNames = otherNames
        self.timestampMicros = timestampMicros
        self.clientIP = clientIP
        self.transport = transport
        self.workload = workload
        self.qname = qname
        self.qtype = qtype
        self.rcode = rcode
        self.answers = answers
        self.source = source
        self.upstream = upstream
        self.policy = policy
        self.findings = findings
        self.latencyMicros = latencyMicros
    }

    /// True when a policy rule blocked the query (anything but passthru/log).
    public var blocked: Bool { Self.blocks(self.policy) }

    /// Whether `policy` blocked its query (anything but passthru/log): the one place the rule is written, for
    /// ``blocked`` and the buffer's group keys.
    static func blocks(_ policy: PolicyHit?) -> Bool {
        guard let p = policy else { return false }
        return p.action != "passthru" && p.action != "log"
    }
}

/// Where query events go. `emit` must never block or suspend: implementations queue and drop.
public protocol QueryEventSink: Sendable {
    /// Hands one event over; returns false when it was dropped (queue full).
    @discardableResult
    func emit(_ event: QueryEvent) -> Bool

    /// How many more events `emit` would take now. The ``QueryEventBuffer`` hands no more than the smallest of its
    /// sinks' values over in one drain and keeps the rest for the next, so a sink with a bounded queue is never
    /// handed more than it can hold (a closed aggregation window can be 100,000 rows at once). `Int.max`, the default,
    /// for a sink that takes everything at once.
    var spareCapacity: Int { get }
}

extension QueryEventSink {
    /// Unbounded.
    public var spareCapacity: Int { .max }
}
