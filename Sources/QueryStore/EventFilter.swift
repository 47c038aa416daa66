/// Which events ``QueryStore/search(_:)`` returns. Every set field narrows the result (they are ANDed).
public struct EventFilter: Sendable, Hashable {
    /// Only events from this workload identity (`kind:id`). Uses the `(workload_ref, ts_us)` index.
    public var workloadKey: String?
    /// Only events from workloads whose name contains this text (ASCII case-insensitive). Uses the
    /// `(workload_ref, ts_us)` index once per matching workload, then sorts: bound it with a time range.
    public var workloadName: String?
    /// Only events from this client address (for unidentified clients; no index, bound it with a time range).
    public var clientIP: String?
    /// Only events for this name or these names.
    public var qname: NamePattern?
    /// Only this question type mnemonic (`A`, `AAAA`, …).
    public var qtype: String?
    /// Only this response code (`NOERROR`, `NXDOMAIN`, `DROP`, …).
    public var rcode: String?
    /// Only blocked events.
    public var blockedOnly: Bool
    /// Only events answered from this source (`cache`, `upstream`, `policy`, …).
    public var source: String?
    /// Only events at or after this time, microseconds since the Unix epoch.
    public var fromMicros: Int64?
    /// Only events strictly before this time, microseconds since the Unix epoch.
    public var untilMicros: Int64?
    /// Page size; clamped to 1…``maximumLimit``.
    public var limit: Int
    /// Only events older than this position (the previous page's ``EventPage/next``).
    public var before: EventCursor?

    /// The largest page ``QueryStore/search(_:)`` returns.
    public static let maximumLimit = 1_000

    /// Creates a filter; with no arguments it matches the newest 100 events.
    public init(
        workloadKey: String? = nil, workloadName: String? = nil, clientIP: String? = nil, qname: NamePattern? = nil,
        qtype: String? = nil, rcode: String? = nil, blockedOnly: Bool = false, source: String? = nil,
        fromMicros: Int64? = nil, untilMicros: Int64? = nil, limit: Int = 100, before: EventCursor? = nil
    ) {
        self.workloadKey = workloadKey
        self.workloadName = workloadName
        self.clientIP = clientIP
        self.qname = qname
        self.qtype = qtype
        self.rcode = rcode
        self.blockedOnly = blockedOnly
        self.source = source
        self.fromMicros = fromMicros
        self.untilMicros = untilMicros
        self.limit = limit
        self.before = before
    }
}

/// A query-name filter: one exact name, or every name below a domain.
public enum NamePattern: Sendable, Hashable {
    /// Exactly this name (`www.example.org`). Uses the `(qname_rev, ts_us)` index.
    case exact(String)
    /// Every name strictly below this domain (`*.example.org` matches `a.example.org`, `a.b.example.org`,
    /// not `example.org` itself, as in RPZ). A range of the `(qname_rev, ts_us)` index; combined only with
    /// time conditions, the page is picked from the index before any row is read.
    case subdomains(of: String)

    /// Parses the text form: `*.example.org` is ``subdomains(of:)``, anything else ``exact(_:)``. Case and
    /// a trailing dot are ignored.
    public init(_ text: String) {
        if text.hasPrefix("*.") {
            self = .subdomains(of: StoredName.normalize(String(text.dropFirst(2))))
        } else {
            self = .exact(StoredName.normalize(text))
        }
    }
}
