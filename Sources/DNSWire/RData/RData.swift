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
    case hinfo(HINFO)
    case naptr(NAPTR)
    case caa(CAA)
    case svcb(SVCB)
    case https(HTTPS)
    case tlsa(TLSA)
    case sshfp(SSHFP)
    case ds(DS)
    case dnskey(DNSKEY)
    case rrsig(RRSIG)
    case nsec(NSEC)
    case nsec3(NSEC3)
    case nsec3param(NSEC3PARAM)
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
        case .hinfo: .hinfo
        case .naptr: .naptr
        case .caa: .caa
        case .svcb: .svcb
        case .https: .https
        case .tlsa: .tlsa
        case .sshfp: .sshfp
        case .ds: .ds
        case .dnskey: .dnskey
        case .rrsig: .rrsig
        case .nsec: .nsec
        case .nsec3: .nsec3
        case .nsec3param: .nsec3param
        case .unknown(let u): u.type
        }
    }

    /// Decodes `length` bytes of RDATA of `type`; the fields must use exactly RDLENGTH bytes.
    ///
    /// Decoding happens in a window that ends at RDLENGTH, so no field, and no name even through
    /// compression pointers, can read into the next record. Empty RDATA is only accepted for types
    /// this codec does not interpret; see ``DNSMessage/decode(_:)`` for the RFC 2136 exception.
    /// - Throws: ``DecodeError`` naming the field: `.truncated` when RDLENGTH runs past the message or
    ///   a field runs past RDLENGTH, `.rdataLengthMismatch` when the fields do not fill RDLENGTH.
    public static func decode(type: RecordType, from reader: inout WireReader, length: Int) throws(DecodeError) -> RData {
        guard length >= 0, reader.remaining >= length else {
            throw reader.fail(.truncated, "rdata", detail: "RDLENGTH \(length) but \(reader.remaining) byte(s) left")
        }
        let end = reader.offset + length
        let savedLimit = reader.limit
        // Narrow the window to RDLENGTH (and restore it afterwards, also when throwing) rather than
        // copying the reader: a copy of `bytes` is free, but this keeps the error paths in one place.
        reader.limit = end
        defer { reader.limit = savedLimit }
        let start = reader.offset
        let result = try Self.decodeTyped(type: type, from: &reader, length: length)
        guard reader.offset == end else {
            throw reader.fail(.rdataLengthMismatch, "\(type)", detail: "RDLENGTH \(length), fields used \(reader.offset - start)")
        }
        return result
    }

    private static func decodeTyped(type: RecordType, from r: inout WireReader, length: Int) throws(DecodeError) -> RData {
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
        case .hinfo: return .hinfo(try HINFO.decode(from: &r, length: length))
        case .naptr: return .naptr(try NAPTR.decode(from: &r, length: length))
        case .caa: return .caa(try CAA.decode(from: &r, length: length))
        case .svcb: return .svcb(try SVCB.decode(from: &r, length: length))
        case .https: return .https(try HTTPS.decode(from: &r, length: length))
        case .tlsa: return .tlsa(try TLSA.decode(from: &r, length: length))
        case .sshfp: return .sshfp(try SSHFP.decode(from: &r, length: length))
        case .ds: return .ds(try DS.decode(from: &r, length: length))
        case .dnskey: return .dnskey(try DNSKEY.decode(from: &r, length: length))
        case .rrsig: return .rrsig(try RRSIG.decode(from: &r, length: length))
        case .nsec: return .nsec(try NSEC.decode(from: &r, length: length))
        case .nsec3: return .nsec3(try NSEC3.decode(from: &r, length: length))
        case .nsec3param: return .nsec3param(try NSEC3PARAM.decode(from: &r, length: length))
        default:
            return .unknown(Unknown(type: type, bytes: try r.readBytes(length, "rdata")))
        }
    }

    /// True for types this codec decodes into a typed case (so their RDATA cannot be empty).
    public static func isInterpreted(_ type: RecordType) -> Bool {
        switch type {
        case .a, .aaaa, .ns, .cname, .dname, .ptr, .mx, .txt, .soa, .srv, .hinfo, .naptr, .caa, .svcb, .https, .tlsa,
            .sshfp, .ds, .dnskey, .rrsig, .nsec, .nsec3, .nsec3param:
            true
        default: false
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
        case .hinfo(let v): v.encode(into: &w)
        case .naptr(let v): v.encode(into: &w)
        case .caa(let v): v.encode(into: &w)
        case .svcb(let v): v.encode(into: &w)
        case .https(let v): v.encode(into: &w)
        case .tlsa(let v): v.encode(into: &w)
        case .sshfp(let v): v.encode(into: &w)
        case .ds(let v): v.encode(into: &w)
        case .dnskey(let v): v.encode(into: &w)
        case .rrsig(let v): v.encode(into: &w)
        case .nsec(let v): v.encode(into: &w)
        case .nsec3(let v): v.encode(into: &w)
        case .nsec3param(let v): v.encode(into: &w)
        case .unknown(let v): w.writeBytes(v.bytes)
        }
    }

    /// Parses RDATA presentation text for `type` (the part of a zone-file line after TYPE, on one
    /// line), e.g. `10 mail.example.org.` for MX.
    /// - Throws: ``DecodeError`` `.badPresentation` naming the field.
    public static func parse(type: RecordType, text: String, origin: DomainName) throws(DecodeError) -> RData {
        try Self.parse(type: type, tokens: try Presentation.tokenize(text), origin: origin)
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
            // `\# 0` is empty RDATA of any type (RFC 3597 §5; RFC 2136 deletions), as the decoder
            // keeps it.
            if bytes.isEmpty { return .unknown(Unknown(type: type, bytes: [])) }
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
        case .hinfo: return .hinfo(try HINFO(presentation: tokens, origin: origin))
        case .naptr: return .naptr(try NAPTR(presentation: tokens, origin: origin))
        case .caa: return .caa(try CAA(presentation: tokens, origin: origin))
        case .svcb: return .svcb(try SVCB(presentation: tokens, origin: origin))
        case .https: return .https(try HTTPS(presentation: tokens, origin: origin))
        case .tlsa: return .tlsa(try TLSA(presentation: tokens, origin: origin))
        case .sshfp: return .sshfp(try SSHFP(presentation: tokens, origin: origin))
        case .ds: return .ds(try DS(presentation: tokens, origin: origin))
        case .dnskey: return .dnskey(try DNSKEY(presentation: tokens, origin: origin))
        case .rrsig: return .rrsig(try RRSIG(presentation: tokens, origin: origin))
        case .nsec: return .nsec(try NSEC(presentation: tokens, origin: origin))
        case .nsec3: return .nsec3(try NSEC3(presentation: tokens, origin: origin))
        case .nsec3param: return .nsec3param(try NSEC3PARAM(presentation: tokens, origin: origin))
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
        case .hinfo(let v): v.presentation
        case .naptr(let v): v.presentation
        case .caa(let v): v.presentation
        case .svcb(let v): v.presentation
        case .https(let v): v.presentation
        case .tlsa(let v): v.presentation
        case .sshfp(let v): v.presentation
        case .ds(let v): v.presentation
        case .dnskey(let v): v.presentation
        case .rrsig(let v): v.presentation
        case .nsec(let v): v.presentation
        case .nsec3(let v): v.presentation
        case .nsec3param(let v): v.presentation
        case .unknown(let v): v.presentation
        }
    }
}

