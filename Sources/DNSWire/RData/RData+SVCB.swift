/// An SvcParamKey (RFC 9460 §14.3.2, IANA "Service Parameter Keys (SvcParamKeys)").
public struct SvcParamKey: RawRepresentable, Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The 16-bit key.
    public var rawValue: UInt16
    /// Wraps a key.
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// RFC 9460 §8: "Mandatory keys in this RR".
    public static let mandatory = SvcParamKey(rawValue: 0)
    /// RFC 9460 §7.1: "Additional supported protocols".
    public static let alpn = SvcParamKey(rawValue: 1)
    /// RFC 9460 §7.1: "No support for default protocol".
    public static let noDefaultALPN = SvcParamKey(rawValue: 2)
    /// RFC 9460 §7.2: "Port for alternative endpoint".
    public static let port = SvcParamKey(rawValue: 3)
    /// RFC 9460 §7.3: "IPv4 address hints".
    public static let ipv4Hint = SvcParamKey(rawValue: 4)
    /// RFC 9460 §14.3.2: "TLS Encrypted ClientHello Config".
    public static let ech = SvcParamKey(rawValue: 5)
    /// RFC 9460 §7.3: "IPv6 address hints".
    public static let ipv6Hint = SvcParamKey(rawValue: 6)
    /// RFC 9460 §14.3.2: 65535 is reserved ("Invalid key").
    public static let invalid = SvcParamKey(rawValue: 65535)

    /// The presentation name: `alpn`, `no-default-alpn`, … or `keyNNNNN`.
    public var description: String {
        switch self.rawValue {
        case 0: "mandatory"
        case 1: "alpn"
        case 2: "no-default-alpn"
        case 3: "port"
        case 4: "ipv4hint"
        case 5: "ech"
        case 6: "ipv6hint"
        default: "key\(self.rawValue)"
        }
    }

    /// Parses a presentation name or `keyNNNNN` (RFC 9460 §2.1); nil for anything else.
    public init?(presentation text: some StringProtocol) {
        switch text {
        case "mandatory": self = .mandatory
        case "alpn": self = .alpn
        case "no-default-alpn": self = .noDefaultALPN
        case "port": self = .port
        case "ipv4hint": self = .ipv4Hint
        case "ech": self = .ech
        case "ipv6hint": self = .ipv6Hint
        default:
            let digits = text.dropFirst(3)
            // RFC 9460 §2.1: "keyNNNNN" with a decimal number, no leading zeros.
            guard text.hasPrefix("key"), !digits.isEmpty, digits.count <= 5, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
                digits == "0" || !digits.hasPrefix("0"), let v = UInt16(digits)
            else { return nil }
            self.rawValue = v
        }
    }

    public static func < (a: SvcParamKey, b: SvcParamKey) -> Bool { a.rawValue < b.rawValue }
}

/// One SvcParam (RFC 9460 §2.2): a key and its value in the format that key defines.
public enum SvcParam: Sendable, Hashable {
    /// RFC 9460 §8: "a list of keys that are mandatory", in strictly increasing order.
    case mandatory([SvcParamKey])
    /// RFC 9460 §7.1.1: "the set of Application-Layer Protocol Negotiation (ALPN) protocol
    /// identifiers", each non-empty.
    case alpn([[UInt8]])
    /// RFC 9460 §7.1.1: the default ALPN set is not supported; no value.
    case noDefaultALPN
    /// RFC 9460 §7.2: "the TCP or UDP port that should be used to reach this alternative endpoint".
    case port(UInt16)
    /// RFC 9460 §7.3: IPv4 addresses "that clients MAY use to reach the service".
    case ipv4Hint([IPv4Address])
    /// An ECHConfigList (RFC 9460 §14.3.2; draft-ietf-tls-esni), kept as opaque bytes.
    case ech([UInt8])
    /// RFC 9460 §7.3: IPv6 address hints.
    case ipv6Hint([IPv6Address])
    /// A key this codec does not interpret, with its raw value (RFC 9460 §2.1 `keyNNNNN`).
    case unknown(key: SvcParamKey, value: [UInt8])

