extension RData {
    /// RFC 4034 §3.1: resource record signature, `TYPE-COVERED ALGORITHM LABELS ORIGINAL-TTL
    /// SIGNATURE-EXPIRATION SIGNATURE-INCEPTION KEY-TAG SIGNER'S-NAME SIGNATURE`.
    public struct RRSIG: RDataType {
        public static let recordType = RecordType.rrsig
        /// "The Type Covered field identifies the type of the RRset that is covered by this RRSIG record."
        public var typeCovered: RecordType
        /// "The Algorithm Number field identifies the cryptographic algorithm used to create the signature."
        public var algorithm: UInt8
        /// "The Labels field specifies the number of labels in the original RRSIG RR owner name."
        public var labels: UInt8
        /// "The Original TTL field specifies the TTL of the covered RRset as it appears in the
        /// authoritative zone."
        public var originalTTL: UInt32
        /// "The Signature Expiration and Inception fields specify a validity period for the signature."
        /// Seconds since 1970 in serial number arithmetic (RFC 1982).
        public var signatureExpiration: UInt32
        /// The start of the validity period; see ``signatureExpiration``.
        public var signatureInception: UInt32
        /// "The Key Tag field contains the key tag value of the DNSKEY RR that validates this signature."
        public var keyTag: UInt16
        /// "The Signer's Name field value identifies the owner name of the DNSKEY RR that a validator
        /// is supposed to use to validate this signature." RFC 4034 §3.1.7: "A sender MUST NOT use DNS
        /// name compression on the Signer's Name field when transmitting a RRSIG RR."
        public var signerName: DomainName
        /// "The Signature field contains the cryptographic signature that covers the RRSIG RDATA
        /// (excluding the Signature field) and the RRset specified by the RRSIG owner name, RRSIG
        /// class, and RRSIG Type Covered field." Non-empty.
        public var signature: [UInt8]

        /// Creates an RRSIG record.
        public init(typeCovered: RecordType, algorithm: UInt8, labels: UInt8, originalTTL: UInt32,
            signatureExpiration: UInt32, signatureInception: UInt32, keyTag: UInt16, signerName: DomainName,
            signature: [UInt8])
        {
            self.typeCovered = typeCovered
            self.algorithm = algorithm
            self.labels = labels
            self.originalTTL = originalTTL
            self.signatureExpiration = signatureExpiration
            self.signatureInception = signatureInception
            self.keyTag = keyTag
            self.signerName = signerName
            self.signature = signature
        }

        public static func decode(from reader: inout WireReader, length: Int) throws(DecodeError) -> RRSIG {
            let covered = RecordType(try reader.readUInt16("RRSIG.typeCovered"))
            let algorithm = try reader.readUInt8("RRSIG.algorithm")
            let labels = try reader.readUInt8("RRSIG.labels")
            let ttl = try reader.readUInt32("RRSIG.originalTTL")
            let expiration = try reader.readUInt32("RRSIG.signatureExpiration")
            let inception = try reader.readUInt32("RRSIG.signatureInception")
            let keyTag = try reader.readUInt16("RRSIG.keyTag")
            let signer = try reader.readName("RRSIG.signerName")
            guard reader.remaining > 0 else { throw reader.fail(.truncated, "RRSIG.signature") }
            return RRSIG(typeCovered: covered, algorithm: algorithm, labels: labels, originalTTL: ttl,
                signatureExpiration: expiration, signatureInception: inception, keyTag: keyTag, signerName: signer,
                signature: try reader.readRemaining("RRSIG.signature"))
        }

        public func encode(into writer: inout WireWriter) {
            writer.writeUInt16(self.typeCovered.rawValue)
            writer.writeUInt8(self.algorithm)
            writer.writeUInt8(self.labels)
            writer.writeUInt32(self.originalTTL)
            writer.writeUInt32(self.signatureExpiration)
            writer.writeUInt32(self.signatureInception)
            writer.writeUInt16(self.keyTag)
            writer.writeName(self.signerName, compress: false)
            writer.writeBytes(self.signature)
        }

