public import DNSWire

/// RFC-correct cache key: lowercased name, type, class, DO and CD, compared in full.
public struct CacheKey: Hashable, Sendable {
    /// Lowercased wire name.
    public let name: [UInt8]
    /// QTYPE.
    public let type: UInt16
    /// QCLASS.
    public let dnsClass: UInt16
    /// DNSSEC OK and Checking Disabled, packed.
    public let flags: UInt8

    /// Builds the key for a question and the DO/CD bits.
    public init(question: Question, dnssecOK: Bool, checkingDisabled: Bool) {
        self.name = DomainName.lowercase(question.name.wire)
        self.type = question.type.rawValue
        self.dnsClass = question.dnsClass.rawValue
        self.flags = (dnssecOK ? 1 : 0) | (checkingDisabled ? 2 : 0)
    }
}
