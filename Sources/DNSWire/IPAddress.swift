/// An IPv4 address (four octets in network order).
public struct IPv4Address: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The address as a big-endian 32-bit value.
    public var value: UInt32

    /// Wraps a 32-bit value.
    public init(_ value: UInt32) { self.value = value }

    /// Builds from four octets.
    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        self.value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Parses dotted-quad text; nil when it is not exactly four decimal octets.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var v: UInt32 = 0
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy({ $0.isASCII && $0.isNumber }), let o = UInt8(p) else {
                return nil
            }
            v = v << 8 | UInt32(o)
        }
        self.value = v
    }

    /// The four octets.
    public var bytes: [UInt8] {
        [UInt8(self.value >> 24), UInt8((self.value >> 16) & 0xFF), UInt8((self.value >> 8) & 0xFF), UInt8(self.value & 0xFF)]
    }

    /// Dotted-quad text, written into one string: the query log prints a client address and every A answer of each
    /// row, and interpolating four integers cost five times as much.
    public var description: String {
        String(unsafeUninitializedCapacity: 15) { out in
            var n = 0
            for shift in stride(from: 24, through: 0, by: -8) {
                let octet = Int((self.value >> UInt32(shift)) & 0xFF)
                if shift != 24 {
                    out[n] = UInt8(ascii: ".")
                    n += 1
                }
                if octet >= 100 {
                    out[n] = UInt8(48 + octet / 100)
                    n += 1
                }
                if octet >= 10 {
                    out[n] = UInt8(48 + octet / 10 % 10)
                    n += 1
                }
                out[n] = UInt8(48 + octet % 10)
                n += 1
            }
            return n
        }
    }

    public static func < (a: IPv4Address, b: IPv4Address) -> Bool { a.value < b.value }
}

