/// The type bit maps field of NSEC and NSEC3 (RFC 4034 §4.1.2, RFC 5155 §3.2.1).
///
/// RFC 4034 §4.1.2: "The RR type space is split into 256 window blocks, each representing the
/// low-order 8 bits of the 16-bit RR type space. Each block that has at least one active RR type is
/// encoded using a single octet window number (from 0 to 255), a single octet bitmap length (from 1
/// to 32) indicating the number of octets used for the window block's bitmap, and up to 32 octets
/// (256 bits) of bitmap." Blocks appear in increasing window order and "Blocks with no types
/// present MUST NOT be included", so trailing zero octets are not allowed either.
public enum TypeBitmap {
    /// Decodes the bit maps filling the reader up to its limit.
    /// - Throws: ``DecodeError`` `.badValue` for a window out of order, a bitmap length outside
    ///   1...32 or a block ending in a zero octet; `.truncated` when a block is cut short.
    public static func decode(from r: inout WireReader, _ field: String) throws(DecodeError) -> [RecordType] {
        var types: [RecordType] = []
        var lastWindow = -1
        while r.remaining > 0 {
            let start = r.offset
            let window = Int(try r.readUInt8(field))
            let length = Int(try r.readUInt8(field))
            guard window > lastWindow else {
                throw r.fail(.badValue, field, at: start, detail: "window \(window) after window \(lastWindow)")
            }
            guard (1...32).contains(length) else {
                throw r.fail(.badValue, field, at: start + 1, detail: "bitmap length \(length) not in 1...32")
            }
            guard r.remaining >= length else {
                throw r.fail(.truncated, field, detail: "bitmap of \(length) octet(s), \(r.remaining) left")
            }
            guard r.bytes[r.offset + length - 1] != 0 else {
                throw r.fail(.badValue, field, at: r.offset + length - 1, detail: "bitmap ends in a zero octet")
            }
            for i in 0..<length {
                let octet = r.bytes[r.offset + i]
                guard octet != 0 else { continue }
                for bit in 0..<8 where octet & (0x80 >> UInt8(bit)) != 0 {
                    types.append(RecordType(UInt16(window << 8 | i << 3 | bit)))
                }
            }
            r.offset += length
            lastWindow = window
        }
        return types
    }

    /// Encodes a set of types (duplicates and order do not matter).
    public static func encode(_ types: [RecordType], into w: inout WireWriter) {
        let sorted = Set(types.map(\.rawValue)).sorted()
        var i = 0
        while i < sorted.count {
            let window = sorted[i] >> 8
            var bitmap = [UInt8](repeating: 0, count: 32)
            var used = 0
            while i < sorted.count && sorted[i] >> 8 == window {
                let low = Int(sorted[i] & 0xFF)
                bitmap[low >> 3] |= 0x80 >> UInt8(low & 7)
                used = (low >> 3) + 1
                i += 1
            }
            w.writeUInt8(UInt8(window))
            w.writeUInt8(UInt8(used))
            w.writeBytes(bitmap[0..<used])
        }
    }

    /// Sorted, de-duplicated types, as the bit map would hold them.
    public static func normalized(_ types: [RecordType]) -> [RecordType] {
        Set(types).sorted()
    }

    /// Presentation: mnemonics separated by spaces.
    public static func presentation(_ types: [RecordType]) -> String {
        types.map(\.description).joined(separator: " ")
    }

    /// Parses type mnemonics (`A`, `RRSIG`, `TYPE65534`).
    public static func parse(_ tokens: some Sequence<String>, _ field: String) throws(DecodeError) -> [RecordType] {
        var out: [RecordType] = []
        for t in tokens {
            guard let type = RecordType(mnemonic: t) else {
                throw DecodeError(.badPresentation, field: field, offset: 0, detail: "unknown type \(t)")
            }
            out.append(type)
        }
        return Self.normalized(out)
    }
}
