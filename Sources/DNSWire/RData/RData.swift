/// Typed RDATA. Every type this codec interprets has a case; any other type is ``RData/Unknown``
/// and keeps its raw bytes (RFC 3597).
///
/// To add a type: write `RData/RData+NAME.swift` with a struct conforming to ``RDataType``, then add a
/// case here and a line to each switch below.
public enum RData: Sendable, Hashable {
    case a(A)
    case aaaa(AAAA)
    case ns(NameTarget)
    case cname(NameTarget)
    case dname(NameTarget)
    case ptr(NameTarget)
    case mx(MX)
    case txt(TXT)
    case soa(SOA)
    case srv(SRV)
    case unknown(Unknown)

    /// TYPE of this RDATA.
    public var type: RecordType {
        switch self {
        case .a: .a
        case .aaaa: .aaaa
        case .ns: .ns
        case .cname: .cname
        case .dname: .dname
        case .ptr: .ptr
        case .mx: .mx
        case .txt: .txt
        case .soa: .soa
        case .srv: .srv
        case .unknown(let u): u.type
        }
    }

    /// Decodes `length` bytes of RDATA of `type`; the reader must end exactly at the RDATA's end.
    /// - Throws: ``DecodeError`` naming the field; `.rdataLengthMismatch` when the fields do not fill RDLENGTH.
    public static func decode(type: RecordType, from reader: inout WireReader, length: Int) throws(DecodeError) -> RData {
        guard length >= 0, reader.remaining >= length else { throw reader.fail(.truncated, "\(type).rdata") }
        let end = reader.offset + length
        // Decode within a window that ends at RDLENGTH, so a field can never read into the next record.
        var window = WireReader(bytes: reader.bytes, offset: reader.offset)
        window.field = reader.field
        window.limit = end
        let result: RData
        if length == 0 && type != .txt && Self.allowsEmpty(type) {
            result = .unknown(Unknown(type: type, bytes: []))
        } else {
            result = try Self.decodeTyped(type: type, from: &window, length: length, end: end)
        }
        guard window.offset == end else {
            throw DecodeError(.rdataLengthMismatch, field: "\(window.field).\(type).rdata", offset: window.offset,
                detail: "RDLENGTH \(length), fields used \(window.offset - reader.offset)")
        }
        reader.offset = end
        return result
    }

    /// Types whose RDATA may legitimately be empty in dynamic-update/prerequisite sections.
    private static func allowsEmpty(_ type: RecordType) -> Bool {
        !(type == .a || type == .aaaa || type == .ns || type == .cname || type == .dname || type == .ptr
            || type == .mx || type == .soa || type == .srv)
    }

    private static func decodeTyped(type: RecordType, from r: inout WireReader, length: Int, end: Int)
        throws(DecodeError) -> RData
    {
        switch type {
        case .a: return .a(try A.decode(from: &r, length: length))
        case .aaaa: return .aaaa(try AAAA.decode(from: &r, length: length))
        case .ns: return .ns(NameTarget(target: try r.readName("NS.nsdname")))
        case .cname: return .cname(NameTarget(target: try r.readName("CNAME.cname")))
        case .dname: return .dname(NameTarget(target: try r.readName("DNAME.target")))
        case .ptr: return .ptr(NameTarget(target: try r.readName("PTR.ptrdname")))
        case .mx: return .mx(try MX.decode(from: &r, length: length))
        case .txt: return .txt(try TXT.decode(from: &r, length: length))
        case .soa: return .soa(try SOA.decode(from: &r, length: length))
        case .srv: return .srv(try SRV.decode(from: &r, length: length))
        default:
            return .unknown(Unknown(type: type, bytes: try r.readBytes(length, "\(type).rdata")))
        }
    }

    /// Appends the RDATA bytes (no RDLENGTH).
    public func encode(into w: inout WireWriter) {
        switch self {
        case .a(let v): v.encode(into: &w)
        case .aaaa(let v): v.encode(into: &w)
        case .ns(let v), .cname(let v), .ptr(let v): w.writeName(v.target, compress: true)
        case .dname(let v): w.writeName(v.target, compress: false)
        case .mx(let v): v.encode(into: &w)
        case .txt(let v): v.encode(into: &w)
        case .soa(let v): v.encode(into: &w)
        case .srv(let v): v.encode(into: &w)
        case .unknown(let v): w.writeBytes(v.bytes)
        }
    }

    /// Parses the RDATA tokens of a zone-file line for `type`.
    ///
    /// The generic form `\# LEN HEX…` (RFC 3597 §5) is accepted for every type.
    /// - Throws: ``DecodeError`` `.badPresentation` naming the field.
    public static func parse(type: RecordType, tokens: [String], origin: DomainName) throws(DecodeError) -> RData {
        if tokens.first == "\\#" {
            guard tokens.count >= 2, let len = Int(tokens[1]), len >= 0 else {
                throw DecodeError(.badPresentation, field: "\(type).rdata", offset: 0, detail: "bad \\# length")
            }
            let bytes = try Presentation.hexBytes(tokens.dropFirst(2).joined(), "\(type).rdata")
            guard bytes.count == len else {
                throw DecodeError(.badPresentation, field: "\(type).rdata", offset: 0,
                    detail: "\\# says \(len) bytes, got \(bytes.count)")
            }
            // Re-decode known types so the generic form and the typed form compare equal.
            var r = WireReader(bytes: bytes)
            return try RData.decode(type: type, from: &r, length: bytes.count)
        }
        func one(_ f: String) throws(DecodeError) -> DomainName {
            try Presentation.expect(tokens, 1, f)
            return try Presentation.name(tokens[0], origin: origin, f)
        }
        switch type {
        case .a: return .a(try A(presentation: tokens, origin: origin))
        case .aaaa: return .aaaa(try AAAA(presentation: tokens, origin: origin))
        case .ns: return .ns(NameTarget(target: try one("NS.nsdname")))
        case .cname: return .cname(NameTarget(target: try one("CNAME.cname")))
        case .dname: return .dname(NameTarget(target: try one("DNAME.target")))
        case .ptr: return .ptr(NameTarget(target: try one("PTR.ptrdname")))
        case .mx: return .mx(try MX(presentation: tokens, origin: origin))
        case .txt: return .txt(try TXT(presentation: tokens, origin: origin))
        case .soa: return .soa(try SOA(presentation: tokens, origin: origin))
        case .srv: return .srv(try SRV(presentation: tokens, origin: origin))
        default:
            throw DecodeError(.badPresentation, field: "\(type).rdata", offset: 0,
                detail: "no presentation parser for \(type); use the \\# generic form")
        }
    }

    /// Presentation text of the RDATA.
    public var presentation: String {
        switch self {
        case .a(let v): v.presentation
        case .aaaa(let v): v.presentation
        case .ns(let v), .cname(let v), .dname(let v), .ptr(let v): v.target.description
        case .mx(let v): v.presentation
        case .txt(let v): v.presentation
        case .soa(let v): v.presentation
        case .srv(let v): v.presentation
        case .unknown(let v): v.presentation
        }
    }
}

