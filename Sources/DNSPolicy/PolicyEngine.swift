internal import DNSPipeline
public import DNSWire
import Synchronization

/// An immutable snapshot of every enabled policy source, in precedence order.
///
/// Evaluation is synchronous and allocation-free when nothing matches, because it runs on the NIO event
/// loop for every query. Precedence (see `docs/policy.md`):
/// 1. Sources are consulted in configured order; the first source with a match decides.
/// 2. Within an RPZ source: CLIENT-IP, then QNAME, then (on the response) response IP, NSDNAME, NSIP. For
///    names, an exact rule beats a wildcard and a longer wildcard beats a shorter one.
/// 3. An allowlist match wins over every block source and RPZ zone, except CLIENT-IP (quarantine) rules.
/// 4. PASSTHRU (and TCP-only over TCP) is a match that stops all further policy, including the response phase.
/// 5. A watch-mode (`log`) source records its hit and evaluation goes on to the next source.
/// Query-phase triggers (CLIENT-IP, QNAME, lists) of every source are decided before the upstream is asked,
/// so a blocked name never leaves; response triggers only apply when no query-phase rule matched (as BIND's
/// `qname-wait-recurse no`).
public final class PolicyEngine: Sendable {
    /// Enabled sources in precedence order.
    package let sources: [CompiledPolicySource]
    private let blockSources: [CompiledPolicySource]
    private let allowSources: [CompiledPolicySource]
    private let responseTriggers: Bool
    /// Whether ``evaluateResponse(name:type:client:response:)`` can find anything in an answer that has (or has no)
    /// CNAME: most answers have none and most engines no response triggers, and then the query phase (already
    /// applied by the query stage) need not run again. Callers that know `hasCNAME` without reading the message
    /// (a cached packet) ask first.
    public func needsResponseCheck(hasCNAME: Bool) -> Bool {
        !self.sources.isEmpty && (hasCNAME || self.responseTriggers)
    }

    /// An engine with no sources: every query passes.
    public static let empty = PolicyEngine(sources: [])

    /// A number no other engine of this process has (from 1): what a cached answer found clean under this engine
    /// remembers (``CachedPacket/cleanUnderPolicy``). A counter rather than the object's address, which a later
    /// engine can reuse.
    package let generation: UInt64
    private static let generations = Atomic<UInt64>(0)

    /// Builds a snapshot from compiled sources in precedence order (disabled ones are skipped).
    package init(sources: [CompiledPolicySource]) {
        self.sources = sources.filter { $0.config.enabled }
        self.blockSources = self.sources.filter { $0.config.role == .block }
        self.allowSources = self.sources.filter { $0.config.role == .allow }
        self.responseTriggers = self.blockSources.contains { $0.hasResponseTriggers }
        self.generation = Self.generations.wrappingAdd(1, ordering: .relaxed).newValue
    }

    /// Names of the sources, in precedence order.
    public var sourceNames: [String] { self.sources.map(\.config.name) }

    /// Total rules across sources.
    public var ruleCount: Int { self.sources.reduce(0) { $0 + $1.ruleCount } }

    // MARK: Decisions

    private enum Outcome {
        case decided(PolicyDecision)
        case watched(PolicyHit)
    }

    private func decide(_ source: CompiledPolicySource, _ kind: RuleKind, rule: String, trigger: RPZTrigger,
        matched: DomainName?, detail: String?, watched: [PolicyHit]) -> Outcome
    {
        var action = kind.action
        switch source.config.override {
        case .log?:
            return .watched(PolicyHit(source: source.config.name, rule: rule, action: action.label,
                trigger: trigger.rawValue))
        case .passthru?:
            action = .passthru
        case .answer(let a)?:
            action = a.action
        case nil:
            break
        }
        let hit = PolicyHit(source: source.config.name, rule: rule, action: action.label, trigger: trigger.rawValue)
        let verb: String
        switch action {
        case .localData, .sinkhole: verb = "redirected"
        case .tcpOnly: verb = "sent to TCP"
        case .passthru: verb = "passed"
        default: verb = "blocked"
        }
        // The option's bytes written in one reserved buffer, the text straight into it: an interpolated string grew
        // its buffer twice, and a string of its own was one more allocation per blocked query (malloc probe on the
        // blocked mix).
        let code: ExtendedErrorCode = source.config.extendedError == .filtered ? .filtered : .blocked
        var option = EDNSOption.ExtendedErrorWriter(code,
            reserving: 32 + verb.utf8.count + source.config.name.utf8.count + rule.utf8.count)
        option.append("palisade: ")
        option.append(verb)
        option.append(" by ")
        option.append(source.config.name)
        option.append(" rule ")
        option.append(rule)
        if let matched { option.append(" (matched \(matched.descriptionWithoutDot))") }
        if let detail { option.append(" (\(detail))") }
        return .decided(PolicyDecision(action: action, hit: hit, matchedName: matched, watched: watched,
            extendedError: option.option))
    }

