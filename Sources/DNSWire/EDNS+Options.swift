/// Typed views of the EDNS options this codec interprets. Options stay raw in ``EDNS/options`` (so
/// unknown ones survive a round trip); these views build and read them.
extension EDNSOption {
    /// Why this option is malformed, for the options whose RFC asks for FORMERR (Client Subnet,
    /// Cookie, TCP keepalive); nil when it is well formed or of another code.
    var validationProblem: String? {
        self.data.withUnsafeBytes { Self.problem(code: self.code, data: $0) }
    }

    /// Checks an option's data in place (no allocation on success), for the decoder and ``QuickQuery``.
    static func problem(code: EDNSOptionCode, data d: UnsafeRawBufferPointer) -> String? {
        switch code {
        case .clientSubnet:
            // RFC 7871 §6 and §7.1.1.
            guard d.count >= 4 else { return "ECS needs at least 4 octets, got \(d.count)" }
            let family = UInt16(d[0]) << 8 | UInt16(d[1])
            let source = Int(d[2])
            let scope = Int(d[3])
            let bits: Int
            switch family {
            case 1: bits = 32
            case 2: bits = 128
            default: return "unknown address family \(family)"
            }
            guard source <= bits else { return "source prefix /\(source) longer than \(bits) bits" }
            guard scope <= bits else { return "scope prefix /\(scope) longer than \(bits) bits" }
            let needed = (source + 7) / 8
            guard d.count - 4 == needed else { return "/\(source) needs \(needed) address octet(s), got \(d.count - 4)" }
            if source % 8 != 0, d[d.count - 1] & (0xFF >> UInt8(source % 8)) != 0 {
                return "address bits set past /\(source)"
            }
            return nil
        case .cookie:
            // RFC 7873 §5.2.2: 8 (client only) or 16...40 octets.
            return d.count == 8 || (16...40).contains(d.count) ? nil : "cookie of \(d.count) octets; must be 8 or 16...40"
        case .tcpKeepalive:
            // RFC 7828 §3.2.1.
            return d.count == 0 || d.count == 2 ? nil : "length \(d.count); must be 0 or 2"
        default:
            return nil
        }
    }

    /// A Padding option (RFC 7830 §3) of `length` zero octets.
    public static func padding(length: Int) -> EDNSOption {
        EDNSOption(code: .padding, data: [UInt8](repeating: 0, count: max(0, min(length, 0xFFFF))))
    }
}

/// RFC 7871 §6: the EDNS Client Subnet option.
///
/// The address is kept truncated to SOURCE PREFIX-LENGTH, as the wire carries it: RFC 7871 §6
/// "ADDRESS [...] MUST be truncated to the number of bits indicated by the SOURCE PREFIX-LENGTH field,
/// padding with 0 bits to pad to the end of the last octet needed."
public struct ClientSubnet: Sendable, Hashable, CustomStringConvertible {
    /// "FAMILY, 2 octets, indicates the family of the address contained in the option, using address
    /// family codes as assigned by IANA": 1 for IPv4, 2 for IPv6.
    public var family: UInt16 { self.address.isIPv4 ? 1 : 2 }
    /// "SOURCE PREFIX-LENGTH, an unsigned octet representing the leftmost number of significant bits
    /// of ADDRESS to be used for the lookup."
    public var sourcePrefixLength: UInt8
    /// "SCOPE PREFIX-LENGTH, an unsigned octet representing the leftmost number of significant bits
    /// of ADDRESS that the response covers. In queries, it MUST be set to 0."
    public var scopePrefixLength: UInt8
    /// The network, with every bit past ``sourcePrefixLength`` zero.
    public var address: IPAddress

    /// Creates an option for `address`/`sourcePrefixLength`, zeroing the bits past the prefix.
    /// - Throws: ``DecodeError`` `.badValue` when a prefix is longer than the address.
    public init(address: IPAddress, sourcePrefixLength: UInt8, scopePrefixLength: UInt8 = 0) throws(DecodeError) {
        let bits = address.unmappedBitCount
        guard Int(sourcePrefixLength) <= bits, Int(scopePrefixLength) <= bits else {
            throw DecodeError(.badValue, field: "ECS", offset: 0,
                detail: "prefix /\(sourcePrefixLength) scope /\(scopePrefixLength) longer than \(bits) bits")
        }
        self.address = address.masked(to: Int(sourcePrefixLength))
        self.sourcePrefixLength = sourcePrefixLength
        self.scopePrefixLength = scopePrefixLength
    }

