package import DNSWire

/// Applies an incremental change (the records an IXFR deleted and added, RFC 1995) to a compiled RPZ source
/// without rebuilding its index.
///
/// Only the triggers whose records changed are looked at: each one's current rule is read back from the
/// source (the base index under the overlay), turned into the records that define it, changed, and turned
/// into a rule again, exactly as ``RPZCompiler`` would. Name triggers (QNAME, NSDNAME) go to the source's
/// ``PolicyOverlay``, so the base index is shared, never copied: cost O(k) for k changed records. IP
/// triggers (CLIENT-IP, response IP, NSIP), which are few, are rebuilt into new CIDR indexes when one of
/// them changes. A change that does not fit the copy (deleting a record it does not hold, a conflicting
/// action, local data next to a CNAME) throws ``PolicyLoadError/Code/notApplicable``: the caller then
/// transfers and compiles the whole zone, and the copy held stays in use until that succeeds.
package struct RPZUpdate: Sendable {
    /// One change, in the order the transfer made it: the same type incremental fetchers return.
    package typealias Change = FeedRecordChange

    /// The changes in order (an IXFR of several diffs may add a record and delete it again). SOA records
    /// are ignored.
    package var changes: [Change]
    /// The serial the change starts from; nil skips the check.
    package var fromSerial: UInt32?
    /// The zone's serial after the change.
    package var toSerial: UInt32?

    /// Creates an update from changes in order.
    package init(changes: [Change], fromSerial: UInt32?, toSerial: UInt32?) {
        self.changes = changes
        self.fromSerial = fromSerial
        self.toSerial = toSerial
    }

    /// Creates an update of one IXFR diff: its deletions, then its additions (RFC 1995 §4).
    package init(deleted: [ResourceRecord], added: [ResourceRecord], fromSerial: UInt32?, toSerial: UInt32?) {
        self.init(changes: deleted.map { .deleted($0) } + added.map { .added($0) }, fromSerial: fromSerial, toSerial: toSerial)
    }

    /// When an overlay holds this many names, merging (a full compile, off the query path) is due: lookups
    /// then probe two indexes, and the overlay is copied on every update.
    package static func mergeThreshold(baseCount: Int) -> Int { Swift.max(4096, baseCount / 16) }
}

/// What one trigger holds while an update is applied.
private enum TriggerState: Equatable {
    case none
    /// A special action: the position in ``RPZCompiler/specialTargets``.
    case special(Int)
    /// Local data records (owners normalised to the root, as ``PolicyLocalData`` keeps them).
    case local([ResourceRecord])
}

extension CompiledPolicySource {
    /// Whether the overlay has grown enough that a full compile should replace this source.
    package var needsMerge: Bool {
        self.overlay.count >= RPZUpdate.mergeThreshold(baseCount: self.names.count + self.nsdnames.count)
    }

