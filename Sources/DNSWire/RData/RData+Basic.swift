extension RData {
    /// RFC 1035 §3.4.1: "A 32 bit Internet address."
    public struct A: RDataType {
        public static let recordType = RecordType.a
        /// The IPv4 address.
        public var address: IPv4Address
        /// Wraps an address.
        public init(address: IPv4Address) { self.address = address }
        public static func decode(from reader: inout WireReader, length: Int) throws(DecodeError) -> A {
            guard length == 4 else { throw reader.fail(.rdataLengthMismatch, "A.address") }
            return A(address: IPv4Address(try reader.readUInt32("A.address")))
        }
        public func encode(into writer: inout WireWriter) { writer.writeUInt32(self.address.value) }
        public init(presentation tokens: [String], origin: DomainName) throws(DecodeError) {
            try Presentation.expect(tokens, 1, "A.address")
            guard let a = IPv4Address(tokens[0]) else {
                throw DecodeError(.badPresentation, field: "A.address", offset: 0, detail: "not an IPv4 address: \(tokens[0])")
            }
            self.address = a
        }
        public var presentation: String { self.address.description }
    }

    /// RFC 3596 §2.2: "A 128 bit IPv6 address is encoded in the data portion of an AAAA resource record."
    public struct AAAA: RDataType {
        public static let recordType = RecordType.aaaa
        /// The IPv6 address.
        public var address: IPv6Address
        /// Wraps an address.
        public init(address: IPv6Address) { self.address = address }
        public static func decode(from reader: inout WireReader, length: Int) throws(DecodeError) -> AAAA {
            guard length == 16 else { throw reader.fail(.rdataLengthMismatch, "AAAA.address") }
            let b = try reader.readBytes(16, "AAAA.address")
            // Invariant: exactly 16 bytes were read above.
            return AAAA(address: IPv6Address(bytes: b)!)
        }
        public func encode(into writer: inout WireWriter) { writer.writeBytes(self.address.bytes) }
        public init(presentation tokens: [String], origin: DomainName) throws(DecodeError) {
            try Presentation.expect(tokens, 1, "AAAA.address")
            guard let a = IPv6Address(tokens[0]) else {
                throw DecodeError(.badPresentation, field: "AAAA.address", offset: 0, detail: "not an IPv6 address: \(tokens[0])")
            }
            self.address = a
        }
        public var presentation: String { self.address.description }
    }

    /// A single domain name as RDATA: NS, CNAME, PTR (RFC 1035 §3.3) and DNAME (RFC 6672).
    public struct NameTarget: Sendable, Hashable {
        /// The target name.
        public var target: DomainName
        /// Wraps a target.
        public init(target: DomainName) { self.target = target }
    }

    /// RFC 1035 §3.3.9: "PREFERENCE ... EXCHANGE".
    public struct MX: RDataType {
        public static let recordType = RecordType.mx
        /// "A 16 bit integer which specifies the preference given to this RR among others at the same owner."
        public var preference: UInt16
        /// "A <domain-name> which specifies a host willing to act as a mail exchange for the owner name."
        public var exchange: DomainName
        /// Creates an MX.
        public init(preference: UInt16, exchange: DomainName) {
            self.preference = preference
            self.exchange = exchange
        }
        public static func decode(from reader: inout WireReader, length: Int) throws(DecodeError) -> MX {
            MX(preference: try reader.readUInt16("MX.preference"), exchange: try reader.readName("MX.exchange"))
        }
        public func encode(into writer: inout WireWriter) {
            writer.writeUInt16(self.preference)
            writer.writeName(self.exchange, compress: true)
        }
        public init(presentation tokens: [String], origin: DomainName) throws(DecodeError) {
            try Presentation.expect(tokens, 2, "MX")
            self.preference = try Presentation.integer(tokens[0], "MX.preference")
            self.exchange = try Presentation.name(tokens[1], origin: origin, "MX.exchange")
        }
        public var presentation: String { "\(self.preference) \(self.exchange)" }
    }

    /// RFC 1035 §3.3.14: "One or more <character-string>s."
    public struct TXT: RDataType {
        public static let recordType = RecordType.txt
        /// The character-strings, each at most 255 bytes.
        public var strings: [[UInt8]]
        /// Creates a TXT record.
        public init(strings: [[UInt8]]) { self.strings = strings }
        /// Creates a TXT record from text, split into 255-byte strings.
        public init(_ text: String) {
            let b = Array(text.utf8)
            var parts: [[UInt8]] = []
            var i = 0
            repeat {
                parts.append(Array(b[i..<min(i + 255, b.count)]))
                i += 255
            } while i < b.count
            self.strings = parts
        }
        public static func decode(from reader: inout WireReader, length: Int) throws(DecodeError) -> TXT {
            // RFC 1035 §3.3.14: "One or more <character-string>s", so empty RDATA is malformed.
            guard reader.remaining > 0 else { throw reader.fail(.truncated, "TXT.strings", detail: "TXT needs at least one string") }
            var out: [[UInt8]] = []
            while reader.remaining > 0 {
                out.append(try reader.readCharacterString("TXT.strings"))
            }
            return TXT(strings: out)
        }
        public func encode(into writer: inout WireWriter) {
            for s in self.strings { writer.writeCharacterString(s) }
        }
        public init(presentation tokens: [String], origin: DomainName) throws(DecodeError) {
            guard !tokens.isEmpty else { throw DecodeError(.badPresentation, field: "TXT.strings", offset: 0, detail: "empty") }
            var out: [[UInt8]] = []
            for (i, t) in tokens.enumerated() { out.append(try Presentation.characterString(t, "TXT.strings[\(i)]")) }
            self.strings = out
        }
        public var presentation: String { self.strings.map(Presentation.quoted).joined(separator: " ") }
    }

    /// RFC 1035 §3.3.13: start of a zone of authority.
    public struct SOA: RDataType {
        public static let recordType = RecordType.soa
        /// "The <domain-name> of the name server that was the original or primary source of data for this zone."
        public var mname: DomainName
        /// "A <domain-name> which specifies the mailbox of the person responsible for this zone."
        public var rname: DomainName
        /// "The unsigned 32 bit version number of the original copy of the zone."
        public var serial: UInt32
        /// "A 32 bit time interval before the zone should be refreshed."
        public var refresh: UInt32
        /// "A 32 bit time interval that should elapse before a failed refresh should be retried."
        public var retry: UInt32
        /// "A 32 bit time value that specifies the upper limit on the time interval that can elapse
        /// before the zone is no longer authoritative."
        public var expire: UInt32
        /// RFC 2308 §4: the negative-caching TTL.
        public var minimum: UInt32
        /// Creates an SOA.
        public init(mname: DomainName, rname: DomainName, serial: UInt32, refresh: UInt32, retry: UInt32,
            expire: UInt32, minimum: UInt32)
        {
            self.mname = mname
            self.rname = rname
            self.serial = serial
            self.refresh = refresh
            self.retry = retry
            self.expire = expire
            self.minimum = minimum
        }
        public static func decode(from reader: inout WireReader, length: Int) throws(DecodeError) -> SOA {
            SOA(mname: try reader.readName("SOA.mname"), rname: try reader.readName("SOA.rname"),
                serial: try reader.readUInt32("SOA.serial"), refresh: try reader.readUInt32("SOA.refresh"),
                retry: try reader.readUInt32("SOA.retry"), expire: try reader.readUInt32("SOA.expire"),
                minimum: try reader.readUInt32("SOA.minimum"))
        }
        public func encode(into writer: inout WireWriter) {
            writer.writeName(self.mname, compress: true)
            writer.writeName(self.rname, compress: true)
            writer.writeUInt32(self.serial)
            writer.writeUInt32(self.refresh)
            writer.writeUInt32(self.retry)
            writer.writeUInt32(self.expire)
            writer.writeUInt32(self.minimum)
        }
        public init(presentation tokens: [String], origin: DomainName) throws(DecodeError) {
            try Presentation.expect(tokens, 7, "SOA")
            self.mname = try Presentation.name(tokens[0], origin: origin, "SOA.mname")
            self.rname = try Presentation.name(tokens[1], origin: origin, "SOA.rname")
            self.serial = try Presentation.integer(tokens[2], "SOA.serial")
            self.refresh = try TTLText.parse(tokens[3], "SOA.refresh")
            self.retry = try TTLText.parse(tokens[4], "SOA.retry")
            self.expire = try TTLText.parse(tokens[5], "SOA.expire")
            self.minimum = try TTLText.parse(tokens[6], "SOA.minimum")
        }
        public var presentation: String {
            "\(self.mname) \(self.rname) \(self.serial) \(self.refresh) \(self.retry) \(self.expire) \(self.minimum)"
        }
    }

    /// RFC 2782: "Priority Weight Port Target".
    public struct SRV: RDataType {
        public static let recordType = RecordType.srv
        /// "The priority of this target host."
        public var priority: UInt16
        /// "A server selection mechanism."
        public var weight: UInt16
        /// "The port on this target host of this service."
        public var port: UInt16
        /// "The domain name of the target host." Never compressed (RFC 2782).
        public var target: DomainName
        /// Creates an SRV.
        public init(priority: UInt16, weight: UInt16, port: UInt16, target: DomainName) {
            self.priority = priority
            self.weight = weight
            self.port = port
            self.target = target
        }
        public static func decode(from reader: inout WireReader, length: Int) throws(DecodeError) -> SRV {
            SRV(priority: try reader.readUInt16("SRV.priority"), weight: try reader.readUInt16("SRV.weight"),
                port: try reader.readUInt16("SRV.port"), target: try reader.readName("SRV.target"))
        }
        public func encode(into writer: inout WireWriter) {
            writer.writeUInt16(self.priority)
            writer.writeUInt16(self.weight)
            writer.writeUInt16(self.port)
            writer.writeName(self.target, compress: false)
        }
        public init(presentation tokens: [String], origin: DomainName) throws(DecodeError) {
            try Presentation.expect(tokens, 4, "SRV")
            self.priority = try Presentation.integer(tokens[0], "SRV.priority")
            self.weight = try Presentation.integer(tokens[1], "SRV.weight")
            self.port = try Presentation.integer(tokens[2], "SRV.port")
            self.target = try Presentation.name(tokens[3], origin: origin, "SRV.target")
        }
        public var presentation: String { "\(self.priority) \(self.weight) \(self.port) \(self.target)" }
    }

    /// RFC 3597: RDATA of a type this codec does not interpret, kept as opaque bytes.
    public struct Unknown: Sendable, Hashable {
        /// The TYPE.
        public var type: RecordType
        /// Raw RDATA.
        public var bytes: [UInt8]
        /// Wraps raw RDATA.
        public init(type: RecordType, bytes: [UInt8]) {
            self.type = type
            self.bytes = bytes
        }
        /// `\# LEN HEX` (RFC 3597 §5).
        public var presentation: String {
            self.bytes.isEmpty ? "\\# 0" : "\\# \(self.bytes.count) \(Presentation.hex(self.bytes))"
        }
    }
}

