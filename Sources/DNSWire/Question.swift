/// The question section entry (RFC 1035 §4.1.2).
public struct Question: Sendable, Hashable, CustomStringConvertible {
    /// QNAME, with the client's case preserved.
    public var name: DomainName
    /// QTYPE.
    public var type: RecordType
    /// QCLASS.
    public var dnsClass: DNSClass

    /// Creates a question.
    public init(name: DomainName, type: RecordType, dnsClass: DNSClass = .in) {
        self.name = name
        self.type = type
        self.dnsClass = dnsClass
    }

    public var description: String { "\(self.name) \(self.dnsClass) \(self.type)" }
}