    private func notReady(_ source: CompiledPolicySource, watched: [PolicyHit]) -> Outcome {
        if source.config.override == .log {
            return .watched(PolicyHit(source: source.config.name, rule: "fail-closed", action: PolicyAction.notReady.label,
                trigger: "source"))
        }
        let hit = PolicyHit(source: source.config.name, rule: "fail-closed", action: PolicyAction.notReady.label,
            trigger: "source")
        return .decided(PolicyDecision(action: .notReady, hit: hit, watched: watched, extendedErrorCode: .notReady,
            extendedErrorText: "palisade: policy source \(source.config.name) has not loaded yet (fail-closed)"))
    }

    private func allowMatch(_ name: DomainName) -> PolicyDecision? {
        for s in self.allowSources {
            guard case let (kind, m)? = s.matchName(name) else { continue }
            let rule = s.ruleText(kind, m)
            let hit = PolicyHit(source: s.config.name, rule: rule, action: PolicyAction.allow.label,
                trigger: s.format == .rpz ? RPZTrigger.qname.rawValue : RPZTrigger.list.rawValue)
            return PolicyDecision(action: .allow, hit: hit, extendedErrorCode: .other,
                extendedErrorText: "palisade: allowed by \(s.config.name) rule \(rule)")
        }
        return nil
    }

    private static func watchOnly(_ watched: [PolicyHit]) -> PolicyDecision? {
        guard let first = watched.first else { return nil }
        var hit = first
        hit.action = PolicyAction.log.label
        return PolicyDecision(action: .log, hit: hit, watched: watched, extendedErrorCode: .other,
            extendedErrorText: "palisade: watched by \(first.source) rule \(first.rule)")
    }

    /// Hints the slots, then the entries, that ``evaluateQuery(name:type:client:)`` will read in every source's name
    /// index for each name of a burst: all slots first, so that their cache misses overlap, then the entries the
    /// (now cached) slots point to. Changes nothing. Only indexes larger than a core's cache take part: in a small one
    /// the lines are already cached and the hints would only cost time.
    func prefetch(_ batch: QueryNameBatch) {
        for step in [NameIndex.PrefetchStep.slots, .entries] {
            for s in self.sources where s.names.outgrowsCache {
                let index = s.names
                batch.forEach { index.prefetch(wire: $0, step) }
            }
        }
    }

    /// Evaluates the query-phase triggers: CLIENT-IP, QNAME and list entries, and allowlists.
    ///
    /// - Parameters:
    ///   - name: the query name.
    ///   - type: the query type (policy does not depend on it today; kept so rules may).
    ///   - client: the socket source address of the client (never ECS).
    /// - Returns: nil when nothing matched; otherwise the decision, which may be a non-rewriting one
    ///   (`passthru`, `allow`, `log`).
    public func evaluateQuery(name: DomainName, type: RecordType, client: IPAddress) -> PolicyDecision? {
        guard !self.sources.isEmpty else { return nil }
        let address = client.unmapped
        let allow = self.allowSources.isEmpty ? nil : self.allowMatch(name)
        var watched: [PolicyHit] = []
        for s in self.blockSources {
            if s.isNotReadyPlaceholder {
                if allow != nil { continue }
                switch self.notReady(s, watched: watched) {
                case .decided(let d): return d
                case .watched(let h):
                    watched.append(h)
                    continue
                }
            }
            if !s.clientIPs.isEmpty, let m = s.clientIPs.match(address) {
                let kind = s.rule(m.value)
                switch self.decide(s, kind, rule: CompiledPolicySource.ipTriggerText(m, label: "rpz-client-ip"),
                    trigger: .clientIP, matched: nil, detail: nil, watched: watched)
                {
                case .decided(let d): return d
                case .watched(let h):
                    watched.append(h)
                    continue
                }
            }
            if allow == nil, case let (kind, m)? = s.matchName(name) {
                switch self.decide(s, kind, rule: s.ruleText(kind, m),
                    trigger: s.format == .rpz ? .qname : .list, matched: nil, detail: nil, watched: watched)
                {
                case .decided(let d): return d
                case .watched(let h): watched.append(h)
                }
            }
        }
        if var a = allow {
            a.watched = watched
            return a
        }
        return Self.watchOnly(watched)
    }