    /// Reads an ECS option.
    /// - Throws: ``DecodeError`` `.badValue` for a wrong code or family, a prefix longer than the
    ///   address, too few or too many ADDRESS octets, or bits set past SOURCE PREFIX-LENGTH (RFC 7871
    ///   §7.1.1 asks for FORMERR in each case); offsets are within the option data.
    public init(option: EDNSOption) throws(DecodeError) {
        func bad(_ detail: String, _ at: Int) -> DecodeError { DecodeError(.badValue, field: "ECS", offset: at, detail: detail) }
        let d = option.data
        guard option.code == .clientSubnet else { throw bad("not an ECS option", 0) }
        guard d.count >= 4 else { throw bad("ECS needs at least 4 octets, got \(d.count)", 0) }
        let family = UInt16(d[0]) << 8 | UInt16(d[1])
        let source = d[2]
        let scope = d[3]
        let bits: Int
        switch family {
        case 1: bits = 32
        case 2: bits = 128
        default: throw bad("unknown address family \(family)", 0)
        }
        guard Int(source) <= bits else { throw bad("source prefix /\(source) longer than \(bits) bits", 2) }
        guard Int(scope) <= bits else { throw bad("scope prefix /\(scope) longer than \(bits) bits", 3) }
        let needed = (Int(source) + 7) / 8
        guard d.count - 4 == needed else {
            throw bad("/\(source) needs \(needed) address octet(s), got \(d.count - 4)", 4)
        }
        if source % 8 != 0, let last = d.last, last & (0xFF >> (source % 8)) != 0 {
            throw bad("address bits set past /\(source)", d.count - 1)
        }
        var full = [UInt8](repeating: 0, count: bits / 8)
        for i in 0..<needed { full[i] = d[4 + i] }
        if family == 1 {
            self.address = .v4(IPv4Address(full[0], full[1], full[2], full[3]))
        } else {
            // Invariant: `full` has exactly 16 octets for family 2.
            self.address = .v6(IPv6Address(bytes: full)!)
        }
        self.sourcePrefixLength = source
        self.scopePrefixLength = scope
    }

    /// The option, with ADDRESS truncated to the source prefix.
    public var option: EDNSOption {
        let bytes: [UInt8]
        switch self.address {
        case .v4(let a): bytes = a.bytes
        case .v6(let a): bytes = a.bytes
        }
        var d: [UInt8] = [UInt8(self.family >> 8), UInt8(self.family & 0xFF), self.sourcePrefixLength, self.scopePrefixLength]
        d.append(contentsOf: bytes.prefix((Int(self.sourcePrefixLength) + 7) / 8))
        return EDNSOption(code: .clientSubnet, data: d)
    }

    /// `192.0.2.0/24/0`: address, source prefix, scope prefix.
    public var description: String { "\(self.address)/\(self.sourcePrefixLength)/\(self.scopePrefixLength)" }
}

/// RFC 7873 §4: the DNS Cookie option.
public struct Cookie: Sendable, Hashable {
    /// "Client Cookie: A fixed-size 8-byte field."
    public var client: [UInt8]
    /// "Server Cookie: A variable-size 8- to 32-byte field", absent in a first query.
    public var server: [UInt8]?

    /// Creates a cookie.
    /// - Throws: ``DecodeError`` `.badValue` when the client cookie is not 8 octets or the server
    ///   cookie is not 8...32 octets.
    public init(client: [UInt8], server: [UInt8]? = nil) throws(DecodeError) {
        guard client.count == 8 else {
            throw DecodeError(.badValue, field: "COOKIE.client", offset: 0, detail: "client cookie must be 8 octets, got \(client.count)")
        }
        if let server, !(8...32).contains(server.count) {
            throw DecodeError(.badValue, field: "COOKIE.server", offset: 8, detail: "server cookie must be 8...32 octets, got \(server.count)")
        }
        self.client = client
        self.server = server
    }

    /// Reads a COOKIE option.
    /// - Throws: ``DecodeError`` `.badValue` unless the data is 8 or 16...40 octets (RFC 7873 §5.2.2:
    ///   other lengths get FORMERR).
    public init(option: EDNSOption) throws(DecodeError) {
        guard option.code == .cookie else {
            throw DecodeError(.badValue, field: "COOKIE", offset: 0, detail: "not a COOKIE option")
        }
        let d = option.data
        guard d.count == 8 || (16...40).contains(d.count) else {
            throw DecodeError(.badValue, field: "COOKIE", offset: 0, detail: "cookie of \(d.count) octets; must be 8 or 16...40")
        }
        self.client = Array(d[0..<8])
        self.server = d.count > 8 ? Array(d[8...]) : nil
    }

    /// The option.
    public var option: EDNSOption { EDNSOption(code: .cookie, data: self.client + (self.server ?? [])) }
}

/// RFC 7828 §3.1: the edns-tcp-keepalive option.
public struct TCPKeepalive: Sendable, Hashable {
    /// "TIMEOUT: an idle timeout value for the TCP connection, specified in units of 100
    /// milliseconds". Absent in queries: "DNS clients MUST NOT include a TIMEOUT value".
    public var timeout: UInt16?

    /// Creates the option; pass nil in a query.
    public init(timeout: UInt16?) { self.timeout = timeout }

