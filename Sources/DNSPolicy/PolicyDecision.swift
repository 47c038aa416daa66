public import DNSPipeline
public import DNSWire

/// The outcome of evaluating policy for one query: what to do, and which source and rule said so.
public struct PolicyDecision: Sendable {
    /// The effective action (after the source's override).
    public var action: PolicyAction
    /// Source, rule, action label and trigger, for the log, metrics and ``AnswerSource/policy(_:)``.
    public var hit: PolicyHit
    /// The name that matched when it is not the query name (a CNAME target, an NS name).
    public var matchedName: DomainName?
    /// Watch-mode (`override: log`) hits met before this decision, with the action they would have taken.
    public var watched: [PolicyHit]
    /// The answer's EDNS options: its one Extended DNS Error (RFC 8914), built once, so that an answer shares the
    /// array instead of allocating one (a blocked query built the text, then the option, then the array).
    public private(set) var extendedErrors: [EDNSOption]

    /// Creates a decision.
    public init(action: PolicyAction, hit: PolicyHit, matchedName: DomainName? = nil, watched: [PolicyHit] = [],
        extendedErrorCode: ExtendedErrorCode, extendedErrorText: String)
    {
        self.init(action: action, hit: hit, matchedName: matchedName, watched: watched,
            extendedError: .extendedError(extendedErrorCode, text: extendedErrorText))
    }

    /// Creates a decision whose Extended DNS Error option is already built.
    init(action: PolicyAction, hit: PolicyHit, matchedName: DomainName?, watched: [PolicyHit],
        extendedError: EDNSOption)
    {
        self.action = action
        self.hit = hit
        self.matchedName = matchedName
        self.watched = watched
        self.extendedErrors = [extendedError]
    }

    /// The EDE option for the answer.
    public var extendedError: EDNSOption { self.extendedErrors[0] }
    /// The EDE INFO-CODE the answer carries (RFC 8914); setting it rebuilds the option.
    public var extendedErrorCode: ExtendedErrorCode {
        get { self.extendedError.extendedErrorValue?.code ?? .other }
        set { self.extendedErrors = [.extendedError(newValue, text: self.extendedErrorText)] }
    }
    /// The EDE EXTRA-TEXT: `palisade: blocked by urlhaus rule *.evil.example`; setting it rebuilds the option.
    public var extendedErrorText: String {
        get { self.extendedError.extendedErrorValue?.text ?? "" }
        set { self.extendedErrors = [.extendedError(self.extendedErrorCode, text: newValue)] }
    }

    /// One finding per watch-mode hit, so the query log shows what would have been blocked.
    public var watchFindings: [Finding] {
        self.watched.map {
            Finding(detector: "policy", score: 1,
                detail: "watch: \($0.source) rule \($0.rule) would \($0.action) (\($0.trigger))", enforced: false)
        }
    }

    /// TTL of synthesised sinkhole answers, in seconds: short, so an unblocked name recovers quickly.
    public static let sinkholeTTL: UInt32 = 60

    /// What a stage does with a decision.
    package enum Plan: Sendable {
        /// Reply with this.
        case answer(Resolution)
        /// Answer normally (passthru, allow, watch, tcp-only over TCP), adding these findings.
        case pass([Finding])
        /// Resolve `query` (the walled-garden target) below, then put `prefix` (the CNAME chain ending in
        /// the walled-garden CNAME) in front of its answer.
        case chase(Query, [ResourceRecord])
    }

    /// How to carry out this decision for `query` in the query phase (the rule matched the query name).
    package func plan(for query: Query) -> Plan {
        self.plan(for: query, response: nil)
    }

