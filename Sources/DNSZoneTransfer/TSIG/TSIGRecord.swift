public import DNSWire

/// The TSIG pseudo-record (RFC 8945 §4.2): owner = key name, CLASS ANY, TTL 0, and this RDATA.
public struct TSIGRecord: Sendable, Hashable {
    /// The record's owner: "the name of the key used".
    public var keyName: DomainName
    /// "an octet sequence identifying the TSIG algorithm in the domain name syntax" (never compressed).
    public var algorithm: DomainName
    /// "Seconds since 1970-01-01 UTC" when the message was signed (48 bits).
    public var timeSigned: UInt64
    /// "Permitted error in Time Signed", in seconds.
    public var fudge: UInt16
    /// The MAC; empty on a BADKEY/BADSIG error reply.
    public var mac: [UInt8]
    /// "Original message ID" of the message before any forwarder rewrote it.
    public var originalID: UInt16
    /// The TSIG error (an extended RCODE: 16 BADSIG, 17 BADKEY, 18 BADTIME, 22 BADTRUNC).
    public var error: TSIGErrorCode
    /// "Other Data": the server's time on BADTIME, otherwise empty.
    public var otherData: [UInt8]

    /// Creates a record.
    public init(keyName: DomainName, algorithm: DomainName, timeSigned: UInt64, fudge: UInt16, mac: [UInt8],
        originalID: UInt16, error: TSIGErrorCode = .noError, otherData: [UInt8] = [])
    {
        self.keyName = keyName
        self.algorithm = algorithm
        self.timeSigned = timeSigned & 0xFFFF_FFFF_FFFF
        self.fudge = fudge
        self.mac = mac
        self.originalID = originalID
        self.error = error
        self.otherData = otherData
    }

    /// Appends the whole record (owner, TYPE, CLASS, TTL, RDLENGTH, RDATA) without name compression.
    func encode(into w: inout WireWriter) {
        w.writeBytes(self.keyName.wire)
        w.writeUInt16(RecordType.tsig.rawValue)
        w.writeUInt16(DNSClass.any.rawValue)
        w.writeUInt32(0)
        let lenAt = w.bytes.count
        w.writeUInt16(0)
        w.writeBytes(self.algorithm.wire)
        TSIGCodec.writeUInt48(self.timeSigned, into: &w)
        w.writeUInt16(self.fudge)
        w.writeUInt16(UInt16(truncatingIfNeeded: self.mac.count))
        w.writeBytes(self.mac)
        w.writeUInt16(self.originalID)
        w.writeUInt16(self.error.rawValue)
        w.writeUInt16(UInt16(truncatingIfNeeded: self.otherData.count))
        w.writeBytes(self.otherData)
        w.patchUInt16(UInt16(truncatingIfNeeded: w.bytes.count - lenAt - 2), at: lenAt)
    }
}

/// The error field of a TSIG record (RFC 8945 §4.2, IANA "DNS RCODEs").
public struct TSIGErrorCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The 16-bit value.
    public var rawValue: UInt16
    /// Wraps a value.
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// No error.
    public static let noError = TSIGErrorCode(rawValue: 0)
    /// "TSIG Signature Failure".
    public static let badSig = TSIGErrorCode(rawValue: 16)
    /// "Key not recognized".
    public static let badKey = TSIGErrorCode(rawValue: 17)
    /// "Signature out of time window".
    public static let badTime = TSIGErrorCode(rawValue: 18)
    /// "Bad Truncation".
    public static let badTrunc = TSIGErrorCode(rawValue: 22)

    /// The text form, for logs and error messages.
    public var description: String {
        switch self.rawValue {
        case 0: "NOERROR"
        case 16: "BADSIG"
        case 17: "BADKEY"
        case 18: "BADTIME"
        case 22: "BADTRUNC"
        default: "TSIG error \(self.rawValue)"
        }
    }
}

