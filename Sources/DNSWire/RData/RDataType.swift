/// One RDATA format: how it reads and writes on the wire and in presentation text.
///
/// Each conforming type lives in `RData/RData+NAME.swift` and is listed once in ``RData``'s switches.
public protocol RDataType: Sendable, Hashable {
    /// The TYPE this RDATA belongs to.
    static var recordType: RecordType { get }
    /// Decodes exactly `length` bytes of RDATA starting at the reader's offset.
    /// - Throws: ``DecodeError`` naming the field and offset.
    static func decode(from reader: inout WireReader, length: Int) throws(DecodeError) -> Self
    /// Appends the RDATA (without RDLENGTH).
    func encode(into writer: inout WireWriter)
    /// Parses the presentation tokens that follow TYPE in a zone-file line.
    /// - Throws: ``DecodeError`` `.badPresentation` naming the field.
    init(presentation tokens: [String], origin: DomainName) throws(DecodeError)
    /// Presentation text of the RDATA fields.
    var presentation: String { get }
}

/// Small helpers shared by the presentation parsers.
public enum Presentation {
    /// Fails unless exactly `count` tokens are present.
    public static func expect(_ tokens: [String], _ count: Int, _ field: String) throws(DecodeError) {
        guard tokens.count == count else {
            throw DecodeError(.badPresentation, field: field, offset: 0,
                detail: "expected \(count) field(s), got \(tokens.count)")
        }
    }

    /// Parses an unsigned integer field.
    public static func integer<T: FixedWidthInteger & UnsignedInteger>(_ token: String, _ field: String) throws(DecodeError) -> T {
        guard let v = T(token) else {
            throw DecodeError(.badPresentation, field: field, offset: 0, detail: "not a number: \(token)")
        }
        return v
    }

    /// Parses a domain-name field relative to `origin`.
    public static func name(_ token: String, origin: DomainName, _ field: String) throws(DecodeError) -> DomainName {
        do {
            return try DomainName(token, origin: origin)
        } catch {
            throw DecodeError(error.reason, field: field, offset: 0, detail: error.detail ?? token)
        }
    }

    /// Decodes a character-string token: optional surrounding quotes, `\X` and `\DDD` escapes.
    public static func characterString(_ token: String, _ field: String) throws(DecodeError) -> [UInt8] {
        let out = try Self.unescaped(token, field)
        guard out.count <= 255 else {
            throw DecodeError(.badPresentation, field: field, offset: 0, detail: "character-string longer than 255")
        }
        return out
    }

    /// Decodes a token like ``characterString(_:_:)`` but without the 255-octet limit (CAA values,
    /// SVCB values).
    public static func unescaped(_ token: String, _ field: String) throws(DecodeError) -> [UInt8] {
        var bytes = Array(token.utf8)
        if bytes.count >= 2 && bytes.first == UInt8(ascii: "\"") && bytes.last == UInt8(ascii: "\"") {
            bytes = Array(bytes[1..<(bytes.count - 1)])
        }
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "\\") {
                guard i + 1 < bytes.count else {
                    throw DecodeError(.badPresentation, field: field, offset: i, detail: "dangling escape")
                }
                let n = bytes[i + 1]
                if (0x30...0x39).contains(n) {
                    guard i + 3 < bytes.count, (0x30...0x39).contains(bytes[i + 2]), (0x30...0x39).contains(bytes[i + 3])
                    else { throw DecodeError(.badPresentation, field: field, offset: i, detail: "bad \\DDD") }
                    let v = Int(n - 0x30) * 100 + Int(bytes[i + 2] - 0x30) * 10 + Int(bytes[i + 3] - 0x30)
                    guard v <= 255 else { throw DecodeError(.badPresentation, field: field, offset: i, detail: "\\DDD > 255") }
                    out.append(UInt8(v))
                    i += 4
                } else {
                    out.append(n)
                    i += 2
                }
            } else {
                out.append(c)
                i += 1
            }
        }
        return out
    }

    /// Quotes and escapes bytes as a character-string.
    public static func quoted(_ bytes: [UInt8]) -> String {
        var s = "\""
        for b in bytes {
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                s.append("\\")
                s.append(Character(Unicode.Scalar(b)))
            case 0x20...0x7E:
                s.append(Character(Unicode.Scalar(b)))
            default:
                let d = String(b)
                s.append("\\" + String(repeating: "0", count: 3 - d.count) + d)
            }
        }
        s.append("\"")
        return s
    }

    /// Lower-case hex of bytes.
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits: [Character] = Array("0123456789abcdef")
        var s = ""
        s.reserveCapacity(bytes.count * 2)
        for b in bytes {
            s.append(digits[Int(b >> 4)])
            s.append(digits[Int(b & 0x0F)])
        }
        return s
    }

    /// Parses hex (whitespace-free, even length).
    public static func hexBytes(_ text: String, _ field: String) throws(DecodeError) -> [UInt8] {
        let u = Array(text.utf8)
        guard u.count % 2 == 0 else { throw DecodeError(.badPresentation, field: field, offset: 0, detail: "odd hex length") }
        var out: [UInt8] = []
        out.reserveCapacity(u.count / 2)
        func nib(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x41...0x46: c - 0x41 + 10
            case 0x61...0x66: c - 0x61 + 10
            default: nil
            }
        }
        var i = 0
        while i < u.count {
            guard let h = nib(u[i]), let l = nib(u[i + 1]) else {
                throw DecodeError(.badPresentation, field: field, offset: i, detail: "not hex")
            }
            out.append(h << 4 | l)
            i += 2
        }
        return out
    }
}