        public init(presentation tokens: [String], origin: DomainName) throws(DecodeError) {
            try Presentation.expectAtLeast(tokens, 9, "RRSIG")
            guard let covered = RecordType(mnemonic: tokens[0]) else {
                throw DecodeError(.badPresentation, field: "RRSIG.typeCovered", offset: 0, detail: "unknown type \(tokens[0])")
            }
            self.typeCovered = covered
            self.algorithm = try Presentation.integer(tokens[1], "RRSIG.algorithm")
            self.labels = try Presentation.integer(tokens[2], "RRSIG.labels")
            self.originalTTL = try TTLText.parse(tokens[3], "RRSIG.originalTTL")
            self.signatureExpiration = try DNSSECTime.parse(tokens[4], "RRSIG.signatureExpiration")
            self.signatureInception = try DNSSECTime.parse(tokens[5], "RRSIG.signatureInception")
            self.keyTag = try Presentation.integer(tokens[6], "RRSIG.keyTag")
            self.signerName = try Presentation.name(tokens[7], origin: origin, "RRSIG.signerName")
            self.signature = try Presentation.base64Tokens(tokens[8...], "RRSIG.signature")
        }

        public var presentation: String {
            "\(self.typeCovered) \(self.algorithm) \(self.labels) \(self.originalTTL) "
                + "\(DNSSECTime.format(self.signatureExpiration)) \(DNSSECTime.format(self.signatureInception)) "
                + "\(self.keyTag) \(self.signerName) \(Base64.encode(self.signature))"
        }
    }
}

/// RRSIG times in presentation form (RFC 4034 §3.2): `YYYYMMDDHHmmSS` in UTC, or a decimal count of
/// seconds since 1970. Written without Foundation (DNSWire has no Foundation).
public enum DNSSECTime {
    /// `YYYYMMDDHHmmSS` (UTC) for seconds since 1970.
    public static func format(_ seconds: UInt32) -> String {
        let t = Int(seconds)
        let days = t / 86_400
        let rest = t % 86_400
        let (y, m, d) = Self.civil(fromDays: days)
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(y)\(two(m))\(two(d))\(two(rest / 3600))\(two(rest / 60 % 60))\(two(rest % 60))"
    }

    /// Parses `YYYYMMDDHHmmSS` (exactly 14 digits, as RFC 4034 §3.2 says) or a decimal number.
    /// - Throws: ``DecodeError`` `.badPresentation` for anything else or a date after 2106-02-07.
    public static func parse(_ token: String, _ field: String) throws(DecodeError) -> UInt32 {
        let u = Array(token.utf8)
        guard !u.isEmpty, u.allSatisfy({ (0x30...0x39).contains($0) }) else {
            throw DecodeError(.badPresentation, field: field, offset: 0, detail: "bad time \(token)")
        }
        guard u.count == 14 else {
            guard let v = UInt32(token) else {
                throw DecodeError(.badPresentation, field: field, offset: 0, detail: "bad time \(token)")
            }
            return v
        }
        func num(_ from: Int, _ count: Int) -> Int { u[from..<(from + count)].reduce(0) { $0 * 10 + Int($1 - 0x30) } }
        let y = num(0, 4), mo = num(4, 2), d = num(6, 2), h = num(8, 2), mi = num(10, 2), s = num(12, 2)
        guard y >= 1970, (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 61 else {
            throw DecodeError(.badPresentation, field: field, offset: 0, detail: "bad date \(token)")
        }
        let total = Self.days(fromCivil: y, mo, d) * 86_400 + h * 3600 + mi * 60 + s
        guard let v = UInt32(exactly: total) else {
            throw DecodeError(.badPresentation, field: field, offset: 0, detail: "date past 2106: \(token)")
        }
        return v
    }

    /// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm).
    static func days(fromCivil year: Int, _ month: Int, _ day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The date of a day count since 1970-01-01.
    static func civil(fromDays days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}
