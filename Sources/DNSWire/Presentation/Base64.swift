/// Base64 (RFC 4648 §4) for DNSKEY, RRSIG, SVCB `ech` and other presentation fields.
///
/// DNSWire may not import Foundation, so this is a small codec of its own. Decoding ignores ASCII
/// whitespace (zone files split long keys across tokens) and requires correct padding.
public enum Base64 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Maps an ASCII byte to its 6-bit value, or 0xFF.
    private static let reverse: [UInt8] = {
        var t = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { t[Int(c)] = UInt8(i) }
        return t
    }()

    /// Encodes bytes as padded base64 text.
    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var it = bytes.makeIterator()
        while let b0 = it.next() {
            let b1 = it.next()
            let b2 = it.next()
            out.append(Self.alphabet[Int(b0 >> 2)])
            out.append(Self.alphabet[Int((b0 & 0x03) << 4 | (b1 ?? 0) >> 4)])
            if let b1 {
                out.append(Self.alphabet[Int((b1 & 0x0F) << 2 | (b2 ?? 0) >> 6)])
            } else {
                out.append(UInt8(ascii: "="))
            }
            if let b2 {
                out.append(Self.alphabet[Int(b2 & 0x3F)])
            } else {
                out.append(UInt8(ascii: "="))
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes base64 text; whitespace is skipped.
    /// - Throws: ``DecodeError`` `.badPresentation` naming `field` for a bad character, bad padding
    ///   or a length that is not a multiple of four.
    public static func decode(_ text: some StringProtocol, _ field: String) throws(DecodeError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count / 4 * 3)
        var quad: UInt32 = 0
        var n = 0
        var pad = 0
        var index = 0
        for c in text.utf8 {
            defer { index += 1 }
            if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { continue }
            if c == UInt8(ascii: "=") {
                pad += 1
                guard pad <= 2, n >= 2 else {
                    throw DecodeError(.badPresentation, field: field, offset: index, detail: "misplaced base64 padding")
                }
                quad <<= 6
                n += 1
            } else {
                let v = Self.reverse[Int(c)]
                guard v != 0xFF, pad == 0 else {
                    throw DecodeError(.badPresentation, field: field, offset: index, detail: "not base64")
                }
                quad = quad << 6 | UInt32(v)
                n += 1
            }
            if n == 4 {
                out.append(UInt8((quad >> 16) & 0xFF))
                if pad < 2 { out.append(UInt8((quad >> 8) & 0xFF)) }
                if pad < 1 { out.append(UInt8(quad & 0xFF)) }
                quad = 0
                n = 0
                if pad > 0 { pad = 3 }  // Nothing may follow a padded quad.
            } else if pad == 3 {
                throw DecodeError(.badPresentation, field: field, offset: index, detail: "data after base64 padding")
            }
        }
        guard n == 0 else {
            throw DecodeError(.badPresentation, field: field, offset: index, detail: "base64 length not a multiple of 4")
        }
        return out
    }
}

/// Base32 with the extended hex alphabet, without padding (RFC 4648 §7), as NSEC3 uses for the
/// next hashed owner name (RFC 5155 §3.3).
public enum Base32Hex {
    private static let alphabet: [UInt8] = Array("0123456789ABCDEFGHIJKLMNOPQRSTUV".utf8)

    /// Encodes bytes as unpadded upper-case base32hex.
    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count * 8 + 4) / 5)
        var buffer: UInt32 = 0
        var bits = 0
        for b in bytes {
            buffer = buffer << 8 | UInt32(b)
            bits += 8
            while bits >= 5 {
                out.append(Self.alphabet[Int((buffer >> UInt32(bits - 5)) & 0x1F)])
                bits -= 5
            }
            buffer &= (1 << UInt32(bits)) - 1
        }
        if bits > 0 { out.append(Self.alphabet[Int((buffer << UInt32(5 - bits)) & 0x1F)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes base32hex text (either case, no padding).
    /// - Throws: ``DecodeError`` `.badPresentation` for a character outside the alphabet, an
    ///   impossible length, or non-zero trailing bits.
    public static func decode(_ text: some StringProtocol, _ field: String) throws(DecodeError) -> [UInt8] {
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        var index = 0
        for c in text.utf8 {
            let v: UInt8
            switch c {
            case 0x30...0x39: v = c - 0x30
            case 0x41...0x56: v = c - 0x41 + 10
            case 0x61...0x76: v = c - 0x61 + 10
            default:
                throw DecodeError(.badPresentation, field: field, offset: index, detail: "not base32hex")
            }
            index += 1
            buffer = buffer << 5 | UInt32(v)
            bits += 5
            if bits >= 8 {
                out.append(UInt8((buffer >> UInt32(bits - 8)) & 0xFF))
                bits -= 8
                buffer &= (1 << UInt32(bits)) - 1
            }
        }
        // A valid encoding leaves fewer than 5 bits over, all zero (RFC 4648 §6 lengths).
        guard bits < 5, buffer == 0 else {
            throw DecodeError(.badPresentation, field: field, offset: index, detail: "bad base32hex length or padding bits")
        }
        return out
    }
}