    /// This source with `update` applied (see ``RPZUpdate``).
    /// - Throws: ``PolicyLoadError`` `.notApplicable` when the update does not fit this copy (it is left
    ///   unchanged: sources are immutable).
    package func applying(_ update: RPZUpdate) throws(PolicyLoadError) -> CompiledPolicySource {
        let name = self.config.name
        func notApplicable(_ why: String) -> PolicyLoadError {
            PolicyLoadError(.notApplicable, source: name, "incremental update of '\(name)' does not apply: \(why)")
        }
        guard self.format == .rpz, let apex = self.apex else {
            throw notApplicable("only RPZ zones are updated incrementally")
        }
        if let from = update.fromSerial, from != self.serial {
            throw notApplicable("it starts at serial \(from) but the copy is at serial \(self.serial.map(String.init) ?? "none")")
        }
        // Only for classifying owner names and special targets: its own indexes stay empty.
        let classifier = RPZCompiler(config: self.config, fileName: self.config.location, expectedRecords: 0,
            expectedBytes: 0)
        var order: [RPZCompiler.TriggerKey] = []
        var states: [RPZCompiler.TriggerKey: (trigger: RPZCompiler.Trigger, original: RuleKind?, state: TriggerState)] = [:]
        var entries = self.stats.entries

        func relevant(_ rr: ResourceRecord) -> Bool {
            switch rr.type {
            case .soa, .rrsig, .nsec, .nsec3, .dnskey, .nsec3param, .ds: return false
            default: return rr.name != apex
            }
        }
        func touch(_ rr: ResourceRecord) throws(PolicyLoadError) -> RPZCompiler.TriggerKey {
            guard rr.name.isSubdomain(of: apex) else { throw notApplicable("owner \(rr.name) is outside \(apex)") }
            let t: RPZCompiler.Trigger
            do throws(ZoneFileError) {
                t = try RPZCompiler.trigger(of: rr.name, apex: apex, line: 0, fileName: self.config.location)
            } catch {
                throw notApplicable(error.message)
            }
            let key = classifier.key(t, owner: rr.name)
            if states[key] == nil {
                let original = self.currentRule(key)
                states[key] = (t, original, Self.state(of: original))
                order.append(key)
            }
            return key
        }
        func special(_ rr: ResourceRecord, _ t: RPZCompiler.Trigger) -> Int? {
            guard case .cname(let c) = rr.rdata else { return nil }
            return RPZCompiler.special(c.target, trigger: t, owner: rr.name)
        }

        for change in update.changes {
            switch change {
            case .deleted(let rr) where relevant(rr):
                let key = try touch(rr)
                // Invariant: touch(_:) stored the key.
                guard var entry = states[key] else { continue }
                entries -= 1
                entry.state = try Self.deleting(rr, from: entry.state, special: special(rr, entry.trigger),
                    notApplicable: notApplicable)
                states[key] = entry
            case .added(let rr) where relevant(rr):
                let key = try touch(rr)
                // Invariant: touch(_:) stored the key.
                guard var entry = states[key] else { continue }
                entries += 1
                entry.state = try Self.adding(rr, to: entry.state, special: special(rr, entry.trigger),
                    notApplicable: notApplicable)
                states[key] = entry
            default:
                continue
            }
        }

        var overlay = self.overlay
        var table = self.table
        var stats = self.stats
        var clientIPs: CIDRIndex.Builder?
        var responseIPs: CIDRIndex.Builder?
        var nsIPs: CIDRIndex.Builder?
        for key in order {
            // Invariant: every key in `order` is in `states`.
            guard let entry = states[key] else { continue }
            let rule = Self.rule(of: entry.state)
            guard rule != entry.original else { continue }
            if entry.original == nil { stats.rules += 1 }
            if rule == nil { stats.rules -= 1 }
            switch key.trigger {
            case .qname, .nsdname, .list:
                try Self.place(rule, key: key, labels: entry.trigger.labels, base: key.trigger == .nsdname ? self.nsdnames : self.names,
                    in: &overlay, notApplicable: notApplicable)
            case .clientIP, .responseIP, .nsip:
                guard let address = key.address else { continue }
                let value = rule.map { UInt32(table.index(of: $0)) }
                func change(_ builder: inout CIDRIndex.Builder?, _ index: CIDRIndex) {
                    var b = builder ?? CIDRIndex.Builder(index)
                    b.remove(address, prefixLength: key.prefixLength)
                    if let value { _ = b.insert(address, prefixLength: key.prefixLength, value: value) }
                    builder = b
                }
                switch key.trigger {
                case .clientIP: change(&clientIPs, self.clientIPs)
                case .responseIP: change(&responseIPs, self.responseIPs)
                default: change(&nsIPs, self.nsIPs)
                }
            }
        }
        stats.entries = Swift.max(0, entries)
        return CompiledPolicySource(config: self.config, format: self.format, names: self.names, exceptions: self.exceptions,
            nsdnames: self.nsdnames, clientIPs: clientIPs?.build() ?? self.clientIPs,
            responseIPs: responseIPs?.build() ?? self.responseIPs, nsIPs: nsIPs?.build() ?? self.nsIPs, table: table,
            apex: self.apex, serial: update.toSerial ?? self.serial, stats: stats,
            isNotReadyPlaceholder: self.isNotReadyPlaceholder, overlay: overlay)
    }

    private static func sameData(_ a: ResourceRecord, _ b: ResourceRecord) -> Bool {
        a.type == b.type && a.dnsClass == b.dnsClass && a.rdata == b.rdata
    }

    /// A trigger's state after deleting `rr` (`special`: its special action, if it is one).
    private static func deleting(_ rr: ResourceRecord, from state: TriggerState, special: Int?,
        notApplicable: (String) -> PolicyLoadError) throws(PolicyLoadError) -> TriggerState
    {
        if let k = special {
            guard state == .special(k) else { throw notApplicable("it deletes \(rr), which the copy does not hold") }
            return .none
        }
        guard case .local(var records) = state, let i = records.firstIndex(where: { Self.sameData($0, rr) }) else {
            throw notApplicable("it deletes \(rr), which the copy does not hold")
        }
        records.remove(at: i)
        return records.isEmpty ? .none : .local(records)
    }

