/// A resource record TYPE (RFC 1035 §3.2.2); any 16-bit value is representable (RFC 3597).
public struct RecordType: RawRepresentable, Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The numeric type code.
    public var rawValue: UInt16
    /// Wraps a type code.
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// Wraps a type code.
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    public static let a = RecordType(1)
    public static let ns = RecordType(2)
    public static let cname = RecordType(5)
    public static let soa = RecordType(6)
    public static let ptr = RecordType(12)
    public static let hinfo = RecordType(13)
    public static let mx = RecordType(15)
    public static let txt = RecordType(16)
    public static let aaaa = RecordType(28)
    public static let srv = RecordType(33)
    public static let naptr = RecordType(35)
    public static let dname = RecordType(39)
    public static let opt = RecordType(41)
    public static let ds = RecordType(43)
    public static let sshfp = RecordType(44)
    public static let rrsig = RecordType(46)
    public static let nsec = RecordType(47)
    public static let dnskey = RecordType(48)
    public static let nsec3 = RecordType(50)
    public static let nsec3param = RecordType(51)
    public static let tlsa = RecordType(52)
    public static let svcb = RecordType(64)
    public static let https = RecordType(65)
    public static let tsig = RecordType(250)
    public static let ixfr = RecordType(251)
    public static let axfr = RecordType(252)
    public static let any = RecordType(255)
    public static let caa = RecordType(257)

    /// Mnemonics known to this codec.
    public static let mnemonics: [RecordType: String] = [
        .a: "A", .ns: "NS", .cname: "CNAME", .soa: "SOA", .ptr: "PTR", .hinfo: "HINFO", .mx: "MX",
        .txt: "TXT", .aaaa: "AAAA", .srv: "SRV", .naptr: "NAPTR", .dname: "DNAME", .opt: "OPT", .ds: "DS",
        .sshfp: "SSHFP", .rrsig: "RRSIG", .nsec: "NSEC", .dnskey: "DNSKEY", .nsec3: "NSEC3",
        .nsec3param: "NSEC3PARAM", .tlsa: "TLSA", .svcb: "SVCB", .https: "HTTPS", .tsig: "TSIG",
        .ixfr: "IXFR", .axfr: "AXFR", .any: "ANY", .caa: "CAA",
    ]
    private static let byMnemonic: [String: RecordType] = {
        var d: [String: RecordType] = [:]
        for (k, v) in mnemonics { d[v] = k }
        return d
    }()

    /// Parses `A`, `aaaa` or the generic `TYPE65534` (RFC 3597 §5).
    public init?(mnemonic: String) {
        let up = mnemonic.uppercased()
        if let t = Self.byMnemonic[up] {
            self = t
        } else if up.hasPrefix("TYPE"), let v = UInt16(up.dropFirst(4)) {
            self.rawValue = v
        } else {
            return nil
        }
    }

    /// `A`, `AAAA`, … or `TYPEnnn` for types without a mnemonic.
    public var description: String { Self.mnemonics[self] ?? "TYPE\(self.rawValue)" }

    public static func < (a: RecordType, b: RecordType) -> Bool { a.rawValue < b.rawValue }
}

/// A resource record CLASS (RFC 1035 §3.2.4).
public struct DNSClass: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The numeric class code.
    public var rawValue: UInt16
    /// Wraps a class code.
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// Wraps a class code.
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    public static let `in` = DNSClass(1)
    public static let chaos = DNSClass(3)
    public static let hesiod = DNSClass(4)
    public static let none = DNSClass(254)
    public static let any = DNSClass(255)

    /// Parses `IN`, `CH`, `HS`, `NONE`, `ANY` or `CLASSnnn`.
    public init?(mnemonic: String) {
        switch mnemonic.uppercased() {
        case "IN": self = .in
        case "CH": self = .chaos
        case "HS": self = .hesiod
        case "NONE": self = .none
        case "ANY": self = .any
        case let s where s.hasPrefix("CLASS"):
            guard let v = UInt16(s.dropFirst(5)) else { return nil }
            self.rawValue = v
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .in: "IN"
        case .chaos: "CH"
        case .hesiod: "HS"
        case .none: "NONE"
        case .any: "ANY"
        default: "CLASS\(self.rawValue)"
        }
    }
}
