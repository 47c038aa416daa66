/// A resource record (RFC 1035 §4.1.3).
public struct ResourceRecord: Sendable, Hashable, CustomStringConvertible {
    /// Owner name.
    public var name: DomainName
    /// CLASS.
    public var dnsClass: DNSClass
    /// "a 32 bit unsigned integer that specifies the time interval (in seconds) that the resource
    /// record may be cached before it should be discarded."
    public var ttl: UInt32
    /// Typed RDATA; its ``RData/type`` is the record's TYPE.
    public var rdata: RData

    /// Creates a record.
    public init(name: DomainName, dnsClass: DNSClass = .in, ttl: UInt32, rdata: RData) {
        self.name = name
        self.dnsClass = dnsClass
        self.ttl = ttl
        self.rdata = rdata
    }

    /// TYPE, taken from the RDATA.
    public var type: RecordType { self.rdata.type }

    /// Zone-file line: `owner TTL CLASS TYPE rdata`.
    public var description: String { "\(self.name) \(self.ttl) \(self.dnsClass) \(self.type) \(self.rdata.presentation)" }
}