/// An IPv6 address (sixteen octets in network order).
public struct IPv6Address: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// High 64 bits.
    public var high: UInt64
    /// Low 64 bits.
    public var low: UInt64

    /// Wraps two 64-bit halves.
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Builds from exactly sixteen octets; nil otherwise.
    ///
    /// Inlinable, so each caller gets a copy specialized for its collection: called through the generic entry point
    /// from another module, `enumerated()` looked up the metadata of its `(offset, element)` tuple in the runtime's
    /// locked cache for every octet (2.2 % of the process on the miss mix, where the query log prints each AAAA).
    @inlinable
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 16 else { return nil }
        var h: UInt64 = 0
        var l: UInt64 = 0
        var i = 0
        for b in bytes {
            if i < 8 { h = h << 8 | UInt64(b) } else { l = l << 8 | UInt64(b) }
            i += 1
        }
        self.init(high: h, low: l)
    }

    /// Parses RFC 4291 §2.2 text, including `::` and an embedded dotted quad.
    public init?(_ text: some StringProtocol) {
        var s = String(text)
        var tail: [UInt16] = []
        if let lastColon = s.lastIndex(of: ":"), s[s.index(after: lastColon)...].contains(".") {
            guard let v4 = IPv4Address(s[s.index(after: lastColon)...]) else { return nil }
            tail = [UInt16(v4.value >> 16), UInt16(v4.value & 0xFFFF)]
            s = String(s[...lastColon])
            if s.hasSuffix(":") && !s.hasSuffix("::") { s.removeLast() }
        }
        func groups(_ part: Substring) -> [UInt16]? {
            if part.isEmpty { return [] }
            var out: [UInt16] = []
            for g in part.split(separator: ":", omittingEmptySubsequences: false) {
                guard !g.isEmpty, g.count <= 4, let v = UInt16(g, radix: 16) else { return nil }
                out.append(v)
            }
            return out
        }
        var words: [UInt16]
        let u = Array(s.utf8)
        var dc: Int? = nil
        if u.count >= 2 {
            for i in 0..<(u.count - 1) where u[i] == UInt8(ascii: ":") && u[i + 1] == UInt8(ascii: ":") {
                dc = i
                break
            }
        }
        if let at = dc {
            let lo = s.utf8.index(s.startIndex, offsetBy: at)
            let hi = s.utf8.index(lo, offsetBy: 2)
            guard let head = groups(s[..<lo]), let rest = groups(s[hi...]) else { return nil }
            let after = rest + tail
            let fill = 8 - head.count - after.count
            guard fill >= 1 else { return nil }
            words = head + Array(repeating: 0, count: fill) + after
        } else {
            guard let g = groups(Substring(s)) else { return nil }
            words = g + tail
        }
        guard words.count == 8 else { return nil }
        var h: UInt64 = 0
        var l: UInt64 = 0
        for (i, w) in words.enumerated() {
            if i < 4 { h = h << 16 | UInt64(w) } else { l = l << 16 | UInt64(w) }
        }
        self.high = h
        self.low = l
    }

    /// The sixteen octets.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(16)
        for i in (0..<8).reversed() { out.append(UInt8((self.high >> (UInt64(i) * 8)) & 0xFF)) }
        for i in (0..<8).reversed() { out.append(UInt8((self.low >> (UInt64(i) * 8)) & 0xFF)) }
        return out
    }

    /// Eight 16-bit groups.
    public var words: [UInt16] { (0..<8).map(self.word) }

    /// The longest run of two or more zero words (the first such run on a tie), as RFC 5952 §4.2 and the
    /// RPZ `zz` label both compress it; nil when there is none.
    public var longestZeroRun: (start: Int, length: Int)? {
        var bestStart = -1
        var bestLen = 1
        var i = 0
        while i < 8 {
            if self.word(i) == 0 {
                var j = i
                while j < 8 && self.word(j) == 0 { j += 1 }
                if j - i > bestLen {
                    bestStart = i
                    bestLen = j - i
                }
                i = j
            } else {
                i += 1
            }
        }
        return bestStart < 0 ? nil : (bestStart, bestLen)
    }

    /// Group `i` (0 to 7), without building ``words``.
    @inline(__always)
    func word(_ i: Int) -> UInt16 {
        UInt16(truncatingIfNeeded: (i < 4 ? self.high : self.low) >> UInt64((3 - i % 4) * 16))
    }

    /// RFC 5952 canonical text (lower case, longest zero run compressed), written into one string: every AAAA answer
    /// of a logged row is printed, and mapping each group to a string and joining them made a dozen allocations.
    public var description: String {
        let run = self.longestZeroRun
        let skipStart = run?.start ?? 8
        let skipEnd = run.map { $0.start + $0.length } ?? 8
        // Eight groups of at most four digits and seven separators.
        return String(unsafeUninitializedCapacity: 39) { out in
            var n = 0
            var i = 0
            while i < 8 {
                if i == skipStart {
                    out[n] = UInt8(ascii: ":")
                    out[n + 1] = UInt8(ascii: ":")
                    n += 2
                    i = skipEnd
                    continue
                }
                if i > 0 && i != skipEnd {
                    out[n] = UInt8(ascii: ":")
                    n += 1
                }
                let word = self.word(i)
                var started = false
                for shift in stride(from: 12, through: 0, by: -4) {
                    let digit = Int((word >> UInt16(shift)) & 0xF)
                    if digit == 0 && !started && shift != 0 { continue }
                    started = true
                    out[n] = digit < 10 ? UInt8(48 + digit) : UInt8(87 + digit)
                    n += 1
                }
                i += 1
            }
            return n
        }
    }

    public static func < (a: IPv6Address, b: IPv6Address) -> Bool { (a.high, a.low) < (b.high, b.low) }
}

/// Either address family.
public enum IPAddress: Sendable, Hashable, CustomStringConvertible {
    case v4(IPv4Address)
    case v6(IPv6Address)

    /// Parses either form; an IPv4-mapped IPv6 address stays IPv6.
    public init?(_ text: some StringProtocol) {
        if let v4 = IPv4Address(text) {
            self = .v4(v4)
        } else if let v6 = IPv6Address(text) {
            self = .v6(v6)
        } else {
            return nil
        }
    }

    /// `::ffff:a.b.c.d` becomes the IPv4 address; anything else is returned unchanged.
    public var unmapped: IPAddress {
        if case .v6(let a) = self, a.high == 0, a.low >> 32 == 0xFFFF {
            return .v4(IPv4Address(UInt32(a.low & 0xFFFF_FFFF)))
        }
        return self
    }

    public var description: String {
        switch self {
        case .v4(let a): a.description
        case .v6(let a): a.description
        }
    }
}
