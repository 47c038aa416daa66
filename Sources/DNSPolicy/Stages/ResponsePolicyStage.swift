public import DNSPipeline
internal import DNSWire
import Synchronization

/// Applies response-phase policy to the answer from below: QNAME and list rules on CNAME targets (CNAME
/// cloaking), RPZ response-IP, NSDNAME and NSIP triggers.
///
/// It sits above the cache, so a policy reload applies to cached answers at once. It amends the result of
/// `next`: when a rule matches, the upstream answer is replaced by the policy answer for the original query
/// (after the CNAME chain up to a matched CNAME target, which is kept).
public struct ResponsePolicyStage: Stage {
    /// `response-policy`.
    public let id: StageID = "response-policy"
    private let engine: PolicyEngineReference

    /// Creates the stage over a swappable engine.
    public init(engine: PolicyEngineReference) {
        self.engine = engine
    }

    private func decide(_ query: Query, _ result: Resolution) -> (PolicyDecision, DNSMessage)? {
        let engine = self.engine.current
        let packet: CachedPacket?
        let message: DNSMessage
        switch result.reply {
        case .message(let m):
            packet = nil
            message = m
        case .cached(let p, _):
            // A cached packet knows whether its answer has a CNAME: when the engine has nothing to look for, its
            // message is not read (reading it copies it out of the packet, or decodes it the first time: the copy
            // alone was five retains and releases, 4.5 % of the event loop on the cached-hit mix, perf, session 6).
            // Nor when it was found clean under this same policy before (the bytes never change): with response-IP
            // rules loaded, checking every hit again cost 7 % of the cached-hit mix's QPS (BENCHMARKS.md, session
            // 19). Otherwise the packet's decoded message is used as is (TTLs do not matter to policy).
            guard engine.needsResponseCheck(hasCNAME: p.hasCNAMEAnswer),
                p.cleanUnderPolicy.load(ordering: .relaxed) != engine.generation
            else { return nil }
            packet = p
            message = p.message
        case .drop:
            return nil
        }
        let q = query.question
        switch engine.responseVerdict(name: q.name, type: q.type, client: query.client.address, response: message) {
        case .decided(let d):
            return (d, message)
        case .clean:
            packet?.cleanUnderPolicy.store(engine.generation, ordering: .relaxed)
            return nil
        case .exempt:
            return nil
        }
    }

    /// Resolves below, then rewrites the answer when a response trigger matches.
    public func resolve(_ query: Query, in context: QueryContext, next: Next) async throws -> Resolution {
        let result = try await next(query, context)
        guard let (decision, message) = self.decide(query, result) else { return result }
        context.note(self.id, "\(decision.hit.action) by \(decision.hit.source) rule \(decision.hit.rule)")
        switch decision.plan(for: query, response: message) {
        case .answer(let r):
            return r.adding(result.findings)
        case .pass(let findings):
            return result.adding(findings)
        case .chase(let target, let prefix):
            return decision.merge(try await next(target, context), prefix: prefix, for: query)
        }
    }

    /// The same without suspending; nil when the stages below need to suspend.
    public func resolveNow(_ query: Query, in context: QueryContext, next: NextNow) throws -> Resolution? {
        guard let result = try next(query, context) else { return nil }
        guard let (decision, message) = self.decide(query, result) else { return result }
        let amended: Resolution?
        switch decision.plan(for: query, response: message) {
        case .answer(let r):
            amended = r.adding(result.findings)
        case .pass(let findings):
            amended = result.adding(findings)
        case .chase(let target, let prefix):
            amended = try next(target, context).map { decision.merge($0, prefix: prefix, for: query) }
        }
        if amended != nil {
            context.note(self.id, "\(decision.hit.action) by \(decision.hit.source) rule \(decision.hit.rule)")
        }
        return amended
    }
}
