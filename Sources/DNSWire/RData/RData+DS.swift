extension RData {
    /// RFC 4034 §5.1: Delegation Signer, `KEY-TAG ALGORITHM DIGEST-TYPE DIGEST`.
    public struct DS: RDataType {
        public static let recordType = RecordType.ds
        /// "The Key Tag field lists the key tag of the DNSKEY RR referred to by the DS record, in
        /// network byte order."
        public var keyTag: UInt16
        /// "The Algorithm field lists the algorithm number of the DNSKEY RR referred to by the DS record."
        public var algorithm: UInt8
        /// "The DS RR refers to a DNSKEY RR by including a digest of that DNSKEY RR. The Digest Type
        /// field identifies the algorithm used to construct the digest."
        public var digestType: UInt8
        /// "The DS record refers to a DNSKEY RR by including a digest of that DNSKEY RR." Non-empty.
        public var digest: [UInt8]

        /// Creates a DS record.
        public init(keyTag: UInt16, algorithm: UInt8, digestType: UInt8, digest: [UInt8]) {
            self.keyTag = keyTag
            self.algorithm = algorithm
            self.digestType = digestType
            self.digest = digest
        }

        public static func decode(from reader: inout WireReader, length: Int) throws(DecodeError) -> DS {
            let keyTag = try reader.readUInt16("DS.keyTag")
            let algorithm = try reader.readUInt8("DS.algorithm")
            let digestType = try reader.readUInt8("DS.digestType")
            guard reader.remaining > 0 else { throw reader.fail(.truncated, "DS.digest") }
            return DS(keyTag: keyTag, algorithm: algorithm, digestType: digestType, digest: try reader.readRemaining("DS.digest"))
        }

        public func encode(into writer: inout WireWriter) {
            writer.writeUInt16(self.keyTag)
            writer.writeUInt8(self.algorithm)
            writer.writeUInt8(self.digestType)
            writer.writeBytes(self.digest)
        }

        public init(presentation tokens: [String], origin: DomainName) throws(DecodeError) {
            try Presentation.expectAtLeast(tokens, 4, "DS")
            self.keyTag = try Presentation.integer(tokens[0], "DS.keyTag")
            self.algorithm = try Presentation.integer(tokens[1], "DS.algorithm")
            self.digestType = try Presentation.integer(tokens[2], "DS.digestType")
            self.digest = try Presentation.hexTokens(tokens[3...], "DS.digest")
        }

        public var presentation: String { "\(self.keyTag) \(self.algorithm) \(self.digestType) \(Presentation.hex(self.digest))" }
    }
}