    /// The key of this parameter.
    public var key: SvcParamKey {
        switch self {
        case .mandatory: .mandatory
        case .alpn: .alpn
        case .noDefaultALPN: .noDefaultALPN
        case .port: .port
        case .ipv4Hint: .ipv4Hint
        case .ech: .ech
        case .ipv6Hint: .ipv6Hint
        case .unknown(let key, _): key
        }
    }
}

extension RData {
    /// RFC 9460 §2.2: service binding, `SvcPriority TargetName SvcParams`.
    public struct SVCB: RDataType {
        public static let recordType = RecordType.svcb
        /// "The priority of this record (relative to others, with lower values preferred). A value of
        /// 0 indicates AliasMode."
        public var svcPriority: UInt16
        /// "The domain name of either the alias target (for AliasMode) or the alternative endpoint
        /// (for ServiceMode)." RFC 9460 §2.2: "TargetName [...] MUST NOT be compressed."
        public var targetName: DomainName
        /// "The SvcParams, consuming the remainder of the record", in strictly increasing key order.
        public var svcParams: [SvcParam]

        /// Creates a service binding; the parameters are sorted by key. Keys must not repeat.
        public init(svcPriority: UInt16, targetName: DomainName, svcParams: [SvcParam] = []) {
            self.svcPriority = svcPriority
            self.targetName = targetName
            self.svcParams = svcParams.sorted { $0.key < $1.key }
        }

        /// True for AliasMode (SvcPriority 0, RFC 9460 §2.4.2).
        public var isAliasMode: Bool { self.svcPriority == 0 }

        /// The parameter with `key`, if present.
        public func param(_ key: SvcParamKey) -> SvcParam? { self.svcParams.first { $0.key == key } }

        public static func decode(from reader: inout WireReader, length: Int) throws(DecodeError) -> SVCB {
            let (p, t, s) = try SVCBCodec.decode(from: &reader, "SVCB")
            return SVCB(svcPriority: p, targetName: t, svcParams: s)
        }

        public func encode(into writer: inout WireWriter) {
            SVCBCodec.encode(self.svcPriority, self.targetName, self.svcParams, into: &writer)
        }

        public init(presentation tokens: [String], origin: DomainName) throws(DecodeError) {
            (self.svcPriority, self.targetName, self.svcParams) = try SVCBCodec.parse(tokens, origin: origin, "SVCB")
        }

        public var presentation: String { SVCBCodec.presentation(self.svcPriority, self.targetName, self.svcParams) }
    }
}

/// The wire and presentation formats shared by SVCB and HTTPS (RFC 9460 §2.2, §9: "HTTPS RRs use
/// the same RDATA format as SVCB").
enum SVCBCodec {
    static func decode(from r: inout WireReader, _ type: String) throws(DecodeError)
        -> (UInt16, DomainName, [SvcParam])
    {
        // Field paths are only formatted when something fails: this runs on the resolver's miss path.
        let priority = try r.readUInt16(type == "SVCB" ? "SVCB.svcPriority" : "HTTPS.svcPriority")
        let target = try r.readName(type == "SVCB" ? "SVCB.targetName" : "HTTPS.targetName")
        var params: [SvcParam] = []
        var last = -1
        while r.remaining > 0 {
            let at = r.offset
            guard r.remaining >= 4 else {
                throw r.fail(.truncated, "\(type).svcParams[\(params.count)]", detail: "SvcParam header needs 4 octets")
            }
            let key = SvcParamKey(rawValue: try r.readUInt16(""))
            let length = Int(try r.readUInt16(""))
            // RFC 9460 §2.2: "Clients MUST consider an RR malformed if the SvcParamKeys in SvcParams
            // are not in strictly increasing numeric order."
            guard Int(key.rawValue) > last else {
                throw r.fail(.badValue, "\(type).svcParams.\(key)", at: at,
                    detail: "key \(key.rawValue) after key \(last): keys must be strictly increasing")
            }
            guard key != .invalid else {
                throw r.fail(.badValue, "\(type).svcParams.\(key)", at: at, detail: "key 65535 is reserved")
            }
            last = Int(key.rawValue)
            guard r.remaining >= length else {
                throw r.fail(.truncated, "\(type).svcParams.\(key)", detail: "value of \(length) octet(s), \(r.remaining) left")
            }
            var v = r
            v.limit = r.offset + length
            params.append(try Self.decodeValue(key, from: &v, type))
            r.offset = v.limit
        }
        // RFC 9460 §8: every key listed as mandatory must be present.
        if case .mandatory(let keys)? = params.first {
            for k in keys where !params.contains(where: { $0.key == k }) {
                throw r.fail(.badValue, "\(type).svcParams.mandatory", detail: "mandatory key \(k) is missing")
            }
        }
        return (priority, target, params)
    }

