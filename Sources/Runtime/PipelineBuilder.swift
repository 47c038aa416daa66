import DNSCache
public import DNSPipeline
import DNSWire

/// The one place that defines the order of the pipeline (STYLE §3). Each line says why it sits there.
public enum PipelineBuilder {
    /// Stages shared by consecutive chains (they keep state across a reload).
    public struct Parts: Sendable {
        var acl: [IPNetwork]
        var localRecords: [ResourceRecord]
        var blockPrivateReverse: Bool
        var events: QueryEventBuffer?
        var identify: (any Stage)?
        var quarantine: (any Stage)?
        var queryPolicy: (any Stage)?
        var responsePolicy: (any Stage)?
        var cache: any Stage
        var upstream: any Stage
    }

    /// Builds the chain from its parts, in the documented order.
    public static func chain(_ p: Parts) -> Chain {
        var stages: [any Stage] = []
        // ingress-guard: refuse unknown clients before any work is spent on them; keyed on the socket source.
        stages.append(IngressGuardStage(allowed: p.acl))
        // sanitize: FORMERR/NOTIMP/BADVERS/RFC 8482 before any later stage looks at the question.
        stages.append(SanitizeStage())
        // identify: name the workload behind the source address, so the log and policy can use it.
        if let identify = p.identify { stages.append(identify) }
        // query-log: wraps everything below, so it records the final outcome and the latency.
        if let events = p.events { stages.append(QueryLogStage(buffer: events)) }
        // metrics: same reason as query-log.
        stages.append(MetricsStage())
        // quarantine: the first stage that decides after identify (it needs the workload); only the query-log
        // and metrics wrappers sit in between so that they see its answers. A quarantined workload gets no
        // local data, no allowlist pass and no upstream answer, except for its quarantine allowlist.
        if let quarantine = p.quarantine { stages.append(quarantine) }
        // local-data: names that must never leave the machine are answered before policy and upstream.
        stages.append(LocalDataStage(records: p.localRecords, blockPrivateReverse: p.blockPrivateReverse))
        // query-policy: a hit answers here, so a blocked name is never sent upstream.
        if let q = p.queryPolicy { stages.append(q) }
        // response-policy: above the cache, so a feed reload applies to answers already cached.
        if let r = p.responsePolicy { stages.append(r) }
        // cache: below policy, so a cached answer to a newly blocked name is never served.
        stages.append(p.cache)
        // upstream: terminal.
        stages.append(p.upstream)
        return Chain(stages: stages)
    }
}
