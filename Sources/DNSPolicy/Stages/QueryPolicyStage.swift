public import DNSPipeline
internal import DNSWire

/// Applies query-phase policy: CLIENT-IP quarantine, RPZ QNAME triggers, block lists and allowlists.
///
/// A rewriting match answers here, so a blocked name is never sent upstream. PASSTHRU, allowlist and
/// watch-mode matches pass the query down (watch hits are added as findings). A walled-garden CNAME is
/// answered with the CNAME followed by the answer for its target, resolved by the stages below.
/// The synchronous path answers every match that needs no I/O, so a block costs no task.
public struct QueryPolicyStage: Stage {
    /// `query-policy`.
    public let id: StageID = "query-policy"
    private let engine: PolicyEngineReference

    /// Creates the stage over a swappable engine.
    public init(engine: PolicyEngineReference) {
        self.engine = engine
    }

    private func decide(_ query: Query) -> PolicyDecision? {
        let q = query.question
        return self.engine.current.evaluateQuery(name: q.name, type: q.type, client: query.client.address)
    }

    /// Prefetches the index entries the names of a read burst will be matched against (``PolicyEngine/prefetch(_:)``).
    public func prefetch(_ names: QueryNameBatch) {
        self.engine.current.prefetch(names)
    }

    /// Answers blocked queries and passes the rest.
    public func resolve(_ query: Query, in context: QueryContext, next: Next) async throws -> Resolution {
        guard let decision = self.decide(query) else { return try await next(query, context) }
        context.note(self.id, "\(decision.hit.action) by \(decision.hit.source) rule \(decision.hit.rule)")
        switch decision.plan(for: query) {
        case .answer(let r):
            return r
        case .pass(let findings):
            return try await next(query, context).adding(findings)
        case .chase(let target, let prefix):
            return decision.merge(try await next(target, context), prefix: prefix, for: query)
        }
    }

    /// The same decisions without suspending; nil when the stages below need to suspend.
    public func resolveNow(_ query: Query, in context: QueryContext, next: NextNow) throws -> Resolution? {
        guard let decision = self.decide(query) else { return try next(query, context) }
        let result: Resolution?
        switch decision.plan(for: query) {
        case .answer(let r):
            result = r
        case .pass(let findings):
            result = try next(query, context)?.adding(findings)
        case .chase(let target, let prefix):
            result = try next(target, context).map { decision.merge($0, prefix: prefix, for: query) }
        }
        // Notes are side effects: record them only when this path produces the answer.
        if result != nil {
            context.note(self.id, "\(decision.hit.action) by \(decision.hit.source) rule \(decision.hit.rule)")
        }
        return result
    }
}