    /// Evaluates the response-phase triggers on an upstream answer: QNAME and list rules on CNAME targets,
    /// response IP addresses, NSDNAME and NSIP.
    ///
    /// When the answer has no CNAME and no source has response triggers this returns at once. Otherwise the
    /// query-phase result is computed first: after a PASSTHRU or an allow the response is left alone, and its
    /// watch hits are not repeated (the query stage reported them). A forwarder only sees the NS records and
    /// glue the upstream chose to include, so NSDNAME and NSIP rules can only match those (most answers carry
    /// none).
    /// - Returns: nil when the response should be returned unchanged.
    public func evaluateResponse(name: DomainName, type: RecordType, client: IPAddress, response: DNSMessage)
        -> PolicyDecision?
    {
        if case .decided(let d) = self.responseVerdict(name: name, type: type, client: client, response: response) {
            return d
        }
        return nil
    }

    /// What ``evaluateResponse(name:type:client:response:)`` decides, and why nothing when it decides nothing.
    package enum ResponseVerdict: Sendable {
        /// A rule matched (a watch-only decision included).
        case decided(PolicyDecision)
        /// The answer matched nothing: the verdict holds for every client that asks this question under this
        /// engine (the query stage has already answered the clients its client-IP rules block).
        case clean
        /// The query phase exempted this query (PASSTHRU or allow), possibly for this client only: nothing about
        /// the answer was learned.
        case exempt
    }

    /// ``evaluateResponse(name:type:client:response:)``, telling a clean answer from an exempted query: only the
    /// first may be remembered for other clients (``CachedPacket/cleanUnderPolicy``).
    package func responseVerdict(name: DomainName, type: RecordType, client: IPAddress, response: DNSMessage)
        -> ResponseVerdict
    {
        let hasCNAME = response.answers.contains { $0.type == .cname }
        guard self.needsResponseCheck(hasCNAME: hasCNAME) else { return .clean }
        // Query-phase watch hits were reported by the query stage already; only new ones are collected.
        var watched: [PolicyHit] = []
        if let q = self.evaluateQuery(name: name, type: type, client: client) {
            switch q.action {
            case .log: break
            case .allow, .passthru: return .exempt
            default: return .decided(q)
            }
        }
        for s in self.blockSources where !s.isNotReadyPlaceholder {
            if hasCNAME && !s.names.isEmpty {
                for rr in response.answers {
                    guard case .cname(let t) = rr.rdata, t.target != name, case let (kind, m)? = s.matchName(t.target),
                        self.allowMatch(t.target) == nil
                    else { continue }
                    switch self.decide(s, kind, rule: s.ruleText(kind, m),
                        trigger: s.format == .rpz ? .qname : .list, matched: t.target, detail: nil, watched: watched)
                    {
                    case .decided(let d): return .decided(d)
                    case .watched(let h): watched.append(h)
                    }
                    break
                }
            }
            if !s.responseIPs.isEmpty, case let (m, address)? = Self.bestAddress(s.responseIPs, response.answers, owners: nil) {
                let kind = s.rule(m.value)
                switch self.decide(s, kind, rule: s.responseIPRuleText(kind, m), trigger: .responseIP, matched: nil,
                    detail: "answer \(address)", watched: watched)
                {
                case .decided(let d): return .decided(d)
                case .watched(let h):
                    watched.append(h)
                    continue
                }
            }
            if !s.nsdnames.isEmpty, case let (kind, m, ns)? = Self.bestNSDName(s, response) {
                switch self.decide(s, kind, rule: s.ruleText(kind, m, nsdname: true, suffix: ".rpz-nsdname"),
                    trigger: .nsdname, matched: ns, detail: nil, watched: watched)
                {
                case .decided(let d): return .decided(d)
                case .watched(let h):
                    watched.append(h)
                    continue
                }
            }
            if !s.nsIPs.isEmpty, case let (m, address)? = Self.bestAddress(s.nsIPs, response.additionals, owners: response) {
                switch self.decide(s, s.rule(m.value), rule: CompiledPolicySource.ipTriggerText(m, label: "rpz-nsip"),
                    trigger: .nsip, matched: nil, detail: "name server \(address)", watched: watched)
                {
                case .decided(let d): return .decided(d)
                case .watched(let h): watched.append(h)
                }
            }
        }
        return Self.watchOnly(watched).map { .decided($0) } ?? .clean
    }

