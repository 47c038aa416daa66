/// DNS opcode (RFC 1035 §4.1.1, RFC 6895).
public struct OpCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// Four-bit value.
    public var rawValue: UInt8
    /// Wraps an opcode (only the low four bits are kept).
    public init(rawValue: UInt8) { self.rawValue = rawValue & 0x0F }
    public static let query = OpCode(rawValue: 0)
    public static let iquery = OpCode(rawValue: 1)
    public static let status = OpCode(rawValue: 2)
    public static let notify = OpCode(rawValue: 4)
    public static let update = OpCode(rawValue: 5)
    public var description: String {
        switch self.rawValue {
        case 0: "QUERY"
        case 1: "IQUERY"
        case 2: "STATUS"
        case 4: "NOTIFY"
        case 5: "UPDATE"
        default: "OPCODE\(self.rawValue)"
        }
    }
}

/// Response code, including the 12-bit extended range carried partly in OPT (RFC 6891 §6.1.3).
public struct ResponseCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The full (up to 12-bit) value.
    public var rawValue: UInt16
    /// Wraps an rcode.
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let noError = ResponseCode(rawValue: 0)
    public static let formErr = ResponseCode(rawValue: 1)
    public static let servFail = ResponseCode(rawValue: 2)
    public static let nxDomain = ResponseCode(rawValue: 3)
    public static let notImp = ResponseCode(rawValue: 4)
    public static let refused = ResponseCode(rawValue: 5)
    public static let notAuth = ResponseCode(rawValue: 9)
    public static let notZone = ResponseCode(rawValue: 10)
    public static let badVers = ResponseCode(rawValue: 16)
    public static let badCookie = ResponseCode(rawValue: 23)

    /// Lower-case-free label for metrics and logs (`NOERROR`, `NXDOMAIN`, …).
    public var description: String {
        switch self.rawValue {
        case 0: "NOERROR"
        case 1: "FORMERR"
        case 2: "SERVFAIL"
        case 3: "NXDOMAIN"
        case 4: "NOTIMP"
        case 5: "REFUSED"
        case 6: "YXDOMAIN"
        case 7: "YXRRSET"
        case 8: "NXRRSET"
        case 9: "NOTAUTH"
        case 10: "NOTZONE"
        case 16: "BADVERS"
        case 23: "BADCOOKIE"
        default: "RCODE\(self.rawValue)"
        }
    }
}

/// The fixed 12-byte message header (RFC 1035 §4.1.1), without the section counts, which
/// ``DNSMessage`` derives from its sections.
public struct Header: Sendable, Hashable {
    /// "A 16 bit identifier assigned by the program that generates any kind of query."
    public var id: UInt16
    /// "A one bit field that specifies whether this message is a query (0), or a response (1)."
    public var isResponse: Bool
    /// "A four bit field that specifies kind of query in this message."
    public var opcode: OpCode
    /// Authoritative Answer.
    public var authoritative: Bool
    /// TrunCation: "this message was truncated due to length greater than that permitted".
    public var truncated: Bool
    /// Recursion Desired.
    public var recursionDesired: Bool
    /// Recursion Available.
    public var recursionAvailable: Bool
    /// The reserved Z bit (must be zero).
    public var zero: Bool
    /// Authentic Data (RFC 4035 §3.2.3).
    public var authenticData: Bool
    /// Checking Disabled (RFC 4035 §3.2.2).
    public var checkingDisabled: Bool
    /// The low four bits of the response code.
    public var rcodeLow: UInt8

    /// A query header with RD set.
    public init(id: UInt16 = 0, isResponse: Bool = false, opcode: OpCode = .query, authoritative: Bool = false,
        truncated: Bool = false, recursionDesired: Bool = true, recursionAvailable: Bool = false,
        zero: Bool = false, authenticData: Bool = false, checkingDisabled: Bool = false, rcodeLow: UInt8 = 0)
    {
        self.id = id
        self.isResponse = isResponse
        self.opcode = opcode
        self.authoritative = authoritative
        self.truncated = truncated
        self.recursionDesired = recursionDesired
        self.recursionAvailable = recursionAvailable
        self.zero = zero
        self.authenticData = authenticData
        self.checkingDisabled = checkingDisabled
        self.rcodeLow = rcodeLow & 0x0F
    }

    /// The 16-bit flags word as on the wire.
    public var flags: UInt16 {
        var f: UInt16 = 0
        if self.isResponse { f |= 0x8000 }
        f |= UInt16(self.opcode.rawValue) << 11
        if self.authoritative { f |= 0x0400 }
        if self.truncated { f |= 0x0200 }
        if self.recursionDesired { f |= 0x0100 }
        if self.recursionAvailable { f |= 0x0080 }
        if self.zero { f |= 0x0040 }
        if self.authenticData { f |= 0x0020 }
        if self.checkingDisabled { f |= 0x0010 }
        f |= UInt16(self.rcodeLow & 0x0F)
        return f
    }

    /// Decodes id and flags.
    public init(id: UInt16, flags f: UInt16) {
        self.id = id
        self.isResponse = f & 0x8000 != 0
        self.opcode = OpCode(rawValue: UInt8((f >> 11) & 0x0F))
        self.authoritative = f & 0x0400 != 0
        self.truncated = f & 0x0200 != 0
        self.recursionDesired = f & 0x0100 != 0
        self.recursionAvailable = f & 0x0080 != 0
        self.zero = f & 0x0040 != 0
        self.authenticData = f & 0x0020 != 0
        self.checkingDisabled = f & 0x0010 != 0
        self.rcodeLow = UInt8(f & 0x000F)
    }
}
