/// A resource record TYPE (RFC 1035 §3.2.2); any 16-bit value is representable (RFC 3597).
public struct RecordType: RawRepresentable, Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The numeric type code.
    public var rawValue: UInt16
    /// Wraps a type code.
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// Wraps a type code.
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    /// RFC 1035: a host address.
    public static let a = RecordType(1)
    /// RFC 1035: an authoritative name server.
    public static let ns = RecordType(2)
    /// RFC 1035: the canonical name for an alias.
    public static let cname = RecordType(5)
    /// RFC 1035: start of a zone of authority.
    public static let soa = RecordType(6)
    /// RFC 1035: a domain name pointer.
    public static let ptr = RecordType(12)
    /// RFC 1035: host information (RFC 8482 answers ANY with it).
    public static let hinfo = RecordType(13)
    /// RFC 1035: mail exchange.
    public static let mx = RecordType(15)
    /// RFC 1035: text strings.
    public static let txt = RecordType(16)
    /// RFC 3596: an IPv6 host address.
    public static let aaaa = RecordType(28)
    /// RFC 2782: service location.
    public static let srv = RecordType(33)
    /// RFC 3403: naming authority pointer.
    public static let naptr = RecordType(35)
    /// RFC 6672: delegation of a subtree.
    public static let dname = RecordType(39)
    /// RFC 6891: the EDNS pseudo-record.
    public static let opt = RecordType(41)
    /// RFC 4034: delegation signer.
    public static let ds = RecordType(43)
    /// RFC 4255: SSH key fingerprint.
    public static let sshfp = RecordType(44)
    /// RFC 4034: resource record signature.
    public static let rrsig = RecordType(46)
    /// RFC 4034: next secure.
    public static let nsec = RecordType(47)
    /// RFC 4034: DNS public key.
    public static let dnskey = RecordType(48)
    /// RFC 5155: hashed next secure.
    public static let nsec3 = RecordType(50)
    /// RFC 5155: NSEC3 parameters.
    public static let nsec3param = RecordType(51)
    /// RFC 6698: TLSA certificate association.
    public static let tlsa = RecordType(52)
    /// RFC 7344: child DS.
    public static let cds = RecordType(59)
    /// RFC 7344: child DNSKEY.
    public static let cdnskey = RecordType(60)
    /// RFC 9460: general service binding.
    public static let svcb = RecordType(64)
    /// RFC 9460: HTTPS service binding.
    public static let https = RecordType(65)
    /// RFC 8945: transaction signature.
    public static let tsig = RecordType(250)
    /// RFC 1995: incremental zone transfer.
    public static let ixfr = RecordType(251)
    /// RFC 5936: full zone transfer.
    public static let axfr = RecordType(252)
    /// RFC 1035 `*`: all records (RFC 8482 answers it minimally).
    public static let any = RecordType(255)
    /// RFC 8659: certification authority authorization.
    public static let caa = RecordType(257)

    /// Mnemonics known to this codec (IANA "Resource Record (RR) TYPEs"), also for types whose RDATA
    /// stays opaque.
    public static let mnemonics: [RecordType: String] = [
        .a: "A", .ns: "NS", RecordType(3): "MD", RecordType(4): "MF", .cname: "CNAME", .soa: "SOA",
        RecordType(7): "MB", RecordType(8): "MG", RecordType(9): "MR", RecordType(10): "NULL", RecordType(11): "WKS",
        .ptr: "PTR", .hinfo: "HINFO", RecordType(14): "MINFO", .mx: "MX", .txt: "TXT", RecordType(17): "RP",
        RecordType(18): "AFSDB", RecordType(19): "X25", RecordType(20): "ISDN", RecordType(21): "RT",
        RecordType(22): "NSAP", RecordType(23): "NSAP-PTR", RecordType(24): "SIG", RecordType(25): "KEY",
        RecordType(26): "PX", RecordType(27): "GPOS", .aaaa: "AAAA", RecordType(29): "LOC", RecordType(30): "NXT",
        .srv: "SRV", .naptr: "NAPTR", RecordType(36): "KX", RecordType(37): "CERT", RecordType(38): "A6",
        .dname: "DNAME", .opt: "OPT", RecordType(42): "APL", .ds: "DS", .sshfp: "SSHFP", RecordType(45): "IPSECKEY",
        .rrsig: "RRSIG", .nsec: "NSEC", .dnskey: "DNSKEY", RecordType(49): "DHCID", .nsec3: "NSEC3",
        .nsec3param: "NSEC3PARAM", .tlsa: "TLSA", RecordType(53): "SMIMEA", RecordType(55): "HIP", .cds: "CDS",
        .cdnskey: "CDNSKEY", RecordType(61): "OPENPGPKEY", RecordType(62): "CSYNC", RecordType(63): "ZONEMD",
        .svcb: "SVCB", .https: "HTTPS", RecordType(99): "SPF", RecordType(104): "NID", RecordType(105): "L32",
        RecordType(106): "L64", RecordType(107): "LP", RecordType(108): "EUI48", RecordType(109): "EUI64",
        RecordType(249): "TKEY", .tsig: "TSIG", .ixfr: "IXFR", .axfr: "AXFR", RecordType(253): "MAILB",
        RecordType(254): "MAILA", .any: "ANY", RecordType(256): "URI", .caa: "CAA", RecordType(258): "AVC",
        RecordType(260): "AMTRELAY", RecordType(32768): "TA", RecordType(32769): "DLV",
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

    /// The Internet.
    public static let `in` = DNSClass(1)
    /// CHAOS (`version.bind` and friends).
    public static let chaos = DNSClass(3)
    /// Hesiod.
    public static let hesiod = DNSClass(4)
    /// RFC 2136 NONE (update deletions).
    public static let none = DNSClass(254)
    /// RFC 1035 `*` (and RFC 2136 prerequisites).
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