    /// The best address match among A/AAAA records: longest prefix, then smallest address (RPZ §5).
    /// With `owners`, only glue for a name server named in that message's NS records counts.
    private static func bestAddress(_ index: CIDRIndex, _ records: [ResourceRecord], owners: DNSMessage?)
        -> (CIDRIndex.Match, IPAddress)?
    {
        var best: (CIDRIndex.Match, IPAddress)? = nil
        for rr in records {
            let address: IPAddress
            switch rr.rdata {
            case .a(let a): address = .v4(a.address)
            case .aaaa(let a): address = .v6(a.address)
            default: continue
            }
            if let owners, !Self.isNameServer(rr.name, in: owners) { continue }
            guard let m = index.match(address) else { continue }
            if case let (b, _)? = best {
                if m.prefixLength < b.prefixLength { continue }
                if m.prefixLength == b.prefixLength && !Self.less(m.network, b.network) { continue }
            }
            best = (m, address)
        }
        return best
    }

    private static func less(_ a: IPAddress, _ b: IPAddress) -> Bool {
        switch (a, b) {
        case (.v4(let x), .v4(let y)): x < y
        case (.v6(let x), .v6(let y)): x < y
        case (.v4, .v6): true
        case (.v6, .v4): false
        }
    }

    private static func isNameServer(_ name: DomainName, in message: DNSMessage) -> Bool {
        for rr in message.authorities {
            if case .ns(let t) = rr.rdata, t.target == name { return true }
        }
        for rr in message.answers {
            if case .ns(let t) = rr.rdata, t.target == name { return true }
        }
        return false
    }

    /// The NSDNAME match for the name servers in the response; among several, the smallest name in DNSSEC
    /// order (RPZ §5).
    private static func bestNSDName(_ s: CompiledPolicySource, _ message: DNSMessage)
        -> (RuleKind, NameIndex.Match, DomainName)?
    {
        var best: (RuleKind, NameIndex.Match, DomainName)? = nil
        for section in [message.authorities, message.answers] {
            for rr in section {
                guard case .ns(let t) = rr.rdata, case let (kind, m)? = s.matchNSDName(t.target) else { continue }
                if let b = best, !(t.target < b.2) { continue }
                best = (kind, m, t.target)
            }
        }
        return best
    }
}

/// The current ``PolicyEngine``, swapped atomically on reload so queries never wait for a load.
///
/// Readers take a `Mutex` only long enough to copy a reference, so a reload never stalls a query; the
/// previous engine stays valid for the queries still using it.
public final class PolicyEngineReference: Sendable {
    private let storage: Mutex<PolicyEngine>

    /// Wraps an initial engine (empty by default).
    public init(_ engine: PolicyEngine = .empty) {
        self.storage = Mutex(engine)
    }

    /// The engine to use for the next query.
    public var current: PolicyEngine { self.storage.withLock { $0 } }

    /// Installs `engine` and returns the one it replaces.
    @discardableResult
    public func replace(with engine: PolicyEngine) -> PolicyEngine {
        self.storage.withLock { current in
            let old = current
            current = engine
            return old
        }
    }
}
