extension RData {
    /// RFC 5155 §3.2: hashed next secure record, `HASH-ALGORITHM FLAGS ITERATIONS SALT
    /// NEXT-HASHED-OWNER-NAME TYPE...`.
    public struct NSEC3: RDataType {
        public static let recordType = RecordType.nsec3
        /// "The Hash Algorithm field identifies the cryptographic hash algorithm used to construct the
        /// hash-value."
        public var hashAlgorithm: UInt8
        /// "The Flags field contains 8 one-bit flags that can be used to indicate different processing.
        /// [...] The Opt-Out flag."
        public var flags: UInt8
        /// "The Iterations field defines the number of additional times the hash function has been
        /// performed."
        public var iterations: UInt16
        /// "The Salt field is appended to the original owner name before hashing in order to defend
        /// against pre-calculated dictionary attacks." At most 255 octets; `-` when empty.
        public var salt: [UInt8]
        /// "The Next Hashed Owner Name field contains the next hashed owner name in hash order." 1...255
        /// octets, base32hex in presentation form (RFC 5155 §3.3).
        public var nextHashedOwnerName: [UInt8]
        /// "The Type Bit Maps field identifies the RRSet types that exist at the original owner name of
        /// the NSEC3 RR." Sorted and without duplicates.
        public var typeBitMaps: [RecordType]

        /// Creates an NSEC3 record; the types are sorted and de-duplicated.
        public init(hashAlgorithm: UInt8, flags: UInt8, iterations: UInt16, salt: [UInt8], nextHashedOwnerName: [UInt8],
            typeBitMaps: [RecordType])
        {
            self.hashAlgorithm = hashAlgorithm
            self.flags = flags
            self.iterations = iterations
            self.salt = salt
            self.nextHashedOwnerName = nextHashedOwnerName
            self.typeBitMaps = TypeBitmap.normalized(typeBitMaps)
        }

        /// The Opt-Out flag (RFC 5155 §3.1.2.1).
        public var isOptOut: Bool { self.flags & 0x01 != 0 }

        public static func decode(from reader: inout WireReader, length: Int) throws(DecodeError) -> NSEC3 {
            let algorithm = try reader.readUInt8("NSEC3.hashAlgorithm")
            let flags = try reader.readUInt8("NSEC3.flags")
            let iterations = try reader.readUInt16("NSEC3.iterations")
            let salt = try reader.readCharacterString("NSEC3.salt")
            let hashAt = reader.offset
            let next = try reader.readCharacterString("NSEC3.nextHashedOwnerName")
            guard !next.isEmpty else {
                throw reader.fail(.badValue, "NSEC3.nextHashedOwnerName", at: hashAt, detail: "hash length 0")
            }
            return NSEC3(hashAlgorithm: algorithm, flags: flags, iterations: iterations, salt: salt,
                nextHashedOwnerName: next, typeBitMaps: try TypeBitmap.decode(from: &reader, "NSEC3.typeBitMaps"))
        }

        public func encode(into writer: inout WireWriter) {
            writer.writeUInt8(self.hashAlgorithm)
            writer.writeUInt8(self.flags)
            writer.writeUInt16(self.iterations)
            writer.writeCharacterString(self.salt)
            writer.writeCharacterString(self.nextHashedOwnerName)
            TypeBitmap.encode(self.typeBitMaps, into: &writer)
        }

        public init(presentation tokens: [String], origin: DomainName) throws(DecodeError) {
            try Presentation.expectAtLeast(tokens, 5, "NSEC3")
            self.hashAlgorithm = try Presentation.integer(tokens[0], "NSEC3.hashAlgorithm")
            self.flags = try Presentation.integer(tokens[1], "NSEC3.flags")
            self.iterations = try Presentation.integer(tokens[2], "NSEC3.iterations")
            self.salt = try NSEC3PARAM.parseSalt(tokens[3], "NSEC3.salt")
            let next = try Base32Hex.decode(tokens[4], "NSEC3.nextHashedOwnerName")
            guard (1...255).contains(next.count) else {
                throw DecodeError(.badPresentation, field: "NSEC3.nextHashedOwnerName", offset: 0, detail: "hash must be 1...255 octets")
            }
            self.nextHashedOwnerName = next
            self.typeBitMaps = try TypeBitmap.parse(tokens.dropFirst(5), "NSEC3.typeBitMaps")
        }

        public var presentation: String {
            var s = "\(self.hashAlgorithm) \(self.flags) \(self.iterations) \(Presentation.hexOrDash(self.salt)) "
                + Base32Hex.encode(self.nextHashedOwnerName).lowercased()
            if !self.typeBitMaps.isEmpty { s += " " + TypeBitmap.presentation(self.typeBitMaps) }
            return s
        }
    }
}