    /// Decodes one value; `v` is limited to the value's length.
    private static func decodeValue(_ key: SvcParamKey, from v: inout WireReader, _ type: String) throws(DecodeError)
        -> SvcParam
    {
        func bad(_ detail: String, at offset: Int) -> DecodeError {
            v.fail(.badValue, "\(type).svcParams.\(key)", at: offset, detail: detail)
        }
        let start = v.offset
        switch key {
        case .mandatory:
            guard v.remaining >= 2, v.remaining % 2 == 0 else {
                throw bad("mandatory needs a non-empty list of 2-octet keys", at: start)
            }
            var keys: [SvcParamKey] = []
            var last = -1
            while v.remaining > 0 {
                let k = try v.readUInt16("")
                guard Int(k) > last, k != 0 else {
                    throw bad(k == 0 ? "mandatory lists itself" : "mandatory keys must be strictly increasing", at: v.offset - 2)
                }
                last = Int(k)
                keys.append(SvcParamKey(rawValue: k))
            }
            return .mandatory(keys)
        case .alpn:
            guard v.remaining > 0 else { throw bad("alpn needs at least one protocol id", at: start) }
            var ids: [[UInt8]] = []
            while v.remaining > 0 {
                let at = v.offset
                let n = Int(try v.readUInt8(""))
                guard n > 0 else { throw bad("empty alpn-id", at: at) }
                guard v.remaining >= n else {
                    throw v.fail(.truncated, "\(type).svcParams.\(key)", at: at, detail: "alpn-id of \(n) octet(s), \(v.remaining) left")
                }
                ids.append(try v.readBytes(n, ""))
            }
            return .alpn(ids)
        case .noDefaultALPN:
            guard v.remaining == 0 else { throw bad("no-default-alpn takes no value", at: start) }
            return .noDefaultALPN
        case .port:
            guard v.remaining == 2 else { throw bad("port needs 2 octets, got \(v.remaining)", at: start) }
            return .port(try v.readUInt16(""))
        case .ipv4Hint:
            guard v.remaining >= 4, v.remaining % 4 == 0 else {
                throw bad("ipv4hint needs a non-empty multiple of 4 octets", at: start)
            }
            var out: [IPv4Address] = []
            out.reserveCapacity(v.remaining / 4)
            while v.remaining > 0 { out.append(IPv4Address(try v.readUInt32(""))) }
            return .ipv4Hint(out)
        case .ech:
            return .ech(try v.readRemaining(""))
        case .ipv6Hint:
            guard v.remaining >= 16, v.remaining % 16 == 0 else {
                throw bad("ipv6hint needs a non-empty multiple of 16 octets", at: start)
            }
            var out: [IPv6Address] = []
            out.reserveCapacity(v.remaining / 16)
            while v.remaining > 0 {
                let high = UInt64(try v.readUInt32("")) << 32 | UInt64(try v.readUInt32(""))
                let low = UInt64(try v.readUInt32("")) << 32 | UInt64(try v.readUInt32(""))
                out.append(IPv6Address(high: high, low: low))
            }
            return .ipv6Hint(out)
        default:
            return .unknown(key: key, value: try v.readRemaining(""))
        }
    }

