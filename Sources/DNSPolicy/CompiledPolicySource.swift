package import DNSWire

/// How a rule was written, so a hit can be reported in the source's own syntax.
package enum RuleForm: Sendable, Hashable {
    /// An RPZ trigger (`evil.example`, `*.evil.example`, `32.1.2.0.192.rpz-ip`).
    case rpz
    /// A bare name in a domains or hosts list (`evil.example`), whether or not it covers subdomains.
    case plain
    /// `*.evil.example` in a domains list.
    case star
    /// `||evil.example^` (or a bare hostname) in an adblock list.
    case adblock
    /// `@@||evil.example^` in an adblock list.
    case adblockException
}

/// One distinct rule meaning in a source: an action and the form it was written in.
package struct RuleKind: Sendable, Hashable {
    package var action: PolicyAction
    package var form: RuleForm
}

/// Where a trigger sits in an RPZ zone (draft-vixie-dnsop-dns-rpz §4).
package enum RPZTrigger: String, Sendable, Hashable {
    case qname
    case clientIP = "client-ip"
    case responseIP = "response-ip"
    case nsdname
    case nsip
    /// A list entry (domains, hosts, adblock).
    case list
}

/// Assigns small codes to rule kinds: 1…254 fit in the name index's byte, the rest overflow to a table.
package struct RuleTable: Sendable {
    package private(set) var rules: [RuleKind] = [RuleKind(action: .passthru, form: .plain)]
    private var lookup: [RuleKind: Int] = [:]
    /// Codes beyond 254, keyed by `name offset << 1 | below`.
    package private(set) var overflow: [UInt64: Int] = [:]

    package init() {}

    /// The index of `kind`, adding it when new.
    package mutating func index(of kind: RuleKind) -> Int {
        if let i = self.lookup[kind] { return i }
        self.rules.append(kind)
        self.lookup[kind] = self.rules.count - 1
        return self.rules.count - 1
    }

    /// Stores rule `index` at a name entry.
    package mutating func assign(_ index: Int, to offset: UInt32, _ slot: NameIndex.Slot, labelCount: Int,
        in names: inout NameIndex)
    {
        if index < 255 {
            names.setCode(UInt8(index), at: offset, slot, labelCount: labelCount)
        } else {
            names.setCode(255, at: offset, slot, labelCount: labelCount)
            self.overflow[UInt64(offset) << 1 | (slot == .below ? 1 : 0)] = index
        }
    }

    /// The rule index behind a name-index match.
    package func index(of match: NameIndex.Match) -> Int {
        guard match.code == 255 else { return Int(match.code) }
        return self.overflow[UInt64(match.offset) << 1 | (match.slot == .below ? 1 : 0)] ?? 0
    }
}

