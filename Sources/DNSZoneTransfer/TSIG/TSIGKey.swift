public import DNSWire

/// A shared TSIG secret (RFC 8945): a key name, an HMAC algorithm and the secret bytes.
///
/// The secret never appears in ``description`` or in any error message.
public struct TSIGKey: Sendable, Hashable, CustomStringConvertible {
    /// The key name, as both sides configure it (`xfr.example.org.`); compared without case.
    public var name: DomainName
    /// The HMAC algorithm.
    public var algorithm: TSIGAlgorithm
    /// The shared secret.
    public var secret: [UInt8]

    /// Creates a key from its parts.
    /// - Throws: ``ZoneTransferError`` `.badKey` when the secret is empty.
    public init(name: DomainName, algorithm: TSIGAlgorithm, secret: [UInt8]) throws(ZoneTransferError) {
        guard !secret.isEmpty else { throw ZoneTransferError(.badKey, "TSIG key \(name): the secret is empty") }
        self.name = name
        self.algorithm = algorithm
        self.secret = secret
    }

    /// Creates a key from configuration text: `name`, `algorithm` (`hmac-sha256`) and a base64 secret.
    /// - Throws: ``ZoneTransferError`` `.badKey` naming the key and the field that is wrong.
    public init(name: String, algorithm: String, base64Secret: String) throws(ZoneTransferError) {
        let keyName: DomainName
        do throws(DecodeError) {
            keyName = try DomainName(name.hasSuffix(".") ? name : name + ".")
        } catch {
            throw ZoneTransferError(.badKey, "TSIG key name \"\(name)\" is not a valid domain name", underlying: error)
        }
        guard let alg = TSIGAlgorithm(mnemonic: algorithm) else {
            throw ZoneTransferError(.badKey,
                "TSIG key \(keyName): algorithm \"\(algorithm)\" is not supported (use one of "
                    + TSIGAlgorithm.all.map(\.mnemonic).joined(separator: ", ") + ")")
        }
        let secret: [UInt8]
        do throws(DecodeError) {
            secret = try Base64.decode(base64Secret.filter { !$0.isWhitespace }, "secret")
        } catch {
            throw ZoneTransferError(.badKey, "TSIG key \(keyName): the secret is not valid base64", underlying: error)
        }
        try self.init(name: keyName, algorithm: alg, secret: secret)
    }

    /// Parses the `[algorithm:]name:secret` form used by `dig -y` and `kdig -y`
    /// (`hmac-sha256:xfr.example.org:c2VjcmV0…`); without an algorithm, HMAC-SHA256 is assumed.
    /// - Throws: ``ZoneTransferError`` `.badKey`.
    public init(compact text: String) throws(ZoneTransferError) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        switch parts.count {
        case 2: try self.init(name: parts[0], algorithm: "hmac-sha256", base64Secret: parts[1])
        case 3: try self.init(name: parts[1], algorithm: parts[0], base64Secret: parts[2])
        default:
            throw ZoneTransferError(.badKey, "TSIG key text must be [algorithm:]name:base64secret, got \(parts.count) field(s)")
        }
    }

    /// The text form, for logs and error messages.
    public var description: String { "TSIG key \(self.name) (\(self.algorithm))" }
}

/// The TSIG keys a process knows, looked up by name (locations reference them with `?tsig=name`).
public struct TSIGKeyRegistry: Sendable, Hashable {
    private var keys: [DomainName: TSIGKey]

    /// Creates a registry; a later key with the same name replaces an earlier one.
    public init(_ keys: [TSIGKey] = []) {
        self.keys = [:]
        for k in keys { self.keys[k.name] = k }
    }

    /// The key called `name`, if any.
    public subscript(name: DomainName) -> TSIGKey? { self.keys[name] }

    /// The key called `name` (a trailing dot is optional), if any.
    public func key(named name: String) -> TSIGKey? {
        guard let n = try? DomainName(name.hasSuffix(".") ? name : name + ".") else { return nil }
        return self.keys[n]
    }

    /// Adds or replaces a key.
    public mutating func add(_ key: TSIGKey) { self.keys[key.name] = key }

    /// All keys, ordered by name.
    public var all: [TSIGKey] { self.keys.values.sorted { $0.name < $1.name } }

    /// Number of keys.
    public var count: Int { self.keys.count }
}