extension Presentation {
    /// Splits the RDATA part of a presentation line into tokens on unquoted, unescaped whitespace.
    ///
    /// Quotes are kept in the tokens (``characterString(_:_:)`` strips them), and a quote may start
    /// inside a token, as in SVCB's `alpn="h2,h3"`. Parentheses and comments are the zone-file
    /// reader's business and are not handled here.
    /// - Throws: ``DecodeError`` `.badPresentation` for an unterminated quote.
    public static func tokenize(_ text: String) throws(DecodeError) -> [String] {
        var tokens: [String] = []
        var current: [UInt8] = []
        var inQuote = false
        var escaped = false
        var started = false
        for c in text.utf8 {
            if escaped {
                current.append(c)
                escaped = false
                continue
            }
            switch c {
            case UInt8(ascii: "\\"):
                current.append(c)
                escaped = true
                started = true
            case UInt8(ascii: "\""):
                current.append(c)
                inQuote.toggle()
                started = true
            case 0x20, 0x09, 0x0A, 0x0D:
                // A `where` clause would only guard the last pattern, so test the quote state here.
                if inQuote {
                    current.append(c)
                } else {
                    if started { tokens.append(String(decoding: current, as: UTF8.self)) }
                    current.removeAll(keepingCapacity: true)
                    started = false
                }
            default:
                current.append(c)
                started = true
            }
        }
        guard !inQuote else {
            throw DecodeError(.badPresentation, field: "rdata", offset: text.utf8.count, detail: "unterminated quote")
        }
        if started { tokens.append(String(decoding: current, as: UTF8.self)) }
        return tokens
    }

    /// Hex of bytes, or `-` when empty (NSEC3 salt, RFC 5155 §3.3).
    static func hexOrDash(_ bytes: [UInt8]) -> String { bytes.isEmpty ? "-" : Self.hex(bytes) }

    /// Parses hex that zone files may split across several tokens (DS, TLSA, SSHFP).
    static func hexTokens(_ tokens: ArraySlice<String>, _ field: String) throws(DecodeError) -> [UInt8] {
        guard !tokens.isEmpty else {
            throw DecodeError(.badPresentation, field: field, offset: 0, detail: "missing hex data")
        }
        let bytes = try Self.hexBytes(tokens.joined(), field)
        guard !bytes.isEmpty else { throw DecodeError(.badPresentation, field: field, offset: 0, detail: "empty hex data") }
        return bytes
    }

    /// Parses base64 that zone files may split across several tokens (DNSKEY, RRSIG).
    static func base64Tokens(_ tokens: ArraySlice<String>, _ field: String) throws(DecodeError) -> [UInt8] {
        let bytes = try Base64.decode(tokens.joined(), field)
        guard !bytes.isEmpty else {
            throw DecodeError(.badPresentation, field: field, offset: 0, detail: "missing base64 data")
        }
        return bytes
    }

    /// Fails unless at least `count` tokens are present.
    static func expectAtLeast(_ tokens: [String], _ count: Int, _ field: String) throws(DecodeError) {
        guard tokens.count >= count else {
            throw DecodeError(.badPresentation, field: field, offset: 0,
                detail: "expected at least \(count) field(s), got \(tokens.count)")
        }
    }
}