    static func encode(_ priority: UInt16, _ target: DomainName, _ params: [SvcParam], into w: inout WireWriter) {
        w.writeUInt16(priority)
        w.writeName(target, compress: false)
        for p in params {
            w.writeUInt16(p.key.rawValue)
            let lenAt = w.bytes.count
            w.writeUInt16(0)
            switch p {
            case .mandatory(let keys): for k in keys { w.writeUInt16(k.rawValue) }
            case .alpn(let ids): for id in ids { w.writeCharacterString(id) }
            case .noDefaultALPN: break
            case .port(let port): w.writeUInt16(port)
            case .ipv4Hint(let a): for x in a { w.writeUInt32(x.value) }
            case .ech(let b): w.writeBytes(b)
            case .ipv6Hint(let a): for x in a { w.writeBytes(x.bytes) }
            case .unknown(_, let value): w.writeBytes(value)
            }
            w.patchUInt16(UInt16(clamping: w.bytes.count - lenAt - 2), at: lenAt)
        }
    }

    static func presentation(_ priority: UInt16, _ target: DomainName, _ params: [SvcParam]) -> String {
        var s = "\(priority) \(target)"
        for p in params {
            s += " "
            switch p {
            case .mandatory(let keys): s += "mandatory=\"\(keys.map(\.description).joined(separator: ","))\""
            case .alpn(let ids): s += "alpn=" + Presentation.quoted(Self.joinList(ids))
            case .noDefaultALPN: s += "no-default-alpn"
            case .port(let port): s += "port=\"\(port)\""
            case .ipv4Hint(let a): s += "ipv4hint=\"\(a.map(\.description).joined(separator: ","))\""
            case .ech(let b): s += "ech=\"\(Base64.encode(b))\""
            case .ipv6Hint(let a): s += "ipv6hint=\"\(a.map(\.description).joined(separator: ","))\""
            case .unknown(let key, let value): s += value.isEmpty ? key.description : "\(key)=\(Presentation.quoted(value))"
            }
        }
        return s
    }

