import Crypto

/// HMAC-SHA256 (RFC 2104) of webhook bodies, with swift-crypto, as the `X-Palisade-Signature` header.
package enum HMACSHA256 {
    /// The MAC of `message` under `key`.
    package static func authenticationCode(for message: [UInt8], key: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    /// The MAC as lower-case hex, the form the signature header carries.
    package static func hex(for message: [UInt8], key: [UInt8]) -> String {
        Self.authenticationCode(for: message, key: key).hexString
    }
}

extension [UInt8] {
    /// Lower-case hex, two digits a byte.
    var hexString: String {
        let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"]
        var out = ""
        out.reserveCapacity(self.count * 2)
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return out
    }
}
