public import DNSPipeline
public import DNSWire
import Metrics

/// `quarantine`: cuts a quarantined workload's DNS off until it is released.
///
/// It is the first deciding stage after `identify` (it needs the workload); only the `query-log` and
/// `metrics` wrappers sit between them, so that they see its answers. Its answers carry a ``PolicyHit``
/// with source `quarantine` and trigger `workload`, so the log and the metrics count them as policy answers. Names on the quarantine allowlist (the registry the
/// workload pulls images from, internal service names) still resolve. Lookups are O(1) and need no I/O,
/// so the synchronous path answers every quarantined query without a task.
public struct QuarantineStage: Stage {
    /// `quarantine`.
    public let id: StageID = "quarantine"
    /// The quarantined workloads.
    public let registry: QuarantineRegistry
    private let allowlist: Set<DomainName>
    private let answered: [Counter]

    /// Creates the stage.
    /// - Parameters:
    ///   - registry: The quarantined workloads.
    ///   - allowlist: Names (and everything below them) a quarantined workload may still resolve.
    public init(registry: QuarantineRegistry, allowlist: [DomainName] = []) {
        self.registry = registry
        self.allowlist = Set(allowlist.map(\.lowercased))
        self.answered = QuarantineEntry.Answer.allCases.map {
            Counter(label: "palisade_quarantine_answers_total", dimensions: [("answer", $0.rawValue)])
        }
    }

    /// The workload key the registry is keyed by: `kind:id`, or `client:<address>` when unidentified.
    public static func key(_ query: Query, _ context: QueryContext) -> String {
        if let w = context.workload { return "\(w.kind.rawValue):\(w.id)" }
        return "client:\(query.client.address)"
    }

    private func isAllowlisted(_ name: DomainName) -> Bool {
        guard !self.allowlist.isEmpty else { return false }
        var n: DomainName? = name.lowercased
        while let current = n {
            if self.allowlist.contains(current) { return true }
            n = current.parent
        }
        return false
    }

    /// The quarantine answer for `query`, or nil when it passes.
    private func decide(_ query: Query, _ context: QueryContext) -> (QuarantineEntry, Resolution)? {
        guard !self.registry.isEmpty else { return nil }
        let key = Self.key(query, context)
        guard let entry = self.registry.entry(for: key), !self.isAllowlisted(query.question.name) else { return nil }
        let rcode: ResponseCode
        let ede: ExtendedErrorCode
        switch entry.answer {
        case .refused:
            rcode = .refused
            ede = .prohibited
        case .nxdomain:
            rcode = .nxDomain
            ede = .blocked
        }
        let hit = PolicyHit(source: "quarantine", rule: key, action: entry.answer.rawValue, trigger: "workload")
        var response = query.message.makeResponse(rcode: rcode)
        // A quarantine answer must not be mistaken for an authoritative "does not exist".
        response.header.authoritative = false
        let r = Resolution(reply: .message(response), source: .policy(hit),
            extendedErrors: [.extendedError(ede, text: entry.extendedErrorText)])
        return (entry, r)
    }

    private func count(_ entry: QuarantineEntry) {
        self.answered[entry.answer == .refused ? 0 : 1].increment()
    }

    /// Answers a quarantined workload's query, or passes.
    public func resolve(_ query: Query, in context: QueryContext, next: @escaping Next) async throws -> Resolution {
        guard let (entry, r) = self.decide(query, context) else { return try await next(query, context) }
        self.count(entry)
        context.note(self.id, "\(entry.answer.rawValue): \(Self.key(query, context)) \(entry.extendedErrorText)")
        return r
    }

    /// The same decision without suspending.
    public func resolveNow(_ query: Query, in context: QueryContext, next: NextNow) throws -> Resolution? {
        guard let (entry, r) = self.decide(query, context) else { return try next(query, context) }
        self.count(entry)
        context.note(self.id, "\(entry.answer.rawValue): \(Self.key(query, context)) \(entry.extendedErrorText)")
        return r
    }
}