    /// RFC 9460 Appendix A.1 value-list: items joined by `,`, with `,` and `\` inside an item escaped.
    private static func joinList(_ items: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        for (i, item) in items.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            for b in item {
                if b == UInt8(ascii: ",") || b == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
                out.append(b)
            }
        }
        return out
    }

    /// Splits an already char-string-decoded value on unescaped commas (RFC 9460 Appendix A.1).
    private static func splitList(_ bytes: [UInt8], _ field: String) throws(DecodeError) -> [[UInt8]] {
        var items: [[UInt8]] = []
        var cur: [UInt8] = []
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "\\") {
                guard i + 1 < bytes.count else {
                    throw DecodeError(.badPresentation, field: field, offset: i, detail: "dangling escape in value-list")
                }
                cur.append(bytes[i + 1])
                i += 2
                continue
            }
            if c == UInt8(ascii: ",") {
                guard !cur.isEmpty else {
                    throw DecodeError(.badPresentation, field: field, offset: i, detail: "empty item in value-list")
                }
                items.append(cur)
                cur = []
            } else {
                cur.append(c)
            }
            i += 1
        }
        guard !cur.isEmpty else { throw DecodeError(.badPresentation, field: field, offset: i, detail: "empty item in value-list") }
        items.append(cur)
        return items
    }

    static func parse(_ tokens: [String], origin: DomainName, _ type: String) throws(DecodeError)
        -> (UInt16, DomainName, [SvcParam])
    {
        try Presentation.expectAtLeast(tokens, 2, type)
        let priority: UInt16 = try Presentation.integer(tokens[0], "\(type).svcPriority")
        let target = try Presentation.name(tokens[1], origin: origin, "\(type).targetName")
        var params: [SvcParam] = []
        var i = 2
        while i < tokens.count {
            var token = tokens[i]
            // A zone-file tokenizer may split `key="a b"` into `key=` and `"a b"`.
            if token.hasSuffix("="), i + 1 < tokens.count, tokens[i + 1].hasPrefix("\"") {
                token += tokens[i + 1]
                i += 1
            }
            i += 1
            let keyText: Substring
            let value: String?
            if let eq = token.firstIndex(of: "=") {
                keyText = token[..<eq]
                value = String(token[token.index(after: eq)...])
            } else {
                keyText = token[...]
                value = nil
            }
            guard let key = SvcParamKey(presentation: keyText), key != .invalid else {
                throw DecodeError(.badPresentation, field: "\(type).svcParams", offset: 0, detail: "unknown SvcParamKey \(keyText)")
            }
            let field = "\(type).svcParams.\(key)"
            guard !params.contains(where: { $0.key == key }) else {
                throw DecodeError(.badPresentation, field: field, offset: 0, detail: "key repeated")
            }
            params.append(try Self.parseValue(key, value, field))
        }
        params.sort { $0.key < $1.key }
        if case .mandatory(let keys)? = params.first {
            for k in keys where !params.contains(where: { $0.key == k }) {
                throw DecodeError(.badPresentation, field: "\(type).svcParams.mandatory", offset: 0,
                    detail: "mandatory key \(k) is missing")
            }
        }
        return (priority, target, params)
    }

    private static func parseValue(_ key: SvcParamKey, _ value: String?, _ field: String) throws(DecodeError) -> SvcParam {
        func need() throws(DecodeError) -> [UInt8] {
            guard let value, !value.isEmpty else {
                throw DecodeError(.badPresentation, field: field, offset: 0, detail: "\(key) needs a value")
            }
            let bytes = try Presentation.unescaped(value, field)
            guard !bytes.isEmpty else { throw DecodeError(.badPresentation, field: field, offset: 0, detail: "\(key) needs a value") }
            return bytes
        }
        func text(_ b: [UInt8]) -> String { String(decoding: b, as: UTF8.self) }
        switch key {
        case .mandatory:
            var keys: [SvcParamKey] = []
            for item in try Self.splitList(try need(), field) {
                guard let k = SvcParamKey(presentation: text(item)), k != .mandatory, k != .invalid, !keys.contains(k) else {
                    throw DecodeError(.badPresentation, field: field, offset: 0, detail: "bad mandatory key \(text(item))")
                }
                keys.append(k)
            }
            return .mandatory(keys.sorted())
        case .alpn:
            let ids = try Self.splitList(try need(), field)
            guard ids.allSatisfy({ $0.count <= 255 }) else {
                throw DecodeError(.badPresentation, field: field, offset: 0, detail: "alpn-id longer than 255")
            }
            return .alpn(ids)
        case .noDefaultALPN:
            guard value == nil || value == "" || value == "\"\"" else {
                throw DecodeError(.badPresentation, field: field, offset: 0, detail: "no-default-alpn takes no value")
            }
            return .noDefaultALPN
        case .port:
            guard let p = UInt16(text(try need())) else {
                throw DecodeError(.badPresentation, field: field, offset: 0, detail: "bad port")
            }
            return .port(p)
        case .ipv4Hint:
            var out: [IPv4Address] = []
            for item in try Self.splitList(try need(), field) {
                guard let a = IPv4Address(text(item)) else {
                    throw DecodeError(.badPresentation, field: field, offset: 0, detail: "bad IPv4 address \(text(item))")
                }
                out.append(a)
            }
            return .ipv4Hint(out)
        case .ech:
            let b64 = try Presentation.unescaped(value ?? "", field)
            return .ech(try Base64.decode(text(b64), field))
        case .ipv6Hint:
            var out: [IPv6Address] = []
            for item in try Self.splitList(try need(), field) {
                guard let a = IPv6Address(text(item)) else {
                    throw DecodeError(.badPresentation, field: field, offset: 0, detail: "bad IPv6 address \(text(item))")
                }
                out.append(a)
            }
            return .ipv6Hint(out)
        default:
            let bytes = try Presentation.unescaped(value ?? "", field)
            guard bytes.count <= 65535 else {
                throw DecodeError(.badPresentation, field: field, offset: 0, detail: "value longer than 65535")
            }
            return .unknown(key: key, value: bytes)
        }
    }
}
