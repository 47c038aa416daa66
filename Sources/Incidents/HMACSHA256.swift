import Crypto
import DNSWire

/// HMAC-SHA256 (RFC 2104) of webhook bodies, with swift-crypto, as the `X-Palisade-Signature` header.
package enum HMACSHA256 {
    /// The MAC of `message` under `key`.
    package static func authenticationCode(for message: [UInt8], key: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    /// The MAC as lower-case hex, the form the signature header carries.
    package static func hex(for message: [UInt8], key: [UInt8]) -> String {
        Presentation.hex(Self.authenticationCode(for: message, key: key))
    }
}
