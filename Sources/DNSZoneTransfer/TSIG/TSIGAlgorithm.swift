public import DNSWire

/// An HMAC algorithm for TSIG (RFC 8945 §6), named on the wire by a domain name.
///
/// HMAC-MD5 and GSS-TSIG are deliberately not supported: RFC 8945 §6 lists HMAC-MD5 as deprecated
/// ("MUST NOT" use), and GSS-TSIG needs a Kerberos infrastructure a feed provider does not offer.
public struct TSIGAlgorithm: Sendable, Hashable, CustomStringConvertible {
    enum Hash: Sendable, Hashable {
        case sha1, sha256, sha384, sha512
    }

    let hash: Hash

    /// `hmac-sha1.`: still accepted by RFC 8945 for interoperability.
    public static let hmacSHA1 = TSIGAlgorithm(hash: .sha1)
    /// `hmac-sha256.`: mandatory to implement (RFC 8945 §6) and the recommended default.
    public static let hmacSHA256 = TSIGAlgorithm(hash: .sha256)
    /// `hmac-sha384.`
    public static let hmacSHA384 = TSIGAlgorithm(hash: .sha384)
    /// `hmac-sha512.`
    public static let hmacSHA512 = TSIGAlgorithm(hash: .sha512)

    /// Every supported algorithm.
    public static let all: [TSIGAlgorithm] = [.hmacSHA1, .hmacSHA256, .hmacSHA384, .hmacSHA512]

    /// The algorithm name as written in BIND and Knot configurations (`hmac-sha256`).
    public var mnemonic: String {
        switch self.hash {
        case .sha1: "hmac-sha1"
        case .sha256: "hmac-sha256"
        case .sha384: "hmac-sha384"
        case .sha512: "hmac-sha512"
        }
    }

    /// The algorithm name carried in the TSIG RDATA (`hmac-sha256.`).
    public var name: DomainName {
        // Invariant: the mnemonics are fixed valid single-label names.
        (try? DomainName(self.mnemonic + ".")) ?? .root
    }

    /// The full MAC length in octets; this implementation neither sends nor accepts shorter MACs.
    public var macLength: Int {
        switch self.hash {
        case .sha1: 20
        case .sha256: 32
        case .sha384: 48
        case .sha512: 64
        }
    }

    /// Parses `hmac-sha256`, `HMAC-SHA256.` and the like.
    /// - Returns: nil for an unknown or unsupported name (including `hmac-md5`).
    public init?(mnemonic: String) {
        var text = mnemonic.lowercased()
        if text.hasSuffix(".") { text.removeLast() }
        guard let found = Self.all.first(where: { $0.mnemonic == text }) else { return nil }
        self = found
    }

    /// The algorithm a TSIG record names, or nil when it is not one this implementation supports.
    public init?(name: DomainName) {
        guard let found = Self.all.first(where: { $0.name == name }) else { return nil }
        self = found
    }

    private init(hash: Hash) { self.hash = hash }

    /// The text form, for logs and error messages.
    public var description: String { self.mnemonic }
}
