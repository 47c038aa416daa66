extension RData {
    /// RFC 1035 §3.3.2: host information, `CPU OS`.
    ///
    /// RFC 8482 §4.2 gives HINFO a second life as the synthesized answer to ANY queries.
    public struct HINFO: RDataType {
        public static let recordType = RecordType.hinfo
        /// "A <character-string> which specifies the CPU type."
        public var cpu: [UInt8]
        /// "A <character-string> which specifies the operating system type."
        public var os: [UInt8]

        /// Creates an HINFO; each string must be at most 255 octets.
        public init(cpu: [UInt8], os: [UInt8]) {
            self.cpu = cpu
            self.os = os
        }

        public static func decode(from reader: inout WireReader, length: Int) throws(DecodeError) -> HINFO {
            HINFO(cpu: try reader.readCharacterString("HINFO.cpu"), os: try reader.readCharacterString("HINFO.os"))
        }

        public func encode(into writer: inout WireWriter) {
            writer.writeCharacterString(self.cpu)
            writer.writeCharacterString(self.os)
        }

        public init(presentation tokens: [String], origin: DomainName) throws(DecodeError) {
            try Presentation.expect(tokens, 2, "HINFO")
            self.cpu = try Presentation.characterString(tokens[0], "HINFO.cpu")
            self.os = try Presentation.characterString(tokens[1], "HINFO.os")
        }

        public var presentation: String { "\(Presentation.quoted(self.cpu)) \(Presentation.quoted(self.os))" }
    }
}
