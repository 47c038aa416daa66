extension RData {
    /// RFC 3403 §4.1: Naming Authority Pointer, `ORDER PREFERENCE FLAGS SERVICES REGEXP REPLACEMENT`.
    public struct NAPTR: RDataType {
        public static let recordType = RecordType.naptr
        /// "A 16-bit unsigned integer specifying the order in which the NAPTR records MUST be processed
        /// in order to accurately represent the ordered list of Rules."
        public var order: UInt16
        /// "A 16-bit unsigned integer that specifies the order in which NAPTR records with equal Order
        /// values SHOULD be processed, low numbers being processed before high numbers."
        public var preference: UInt16
        /// "A <character-string> containing flags to control aspects of the rewriting and
        /// interpretation of the fields in the record."
        public var flags: [UInt8]
        /// "A <character-string> that specifies the Service Parameters applicable to this this
        /// delegation path."
        public var services: [UInt8]
        /// "A <character-string> containing a substitution expression that is applied to the original
        /// string held by the client in order to construct the next domain name to lookup."
        public var regexp: [UInt8]
        /// "A <domain-name> which is the next domain-name to query for depending on the potential
        /// values found in the flags field." Written uncompressed (RFC 3597 §4).
        public var replacement: DomainName

        /// Creates a NAPTR; the strings must be at most 255 octets each.
        public init(order: UInt16, preference: UInt16, flags: [UInt8], services: [UInt8], regexp: [UInt8],
            replacement: DomainName)
        {
            self.order = order
            self.preference = preference
            self.flags = flags
            self.services = services
            self.regexp = regexp
            self.replacement = replacement
        }

        public static func decode(from reader: inout WireReader, length: Int) throws(DecodeError) -> NAPTR {
            NAPTR(order: try reader.readUInt16("NAPTR.order"), preference: try reader.readUInt16("NAPTR.preference"),
                flags: try reader.readCharacterString("NAPTR.flags"),
                services: try reader.readCharacterString("NAPTR.services"),
                regexp: try reader.readCharacterString("NAPTR.regexp"),
                replacement: try reader.readName("NAPTR.replacement"))
        }

        public func encode(into writer: inout WireWriter) {
            writer.writeUInt16(self.order)
            writer.writeUInt16(self.preference)
            writer.writeCharacterString(self.flags)
            writer.writeCharacterString(self.services)
            writer.writeCharacterString(self.regexp)
            writer.writeName(self.replacement, compress: false)
        }

        public init(presentation tokens: [String], origin: DomainName) throws(DecodeError) {
            try Presentation.expect(tokens, 6, "NAPTR")
            self.order = try Presentation.integer(tokens[0], "NAPTR.order")
            self.preference = try Presentation.integer(tokens[1], "NAPTR.preference")
            self.flags = try Presentation.characterString(tokens[2], "NAPTR.flags")
            self.services = try Presentation.characterString(tokens[3], "NAPTR.services")
            self.regexp = try Presentation.characterString(tokens[4], "NAPTR.regexp")
            self.replacement = try Presentation.name(tokens[5], origin: origin, "NAPTR.replacement")
        }

        public var presentation: String {
            "\(self.order) \(self.preference) \(Presentation.quoted(self.flags)) \(Presentation.quoted(self.services)) "
                + "\(Presentation.quoted(self.regexp)) \(self.replacement)"
        }
    }
}
