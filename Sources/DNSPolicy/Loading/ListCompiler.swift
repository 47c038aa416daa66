internal import DNSWire

/// Compiles a domains, hosts or adblock list into a ``CompiledPolicySource``, line by line from bytes.
///
/// Decisions (see `docs/policy.md`):
/// - `example.org` in a domains or hosts list covers the names below it when `subdomains` is true (the
///   default); `*.example.org` always means only the names below; `||example.org^` always covers both.
/// - `@@||example.org^` in a block list cancels that list's own matches only: a compromised feed cannot
///   unblock what another feed blocks. In an allow list every entry, `@@` or not, is an allow entry.
/// - Localhost names (`localhost`, `ip6-loopback`, …) are ignored, so a hosts file cannot break them.
/// - Entries that are IP addresses are response-IP rules when the source's `ipEntries` is `response-ip` (block
///   lists only), else counted as ignored. URL rules (`||host/path`), cosmetic rules (`##`) and rules with
///   modifiers that need an HTTP request (`$third-party`, `$domain=`) are counted as ignored, not bad.
package struct ListCompiler: Sendable {
    private let config: PolicySourceConfig
    private let format: PolicySourceConfig.Kind
    private let fileName: String
    private var names: NameIndex
    private var exceptions = NameIndex()
    /// Address entries read as response-IP rules (``PolicySourceConfig/IPEntries/responseIP``).
    private var responseIPs = CIDRIndex.Builder()
    private var table = RuleTable()
    private var stats = PolicyLoadStats()
    private var line = 0
    private var scratch: [UInt8] = []
    private let plainRule: Int
    private let starRule: Int
    private let adblockRule: Int
    private let exceptionRule: Int

    /// Creates a compiler; `expectedLines`/`expectedBytes` size the index up front (estimates are fine).
    package init(config: PolicySourceConfig, format: PolicySourceConfig.Kind, fileName: String, expectedLines: Int,
        expectedBytes: Int)
    {
        self.config = config
        self.format = format
        self.fileName = fileName
        // An entry takes the name's wire form plus three bytes, one or two more than its line.
        self.names = NameIndex(expectedCount: expectedLines, expectedBytes: expectedBytes + 3 * expectedLines)
        let action: PolicyAction = config.role == .allow ? .allow : config.answer.action
        self.plainRule = self.table.index(of: RuleKind(action: action, form: .plain))
        self.starRule = self.table.index(of: RuleKind(action: action, form: .star))
        self.adblockRule = self.table.index(of: RuleKind(action: action, form: .adblock))
        self.exceptionRule = self.table.index(of: RuleKind(action: .allow, form: .adblockException))
        self.scratch.reserveCapacity(256)
    }

    /// Compiles complete lines of `chunk` and returns the bytes consumed; an unfinished last line is left
    /// for the next call unless `isFinal`.
    /// - Throws: ``PolicyLoadError`` for a bad line when `badLines` is `.reject`, or when the index is full.
    package mutating func consume(_ chunk: UnsafeBufferPointer<UInt8>, isFinal: Bool) throws(PolicyLoadError) -> Int {
        var pos = 0
        let n = chunk.count
        while pos < n {
            var end = pos
            while end < n && chunk[end] != UInt8(ascii: "\n") { end += 1 }
            if end == n && !isFinal { return pos }
            self.line += 1
            try self.processLine(chunk, pos, end)
            pos = end < n ? end + 1 : end
        }
        return pos
    }

    /// The compiled source.
    /// - Throws: ``PolicyLoadError`` `.notPlausible` when bad lines outnumber rules.
    package mutating func finish() throws(PolicyLoadError) -> CompiledPolicySource {
        self.names.compact()
        self.exceptions.compact()
        if self.stats.badLines > self.stats.rules {
            throw PolicyLoadError(.notPlausible, source: self.config.name,
                "source '\(self.config.name)': \(self.stats.badLines) bad lines but only \(self.stats.rules) rules; "
                    + "is \(self.fileName) really a \(self.format.rawValue) list?", issues: self.stats.issues)
        }
        return CompiledPolicySource(config: self.config, format: self.format, names: self.names,
            exceptions: self.exceptions, nsdnames: NameIndex(), clientIPs: CIDRIndex(),
            responseIPs: self.responseIPs.build(),
            nsIPs: CIDRIndex(), table: self.table, apex: nil, serial: nil, stats: self.stats)
    }

    // MARK: Lines

    private static let space = UInt8(ascii: " ")
    private static let tab = UInt8(ascii: "\t")
    private static let cr = UInt8(ascii: "\r")
    private static let hash = UInt8(ascii: "#")

    @inline(__always)
    private static func isSpace(_ c: UInt8) -> Bool { c == Self.space || c == Self.tab || c == Self.cr }

    private mutating func bad(_ message: String, column: Int = 0) throws(PolicyLoadError) {
        let issue = PolicySourceIssue(source: self.config.name, file: self.fileName, line: self.line, column: column,
            message: message)
        self.stats.bad(issue)
        if self.config.badLines == .reject {
            throw PolicyLoadError(.badLine, source: self.config.name,
                "source '\(self.config.name)' refused: bad line (badLines: reject)", issues: [issue])
        }
    }

    private mutating func processLine(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ stop: Int)
        throws(PolicyLoadError)
    {
        var s = start
        var e = stop
        while s < e && Self.isSpace(b[s]) { s += 1 }
        while e > s && Self.isSpace(b[e - 1]) { e -= 1 }
        guard s < e else { return }
        self.stats.entries += 1
        switch self.format {
        case .adblock: try self.adblockLine(b, s, e, lineStart: start)
        default: try self.hostsOrDomainsLine(b, s, e, lineStart: start)
        }
    }

    /// `domain`, `*.domain`, `IP domain [domain…]`, with `#` comments.
    private mutating func hostsOrDomainsLine(_ b: UnsafeBufferPointer<UInt8>, _ s: Int, _ stop: Int, lineStart: Int)
        throws(PolicyLoadError)
    {
        if b[s] == Self.hash {
            self.stats.entries -= 1
            return
        }
        // An inline comment starts at a `#` after whitespace.
        var e = stop
        var k = s + 1
        while k < e {
            if b[k] == Self.hash && Self.isSpace(b[k - 1]) {
                e = k
                break
            }
            k += 1
        }
        while e > s && Self.isSpace(b[e - 1]) { e -= 1 }
        // Split into at most a few tokens without allocating.
        var t0s = s
        var t0e = s
        while t0e < e && !Self.isSpace(b[t0e]) { t0e += 1 }
        var rest = t0e
        while rest < e && Self.isSpace(b[rest]) { rest += 1 }
        if rest == e {
            // One token: a domain (also accepted in hosts files, which often mix the two).
            try self.addHost(b, t0s, t0e, form: nil, lineStart: lineStart)
            return
        }
        guard Self.isIPAddress(b, t0s, t0e) else {
            try self.bad("expected one domain per line, or an IP address followed by names",
                column: t0s - lineStart + 1)
            return
        }
        // Hosts syntax: every following token is a name.
        while rest < e {
            t0s = rest
            t0e = rest
            while t0e < e && !Self.isSpace(b[t0e]) { t0e += 1 }
            try self.addHost(b, t0s, t0e, form: nil, lineStart: lineStart)
            rest = t0e
            while rest < e && Self.isSpace(b[rest]) { rest += 1 }
        }
    }

    /// The DNS subset of adblock syntax.
    private mutating func adblockLine(_ b: UnsafeBufferPointer<UInt8>, _ s: Int, _ e: Int, lineStart: Int)
        throws(PolicyLoadError)
    {
        let c0 = b[s]
        if c0 == UInt8(ascii: "!") || c0 == UInt8(ascii: "[") {
            self.stats.entries -= 1
            return
        }
        // Cosmetic rules: `##`, `#@#`, `#?#`, `#$#`, `#%#` anywhere in the line.
        var k = s
        while k < e {
            if b[k] == Self.hash, k + 1 < e {
                let n = b[k + 1]
                if n == Self.hash || ((n == UInt8(ascii: "@") || n == UInt8(ascii: "?") || n == UInt8(ascii: "$")
                    || n == UInt8(ascii: "%")) && k + 2 < e && b[k + 2] == Self.hash)
                {
                    self.stats.ignore("cosmetic")
                    return
                }
            }
            k += 1
        }
        if c0 == Self.hash {
            self.stats.entries -= 1
            return
        }
        var p = s
        var exception = false
        if e - p >= 2 && b[p] == UInt8(ascii: "@") && b[p + 1] == UInt8(ascii: "@") {
            exception = true
            p += 2
        }
        if e - p >= 2 && b[p] == UInt8(ascii: "|") && b[p + 1] == UInt8(ascii: "|") {
            p += 2
            var q = p
            while q < e {
                let c = b[q]
                if c == UInt8(ascii: "^") || c == UInt8(ascii: "/") || c == UInt8(ascii: "$") || c == UInt8(ascii: "|")
                    || c == UInt8(ascii: "*") || c == UInt8(ascii: ":") || c == UInt8(ascii: "?")
                {
                    break
                }
                q += 1
            }
            let hostEnd = q
            if q == e {
                // `||example.org` without `^` is a prefix pattern (it also matches example.organic.net).
                self.stats.ignore("pattern")
                return
            }
            switch b[q] {
            case UInt8(ascii: "^"):
                q += 1
                if q == e || (b[q] == UInt8(ascii: "|") && q + 1 == e) { break }
                guard b[q] == UInt8(ascii: "$") else {
                    self.stats.ignore("url")
                    return
                }
                guard Self.modifiersApply(b, q + 1, e) else {
                    self.stats.ignore("modifier")
                    return
                }
            case UInt8(ascii: "$"):
                guard Self.modifiersApply(b, q + 1, e) else {
                    self.stats.ignore("modifier")
                    return
                }
            case UInt8(ascii: "*"):
                self.stats.ignore("pattern")
                return
            default:
                self.stats.ignore("url")
                return
            }
            let form: RuleForm = exception ? .adblockException : .adblock
            try self.addHost(b, p, hostEnd, form: form, lineStart: lineStart)
            return
        }
        if exception || c0 == UInt8(ascii: "|") || c0 == UInt8(ascii: "/") {
            self.stats.ignore(exception ? "pattern" : "url")
            return
        }
        // Hosts syntax inside an adblock list (AdGuard accepts it).
        var t = s
        while t < e && !Self.isSpace(b[t]) { t += 1 }
        if t < e {
            if Self.isIPAddress(b, s, t) {
                try self.hostsOrDomainsLine(b, s, e, lineStart: lineStart)
            } else {
                self.stats.ignore("pattern")
            }
            return
        }
        // A bare hostname means `||hostname^` (uBlock Origin's reading); a bare address, `||address^`.
        switch self.parseHost(b, s, e, allowStar: false) {
        case .name(let labels, _): try self.insert(labels: labels, star: false, form: .adblock)
        case .ip: self.addAddress(b, s, e, form: .adblock)
        case .localhost: self.stats.ignore("localhost")
        // An IPv6 address is no host name (its colons make it invalid as one).
        case .invalid where Self.isIPAddress(b, s, e): self.addAddress(b, s, e, form: .adblock)
        case .invalid: self.stats.ignore("pattern")
        }
    }

    /// True when every `$` modifier still makes sense for a DNS query.
    private static func modifiersApply(_ b: UnsafeBufferPointer<UInt8>, _ s: Int, _ e: Int) -> Bool {
        var p = s
        while p <= e {
            var q = p
            while q < e && b[q] != UInt8(ascii: ",") { q += 1 }
            let len = q - p
            func word(_ w: StaticString) -> Bool {
                guard len == w.utf8CodeUnitCount else { return false }
                for i in 0..<len where b[p + i] | 0x20 != w.utf8Start[i] { return false }
                return true
            }
            guard word("all") || word("important") || word("document") || word("doc") else { return false }
            p = q + 1
        }
        return true
    }

    // MARK: Hosts

    private enum HostParse {
        case name(labels: Int, star: Bool)
        case ip
        case localhost
        case invalid(String, column: Int)
    }

    private static let localhostKeys: Set<[UInt8]> = {
        var s: Set<[UInt8]> = []
        for name in [
            "localhost", "localhost.localdomain", "local", "broadcasthost", "ip6-localhost", "ip6-loopback",
            "ip6-localnet", "ip6-mcastprefix", "ip6-allnodes", "ip6-allrouters", "ip6-allhosts",
        ] {
            var w: [UInt8] = []
            for label in name.split(separator: ".") {
                w.append(UInt8(label.utf8.count))
                w.append(contentsOf: label.utf8)
            }
            s.insert(w)
        }
        return s
    }()

    @inline(__always)
    private static func isHostChar(_ c: UInt8) -> Bool {
        (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "-")
            || c == UInt8(ascii: "_")
    }

    /// Parses a host name (optionally `*.`-prefixed, optionally ending in a dot) into `scratch` as
    /// lower-case wire labels without the root byte.
    private mutating func parseHost(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ stop: Int, allowStar: Bool)
        -> HostParse
    {
        var s = start
        var e = stop
        var star = false
        if allowStar && e - s >= 2 && b[s] == UInt8(ascii: "*") && b[s + 1] == UInt8(ascii: ".") {
            star = true
            s += 2
        }
        if e > s && b[e - 1] == UInt8(ascii: ".") { e -= 1 }
        guard s < e else { return .invalid("empty name", column: 0) }
        self.scratch.removeAll(keepingCapacity: true)
        self.scratch.append(0)
        var labelAt = 0
        var length = 0
        var labels = 0
        var numeric = true
        for i in s..<e {
            let c = b[i]
            if c == UInt8(ascii: ".") {
                guard length > 0 else { return .invalid("empty label", column: i - start + 1) }
                self.scratch[labelAt] = UInt8(length)
                labels += 1
                labelAt = self.scratch.count
                self.scratch.append(0)
                length = 0
                continue
            }
            guard Self.isHostChar(c) else {
                let shown = c >= 0x21 && c < 0x7F ? "'\(Character(Unicode.Scalar(c)))'" : "byte \(c)"
                return .invalid("\(shown) is not allowed in a host name", column: i - start + 1)
            }
            if c < 0x30 || c > 0x39 { numeric = false }
            length += 1
            guard length <= 63 else { return .invalid("label longer than 63 octets", column: i - start + 1) }
            self.scratch.append(c | (c >= 0x41 && c <= 0x5A ? 0x20 : 0))
        }
        guard length > 0 else { return .invalid("empty label", column: e - start) }
        self.scratch[labelAt] = UInt8(length)
        labels += 1
        guard self.scratch.count < DomainNameLimits.maxKeyLength else {
            return .invalid("name longer than 255 octets", column: 0)
        }
        if numeric && !star { return .ip }
        // Every localhost name starts with `l`, `b` or `i`: test that before hashing the name.
        if !star && labels <= 2, self.scratch.count > 1,
            self.scratch[1] == UInt8(ascii: "l") || self.scratch[1] == UInt8(ascii: "b") || self.scratch[1] == UInt8(ascii: "i"),
            Self.localhostKeys.contains(self.scratch)
        {
            return .localhost
        }
        return .name(labels: labels, star: star)
    }

    private mutating func addHost(_ b: UnsafeBufferPointer<UInt8>, _ s: Int, _ e: Int, form: RuleForm?, lineStart: Int)
        throws(PolicyLoadError)
    {
        switch self.parseHost(b, s, e, allowStar: form == nil) {
        case .name(let labels, let star):
            try self.insert(labels: labels, star: star, form: form ?? (star ? .star : .plain))
        case .ip:
            self.addAddress(b, s, e, form: form ?? .plain)
        case .localhost:
            self.stats.ignore("localhost")
        // An IPv6 address is no host name (its colons make it invalid as one), and no bad line either. Checked only
        // here, so the names of a million-line list pay nothing for it.
        case .invalid where Self.isIPAddress(b, s, e):
            self.addAddress(b, s, e, form: form ?? .plain)
        case .invalid(let why, let column):
            try self.bad(why, column: column == 0 ? s - lineStart + 1 : s - lineStart + column)
        }
    }

    /// An address entry: a response-IP rule for the whole address when the source reads them so, else ignored and
    /// counted. An exception (`@@||192.0.2.1^`) is always ignored: exceptions cancel names only.
    private mutating func addAddress(_ b: UnsafeBufferPointer<UInt8>, _ s: Int, _ e: Int, form: RuleForm) {
        guard self.config.ipEntries == .responseIP, self.config.role == .block, form != .adblockException,
            let address = IPAddress(String(decoding: UnsafeBufferPointer(rebasing: b[s..<e]), as: UTF8.self))
        else {
            self.stats.ignore("ip-address")
            return
        }
        let rule = form == .adblock ? self.adblockRule : self.plainRule
        if self.responseIPs.insert(address, prefixLength: address.unmappedBitCount, value: UInt32(rule)) != nil {
            self.stats.duplicates += 1
        } else {
            self.stats.rules += 1
        }
    }

    /// Adds the name in `scratch` with the slots its form implies.
    private mutating func insert(labels: Int, star: Bool, form: RuleForm) throws(PolicyLoadError) {
        let toExceptions = form == .adblockException && self.config.role == .block
        let rule: Int
        switch form {
        case .star: rule = self.starRule
        case .adblock: rule = self.adblockRule
        case .adblockException: rule = self.exceptionRule
        default: rule = self.plainRule
        }
        let offset: UInt32? = self.scratch.withUnsafeBufferPointer { key in
            toExceptions ? self.exceptions.entry(for: key) : self.names.entry(for: key)
        }
        guard let offset else {
            throw PolicyLoadError(.tooLarge, source: self.config.name,
                "source '\(self.config.name)' is too large for the name index (over 4 GiB of names)")
        }
        let exact: Bool
        let below: Bool
        switch form {
        case .star:
            exact = false
            below = true
        case .plain:
            exact = true
            below = self.config.subdomains
        default:
            exact = true
            below = true
        }
        var added = false
        if exact { added = self.set(rule, offset, .exact, labels, toExceptions) || added }
        if below { added = self.set(rule, offset, .below, labels, toExceptions) || added }
        if added { self.stats.rules += 1 } else { self.stats.duplicates += 1 }
    }

    private mutating func set(_ rule: Int, _ offset: UInt32, _ slot: NameIndex.Slot, _ labels: Int, _ exceptions: Bool)
        -> Bool
    {
        if exceptions {
            guard self.exceptions.code(at: offset, slot) == 0 else { return false }
            self.table.assign(rule, to: offset, slot, labelCount: labels, in: &self.exceptions)
        } else {
            guard self.names.code(at: offset, slot) == 0 else { return false }
            self.table.assign(rule, to: offset, slot, labelCount: labels, in: &self.names)
        }
        return true
    }

    /// True for an IPv4 or IPv6 address token (hosts-file first column).
    private static func isIPAddress(_ b: UnsafeBufferPointer<UInt8>, _ s: Int, _ e: Int) -> Bool {
        var colon = false
        for i in s..<e where b[i] == UInt8(ascii: ":") { colon = true }
        if colon {
            return IPv6Address(String(decoding: UnsafeBufferPointer(rebasing: b[s..<e]), as: UTF8.self)) != nil
        }
        // Dotted quad, checked on the bytes: hosts files have a million of these.
        var octet = 0
        var digits = 0
        var dots = 0
        for i in s..<e {
            let c = b[i]
            if c >= 0x30 && c <= 0x39 {
                octet = octet * 10 + Int(c - 0x30)
                digits += 1
                guard digits <= 3, octet <= 255 else { return false }
            } else if c == UInt8(ascii: ".") {
                guard digits > 0 else { return false }
                dots += 1
                octet = 0
                digits = 0
            } else {
                return false
            }
        }
        return dots == 3 && digits > 0
    }
}

/// Limits shared by the list and RPZ compilers.
enum DomainNameLimits {
    /// A key is a wire name without its root byte, so at most 254 octets.
    static let maxKeyLength = 255
}
