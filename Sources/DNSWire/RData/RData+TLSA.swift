extension RData {
    /// RFC 6698 §2.1: TLSA, `CERTIFICATE-USAGE SELECTOR MATCHING-TYPE CERTIFICATE-ASSOCIATION-DATA`.
    public struct TLSA: RDataType {
        public static let recordType = RecordType.tlsa
        /// "A one-octet value, called 'certificate usage', specifies the provided association that will
        /// be used to match the certificate presented in the TLS handshake."
        public var certificateUsage: UInt8
        /// "A one-octet value, called 'selector', specifies which part of the TLS certificate presented
        /// by the server will be matched against the association data."
        public var selector: UInt8
        /// "A one-octet value, called 'matching type', specifies how the certificate association is
        /// presented."
        public var matchingType: UInt8
        /// "This field specifies the 'certificate association data' to be matched." Non-empty.
        public var certificateAssociationData: [UInt8]

        /// Creates a TLSA record.
        public init(certificateUsage: UInt8, selector: UInt8, matchingType: UInt8, certificateAssociationData: [UInt8]) {
            self.certificateUsage = certificateUsage
            self.selector = selector
            self.matchingType = matchingType
            self.certificateAssociationData = certificateAssociationData
        }

        public static func decode(from reader: inout WireReader, length: Int) throws(DecodeError) -> TLSA {
            let usage = try reader.readUInt8("TLSA.certificateUsage")
            let selector = try reader.readUInt8("TLSA.selector")
            let matching = try reader.readUInt8("TLSA.matchingType")
            guard reader.remaining > 0 else { throw reader.fail(.truncated, "TLSA.certificateAssociationData") }
            return TLSA(certificateUsage: usage, selector: selector, matchingType: matching,
                certificateAssociationData: try reader.readRemaining("TLSA.certificateAssociationData"))
        }

        public func encode(into writer: inout WireWriter) {
            writer.writeUInt8(self.certificateUsage)
            writer.writeUInt8(self.selector)
            writer.writeUInt8(self.matchingType)
            writer.writeBytes(self.certificateAssociationData)
        }

        public init(presentation tokens: [String], origin: DomainName) throws(DecodeError) {
            try Presentation.expectAtLeast(tokens, 4, "TLSA")
            self.certificateUsage = try Presentation.integer(tokens[0], "TLSA.certificateUsage")
            self.selector = try Presentation.integer(tokens[1], "TLSA.selector")
            self.matchingType = try Presentation.integer(tokens[2], "TLSA.matchingType")
            self.certificateAssociationData = try Presentation.hexTokens(tokens[3...], "TLSA.certificateAssociationData")
        }

        public var presentation: String {
            "\(self.certificateUsage) \(self.selector) \(self.matchingType) \(Presentation.hex(self.certificateAssociationData))"
        }
    }
}
