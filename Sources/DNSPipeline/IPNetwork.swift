public import DNSWire

/// An address prefix such as `10.0.0.0/8` or `fd00::/8`.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible, Codable {
    /// The network address (host bits cleared).
    public let address: IPAddress
    /// Prefix length.
    public let prefixLength: Int

    /// Parses `ADDR/LEN` or a bare address (full-length prefix); nil when malformed.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2, let a = IPAddress(parts[0]) else { return nil }
        let maxLen: Int
        switch a {
        case .v4: maxLen = 32
        case .v6: maxLen = 128
        }
        var len = maxLen
        if parts.count == 2 {
            guard let l = Int(parts[1]), l >= 0, l <= maxLen else { return nil }
            len = l
        }
        self.prefixLength = len
        self.address = Self.mask(a, len)
    }

    private static func mask(_ a: IPAddress, _ len: Int) -> IPAddress {
        switch a {
        case .v4(let v):
            let m: UInt32 = len == 0 ? 0 : ~UInt32(0) << UInt32(32 - len)
            return .v4(IPv4Address(v.value & m))
        case .v6(let v):
            let hm: UInt64 = len >= 64 ? ~0 : (len == 0 ? 0 : ~UInt64(0) << UInt64(64 - len))
            let lm: UInt64 = len <= 64 ? 0 : (len >= 128 ? ~0 : ~UInt64(0) << UInt64(128 - len))
            return .v6(IPv6Address(high: v.high & hm, low: v.low & lm))
        }
    }

    /// True when `ip` lies inside this prefix (IPv4-mapped IPv6 addresses match IPv4 prefixes).
    public func contains(_ ip: IPAddress) -> Bool {
        let u = ip.unmapped
        switch (self.address, u) {
        case (.v4, .v4), (.v6, .v6):
            return Self.mask(u, self.prefixLength) == self.address
        default:
            return false
        }
    }

    public var description: String { "\(self.address)/\(self.prefixLength)" }

    public init(from decoder: any Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        guard let n = IPNetwork(s) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a CIDR prefix: \(s)"))
        }
        self = n
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(self.description)
    }

    /// Loopback, RFC 1918, CGNAT (RFC 6598), link-local and ULA: where containers and local clients live.
    public static let privateAndLoopback: [IPNetwork] = [
        "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16",
        "::1/128", "fc00::/7", "fe80::/10",
    ].compactMap { IPNetwork($0) }
}
