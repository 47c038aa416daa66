extension RData {
    /// RFC 4255 §3.1: SSH key fingerprint, `ALGORITHM FP-TYPE FINGERPRINT`.
    public struct SSHFP: RDataType {
        public static let recordType = RecordType.sshfp
        /// "This algorithm number octet describes the algorithm of the public key."
        public var algorithm: UInt8
        /// "The fingerprint type octet describes the message-digest algorithm used to calculate the
        /// fingerprint of the public key."
        public var fingerprintType: UInt8
        /// "The fingerprint is calculated over the public key blob." Non-empty.
        public var fingerprint: [UInt8]

        /// Creates an SSHFP record.
        public init(algorithm: UInt8, fingerprintType: UInt8, fingerprint: [UInt8]) {
            self.algorithm = algorithm
            self.fingerprintType = fingerprintType
            self.fingerprint = fingerprint
        }

        public static func decode(from reader: inout WireReader, length: Int) throws(DecodeError) -> SSHFP {
            let algorithm = try reader.readUInt8("SSHFP.algorithm")
            let type = try reader.readUInt8("SSHFP.fingerprintType")
            guard reader.remaining > 0 else { throw reader.fail(.truncated, "SSHFP.fingerprint") }
            return SSHFP(algorithm: algorithm, fingerprintType: type, fingerprint: try reader.readRemaining("SSHFP.fingerprint"))
        }

        public func encode(into writer: inout WireWriter) {
            writer.writeUInt8(self.algorithm)
            writer.writeUInt8(self.fingerprintType)
            writer.writeBytes(self.fingerprint)
        }

        public init(presentation tokens: [String], origin: DomainName) throws(DecodeError) {
            try Presentation.expectAtLeast(tokens, 3, "SSHFP")
            self.algorithm = try Presentation.integer(tokens[0], "SSHFP.algorithm")
            self.fingerprintType = try Presentation.integer(tokens[1], "SSHFP.fingerprintType")
            self.fingerprint = try Presentation.hexTokens(tokens[2...], "SSHFP.fingerprint")
        }

        public var presentation: String { "\(self.algorithm) \(self.fingerprintType) \(Presentation.hex(self.fingerprint))" }
    }
}
