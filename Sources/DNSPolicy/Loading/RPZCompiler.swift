package import DNSWire

/// Compiles an RPZ zone (draft-vixie-dnsop-dns-rpz) from master-file text into a ``CompiledPolicySource``.
///
/// The zone apex is the owner of the SOA record, which must come first (as in any zone file); without one
/// the apex is the root, so triggers must then be written as absolute names. Owner names below the apex
/// are triggers:
/// - `name` / `*.name`: QNAME (exact / strictly below);
/// - `<prefix>.rpz-client-ip`, `<prefix>.rpz-ip`, `<prefix>.rpz-nsip`: client, response and NS addresses
///   (`32.1.2.0.192` is 192.0.2.1/32; IPv6 writes 16-bit words in reverse with `zz` for `::`);
/// - `name.rpz-nsdname` / `*.name.rpz-nsdname`: name servers.
/// The RRset at a trigger is its action: `CNAME .` NXDOMAIN, `CNAME *.` NODATA, `CNAME rpz-passthru.`
/// PASSTHRU, `CNAME rpz-drop.` DROP, `CNAME rpz-tcp-only.` TCP-only, anything else local data.
package struct RPZCompiler: Sendable {
    private let config: PolicySourceConfig
    private let fileName: String
    private var reader: ZoneFileReader?
    private var names: NameIndex
    private var nsdnames = NameIndex()
    private var clientIPs = CIDRIndex.Builder()
    private var responseIPs = CIDRIndex.Builder()
    private var nsIPs = CIDRIndex.Builder()
    private var table = RuleTable()
    private var stats = PolicyLoadStats()
    /// Apex, serial and triggers: the part of compiling that needs no index (it runs on the reading thread when
    /// compiling while reading).
    private var classifier: Classifier?
    private var pendingLocalData: [TriggerKey: PendingLocalData] = [:]
    private var pendingOrder: [TriggerKey] = []
    /// Rule indexes of the special actions, parallel to ``specialTargets``.
    private var specialRules: [Int] = []
    /// Records refused while the reader ran on another thread (kept apart from its parse errors, merged by line).
    private var refused: [ZoneFileError] = []
    private var refusedCount = 0

    /// Identifies one trigger (and slot) while local-data records for it are gathered.
    struct TriggerKey: Hashable, Sendable {
        var trigger: RPZTrigger
        var slot: NameIndex.Slot
        var key: [UInt8]
        var prefixLength: Int
        var address: IPAddress?
    }

    private struct PendingLocalData: Sendable {
        var records: [ResourceRecord]
        var line: Int
        var labels: Int
    }

    /// A parsed owner name: which trigger, which key.
    struct Trigger {
        var kind: RPZTrigger
        var slot: NameIndex.Slot
        /// Byte range of the key within the owner's wire form (lower-cased on insert).
        var keyStart: Int
        var keyEnd: Int
        var labels: Int
        var address: IPAddress?
        var prefixLength: Int
    }

    /// Creates a compiler.
    package init(config: PolicySourceConfig, fileName: String, expectedRecords: Int, expectedBytes: Int) {
        self.config = config
        self.fileName = fileName
        self.reader = ZoneFileReader(options: .init(fileName: fileName,
            errorMode: config.badLines == .reject ? .stop : .collect, maxStoredErrors: PolicyLoadStats.maxIssues))
        self.classifier = Classifier(fileName: fileName)
        self.names = NameIndex(expectedCount: expectedRecords, expectedBytes: expectedBytes / 2)
        for (_, action) in Self.specialTargets {
            self.specialRules.append(self.table.index(of: RuleKind(action: action, form: .rpz)))
        }
    }

    /// Compiles the complete entries of `chunk` and returns the bytes consumed.
    /// - Throws: ``PolicyLoadError`` for a bad entry when `badLines` is `.reject`, or when the index is full.
    package mutating func consume(_ chunk: UnsafeBufferPointer<UInt8>, isFinal: Bool) throws(PolicyLoadError) -> Int {
        guard var reader = self.reader else { return chunk.count }
        // The reader is taken out of `self` so the record callback may mutate the compiler.
        self.reader = nil
        defer { self.reader = reader }
        do {
            return try reader.read(chunk, isFinal: isFinal) { (rr, line) throws(ZoneFileError) in
                try self.add(rr, line: line)
            }
        } catch {
            throw self.loadError(error)
        }
    }

    /// Compiles the whole of `text` while a second thread reads it: the same records, rules, errors and order as
    /// ``consume(_:isFinal:)`` over the same text.
    /// - Throws: ``PolicyLoadError`` for a bad entry when `badLines` is `.reject`, an unreadable file, or a full index.
    package mutating func consumeWhileReading(_ text: ZoneText, window: Int) throws(PolicyLoadError) {
        guard let reader = self.reader, let classifier = self.classifier else { return }
        self.reader = nil
        self.classifier = nil
        let thread = ZoneReadingThread(reader: reader, classifier: classifier, text: text, window: window)
        let stopOnError = self.config.badLines == .reject
        var refusal: ZoneFileError?
        var end: ZoneReadingThread.End
        reading: while true {
            switch thread.next() {
            case .end(let e):
                end = e
                break reading
            case .batch(let batch):
                guard refusal == nil else { continue }
                do {
                    try self.apply(batch, stopOnError: stopOnError)
                } catch {
                    refusal = error
                    thread.cancel()
                }
            }
        }
        switch end.outcome {
        case .finished, .cancelled:
            break
        case .failed(let e):
            if refusal == nil { refusal = e }
        case .unreadable(let reason):
            if refusal == nil {
                self.reader = end.reader
                self.classifier = end.classifier
                throw PolicyLoadError(.unreadable, source: self.config.name, "source '\(self.config.name)': \(reason)")
            }
        }
        self.reader = end.reader
        self.classifier = end.classifier
        if let refusal { throw self.loadError(refusal) }
    }

    /// Applies one batch from the reading thread in order. A refused record throws when `stopOnError`, and is kept
    /// in ``refused`` otherwise.
    private mutating func apply(_ batch: ZoneReadingThread.Batch, stopOnError: Bool) throws(ZoneFileError) {
        func refused(_ error: ZoneFileError) throws(ZoneFileError) {
            guard !stopOnError else { throw error }
            self.refusedCount += 1
            if self.refused.count < PolicyLoadStats.maxIssues { self.refused.append(error) }
        }
        var next = 0
        try batch.names.withUnsafeBufferPointer { (b) throws(ZoneFileError) in
            var p = 0
            while p < b.count {
                let tag = b[p]
                if tag == ZoneReadingThread.Batch.recordTag {
                    p += 1
                    let (rr, classified, line) = batch.records[next]
                    next += 1
                    do throws(ZoneFileError) {
                        try self.apply(classified, rr, line: line)
                    } catch {
                        try refused(error)
                    }
                    continue
                }
                let entry = ZoneReadingThread.Batch.NameEntry(b, at: p)
                p = entry.end
                do throws(ZoneFileError) {
                    try self.setName(self.specialRules[entry.special], kind: entry.kind, slot: entry.slot,
                        labels: entry.labels, key: UnsafeBufferPointer(rebasing: b[entry.keyStart..<entry.end]),
                        line: entry.line)
                } catch {
                    try refused(error)
                }
            }
        }
    }

    private func loadError(_ error: ZoneFileError) -> PolicyLoadError {
        if error.code == .rejected && error.message.hasPrefix("too large") {
            return PolicyLoadError(.tooLarge, source: self.config.name,
                "source '\(self.config.name)': \(error.message)")
        }
        return PolicyLoadError(.badLine, source: self.config.name,
            "source '\(self.config.name)' refused: bad line (badLines: reject)", issues: [self.issue(error)])
    }

    /// Two lists of errors, each in line order, merged in line order (the first list first on a tie).
    static func merged(_ a: [ZoneFileError], _ b: [ZoneFileError]) -> [ZoneFileError] {
        guard !b.isEmpty else { return a }
        var out: [ZoneFileError] = []
        out.reserveCapacity(a.count + b.count)
        var i = 0
        var j = 0
        while i < a.count || j < b.count {
            if j == b.count || (i < a.count && a[i].line <= b[j].line) {
                out.append(a[i])
                i += 1
            } else {
                out.append(b[j])
                j += 1
            }
        }
        return out
    }

    private func issue(_ e: ZoneFileError) -> PolicySourceIssue {
        PolicySourceIssue(source: self.config.name, file: e.file, line: e.line, column: e.column, message: e.message)
    }

    /// The compiled source.
    /// - Throws: ``PolicyLoadError`` when local data conflicts in reject mode, or bad lines outnumber rules.
    package mutating func finish() throws(PolicyLoadError) -> CompiledPolicySource {
        if let classifier = self.classifier {
            self.stats.entries += classifier.entries
            self.stats.ignored.merge(classifier.ignored, uniquingKeysWith: +)
        }
        if let reader = self.reader {
            for e in Self.merged(reader.errors, self.refused) { self.stats.issues.append(self.issue(e)) }
            self.stats.badLines += reader.errorCount + self.refusedCount
            self.stats.issues = Array(self.stats.issues.prefix(PolicyLoadStats.maxIssues))
        }
        for key in self.pendingOrder {
            guard let pending = self.pendingLocalData[key] else { continue }
            let rule = self.table.index(of: RuleKind(action: .localData(PolicyLocalData(records: pending.records)),
                form: .rpz))
            if let problem = self.place(rule, key: key, labels: pending.labels) {
                let issue = PolicySourceIssue(source: self.config.name, file: self.fileName, line: pending.line,
                    message: problem)
                if self.config.badLines == .reject {
                    throw PolicyLoadError(.badLine, source: self.config.name,
                        "source '\(self.config.name)' refused: bad line (badLines: reject)", issues: [issue])
                }
                self.stats.bad(issue)
            }
        }
        self.pendingLocalData = [:]
        self.names.compact()
        if self.stats.badLines > self.stats.rules {
            throw PolicyLoadError(.notPlausible, source: self.config.name,
                "source '\(self.config.name)': \(self.stats.badLines) bad records but only \(self.stats.rules) rules; "
                    + "is \(self.fileName) really an RPZ zone?", issues: self.stats.issues)
        }
        return CompiledPolicySource(config: self.config, format: .rpz, names: self.names, exceptions: NameIndex(),
            nsdnames: self.nsdnames, clientIPs: self.clientIPs.build(), responseIPs: self.responseIPs.build(),
            nsIPs: self.nsIPs.build(), table: self.table, apex: self.classifier?.apex, serial: self.classifier?.serial,
            stats: self.stats)
    }

    // MARK: Records

    private func reject(_ message: String, line: Int) -> ZoneFileError {
        ZoneFileError(.rejected, message, file: self.fileName, line: line)
    }

    private mutating func add(_ rr: ResourceRecord, line: Int) throws(ZoneFileError) {
        guard let classified = try self.classifier?.classify(rr, line: line) else { return }
        try self.apply(classified, rr, line: line)
    }

    /// Places a classified record: a special action at once, local data gathered for ``finish()``.
    private mutating func apply(_ classified: Classified, _ rr: ResourceRecord, line: Int) throws(ZoneFileError) {
        let trigger: Trigger
        switch classified {
        case .special(let special, let t):
            try self.set(self.specialRules[special], t, owner: rr.name, line: line)
            return
        case .data(let t):
            trigger = t
        }
        if case .cname = rr.rdata {
            // A lone CNAME to a walled garden: the common local-data case, placed at once.
            let rule = self.table.index(of: RuleKind(action: .localData(PolicyLocalData(records: [rr])), form: .rpz))
            try self.set(rule, trigger, owner: rr.name, line: line)
            return
        }
        // Other local data may be spread over several records: gather it, place it in finish().
        let key = self.key(trigger, owner: rr.name)
        if self.existingRule(trigger, owner: rr.name) != nil {
            throw self.reject("\(rr.type) local data for a trigger that already has an action", line: line)
        }
        if var pending = self.pendingLocalData[key] {
            pending.records.append(rr)
            self.pendingLocalData[key] = pending
        } else {
            self.pendingLocalData[key] = PendingLocalData(records: [rr], line: line, labels: trigger.labels)
            self.pendingOrder.append(key)
        }
    }

    static let specialTargets: [(wire: [UInt8], action: PolicyAction)] = {
        func wire(_ s: String) -> [UInt8] {
            var w: [UInt8] = []
            for label in s.split(separator: ".") {
                w.append(UInt8(label.utf8.count))
                w.append(contentsOf: label.utf8)
            }
            w.append(0)
            return w
        }
        return [
            ([0], .nxdomain), (wire("*"), .nodata), (wire("rpz-passthru"), .passthru), (wire("rpz-drop"), .drop),
            (wire("rpz-tcp-only"), .tcpOnly),
        ]
    }()

    /// The special action at `position` in ``specialTargets`` (nil when out of range).
    static func specialAction(_ position: Int) -> PolicyAction? {
        position >= 0 && position < Self.specialTargets.count ? Self.specialTargets[position].action : nil
    }

    /// Where PASSTHRU sits in ``specialTargets``.
    static let passthruPosition = 2

    @inline(__always)
    private static func lower(_ b: UInt8) -> UInt8 { (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b }

    /// The position in ``specialTargets`` of a special CNAME target's action, or nil for a walled garden.
    static func special(_ target: DomainName, trigger: Trigger, owner: DomainName) -> Int? {
        let w = target.wire
        for (k, (sw, _)) in Self.specialTargets.enumerated() where sw.count == w.count {
            var same = true
            for i in 0..<w.count where Self.lower(w[i]) != sw[i] {
                same = false
                break
            }
            if same { return k }
        }
        // Legacy PASSTHRU: an exact QNAME trigger whose CNAME points at the name itself.
        let keyLength = trigger.keyEnd - trigger.keyStart
        if trigger.kind == .qname && trigger.slot == .exact && w.count == keyLength + 1 {
            let o = owner.wire
            for i in 0..<keyLength where Self.lower(o[trigger.keyStart + i]) != Self.lower(w[i]) {
                return nil
            }
            return Self.passthruPosition
        }
        return nil
    }

    private static let specialLabels: [(label: [UInt8], trigger: RPZTrigger)] = [
        (Array("rpz-client-ip".utf8), .clientIP), (Array("rpz-ip".utf8), .responseIP), (Array("rpz-nsip".utf8), .nsip),
        (Array("rpz-nsdname".utf8), .nsdname),
    ]

    /// Classifies an owner name into a trigger, without allocating for QNAME triggers.
    static func trigger(of owner: DomainName, apex: DomainName, line: Int, fileName: String)
        throws(ZoneFileError) -> Trigger
    {
        func reject(_ message: String, line: Int) -> ZoneFileError {
            ZoneFileError(.rejected, message, file: fileName, line: line)
        }
        let w = owner.wire
        let relEnd = w.count - apex.wire.count
        var last = 0
        var count = 0
        var p = 0
        while p < relEnd {
            last = p
            count += 1
            p += Int(w[p]) + 1
        }
        var kind = RPZTrigger.qname
        let lastLength = Int(w[last])
        for (label, trigger) in Self.specialLabels where label.count == lastLength {
            var same = true
            for i in 0..<lastLength where Self.lower(w[last + 1 + i]) != label[i] {
                same = false
                break
            }
            if same {
                kind = trigger
                break
            }
        }
        switch kind {
        case .qname, .nsdname, .list:
            let keyEnd = kind == .qname ? relEnd : last
            let labelCount = kind == .qname ? count : count - 1
            guard labelCount > 0 else { throw reject("rpz-nsdname trigger without a name", line: line) }
            if w[0] == 1 && w[1] == UInt8(ascii: "*") {
                return Trigger(kind: kind, slot: .below, keyStart: 2, keyEnd: keyEnd, labels: labelCount - 1,
                    address: nil, prefixLength: 0)
            }
            return Trigger(kind: kind, slot: .exact, keyStart: 0, keyEnd: keyEnd, labels: labelCount, address: nil,
                prefixLength: 0)
        case .clientIP, .responseIP, .nsip:
            var labels: [String] = []
            var q = 0
            while q < last {
                labels.append(String(decoding: w[(q + 1)..<(q + 1 + Int(w[q]))], as: UTF8.self))
                q += Int(w[q]) + 1
            }
            guard case let (address, prefix)? = Self.ipTrigger(labels) else {
                let shown = owner.relativized(to: apex).map(\.descriptionWithoutDot) ?? owner.description
                throw reject("bad IP trigger '\(shown)': expected <prefix length>.<reversed address>", line: line)
            }
            return Trigger(kind: kind, slot: .exact, keyStart: 0, keyEnd: 0, labels: 0, address: address,
                prefixLength: prefix)
        }
    }

    /// Parses `32.1.2.0.192` (IPv4) or `128.1.zz.db8.2001` (IPv6) into an address and prefix length.
    package static func ipTrigger(_ labels: [String]) -> (IPAddress, Int)? {
        guard labels.count >= 2, labels[0].count <= 3, let prefix = Int(labels[0]) else { return nil }
        let parts = Array(labels.dropFirst().reversed())
        if parts.count == 4, !parts.contains(where: { $0.lowercased() == "zz" }),
            parts.allSatisfy({ $0.allSatisfy { c in c.isASCII && c.isNumber } })
        {
            guard prefix >= 1, prefix <= 32 else { return nil }
            var v: UInt32 = 0
            for p in parts {
                guard p.count <= 3, let o = UInt8(p) else { return nil }
                v = v << 8 | UInt32(o)
            }
            return (.v4(IPv4Address(v)), prefix)
        }
        guard prefix >= 1, prefix <= 128, parts.count <= 8 else { return nil }
        var words: [UInt16] = []
        var zz: Int? = nil
        for p in parts {
            if p.lowercased() == "zz" {
                guard zz == nil else { return nil }
                zz = words.count
                continue
            }
            guard p.count <= 4, let v = UInt16(p, radix: 16) else { return nil }
            words.append(v)
        }
        if let at = zz {
            let fill = 8 - words.count
            guard fill >= 1 else { return nil }
            words.insert(contentsOf: [UInt16](repeating: 0, count: fill), at: at)
        }
        guard words.count == 8 else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (i, word) in words.enumerated() {
            if i < 4 { high = high << 16 | UInt64(word) } else { low = low << 16 | UInt64(word) }
        }
        return (.v6(IPv6Address(high: high, low: low)), prefix)
    }

    func key(_ t: Trigger, owner: DomainName) -> TriggerKey {
        TriggerKey(trigger: t.kind, slot: t.slot, key: DomainName.lowercase(Array(owner.wire[t.keyStart..<t.keyEnd])),
            prefixLength: t.prefixLength, address: t.address)
    }

    /// The rule already set for a name trigger, if any.
    private func existingRule(_ t: Trigger, owner: DomainName) -> Int? {
        guard t.kind == .qname || t.kind == .nsdname else { return nil }
        let index = t.kind == .nsdname ? self.nsdnames : self.names
        return owner.wire.withUnsafeBufferPointer { w -> Int? in
            guard let offset = index.offset(of: UnsafeBufferPointer(rebasing: w[t.keyStart..<t.keyEnd])) else {
                return nil
            }
            let code = index.code(at: offset, t.slot)
            guard code != 0 else { return nil }
            return self.table.index(of: NameIndex.Match(code: code, slot: t.slot, offset: offset))
        }
    }

    /// Sets a special or CNAME rule for a trigger, reporting duplicates and conflicts.
    private mutating func set(_ rule: Int, _ t: Trigger, owner: DomainName, line: Int) throws(ZoneFileError) {
        switch t.kind {
        case .qname, .nsdname, .list:
            try owner.wire.withUnsafeBufferPointer { (w) throws(ZoneFileError) in
                try self.setName(rule, kind: t.kind, slot: t.slot, labels: t.labels,
                    key: UnsafeBufferPointer(rebasing: w[t.keyStart..<t.keyEnd]), line: line)
            }
        case .clientIP, .responseIP, .nsip:
            if !self.pendingLocalData.isEmpty, self.pendingLocalData[self.key(t, owner: owner)] != nil {
                throw self.reject("CNAME for a trigger that already has local data", line: line)
            }
            if let problem = self.placeIP(rule, t.kind, t.address, t.prefixLength) {
                throw self.reject(problem, line: line)
            }
        }
    }

    /// Sets a rule for a name trigger whose key (the owner's wire form up to the apex or `rpz-nsdname`, without a
    /// leading `*`) is `key`.
    private mutating func setName(_ rule: Int, kind: RPZTrigger, slot: NameIndex.Slot, labels: Int,
        key: UnsafeBufferPointer<UInt8>, line: Int) throws(ZoneFileError)
    {
        if !self.pendingLocalData.isEmpty,
            self.pendingLocalData[TriggerKey(trigger: kind, slot: slot, key: DomainName.lowercase(Array(key)),
                prefixLength: 0, address: nil)] != nil
        {
            throw self.reject("CNAME for a trigger that already has local data", line: line)
        }
        if let problem = self.placeName(rule, key: key, slot: slot, labels: labels, nsdname: kind == .nsdname) {
            throw self.reject(problem, line: line)
        }
    }

    private mutating func place(_ rule: Int, key: TriggerKey, labels: Int) -> String? {
        switch key.trigger {
        case .qname, .nsdname, .list:
            return key.key.withUnsafeBufferPointer { k in
                self.placeName(rule, key: k, slot: key.slot, labels: labels, nsdname: key.trigger == .nsdname)
            }
        case .clientIP, .responseIP, .nsip:
            return self.placeIP(rule, key.trigger, key.address, key.prefixLength)
        }
    }

    private func conflict(_ had: Int, _ rule: Int) -> String {
        "conflicting actions for the same trigger (\(self.table.rules[had].action.label) "
            + "and \(self.table.rules[rule].action.label))"
    }

    /// Stores `rule` for a name trigger; returns a problem for a conflict or a full index.
    private mutating func placeName(_ rule: Int, key: UnsafeBufferPointer<UInt8>, slot: NameIndex.Slot, labels: Int,
        nsdname: Bool) -> String?
    {
        let offset = nsdname ? self.nsdnames.entry(for: key) : self.names.entry(for: key)
        guard let offset else { return "too large: the name index is full (over 4 GiB of names)" }
        let existing = nsdname ? self.nsdnames.code(at: offset, slot) : self.names.code(at: offset, slot)
        if existing != 0 {
            let had = self.table.index(of: NameIndex.Match(code: existing, slot: slot, offset: offset))
            guard had == rule else { return self.conflict(had, rule) }
            self.stats.duplicates += 1
            return nil
        }
        if nsdname {
            self.table.assign(rule, to: offset, slot, labelCount: labels, in: &self.nsdnames)
        } else {
            self.table.assign(rule, to: offset, slot, labelCount: labels, in: &self.names)
        }
        self.stats.rules += 1
        return nil
    }

    /// Stores `rule` for an IP trigger; returns a problem for a conflict.
    private mutating func placeIP(_ rule: Int, _ kind: RPZTrigger, _ address: IPAddress?, _ prefixLength: Int)
        -> String?
    {
        guard let address else { return "IP trigger without an address" }
        let old: UInt32?
        switch kind {
        case .clientIP: old = self.clientIPs.insert(address, prefixLength: prefixLength, value: UInt32(rule))
        case .responseIP: old = self.responseIPs.insert(address, prefixLength: prefixLength, value: UInt32(rule))
        default: old = self.nsIPs.insert(address, prefixLength: prefixLength, value: UInt32(rule))
        }
        if let old {
            guard Int(old) == rule else { return self.conflict(Int(old), rule) }
            self.stats.duplicates += 1
            return nil
        }
        self.stats.rules += 1
        return nil
    }
}

extension RPZCompiler {
    /// What a record does, as far as can be told without the index.
    enum Classified: Sendable {
        /// A special action (its position in ``specialTargets``) for a trigger.
        case special(Int, Trigger)
        /// Local data (a walled-garden CNAME or other records) for a trigger.
        case data(Trigger)
    }

    /// Reads the apex and serial from the first record and classifies each later one: the part of compiling that
    /// needs no index, so it can run on the thread that reads the text.
    struct Classifier: Sendable {
        let fileName: String
        private(set) var apex: DomainName?
        private(set) var serial: UInt32?
        private var sawFirstRecord = false
        /// Records seen, including ignored ones.
        private(set) var entries = 0
        /// Records ignored, by reason.
        private(set) var ignored: [String: Int] = [:]

        init(fileName: String) {
            self.fileName = fileName
        }

        /// The record's trigger and action, or nil for a record that sets none (the apex's, DNSSEC's).
        /// - Throws: ``ZoneFileError`` for an owner outside the zone or a malformed trigger.
        mutating func classify(_ rr: ResourceRecord, line: Int) throws(ZoneFileError) -> Classified? {
            self.entries += 1
            if !self.sawFirstRecord {
                self.sawFirstRecord = true
                if case .soa(let soa) = rr.rdata {
                    self.apex = rr.name
                    self.serial = soa.serial
                    self.ignored["apex", default: 0] += 1
                    return nil
                }
                self.apex = .root
            }
            let apex = self.apex ?? .root
            if rr.name == apex {
                self.ignored["apex", default: 0] += 1
                return nil
            }
            switch rr.type {
            case .rrsig, .nsec, .nsec3, .dnskey, .nsec3param, .ds:
                self.ignored["dnssec", default: 0] += 1
                return nil
            default:
                break
            }
            guard rr.name.isSubdomain(of: apex) else {
                throw ZoneFileError(.rejected, "owner \(rr.name) is outside the policy zone \(apex)",
                    file: self.fileName, line: line)
            }
            let trigger = try RPZCompiler.trigger(of: rr.name, apex: apex, line: line, fileName: self.fileName)
            if case .cname(let t) = rr.rdata,
                let special = RPZCompiler.special(t.target, trigger: trigger, owner: rr.name)
            {
                return .special(special, trigger)
            }
            return .data(trigger)
        }
    }
}
