extension RData {
    /// RFC 5155 §4.2: NSEC3 parameters, `HASH-ALGORITHM FLAGS ITERATIONS SALT`.
    public struct NSEC3PARAM: RDataType {
        public static let recordType = RecordType.nsec3param
        /// "The Hash Algorithm field identifies the cryptographic hash algorithm used to construct the
        /// hash-value."
        public var hashAlgorithm: UInt8
        /// "The Opt-Out flag is not used and is set to zero." Other bits are reserved.
        public var flags: UInt8
        /// "The Iterations field defines the number of additional times the hash is performed."
        public var iterations: UInt16
        /// "The Salt field is appended to the original owner name before hashing." At most 255 octets.
        public var salt: [UInt8]

        /// Creates an NSEC3PARAM record.
        public init(hashAlgorithm: UInt8, flags: UInt8, iterations: UInt16, salt: [UInt8]) {
            self.hashAlgorithm = hashAlgorithm
            self.flags = flags
            self.iterations = iterations
            self.salt = salt
        }

        public static func decode(from reader: inout WireReader, length: Int) throws(DecodeError) -> NSEC3PARAM {
            NSEC3PARAM(hashAlgorithm: try reader.readUInt8("NSEC3PARAM.hashAlgorithm"), flags: try reader.readUInt8("NSEC3PARAM.flags"),
                iterations: try reader.readUInt16("NSEC3PARAM.iterations"), salt: try reader.readCharacterString("NSEC3PARAM.salt"))
        }

        public func encode(into writer: inout WireWriter) {
            writer.writeUInt8(self.hashAlgorithm)
            writer.writeUInt8(self.flags)
            writer.writeUInt16(self.iterations)
            writer.writeCharacterString(self.salt)
        }

        public init(presentation tokens: [String], origin: DomainName) throws(DecodeError) {
            try Presentation.expect(tokens, 4, "NSEC3PARAM")
            self.hashAlgorithm = try Presentation.integer(tokens[0], "NSEC3PARAM.hashAlgorithm")
            self.flags = try Presentation.integer(tokens[1], "NSEC3PARAM.flags")
            self.iterations = try Presentation.integer(tokens[2], "NSEC3PARAM.iterations")
            self.salt = try Self.parseSalt(tokens[3], "NSEC3PARAM.salt")
        }

        public var presentation: String {
            "\(self.hashAlgorithm) \(self.flags) \(self.iterations) \(Presentation.hexOrDash(self.salt))"
        }

        /// RFC 5155 §3.3: "The Salt field is represented as a sequence of case-insensitive hexadecimal
        /// digits. [...] This field is represented as '-' (without the quotes) when the Salt Length
        /// field has a value of 0."
        static func parseSalt(_ token: String, _ field: String) throws(DecodeError) -> [UInt8] {
            if token == "-" { return [] }
            let salt = try Presentation.hexBytes(token, field)
            guard !salt.isEmpty, salt.count <= 255 else {
                throw DecodeError(.badPresentation, field: field, offset: 0, detail: "salt must be 1...255 octets or -")
            }
            return salt
        }
    }
}