/// A message as received, split at its TSIG record (RFC 8945 §5.3: the MAC covers the message
/// "as it was before the TSIG RR was added": ARCOUNT decremented and the original ID restored).
struct SignedMessage: Sendable {
    /// The message without its TSIG record, ARCOUNT decremented, ID as received (what to decode).
    let stripped: [UInt8]
    /// The TSIG record, when the message carries one.
    let tsig: TSIGRecord?

    /// The bytes the MAC covers: ``stripped`` with the TSIG's original ID in place of the header ID.
    var macInput: [UInt8] {
        guard let tsig, self.stripped.count >= 2 else { return self.stripped }
        var b = self.stripped
        b[0] = UInt8(tsig.originalID >> 8)
        b[1] = UInt8(tsig.originalID & 0xFF)
        return b
    }

    /// Splits untrusted bytes.
    ///
    /// Walks every record without decoding RDATA; a TSIG record anywhere but last in the additional
    /// section, a TSIG with a class other than ANY or a TTL other than 0, or bytes after the last
    /// record are errors (RFC 8945 §5.2: FORMERR).
    /// - Throws: ``ZoneTransferError`` `.badResponse` naming the field and offset.
    static func split(_ bytes: [UInt8]) throws(ZoneTransferError) -> SignedMessage {
        do throws(DecodeError) {
            return try Self.splitWire(bytes)
        } catch {
            throw ZoneTransferError(.badResponse, "malformed message: \(error)", underlying: error)
        }
    }

    private static func splitWire(_ bytes: [UInt8]) throws(DecodeError) -> SignedMessage {
        var r = WireReader(bytes: bytes)
        let counts = try r.readSectionCounts()
        let (qd, an, ns, ar) = (counts.questions, counts.answers, counts.authorities, counts.additionals)
        for _ in 0..<qd {
            try r.skipName("question.qname")
            _ = try r.readUInt32("question.qtype+qclass")
        }
        let total = an + ns + ar
        var tsigStart: Int?
        for i in 0..<total {
            let start = r.offset
            try r.skipName("record[\(i)].name")
            let type = RecordType(try r.readUInt16("record[\(i)].type"))
            _ = try r.readUInt16("record[\(i)].class")
            _ = try r.readUInt32("record[\(i)].ttl")
            let len = Int(try r.readUInt16("record[\(i)].rdlength"))
            guard r.remaining >= len else {
                throw DecodeError(.truncated, field: "record[\(i)].rdata", offset: r.offset,
                    detail: "RDLENGTH \(len) but \(r.remaining) byte(s) left")
            }
            r.offset += len
            if type == .tsig {
                guard i == total - 1, ar > 0 else {
                    throw DecodeError(.badValue, field: "record[\(i)].type", offset: start,
                        detail: "TSIG must be the last record of the additional section (RFC 8945 §5.1)")
                }
                tsigStart = start
            }
        }
        guard r.offset == bytes.count else {
            throw DecodeError(.trailingBytes, field: "message", offset: r.offset,
                detail: "\(bytes.count - r.offset) byte(s) after the last record")
        }
        guard let tsigStart else { return SignedMessage(stripped: bytes, tsig: nil) }
        var t = WireReader(bytes: bytes, offset: tsigStart)
        let keyName = try t.readName("TSIG.name")
        _ = try t.readUInt16("TSIG.type")
        let cls = try t.readUInt16("TSIG.class")
        guard cls == DNSClass.any.rawValue else {
            throw DecodeError(.badValue, field: "TSIG.class", offset: t.offset - 2, detail: "CLASS \(cls), must be ANY")
        }
        let ttl = try t.readUInt32("TSIG.ttl")
        guard ttl == 0 else {
            throw DecodeError(.badValue, field: "TSIG.ttl", offset: t.offset - 4, detail: "TTL \(ttl), must be 0")
        }
        let len = Int(try t.readUInt16("TSIG.rdlength"))
        let end = t.offset + len
        t.limit = end
        let algorithm = try TSIGCodec.readUncompressedName(&t, "TSIG.algorithm")
        let high = UInt64(try t.readUInt16("TSIG.timeSigned"))
        let low = UInt64(try t.readUInt32("TSIG.timeSigned"))
        let fudge = try t.readUInt16("TSIG.fudge")
        let macSize = Int(try t.readUInt16("TSIG.macSize"))
        let mac = try t.readBytes(macSize, "TSIG.mac")
        let originalID = try t.readUInt16("TSIG.originalID")
        let error = try t.readUInt16("TSIG.error")
        let otherLen = Int(try t.readUInt16("TSIG.otherLen"))
        let other = try t.readBytes(otherLen, "TSIG.otherData")
        guard t.offset == end else {
            throw DecodeError(.rdataLengthMismatch, field: "TSIG", offset: t.offset,
                detail: "RDLENGTH \(len), fields used \(t.offset - (end - len))")
        }
        var stripped = Array(bytes[0..<tsigStart])
        let arcount = UInt16(ar - 1)
        stripped[10] = UInt8(arcount >> 8)
        stripped[11] = UInt8(arcount & 0xFF)
        let record = TSIGRecord(keyName: keyName, algorithm: algorithm, timeSigned: high << 32 | low, fudge: fudge,
            mac: mac, originalID: originalID, error: TSIGErrorCode(rawValue: error), otherData: other)
        return SignedMessage(stripped: stripped, tsig: record)
    }
}

