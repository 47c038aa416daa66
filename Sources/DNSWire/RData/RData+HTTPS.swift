extension RData {
    /// RFC 9460 §9: the HTTPS record, "an SVCB-compatible RR type, specific to the 'https' and 'http'
    /// schemes". Same fields and formats as ``RData/SVCB``.
    public struct HTTPS: RDataType {
        public static let recordType = RecordType.https
        /// "The priority of this record (relative to others, with lower values preferred). A value of
        /// 0 indicates AliasMode."
        public var svcPriority: UInt16
        /// "The domain name of either the alias target (for AliasMode) or the alternative endpoint
        /// (for ServiceMode)." Never compressed.
        public var targetName: DomainName
        /// The SvcParams, in strictly increasing key order.
        public var svcParams: [SvcParam]

        /// Creates an HTTPS record; the parameters are sorted by key. Keys must not repeat.
        public init(svcPriority: UInt16, targetName: DomainName, svcParams: [SvcParam] = []) {
            self.svcPriority = svcPriority
            self.targetName = targetName
            self.svcParams = svcParams.sorted { $0.key < $1.key }
        }

        /// True for AliasMode (SvcPriority 0, RFC 9460 §2.4.2).
        public var isAliasMode: Bool { self.svcPriority == 0 }

        /// The parameter with `key`, if present.
        public func param(_ key: SvcParamKey) -> SvcParam? { self.svcParams.first { $0.key == key } }

        public static func decode(from reader: inout WireReader, length: Int) throws(DecodeError) -> HTTPS {
            let (p, t, s) = try SVCBCodec.decode(from: &reader, "HTTPS")
            return HTTPS(svcPriority: p, targetName: t, svcParams: s)
        }

        public func encode(into writer: inout WireWriter) {
            SVCBCodec.encode(self.svcPriority, self.targetName, self.svcParams, into: &writer)
        }

        public init(presentation tokens: [String], origin: DomainName) throws(DecodeError) {
            (self.svcPriority, self.targetName, self.svcParams) = try SVCBCodec.parse(tokens, origin: origin, "HTTPS")
        }

        public var presentation: String { SVCBCodec.presentation(self.svcPriority, self.targetName, self.svcParams) }
    }
}
