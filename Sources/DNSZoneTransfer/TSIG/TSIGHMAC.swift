import Crypto

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A running HMAC for one of the TSIG algorithms (swift-crypto), fed in pieces and finalized without
/// being consumed, so a multi-message verification can keep one running digest.
struct TSIGHMAC: Sendable {
    private enum State: Sendable {
        case sha1(HMAC<Insecure.SHA1>)
        case sha256(HMAC<SHA256>)
        case sha384(HMAC<SHA384>)
        case sha512(HMAC<SHA512>)
    }

    private var state: State

    /// Starts a MAC with `key`'s algorithm and secret.
    init(key: TSIGKey) {
        let k = SymmetricKey(data: key.secret)
        switch key.algorithm.hash {
        case .sha1: self.state = .sha1(HMAC(key: k))
        case .sha256: self.state = .sha256(HMAC(key: k))
        case .sha384: self.state = .sha384(HMAC(key: k))
        case .sha512: self.state = .sha512(HMAC(key: k))
        }
    }

    /// Feeds bytes.
    mutating func update(_ bytes: [UInt8]) {
        switch self.state {
        case .sha1(var h):
            h.update(data: bytes)
            self.state = .sha1(h)
        case .sha256(var h):
            h.update(data: bytes)
            self.state = .sha256(h)
        case .sha384(var h):
            h.update(data: bytes)
            self.state = .sha384(h)
        case .sha512(var h):
            h.update(data: bytes)
            self.state = .sha512(h)
        }
    }

    /// The MAC of everything fed so far.
    func finalize() -> [UInt8] {
        switch self.state {
        case .sha1(let h): Array(h.finalize())
        case .sha256(let h): Array(h.finalize())
        case .sha384(let h): Array(h.finalize())
        case .sha512(let h): Array(h.finalize())
        }
    }
}
