extension RData {
    /// RFC 8659 §4.1: Certification Authority Authorization, `FLAGS TAG VALUE`.
    public struct CAA: RDataType {
        public static let recordType = RecordType.caa
        /// "One octet containing the following field: Bit 0, Issuer Critical Flag: If the value is set
        /// to '1', the Property is critical."
        public var flags: UInt8
        /// "The Property identifier, a sequence of ASCII characters." RFC 8659 §4.1: "Tags MAY contain
        /// ASCII characters 'a' through 'z', 'A' through 'Z', and the numbers 0 through 9", and
        /// "The tag length MUST be at least 1".
        public var tag: [UInt8]
        /// "A sequence of octets representing the Property Value." It runs to the end of the RDATA
        /// and so may be longer than 255 octets.
        public var value: [UInt8]

        /// Creates a CAA record; `tag` must be 1...255 ASCII letters and digits.
        public init(flags: UInt8, tag: [UInt8], value: [UInt8]) {
            self.flags = flags
            self.tag = tag
            self.value = value
        }

        /// Creates a CAA record from text, e.g. `CAA(flags: 0, tag: "issue", value: "ca.example.net")`.
        public init(flags: UInt8, tag: String, value: String) {
            self.init(flags: flags, tag: Array(tag.utf8), value: Array(value.utf8))
        }

        /// The Issuer Critical Flag (bit 0, the most significant bit).
        public var isCritical: Bool { self.flags & 0x80 != 0 }

        static func isValidTag(_ tag: [UInt8]) -> Bool {
            !tag.isEmpty && tag.allSatisfy { (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }
        }

        public static func decode(from reader: inout WireReader, length: Int) throws(DecodeError) -> CAA {
            let flags = try reader.readUInt8("CAA.flags")
            let tagAt = reader.offset
            let tag = try reader.readCharacterString("CAA.tag")
            guard Self.isValidTag(tag) else {
                throw reader.fail(.badValue, "CAA.tag", at: tagAt,
                    detail: tag.isEmpty ? "empty tag" : "tag is not ASCII letters and digits")
            }
            return CAA(flags: flags, tag: tag, value: try reader.readRemaining("CAA.value"))
        }

        public func encode(into writer: inout WireWriter) {
            writer.writeUInt8(self.flags)
            writer.writeCharacterString(self.tag)
            writer.writeBytes(self.value)
        }

        public init(presentation tokens: [String], origin: DomainName) throws(DecodeError) {
            try Presentation.expect(tokens, 3, "CAA")
            self.flags = try Presentation.integer(tokens[0], "CAA.flags")
            self.tag = Array(tokens[1].utf8)
            guard Self.isValidTag(self.tag), self.tag.count <= 255 else {
                throw DecodeError(.badPresentation, field: "CAA.tag", offset: 0, detail: "bad tag \(tokens[1])")
            }
            self.value = try Presentation.unescaped(tokens[2], "CAA.value")
        }

        public var presentation: String {
            "\(self.flags) \(String(decoding: self.tag, as: UTF8.self)) \(Presentation.quoted(self.value))"
        }
    }
}