    /// A trigger's state after adding `rr`.
    private static func adding(_ rr: ResourceRecord, to state: TriggerState, special: Int?,
        notApplicable: (String) -> PolicyLoadError) throws(PolicyLoadError) -> TriggerState
    {
        if let k = special {
            switch state {
            case .none: return .special(k)
            case .special(let had) where had == k: return state
            default: throw notApplicable("\(rr) conflicts with the action already at \(rr.name)")
            }
        }
        var r = rr
        r.name = .root
        switch state {
        case .none:
            return .local([r])
        case .local(var records):
            if let i = records.firstIndex(where: { Self.sameData($0, rr) }) {
                records[i] = r
            } else {
                records.append(r)
            }
            if records.count > 1 && records.contains(where: { $0.type == .cname }) {
                throw notApplicable("\(rr) puts local data next to a CNAME at \(rr.name)")
            }
            return .local(records)
        case .special:
            throw notApplicable("\(rr) adds local data where \(rr.name) already has an action")
        }
    }

    /// The rule a trigger holds now: the overlay's when it changed it, else the base's.
    private func currentRule(_ key: RPZCompiler.TriggerKey) -> RuleKind? {
        switch key.trigger {
        case .qname, .nsdname, .list:
            let nsd = key.trigger == .nsdname
            return key.key.withUnsafeBufferPointer { k -> RuleKind? in
                if let o = nsd ? self.overlay.nsdnames : self.overlay.names, let off = o.offset(of: k) {
                    let c = o.code(at: off, key.slot)
                    if c == NameIndex.overlayRemoved { return nil }
                    if c != NameIndex.overlayUnchanged {
                        return self.overlay.rule(code: c, offset: off, slot: key.slot, nsdname: nsd)
                    }
                }
                let base = nsd ? self.nsdnames : self.names
                guard let off = base.offset(of: k) else { return nil }
                let code = base.code(at: off, key.slot)
                guard code != 0 else { return nil }
                return self.table.rules[self.table.index(of: NameIndex.Match(code: code, slot: key.slot, offset: off))]
            }
        case .clientIP, .responseIP, .nsip:
            guard let address = key.address else { return nil }
            let index = key.trigger == .clientIP ? self.clientIPs : key.trigger == .responseIP ? self.responseIPs : self.nsIPs
            let network = CIDRIndex.network(address, key.prefixLength)
            guard let e = index.entries.first(where: { $0.prefixLength == key.prefixLength && $0.network == network })
            else { return nil }
            return self.rule(e.value)
        }
    }

    private static func state(of rule: RuleKind?) -> TriggerState {
        guard let rule else { return .none }
        if case .localData(let data) = rule.action { return .local(data.records) }
        if let k = RPZCompiler.specialTargets.firstIndex(where: { $0.action == rule.action }) { return .special(k) }
        return .none
    }

    private static func rule(of state: TriggerState) -> RuleKind? {
        switch state {
        case .none: return nil
        case .special(let k): return RuleKind(action: RPZCompiler.specialTargets[k].action, form: .rpz)
        case .local(let records): return RuleKind(action: .localData(PolicyLocalData(records: records)), form: .rpz)
        }
    }

    /// Records `rule` (nil: removed) for a name trigger in the overlay.
    private static func place(_ rule: RuleKind?, key: RPZCompiler.TriggerKey, labels: Int, base: NameIndex,
        in overlay: inout PolicyOverlay, notApplicable: (String) -> PolicyLoadError) throws(PolicyLoadError)
    {
        let nsd = key.trigger == .nsdname
        var index = (nsd ? overlay.nsdnames : overlay.names) ?? NameIndex(sharingHashWith: base)
        // Take the index out of the overlay while changing it: a second reference would make every change
        // copy the whole overlay index (copy-on-write), O(overlay) per record instead of once per update.
        if nsd { overlay.nsdnames = nil } else { overlay.names = nil }
        let offset = key.key.withUnsafeBufferPointer { index.entry(for: $0) }
        guard let offset else { throw notApplicable("the overlay index is full") }
        let k = PolicyOverlay.key(offset: offset, slot: key.slot, nsdname: nsd)
        if let rule, rule.form == .rpz, let position = RPZCompiler.specialTargets.firstIndex(where: { $0.action == rule.action }) {
            index.setCode(PolicyOverlay.specialCodeBase + UInt8(position), at: offset, key.slot, labelCount: labels)
            overlay.kinds.removeValue(forKey: k)
        } else if let rule {
            index.setCode(NameIndex.overlaySet, at: offset, key.slot, labelCount: labels)
            overlay.kinds[k] = rule
        } else {
            index.setCode(NameIndex.overlayRemoved, at: offset, key.slot, labelCount: labels)
            overlay.kinds.removeValue(forKey: k)
        }
        if nsd { overlay.nsdnames = index } else { overlay.names = index }
    }
}