/// TTL text: plain seconds or BIND units (`1h30m`, `2d`, `1w`).
public enum TTLText {
    /// Parses seconds or unit-suffixed TTL text.
    public static func parse(_ token: String, _ field: String) throws(DecodeError) -> UInt32 {
        if let v = UInt32(token) { return v }
        var total: UInt64 = 0
        var cur: UInt64 = 0
        var sawDigit = false
        for c in token.lowercased() {
            if let d = c.wholeNumberValue, c.isASCII {
                cur = cur * 10 + UInt64(d)
                sawDigit = true
                guard cur <= UInt64(UInt32.max) else { break }
                continue
            }
            let mult: UInt64
            switch c {
            case "s": mult = 1
            case "m": mult = 60
            case "h": mult = 3600
            case "d": mult = 86400
            case "w": mult = 604800
            default: throw DecodeError(.badPresentation, field: field, offset: 0, detail: "bad TTL: \(token)")
            }
            guard sawDigit else { throw DecodeError(.badPresentation, field: field, offset: 0, detail: "bad TTL: \(token)") }
            total += cur * mult
            cur = 0
            sawDigit = false
        }
        total += cur
        guard !token.isEmpty, total <= UInt64(UInt32.max) else {
            throw DecodeError(.badPresentation, field: field, offset: 0, detail: "bad TTL: \(token)")
        }
        return UInt32(total)
    }
}
