/// A domain name in uncompressed wire form: length-prefixed labels ending with the root label.
///
/// Case is preserved (the client's question is echoed with its case, RFC 1035 §7.1), but equality,
/// hashing and ordering ignore ASCII case (RFC 4343).
public struct DomainName: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// RFC 1035 §2.3.4: "names 255 octets or less".
    public static let maxWireLength = 255
    /// RFC 1035 §2.3.4: "labels 63 octets or less".
    public static let maxLabelLength = 63

    /// Uncompressed wire bytes including the terminating zero octet.
    public let wire: [UInt8]

    /// The root name `.`.
    public static let root = DomainName(uncheckedWire: [0])

    /// Wraps wire bytes already validated by the caller.
    package init(uncheckedWire: [UInt8]) {
        self.wire = uncheckedWire
    }

    /// Validates and wraps uncompressed wire bytes.
    /// - Throws: ``DecodeError`` when a label or the name is too long or the bytes are malformed.
    public init(wire: [UInt8]) throws(DecodeError) {
        guard wire.count <= Self.maxWireLength else { throw DecodeError(.nameTooLong, field: "name", offset: 0) }
        var pos = 0
        while true {
            guard pos < wire.count else { throw DecodeError(.truncated, field: "name", offset: pos) }
            let l = Int(wire[pos])
            if l == 0 { break }
            guard l <= Self.maxLabelLength else { throw DecodeError(.labelTooLong, field: "name", offset: pos) }
            pos += l + 1
        }
        guard pos == wire.count - 1 else { throw DecodeError(.trailingBytes, field: "name", offset: pos) }
        self.wire = wire
    }

    /// Builds a name from labels (raw bytes, no escapes).
    public init(labels: [[UInt8]]) throws(DecodeError) {
        var w: [UInt8] = []
        for (i, l) in labels.enumerated() {
            guard !l.isEmpty else { throw DecodeError(.badPresentation, field: "name", offset: i, detail: "empty label") }
            guard l.count <= Self.maxLabelLength else { throw DecodeError(.labelTooLong, field: "name", offset: i) }
            w.append(UInt8(l.count))
            w.append(contentsOf: l)
        }
        w.append(0)
        guard w.count <= Self.maxWireLength else { throw DecodeError(.nameTooLong, field: "name", offset: 0) }
        self.wire = w
    }

    /// Parses presentation text (`www.example.org.`), with `\.` and `\DDD` escapes.
    ///
    /// A name without a trailing dot is taken relative to `origin` (root when nil).
    /// `@` means the origin itself.
    /// - Throws: ``DecodeError`` with reason `.badPresentation`, `.labelTooLong` or `.nameTooLong`.
    public init(_ text: String, origin: DomainName? = nil) throws(DecodeError) {
        if text == "@" {
            self = origin ?? .root
            return
        }
        if text == "." {
            self = .root
            return
        }
        var labels: [[UInt8]] = []
        var current: [UInt8] = []
        let utf8 = Array(text.utf8)
        var i = 0
        var absolute = false
        while i < utf8.count {
            let c = utf8[i]
            if c == UInt8(ascii: "\\") {
                guard i + 1 < utf8.count else {
                    throw DecodeError(.badPresentation, field: "name", offset: i, detail: "dangling escape in \(text)")
                }
                let n = utf8[i + 1]
                if n >= 0x30 && n <= 0x39 {
                    guard i + 3 < utf8.count,
                        (0x30...0x39).contains(utf8[i + 2]), (0x30...0x39).contains(utf8[i + 3])
                    else { throw DecodeError(.badPresentation, field: "name", offset: i, detail: "bad \\DDD in \(text)") }
                    let v = Int(n - 0x30) * 100 + Int(utf8[i + 2] - 0x30) * 10 + Int(utf8[i + 3] - 0x30)
                    guard v <= 255 else {
                        throw DecodeError(.badPresentation, field: "name", offset: i, detail: "\\DDD > 255 in \(text)")
                    }
                    current.append(UInt8(v))
                    i += 4
                } else {
                    current.append(n)
                    i += 2
                }
                continue
            }
            if c == UInt8(ascii: ".") {
                guard !current.isEmpty else {
                    throw DecodeError(.badPresentation, field: "name", offset: i, detail: "empty label in \(text)")
                }
                labels.append(current)
                current = []
                if i == utf8.count - 1 { absolute = true }
                i += 1
                continue
            }
            current.append(c)
            i += 1
        }
        if !current.isEmpty { labels.append(current) }
        if !absolute, let origin = origin {
            let own = try DomainName(labels: labels)
            self = try own.appending(origin)
        } else {
            self = try DomainName(labels: labels)
        }
    }

    /// The labels, most specific first, as raw bytes.
    public var labels: [ArraySlice<UInt8>] {
        var out: [ArraySlice<UInt8>] = []
        var pos = 0
        while pos < self.wire.count {
            let l = Int(self.wire[pos])
            if l == 0 { break }
            out.append(self.wire[(pos + 1)...(pos + l)])
            pos += l + 1
        }
        return out
    }

    /// Number of labels, not counting the root.
    public var labelCount: Int {
        var n = 0
        var pos = 0
        while pos < self.wire.count, self.wire[pos] != 0 {
            n += 1
            pos += Int(self.wire[pos]) + 1
        }
        return n
    }

    /// True for the root name.
    public var isRoot: Bool { self.wire.count == 1 }

    /// The name with its first label removed; nil for the root.
    public var parent: DomainName? {
        guard !self.isRoot else { return nil }
        let l = Int(self.wire[0])
        return DomainName(uncheckedWire: Array(self.wire[(l + 1)...]))
    }

    /// This name followed by `suffix` (`www` + `example.org.`).
    /// - Throws: ``DecodeError`` `.nameTooLong` when the result exceeds 255 octets.
    public func appending(_ suffix: DomainName) throws(DecodeError) -> DomainName {
        var w = Array(self.wire.dropLast())
        w.append(contentsOf: suffix.wire)
        guard w.count <= Self.maxWireLength else { throw DecodeError(.nameTooLong, field: "name", offset: 0) }
        return DomainName(uncheckedWire: w)
    }

    /// A prefix label sequence followed by this name, e.g. `*` + `example.org.` → `*.example.org.`.
    public func prepending(label: [UInt8]) throws(DecodeError) -> DomainName {
        guard !label.isEmpty, label.count <= Self.maxLabelLength else {
            throw DecodeError(.labelTooLong, field: "name", offset: 0)
        }
        var w: [UInt8] = [UInt8(label.count)]
        w.append(contentsOf: label)
        w.append(contentsOf: self.wire)
        guard w.count <= Self.maxWireLength else { throw DecodeError(.nameTooLong, field: "name", offset: 0) }
        return DomainName(uncheckedWire: w)
    }

    /// If this name ends with `suffix`, the name with that suffix removed (relative part, made absolute).
    public func relativized(to suffix: DomainName) -> DomainName? {
        guard self.isSubdomain(of: suffix) else { return nil }
        let keep = self.wire.count - suffix.wire.count
        var w = Array(self.wire[0..<keep])
        w.append(0)
        return DomainName(uncheckedWire: w)
    }

    /// True when this name equals `other` or lies below it (case-insensitive).
    public func isSubdomain(of other: DomainName) -> Bool {
        let n = self.wire.count, m = other.wire.count
        guard n >= m else { return false }
        // The suffix must start at a label boundary.
        var pos = 0
        while pos < n - m {
            pos += Int(self.wire[pos]) + 1
        }
        guard pos == n - m else { return false }
        for i in 0..<m where Self.lower(self.wire[pos + i]) != Self.lower(other.wire[i]) {
            return false
        }
        return true
    }

    /// True when the first label is `*` (a wildcard owner, RFC 4592).
    public var isWildcard: Bool { self.wire.count >= 2 && self.wire[0] == 1 && self.wire[1] == UInt8(ascii: "*") }

    /// The name in lower case (ASCII only).
    public var lowercased: DomainName { DomainName(uncheckedWire: Self.lowercase(self.wire)) }

    /// ASCII lowercase of one byte.
    @inline(__always)
    public static func lower(_ b: UInt8) -> UInt8 { (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b }

    /// Lowercases ASCII letters in a byte array.
    public static func lowercase(_ bytes: [UInt8]) -> [UInt8] {
        // Most names arrive in lowercase already: share their storage instead of copying it (a cache key is built
        // from the lowercased name on every lookup).
        guard let first = bytes.firstIndex(where: { $0 >= 0x41 && $0 <= 0x5A }) else { return bytes }
        var out = bytes
        for i in first..<out.endIndex { out[i] = Self.lower(out[i]) }
        return out
    }

    /// Equal ignoring ASCII case, eight octets at a time (the query log compares names on every group lookup, and up
    /// to 17 times per query for a group kept by its rule).
    /// Length octets are at most 63, below 'A', so lowercasing the whole wire form leaves them alone.
    public static func == (a: DomainName, b: DomainName) -> Bool {
        guard a.wire.count == b.wire.count else { return false }
        return a.wire.withUnsafeBytes { ra in b.wire.withUnsafeBytes { rb in Self.wireEqual(ra, rb) } }
    }

    /// Whether two uncompressed wire names (or any two byte strings) are equal ignoring ASCII case, eight octets at a
    /// time: ``==`` on raw bytes, for a caller whose name is still inside a message.
    @inline(__always)
    public static func wireEqual(_ ra: UnsafeRawBufferPointer, _ rb: UnsafeRawBufferPointer) -> Bool {
        let n = ra.count
        guard n == rb.count else { return false }
        if ra.baseAddress == rb.baseAddress { return true }
        var i = 0
        while i + 8 <= n {
            if Self.lower8(ra.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                != Self.lower8(rb.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            {
                return false
            }
            i += 8
        }
        while i < n {
            if Self.lower(ra[i]) != Self.lower(rb[i]) { return false }
            i += 1
        }
        return true
    }

    /// Hashes the lowercased wire form eight octets at a time (names are cache and policy keys,
    /// so this is on the hot path).
    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.wire.count)
        self.forEachLowercasedWord { word, _ in hasher.combine(word) }
    }

    /// A fast, unkeyed 64-bit hash of the lowercased wire form, independent of `hash(into:)` (equal names give equal
    /// values, whatever their case). Not for hash tables an attacker can fill: a second check beside a keyed hash.
    public func checkHash() -> UInt64 {
        var h: UInt64 = UInt64(self.wire.count) &* 0x9E37_79B9_7F4A_7C15
        self.forEachLowercasedWord { word, isTail in
            if isTail {
                h = (h ^ word) &* 0xC4CE_B9FE_1A85_EC53
                h ^= h >> 29
            } else {
                h = (h ^ word) &* 0xFF51_AFD7_ED55_8CCD
                h ^= h >> 32
            }
        }
        return h
    }

    /// Calls `body` with the lowercased wire form eight octets at a time (little-endian words), then once with the
    /// remaining 0–7 octets in the low bytes of a last word (`isTail`).
    @inline(__always)
    private func forEachLowercasedWord(_ body: (_ word: UInt64, _ isTail: Bool) -> Void) {
        self.wire.withUnsafeBytes { raw in
            var i = 0
            while i + 8 <= raw.count {
                body(Self.lower8(raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)), false)
                i += 8
            }
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while i < raw.count {
                tail |= UInt64(Self.lower(raw[i])) << shift
                shift += 8
                i += 1
            }
            body(tail, true)
        }
    }

    /// ASCII-lowercases eight octets at once: sets 0x20 in every octet that is 'A'...'Z'.
    @inline(__always)
    static func lower8(_ x: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let high: UInt64 = 0x8080_8080_8080_8080
        let low7 = x & ~high
        // Per octet (no carries: each 7-bit value plus the constant stays below 0x100), the top bit
        // says "at least 'A'" and "past 'Z'" respectively.
        let atLeastA = low7 &+ (0x80 - 0x41) &* ones
        let pastZ = low7 &+ (0x80 - 0x5B) &* ones
        let upper = atLeastA & ~pastZ & ~x & high
        return x | (upper >> 2)
    }

    /// Canonical DNS ordering (RFC 4034 §6.1): compare label by label from the root.
    public static func < (a: DomainName, b: DomainName) -> Bool {
        let la = a.labels.reversed().map { Self.lowercase(Array($0)) }
        let lb = b.labels.reversed().map { Self.lowercase(Array($0)) }
        for (x, y) in zip(la, lb) where x != y {
            return x.lexicographicallyPrecedes(y)
        }
        return la.count < lb.count
    }

    /// ``description`` without its final dot: `www.example` for `www.example.`, empty for the root. The form rule
    /// texts, relative owner names and messages print.
    public var descriptionWithoutDot: String {
        self.wire.withUnsafeBufferPointer { Self.presentation(ofLabels: $0, prefix: "", trailingDot: false) }
    }

    /// Presentation form with a trailing dot; special characters are escaped (RFC 4343 §2.1).
    public var description: String {
        if self.isRoot { return "." }
        return self.wire.withUnsafeBufferPointer { Self.presentation(ofLabels: $0, prefix: "", trailingDot: true) }
    }

    /// The presentation form of wire-format labels, escaped as ``description`` escapes them, built in one string
    /// allocation: names are printed for every logged and blocked query, and going through a byte array and then a
    /// string (or appending Characters one at a time) was the largest cost of building a block's rule text.
    ///
    /// - Parameters:
    ///   - labels: length-prefixed labels; a zero length (the root) or the end of the buffer ends the name, and a
    ///     label running past the end is cut there.
    ///   - prefix: ASCII text put before the name (`*.` for a wildcard rule).
    ///   - trailingDot: whether the last label is followed by a dot.
    package static func presentation(ofLabels labels: UnsafeBufferPointer<UInt8>, prefix: StaticString,
        trailingDot: Bool) -> String
    {
        // Each byte becomes at most four (`\DDD`); each label adds a dot.
        let capacity = prefix.utf8CodeUnitCount + labels.count * 4 + 1
        return String(unsafeUninitializedCapacity: capacity) { out in
            var n = 0
            prefix.withUTF8Buffer { p in
                for b in p {
                    out[n] = b
                    n += 1
                }
            }
            var pos = 0
            var first = true
            while pos < labels.count {
                let l = Int(labels[pos])
                if l == 0 { break }
                if !first {
                    out[n] = UInt8(ascii: ".")
                    n += 1
                }
                first = false
                let end = min(pos + l, labels.count - 1)
                var i = pos + 1
                while i <= end {
                    let b = labels[i]
                    switch b {
                    case UInt8(ascii: "."), UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "("),
                        UInt8(ascii: ")"), UInt8(ascii: ";"), UInt8(ascii: "@"), UInt8(ascii: "$"):
                        out[n] = UInt8(ascii: "\\")
                        out[n + 1] = b
                        n += 2
                    case 0x21...0x7E:
                        out[n] = b
                        n += 1
                    default:
                        // \DDD, three decimal digits.
                        out[n] = UInt8(ascii: "\\")
                        out[n + 1] = UInt8(ascii: "0") + b / 100
                        out[n + 2] = UInt8(ascii: "0") + (b / 10) % 10
                        out[n + 3] = UInt8(ascii: "0") + b % 10
                        n += 4
                    }
                    i += 1
                }
                pos += l + 1
            }
            if trailingDot && !first {
                out[n] = UInt8(ascii: ".")
                n += 1
            }
            return n
        }
    }
}
