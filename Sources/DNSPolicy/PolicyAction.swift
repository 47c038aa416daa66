public import DNSWire

/// What a policy rule does to a query (draft-vixie-dnsop-dns-rpz §3, plus the list answers).
public enum PolicyAction: Sendable, Hashable {
    /// Answer NXDOMAIN (RPZ `CNAME .`).
    case nxdomain
    /// Answer NOERROR with no records (RPZ `CNAME *.`).
    case nodata
    /// Answer REFUSED.
    case refused
    /// Send no answer at all (RPZ `CNAME rpz-drop.`).
    case drop
    /// Over UDP answer with TC=1 so the client retries over TCP; over TCP answer normally
    /// (RPZ `CNAME rpz-tcp-only.`).
    case tcpOnly
    /// Answer normally and stop policy processing for this query (RPZ `CNAME rpz-passthru.`).
    case passthru
    /// Answer A/AAAA queries with these addresses and other types with NODATA.
    case sinkhole([IPAddress])
    /// Answer from these records (RPZ local data), with the query name as owner. A CNAME sends the
    /// client to a walled garden; a CNAME target starting with `*.` has the `*` replaced by the query name.
    case localData(PolicyLocalData)
    /// An allowlist matched: answer normally, skipping every block rule except client-IP quarantine.
    case allow
    /// A watch-mode (`log`) rule matched and nothing enforced: answer normally, record the hit.
    case log
    /// A fail-closed source has never loaded: answer SERVFAIL with EDE 14 (Not Ready).
    case notReady

    /// Stable label for logs, metrics and ``PolicyHit/action``.
    public var label: String {
        switch self {
        case .nxdomain: "nxdomain"
        case .nodata: "nodata"
        case .refused: "refused"
        case .drop: "drop"
        case .tcpOnly: "tcp-only"
        case .passthru: "passthru"
        case .sinkhole: "sinkhole"
        case .localData: "local-data"
        case .allow: "allow"
        case .log: "log"
        case .notReady: "not-ready"
        }
    }

    /// True when the action changes the answer (everything but passthru, allow and log).
    public var rewrites: Bool {
        switch self {
        case .passthru, .allow, .log: false
        default: true
        }
    }
}

/// RPZ local data: records served for a trigger instead of the real answer.
public struct PolicyLocalData: Sendable, Hashable {
    /// The records. Owner names are irrelevant (the answer uses the query name); only type, class, TTL
    /// and RDATA count, so two triggers with the same data share one value.
    public var records: [ResourceRecord]

    /// Wraps records; owners are normalised to the root so equal data compares equal.
    public init(records: [ResourceRecord]) {
        self.records = records.map {
            var r = $0
            r.name = .root
            return r
        }
    }

    /// The CNAME target when this local data redirects to a walled garden.
    public var cnameTarget: DomainName? {
        for r in self.records {
            if case .cname(let t) = r.rdata { return t.target }
        }
        return nil
    }
}

/// The answer a list source gives for its matches (per-source configuration).
public enum PolicyAnswer: Sendable, Hashable {
    /// NXDOMAIN (the default).
    case nxdomain
    /// NOERROR, no records.
    case nodata
    /// REFUSED.
    case refused
    /// No answer.
    case drop
    /// These addresses for A/AAAA, NODATA for other types.
    case sinkhole([IPAddress])

    /// The action this answer stands for.
    public var action: PolicyAction {
        switch self {
        case .nxdomain: .nxdomain
        case .nodata: .nodata
        case .refused: .refused
        case .drop: .drop
        case .sinkhole(let a): .sinkhole(a)
        }
    }
}

/// A per-source override of what its rules do (Unbound's `rpz-action-override`, BIND's `policy`).
public enum PolicyOverride: Sendable, Hashable {
    /// Every match gives this answer instead of the rule's own action.
    case answer(PolicyAnswer)
    /// Every match is a PASSTHRU.
    case passthru
    /// Watch mode: record the hit, answer normally, and keep evaluating later sources.
    case log
}