/// Wire helpers shared by signing and verifying.
enum TSIGCodec {
    static func writeUInt48(_ v: UInt64, into w: inout WireWriter) {
        w.writeUInt16(UInt16(truncatingIfNeeded: v >> 32))
        w.writeUInt32(UInt32(truncatingIfNeeded: v))
    }

    /// Reads a name that must not use compression (RFC 8945 §4.2 for the algorithm name; RFC 3597 §4).
    static func readUncompressedName(_ r: inout WireReader, _ field: String) throws(DecodeError) -> DomainName {
        var wire: [UInt8] = []
        while true {
            let len = try r.readUInt8(field)
            wire.append(len)
            if len == 0 { break }
            guard len <= 63 else {
                throw r.fail(.badLabelType, field, at: r.offset - 1, detail: "compressed or extended label in \(field)")
            }
            wire.append(contentsOf: try r.readBytes(Int(len), field))
            guard wire.count <= DomainName.maxWireLength else {
                throw r.fail(.nameTooLong, field, detail: "longer than 255 octets")
            }
        }
        return try DomainName(wire: wire)
    }

    /// RFC 8945 §4.3.3 "TSIG Variables": key name and algorithm in canonical (lower-case, uncompressed)
    /// form, CLASS ANY, TTL 0, time signed, fudge, error, other length and other data.
    static func variables(keyName: DomainName, algorithm: DomainName, timeSigned: UInt64, fudge: UInt16,
        error: TSIGErrorCode, otherData: [UInt8]) -> [UInt8]
    {
        var w = WireWriter(capacity: 64, compression: false)
        w.writeBytes(keyName.lowercased.wire)
        w.writeUInt16(DNSClass.any.rawValue)
        w.writeUInt32(0)
        w.writeBytes(algorithm.lowercased.wire)
        Self.writeUInt48(timeSigned, into: &w)
        w.writeUInt16(fudge)
        w.writeUInt16(error.rawValue)
        w.writeUInt16(UInt16(truncatingIfNeeded: otherData.count))
        w.writeBytes(otherData)
        return w.bytes
    }

    /// RFC 8945 §5.3.1 "TSIG Timers": time signed and fudge only (for the second and later messages of a
    /// multi-message response).
    static func timers(timeSigned: UInt64, fudge: UInt16) -> [UInt8] {
        var w = WireWriter(capacity: 8, compression: false)
        Self.writeUInt48(timeSigned, into: &w)
        w.writeUInt16(fudge)
        return w.bytes
    }

    /// A MAC length prefix and MAC, as the request MAC and the prior MAC enter a digest (RFC 8945 §4.3.1).
    static func prefixedMAC(_ mac: [UInt8]) -> [UInt8] {
        [UInt8(truncatingIfNeeded: mac.count >> 8), UInt8(truncatingIfNeeded: mac.count)] + mac
    }

    /// Compares two MACs in time independent of where they differ.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<a.count { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}
