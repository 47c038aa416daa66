public import DNSPipeline

/// One incident: the first block or detection finding of a workload within a window, with the queries
/// that led up to it. What a webhook receives, as JSON (``json``).
public struct Incident: Sendable, Hashable {
    /// Why the incident opened.
    public enum Reason: String, Sendable, Hashable {
        /// A policy rule blocked a query.
        case blocked
        /// A detector reported a finding (in observe or enforce mode).
        case finding
    }

    /// Unique id (random, 128 bits, hex): receivers use it to drop a retried delivery they already have.
    public var id: String
    /// When it opened: the triggering query's arrival, microseconds since the epoch.
    public var timeMicros: Int64
    /// The workload, when identified; unknown clients are keyed and named by their IP address.
    public var workload: Workload?
    /// The client address of the triggering query.
    public var clientIP: String
    /// Block or finding.
    public var reason: Reason
    /// The query that opened the incident.
    public var trigger: QueryEvent
    /// The workload's most recent queries, oldest first, ending with ``trigger``.
    public var lastQueries: [QueryEvent]

    /// Creates an incident.
    public init(id: String, timeMicros: Int64, workload: Workload?, clientIP: String, reason: Reason,
        trigger: QueryEvent, lastQueries: [QueryEvent])
    {
        self.id = id
        self.timeMicros = timeMicros
        self.workload = workload
        self.clientIP = clientIP
        self.reason = reason
        self.trigger = trigger
        self.lastQueries = lastQueries
    }

    /// The webhook body:
    /// `{"incident_id","time","workload": Workload|null,"client_ip","reason": "blocked"|"finding",
    /// "policy": {"source","rule","action","trigger"}|null,"findings": [...],"qname","qtype",
    /// "last_queries": [Event]}` (Workload and Event as in the API contract; the events' `id` is null).
    public var json: String {
        var w = JSONWriter()
        w.open()
        w.key("incident_id")
        w.string(self.id)
        w.key("time")
        w.time(micros: self.timeMicros)
        w.key("workload")
        if let wl = self.workload { EventJSON.write(wl, to: &w) } else { w.null() }
        w.key("client_ip")
        w.string(self.clientIP)
        w.key("reason")
        w.string(self.reason.rawValue)
        w.key("policy")
        if let p = self.trigger.policy { EventJSON.write(p, to: &w) } else { w.null() }
        w.key("findings")
        w.array(self.trigger.findings) { w, f in EventJSON.write(f, to: &w) }
        w.key("qname")
        w.string(EventJSON.name(self.trigger.qname))
        w.key("qtype")
        w.string(self.trigger.qtype)
        w.key("last_queries")
        w.array(self.lastQueries) { w, e in EventJSON.write(e, id: nil, to: &w) }
        w.close()
        return w.text
    }
}