    /// How to carry out this decision for `query`.
    ///
    /// When a QNAME or list rule matched a CNAME target in `response` (``matchedName``), the answer keeps
    /// the CNAME chain from the query name up to that target and applies the action at the target: NXDOMAIN
    /// and NODATA keep the chain and set the rcode, local data is owned by the target and follows the chain
    /// (draft-vixie-dnsop-dns-rpz §6; BIND and Unbound answer the same way). Otherwise the action applies
    /// to the query name with an empty answer.
    /// - Parameters:
    ///   - query: the client's query.
    ///   - response: the upstream answer the decision was made on (response phase), or nil.
    package func plan(for query: Query, response: DNSMessage?) -> Plan {
        let question = query.question
        let findings = self.watchFindings
        var owner = question.name
        var chain: [ResourceRecord] = []
        if let target = self.matchedName, let response,
            self.hit.trigger == RPZTrigger.qname.rawValue || self.hit.trigger == RPZTrigger.list.rawValue,
            let prefix = Self.chain(in: response.answers, from: question.name, to: target)
        {
            owner = target
            chain = prefix
        }
        func reply(_ rcode: ResponseCode, answers: [ResourceRecord] = [], truncated: Bool = false) -> Plan {
            var m = query.message.makeResponse(rcode: rcode)
            m.answers = chain + answers
            m.header.truncated = truncated
            return .answer(Resolution(reply: .message(m), source: .policy(self.hit), findings: findings,
                extendedErrors: self.extendedErrors))
        }
        switch self.action {
        case .passthru, .allow, .log:
            return .pass(findings)
        case .tcpOnly:
            guard query.client.transport == .udp else { return .pass(findings) }
            chain = []
            return reply(.noError, truncated: true)
        case .nxdomain:
            return reply(.nxDomain)
        case .nodata:
            return reply(.noError)
        case .refused:
            return reply(.refused)
        case .notReady:
            return reply(.servFail)
        case .drop:
            return .answer(Resolution(reply: .drop, source: .policy(self.hit), findings: findings,
                extendedErrors: self.extendedErrors))
        case .sinkhole(let addresses):
            var answers: [ResourceRecord] = []
            for a in addresses {
                switch a {
                case .v4(let v4) where question.type == .a:
                    answers.append(ResourceRecord(name: owner, ttl: Self.sinkholeTTL, rdata: .a(.init(address: v4))))
                case .v6(let v6) where question.type == .aaaa:
                    answers.append(ResourceRecord(name: owner, ttl: Self.sinkholeTTL, rdata: .aaaa(.init(address: v6))))
                default:
                    break
                }
            }
            return reply(.noError, answers: answers)
        case .localData(let data):
            if let target = data.cnameTarget {
                let ttl = data.records.first { $0.type == .cname }?.ttl ?? Self.sinkholeTTL
                let expanded = Self.expand(target, for: owner)
                let cname = ResourceRecord(name: owner, ttl: ttl, rdata: .cname(.init(target: expanded)))
                if question.type == .cname { return reply(.noError, answers: [cname]) }
                var chased = query
                chased.message.questions = [Question(name: expanded, type: question.type, dnsClass: question.dnsClass)]
                return .chase(chased, chain + [cname])
            }
            let answers = data.records.filter { $0.type == question.type }.map {
                var r = $0
                r.name = owner
                return r
            }
            return reply(.noError, answers: answers)
        }
    }

    /// The CNAME records leading from `name` to `target` in `answers`, in chain order; nil when `target` is
    /// not reached (or the chain loops).
    static func chain(in answers: [ResourceRecord], from name: DomainName, to target: DomainName) -> [ResourceRecord]? {
        var out: [ResourceRecord] = []
        var current = name
        while out.count < answers.count {
            guard let link = answers.first(where: { $0.type == .cname && $0.name == current }),
                case .cname(let c) = link.rdata
            else { return nil }
            out.append(link)
            if c.target == target { return out }
            current = c.target
        }
        return nil
    }

    /// A CNAME target `*.garden.example` becomes `<query name>.garden.example`; when that would be too long,
    /// the target without the `*` label.
    static func expand(_ target: DomainName, for name: DomainName) -> DomainName {
        guard target.isWildcard, let base = target.parent else { return target }
        return (try? name.appending(base)) ?? base
    }

    /// Combines the CNAME chain ending in the walled-garden CNAME with the answer for its target.
    package func merge(_ chased: Resolution, prefix: [ResourceRecord], for query: Query) -> Resolution {
        var m = query.message.makeResponse(rcode: .noError)
        m.answers = prefix
        if let answer = chased.message {
            m.answers += answer.answers
            m.rcode = answer.rcode
        }
        return Resolution(reply: .message(m), source: .policy(self.hit), findings: chased.findings + self.watchFindings,
            extendedErrors: self.extendedErrors)
    }
}

extension Resolution {
    /// The same resolution with `findings` appended.
    func adding(_ findings: [Finding]) -> Resolution {
        guard !findings.isEmpty else { return self }
        var r = self
        r.findings += findings
        return r
    }
}
