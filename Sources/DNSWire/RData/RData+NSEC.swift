extension RData {
    /// RFC 4034 §4.1: next secure record, `NEXT-DOMAIN-NAME TYPE...`.
    public struct NSEC: RDataType {
        public static let recordType = RecordType.nsec
        /// "The Next Domain field contains the next owner name (in the canonical ordering of the zone)
        /// that has authoritative data or contains a delegation point NS RRset." RFC 4034 §4.1.1: "A
        /// sender MUST NOT use DNS name compression on the Next Domain Name field when transmitting an
        /// NSEC RR."
        public var nextDomainName: DomainName
        /// "The Type Bit Maps field identifies the RRset types that exist at the NSEC RR's owner name."
        /// Sorted and without duplicates.
        public var typeBitMaps: [RecordType]

        /// Creates an NSEC record; the types are sorted and de-duplicated.
        public init(nextDomainName: DomainName, typeBitMaps: [RecordType]) {
            self.nextDomainName = nextDomainName
            self.typeBitMaps = TypeBitmap.normalized(typeBitMaps)
        }

        public static func decode(from reader: inout WireReader, length: Int) throws(DecodeError) -> NSEC {
            let next = try reader.readName("NSEC.nextDomainName")
            return NSEC(nextDomainName: next, typeBitMaps: try TypeBitmap.decode(from: &reader, "NSEC.typeBitMaps"))
        }

        public func encode(into writer: inout WireWriter) {
            writer.writeName(self.nextDomainName, compress: false)
            TypeBitmap.encode(self.typeBitMaps, into: &writer)
        }

        public init(presentation tokens: [String], origin: DomainName) throws(DecodeError) {
            try Presentation.expectAtLeast(tokens, 1, "NSEC")
            self.nextDomainName = try Presentation.name(tokens[0], origin: origin, "NSEC.nextDomainName")
            self.typeBitMaps = try TypeBitmap.parse(tokens.dropFirst(), "NSEC.typeBitMaps")
        }

        public var presentation: String {
            self.typeBitMaps.isEmpty
                ? self.nextDomainName.description
                : "\(self.nextDomainName) \(TypeBitmap.presentation(self.typeBitMaps))"
        }
    }
}