/// A source compiled into indexes: immutable, shared between engine snapshots.
package final class CompiledPolicySource: Sendable {
    /// The configuration it was compiled (or relabelled) with.
    package let config: PolicySourceConfig
    /// The detected format (never `.auto`).
    package let format: PolicySourceConfig.Kind
    /// QNAME triggers (RPZ) or list entries.
    package let names: NameIndex
    /// `@@` exceptions of an adblock block list; they only cancel this source's own rules.
    package let exceptions: NameIndex
    /// NSDNAME triggers.
    package let nsdnames: NameIndex
    /// CLIENT-IP triggers; values index ``rules``.
    package let clientIPs: CIDRIndex
    /// Response IP triggers.
    package let responseIPs: CIDRIndex
    /// NSIP triggers.
    package let nsIPs: CIDRIndex
    /// Rule kinds by code.
    package let table: RuleTable
    /// The RPZ zone apex (SOA owner), for printing rules.
    package let apex: DomainName?
    /// The RPZ SOA serial.
    package let serial: UInt32?
    /// Counts from compiling.
    package let stats: PolicyLoadStats
    /// True for the stand-in of a fail-closed source that has never loaded.
    package let isNotReadyPlaceholder: Bool

    package init(config: PolicySourceConfig, format: PolicySourceConfig.Kind, names: NameIndex, exceptions: NameIndex,
        nsdnames: NameIndex, clientIPs: CIDRIndex, responseIPs: CIDRIndex, nsIPs: CIDRIndex, table: RuleTable,
        apex: DomainName?, serial: UInt32?, stats: PolicyLoadStats, isNotReadyPlaceholder: Bool = false)
    {
        self.config = config
        self.format = format
        self.names = names
        self.exceptions = exceptions
        self.nsdnames = nsdnames
        self.clientIPs = clientIPs
        self.responseIPs = responseIPs
        self.nsIPs = nsIPs
        self.table = table
        self.apex = apex
        self.serial = serial
        self.stats = stats
        self.isNotReadyPlaceholder = isNotReadyPlaceholder
    }

    /// The stand-in for a fail-closed source that has never loaded.
    package static func notReady(_ config: PolicySourceConfig) -> CompiledPolicySource {
        CompiledPolicySource(config: config, format: config.kind, names: NameIndex(), exceptions: NameIndex(),
            nsdnames: NameIndex(), clientIPs: CIDRIndex(), responseIPs: CIDRIndex(), nsIPs: CIDRIndex(),
            table: RuleTable(), apex: nil, serial: nil, stats: PolicyLoadStats(), isNotReadyPlaceholder: true)
    }

    /// The same indexes under a new configuration (name, override, EDE or fail mode changed).
    package func relabelled(_ config: PolicySourceConfig) -> CompiledPolicySource {
        CompiledPolicySource(config: config, format: self.format, names: self.names, exceptions: self.exceptions,
            nsdnames: self.nsdnames, clientIPs: self.clientIPs, responseIPs: self.responseIPs, nsIPs: self.nsIPs,
            table: self.table, apex: self.apex, serial: self.serial, stats: self.stats,
            isNotReadyPlaceholder: self.isNotReadyPlaceholder)
    }

    /// Number of rules.
    package var ruleCount: Int { self.stats.rules }

    /// Approximate bytes held by the indexes.
    package var memoryBytes: Int { self.names.memoryBytes + self.exceptions.memoryBytes + self.nsdnames.memoryBytes }

    /// True when this source has rules that look at the response.
    package var hasResponseTriggers: Bool { !self.responseIPs.isEmpty || !self.nsdnames.isEmpty || !self.nsIPs.isEmpty }

    // MARK: Matching

    /// A name match in this source, after adblock exceptions: the rule and its printed form.
    package func matchName(_ name: DomainName) -> (kind: RuleKind, match: NameIndex.Match)? {
        guard let m = self.names.match(name) else { return nil }
        if !self.exceptions.isEmpty, self.exceptions.match(name) != nil { return nil }
        let kind = self.table.rules[self.table.index(of: m)]
        return (kind, m)
    }

    /// An NSDNAME match.
    package func matchNSDName(_ name: DomainName) -> (kind: RuleKind, match: NameIndex.Match)? {
        guard let m = self.nsdnames.match(name) else { return nil }
        return (self.table.rules[self.table.index(of: m)], m)
    }

    /// The rule kind stored as a CIDR value.
    package func rule(_ value: UInt32) -> RuleKind {
        Int(value) < self.table.rules.count ? self.table.rules[Int(value)] : RuleKind(action: .passthru, form: .rpz)
    }

    // MARK: Printing rules

    /// The text of a matched name rule, in the source's syntax.
    package func ruleText(_ kind: RuleKind, _ match: NameIndex.Match, in index: NameIndex, suffix: String = "")
        -> String
    {
        let n = index.name(at: match.offset)
        var base = n.isRoot ? "" : String(n.description.dropLast())
        base += suffix
        switch kind.form {
        case .rpz:
            guard match.slot == .below else { return base }
            return base.isEmpty ? "*" : "*." + base
        case .plain: return base
        case .star: return "*." + base
        case .adblock: return "||\(base)^"
        case .adblockException: return "@@||\(base)^"
        }
    }

    /// The RPZ owner form of an IP trigger, e.g. `24.0.2.0.192.rpz-ip`.
    package static func ipTriggerText(_ m: CIDRIndex.Match, label: String) -> String {
        switch m.network {
        case .v4(let a):
            let o = a.bytes
            return "\(m.prefixLength).\(o[3]).\(o[2]).\(o[1]).\(o[0]).\(label)"
        case .v6(let a):
            let words = a.words
            // Longest run of zero words becomes `zz` (draft-vixie-dnsop-dns-rpz §4.1).
            let run = a.longestZeroRun
            let bestStart = run?.start ?? -1
            let bestLen = run?.length ?? 1
            var parts: [String] = []
            var k = 7
            while k >= 0 {
                if bestStart >= 0 && k == bestStart + bestLen - 1 {
                    parts.append("zz")
                    k = bestStart - 1
                    continue
                }
                parts.append(String(words[k], radix: 16))
                k -= 1
            }
            return "\(m.prefixLength).\(parts.joined(separator: ".")).\(label)"
        }
    }
}