    /// Reads the option.
    /// - Throws: ``DecodeError`` `.badValue` unless OPTION-LENGTH is 0 or 2 (RFC 7828 §3.2.1: FORMERR).
    public init(option: EDNSOption) throws(DecodeError) {
        guard option.code == .tcpKeepalive else {
            throw DecodeError(.badValue, field: "TCP-KEEPALIVE", offset: 0, detail: "not a TCP-KEEPALIVE option")
        }
        switch option.data.count {
        case 0: self.timeout = nil
        case 2: self.timeout = UInt16(option.data[0]) << 8 | UInt16(option.data[1])
        default:
            throw DecodeError(.badValue, field: "TCP-KEEPALIVE", offset: 0, detail: "length \(option.data.count); must be 0 or 2")
        }
    }

    /// The option.
    public var option: EDNSOption {
        EDNSOption(code: .tcpKeepalive, data: self.timeout.map { [UInt8($0 >> 8), UInt8($0 & 0xFF)] } ?? [])
    }

    /// The timeout as a duration, when present.
    public var duration: Duration? { self.timeout.map { .milliseconds(Int64($0) * 100) } }
}

extension EDNS {
    /// The Client Subnet option, if present and well formed.
    public var clientSubnet: ClientSubnet? { self.option(.clientSubnet).flatMap { try? ClientSubnet(option: $0) } }
    /// The Cookie option, if present and well formed.
    public var cookie: Cookie? { self.option(.cookie).flatMap { try? Cookie(option: $0) } }
    /// The TCP keepalive option, if present and well formed.
    public var tcpKeepalive: TCPKeepalive? { self.option(.tcpKeepalive).flatMap { try? TCPKeepalive(option: $0) } }
    /// True when a Padding option is present (RFC 8467 §4.1: then the response must be padded too).
    public var hasPadding: Bool { self.option(.padding) != nil }

    /// Replaces every option with `code` by `option` (or removes them when nil), keeping the order of
    /// the others.
    public mutating func setOption(_ code: EDNSOptionCode, _ option: EDNSOption?) {
        self.options.removeAll { $0.code == code }
        if let option { self.options.append(option) }
    }

    /// RFC 8467 §4.1 block-length padding: the block size for responses ("servers SHOULD pad to a
    /// multiple of 468 octets").
    public static let responsePaddingBlock = 468
    /// RFC 8467 §4.1: "clients SHOULD pad queries to the closest multiple of 128 octets".
    public static let queryPaddingBlock = 128

    /// The Padding option that brings a message of `unpaddedSize` octets (already including this OPT
    /// record without padding) to a multiple of `blockSize`, capped so the result never exceeds
    /// `maxSize`; nil when not even an empty Padding option fits.
    public static func blockPadding(unpaddedSize: Int, blockSize: Int, maxSize: Int = 65535) -> EDNSOption? {
        let withHeader = unpaddedSize + 4
        guard blockSize > 0, withHeader <= maxSize else { return nil }
        let rem = withHeader % blockSize
        let target = rem == 0 ? withHeader : withHeader + (blockSize - rem)
        return .padding(length: min(target, maxSize) - withHeader)
    }
}

extension DNSMessage {
    /// Encodes the message padded to a multiple of `blockSize` (RFC 8467 §4.1) without exceeding
    /// `maxSize`; messages without EDNS are encoded unpadded (padding lives in OPT).
    ///
    /// Any Padding option already present is replaced. When the message itself does not fit
    /// `maxSize`, the result is ``encode(maxSize:)``'s truncated form.
    public func encodePadded(blockSize: Int, maxSize: Int = 65535) -> [UInt8] {
        guard var edns = self.edns else { return self.encode(maxSize: maxSize) }
        var copy = self
        edns.setOption(.padding, nil)
        copy.edns = edns
        let plain = copy.encode(maxSize: maxSize)
        guard let pad = EDNS.blockPadding(unpaddedSize: plain.count, blockSize: blockSize, maxSize: maxSize) else {
            return plain
        }
        // OPT is written last and its owner is the root, so the option adds exactly its own size:
        // the full form stays within `maxSize`, and a truncated form truncates the same way.
        copy.edns?.options.append(pad)
        return copy.encode(maxSize: maxSize)
    }
}

extension IPAddress {
    /// 32 for IPv4, 128 for IPv6.
    package var unmappedBitCount: Int {
        switch self {
        case .v4: 32
        case .v6: 128
        }
    }

    /// True for IPv4.
    var isIPv4: Bool {
        if case .v4 = self { return true }
        return false
    }

    /// The address with every bit past `prefix` cleared.
    public func masked(to prefix: Int) -> IPAddress {
        switch self {
        case .v4(let a):
            let p = max(0, min(prefix, 32))
            return .v4(IPv4Address(p == 0 ? 0 : a.value & ~UInt32(0) << UInt32(32 - p)))
        case .v6(let a):
            let p = max(0, min(prefix, 128))
            let highMask: UInt64 = p >= 64 ? ~0 : (p == 0 ? 0 : ~UInt64(0) << UInt64(64 - p))
            let lowMask: UInt64 = p <= 64 ? 0 : (p == 128 ? ~0 : ~UInt64(0) << UInt64(128 - p))
            return .v6(IPv6Address(high: a.high & highMask, low: a.low & lowMask))
        }
    }
}
