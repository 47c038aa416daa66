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

/// Rule changes laid over a compiled source's name indexes by incremental (IXFR) updates, so an update of
/// k records costs O(k) instead of a rebuild of the whole index.
///
/// Each overlay index hashes like the base index it covers (``NameIndex/init(sharingHashWith:)``), so a
/// lookup checks both in one pass over the query name. A slot's overlay code is
/// ``NameIndex/overlayRemoved`` (the base's rule is gone), ``NameIndex/overlaySet`` (local data, in ``kinds``)
/// or a special action's code (``specialCodeBase`` + its position). The overlay is copied on each update (it
/// is bounded by the merge threshold); the base is shared, never copied.
package struct PolicyOverlay: Sendable {
    /// Changed QNAME slots; nil while none changed.
    package var names: NameIndex?
    /// Changed NSDNAME slots; nil while none changed.
    package var nsdnames: NameIndex?
    /// The local-data rules set by the overlay, keyed by ``key(offset:slot:nsdname:)``. Special actions
    /// (NXDOMAIN, NODATA, PASSTHRU, DROP, TCP-only: nearly every rule of a threat feed) are encoded in the
    /// overlay code instead (``specialCodeBase`` + their position), so copying the overlay on an update
    /// copies flat arrays, not a dictionary of rules.
    package var kinds: [UInt64: RuleKind] = [:]

    /// Overlay code of the first special action; the action at position k of the RPZ special targets has
    /// code `specialCodeBase + k`.
    package static let specialCodeBase: UInt8 = NameIndex.overlaySet + 1

    /// The rule an overlay code and slot stand for.
    package func rule(code: UInt8, offset: UInt32, slot: NameIndex.Slot, nsdname: Bool) -> RuleKind? {
        if code >= Self.specialCodeBase, let action = RPZCompiler.specialAction(Int(code - Self.specialCodeBase)) {
            return RuleKind(action: action, form: .rpz)
        }
        return self.kinds[Self.key(offset: offset, slot: slot, nsdname: nsdname)]
    }

    /// An empty overlay.
    package init() {}

    /// Names touched (set or removed) in the overlay.
    package var count: Int { (self.names?.count ?? 0) + (self.nsdnames?.count ?? 0) }

    /// True when nothing is overlaid.
    package var isEmpty: Bool { self.count == 0 }

    /// The key of an overlay slot in ``kinds``.
    package static func key(offset: UInt32, slot: NameIndex.Slot, nsdname: Bool) -> UInt64 {
        (nsdname ? 1 << 63 : 0) | UInt64(offset) << 1 | (slot == .below ? 1 : 0)
    }

    /// Approximate bytes held.
    package var memoryBytes: Int {
        (self.names?.memoryBytes ?? 0) + (self.nsdnames?.memoryBytes ?? 0) + self.kinds.count * 64
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
    /// Changes applied incrementally on top of ``names`` and ``nsdnames`` (empty after a full compile).
    package let overlay: PolicyOverlay

    package init(config: PolicySourceConfig, format: PolicySourceConfig.Kind, names: NameIndex, exceptions: NameIndex,
        nsdnames: NameIndex, clientIPs: CIDRIndex, responseIPs: CIDRIndex, nsIPs: CIDRIndex, table: RuleTable,
        apex: DomainName?, serial: UInt32?, stats: PolicyLoadStats, isNotReadyPlaceholder: Bool = false,
        overlay: PolicyOverlay = PolicyOverlay())
    {
        self.overlay = overlay
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
            isNotReadyPlaceholder: self.isNotReadyPlaceholder, overlay: self.overlay)
    }

    /// Number of rules.
    package var ruleCount: Int { self.stats.rules }

    /// Approximate bytes held by the indexes.
    package var memoryBytes: Int {
        self.names.memoryBytes + self.exceptions.memoryBytes + self.nsdnames.memoryBytes + self.overlay.memoryBytes
    }

    /// True when this source has rules that look at the response.
    package var hasResponseTriggers: Bool { !self.responseIPs.isEmpty || !self.nsdnames.isEmpty || !self.nsIPs.isEmpty }

    // MARK: Matching

    /// A name match in this source, after adblock exceptions: the rule and its printed form.
    package func matchName(_ name: DomainName) -> (kind: RuleKind, match: NameIndex.Match)? {
        let found: NameIndex.Match?
        if let o = self.overlay.names { found = self.names.match(name, overlay: o) } else { found = self.names.match(name) }
        guard let m = found else { return nil }
        if !self.exceptions.isEmpty, self.exceptions.match(name) != nil { return nil }
        return (self.kind(of: m, nsdname: false), m)
    }

    /// An NSDNAME match.
    package func matchNSDName(_ name: DomainName) -> (kind: RuleKind, match: NameIndex.Match)? {
        let found: NameIndex.Match?
        if let o = self.overlay.nsdnames { found = self.nsdnames.match(name, overlay: o) } else { found = self.nsdnames.match(name) }
        guard let m = found else { return nil }
        return (self.kind(of: m, nsdname: true), m)
    }

    /// The rule kind behind a name match, from the overlay or the base table.
    package func kind(of m: NameIndex.Match, nsdname: Bool) -> RuleKind {
        if m.inOverlay {
            return self.overlay.rule(code: m.code, offset: m.offset, slot: m.slot, nsdname: nsdname)
                ?? RuleKind(action: .passthru, form: .rpz)
        }
        return self.table.rules[self.table.index(of: m)]
    }

    /// The rule kind stored as a CIDR value.
    package func rule(_ value: UInt32) -> RuleKind {
        Int(value) < self.table.rules.count ? self.table.rules[Int(value)] : RuleKind(action: .passthru, form: .rpz)
    }

    // MARK: Printing rules

    /// The text of a matched name rule, in the source's syntax.
    /// - Parameters:
    ///   - nsdname: whether the match came from ``matchNSDName(_:)`` (else ``matchName(_:)``).
    ///   - suffix: appended to the name (`.rpz-nsdname`).
    package func ruleText(_ kind: RuleKind, _ match: NameIndex.Match, nsdname: Bool = false, suffix: String = "")
        -> String
    {
        let index: NameIndex
        if match.inOverlay, let o = nsdname ? self.overlay.nsdnames : self.overlay.names {
            index = o
        } else {
            index = nsdname ? self.nsdnames : self.names
        }
        // The prefix and the name rendered into one string from the index's bytes (this runs for every blocked
        // query), then whatever follows the name.
        let prefix: StaticString
        var tail = suffix
        switch kind.form {
        case .rpz: prefix = match.slot == .below ? "*." : ""
        case .plain: prefix = ""
        case .star: prefix = "*."
        case .adblock: prefix = "||"; tail += "^"
        case .adblockException: prefix = "@@||"; tail += "^"
        }
        var text = index.text(at: match.offset, prefix: prefix)
        // A wildcard RPZ rule below the root is the owner `*`, not `*.`.
        if kind.form == .rpz, match.slot == .below, text == "*.", tail.isEmpty { return "*" }
        text += tail
        return text
    }

    /// The text of response-IP rule `kind` matched as `m`: the RPZ owner (`32.1.2.0.192.rpz-ip`), or a list's
    /// address entry as the list wrote it (`192.0.2.1`; `||192.0.2.1^` in an adblock list).
    package func responseIPRuleText(_ kind: RuleKind, _ m: CIDRIndex.Match) -> String {
        switch self.format {
        case .rpz: Self.ipTriggerText(m, label: "rpz-ip")
        default: kind.form == .adblock ? "||\(m.network)^" : "\(m.network)"
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
