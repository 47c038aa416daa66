extension RData {
    /// RFC 4034 §2.1: DNS public key, `FLAGS PROTOCOL ALGORITHM PUBLIC-KEY`.
    public struct DNSKEY: RDataType {
        public static let recordType = RecordType.dnskey
        /// "Bit 7 of the Flags field is the Zone Key flag. [...] Bit 15 of the Flags field is the Secure
        /// Entry Point flag."
        public var flags: UInt16
        /// "The Protocol Field MUST have value 3, and the DNSKEY RR MUST be treated as invalid during
        /// signature verification if it is found to be some value other than 3." Kept as received.
        public var `protocol`: UInt8
        /// "The Algorithm field identifies the public key's cryptographic algorithm."
        public var algorithm: UInt8
        /// "The Public Key Field holds the public key material." Non-empty.
        public var publicKey: [UInt8]

        /// Creates a DNSKEY record.
        public init(flags: UInt16, protocol: UInt8 = 3, algorithm: UInt8, publicKey: [UInt8]) {
            self.flags = flags
            self.protocol = `protocol`
            self.algorithm = algorithm
            self.publicKey = publicKey
        }

        /// The Zone Key flag (bit 7).
        public var isZoneKey: Bool { self.flags & 0x0100 != 0 }
        /// The Secure Entry Point flag (bit 15).
        public var isSecureEntryPoint: Bool { self.flags & 0x0001 != 0 }

        /// RFC 4034 Appendix B: the key tag that RRSIG and DS records use to refer to this key.
        public var keyTag: UInt16 {
            var w = WireWriter(capacity: 4 + self.publicKey.count, compression: false)
            self.encode(into: &w)
            var ac: UInt32 = 0
            for (i, b) in w.bytes.enumerated() { ac &+= i & 1 == 1 ? UInt32(b) : UInt32(b) << 8 }
            ac &+= (ac >> 16) & 0xFFFF
            return UInt16(ac & 0xFFFF)
        }

        public static func decode(from reader: inout WireReader, length: Int) throws(DecodeError) -> DNSKEY {
            let flags = try reader.readUInt16("DNSKEY.flags")
            let proto = try reader.readUInt8("DNSKEY.protocol")
            let algorithm = try reader.readUInt8("DNSKEY.algorithm")
            guard reader.remaining > 0 else { throw reader.fail(.truncated, "DNSKEY.publicKey") }
            return DNSKEY(flags: flags, protocol: proto, algorithm: algorithm, publicKey: try reader.readRemaining("DNSKEY.publicKey"))
        }

        public func encode(into writer: inout WireWriter) {
            writer.writeUInt16(self.flags)
            writer.writeUInt8(self.protocol)
            writer.writeUInt8(self.algorithm)
            writer.writeBytes(self.publicKey)
        }

        public init(presentation tokens: [String], origin: DomainName) throws(DecodeError) {
            try Presentation.expectAtLeast(tokens, 4, "DNSKEY")
            self.flags = try Presentation.integer(tokens[0], "DNSKEY.flags")
            self.protocol = try Presentation.integer(tokens[1], "DNSKEY.protocol")
            self.algorithm = try Presentation.integer(tokens[2], "DNSKEY.algorithm")
            self.publicKey = try Presentation.base64Tokens(tokens[3...], "DNSKEY.publicKey")
        }

        public var presentation: String { "\(self.flags) \(self.protocol) \(self.algorithm) \(Base64.encode(self.publicKey))" }
    }
}
