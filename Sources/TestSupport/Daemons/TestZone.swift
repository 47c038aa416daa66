/// A small zone for the authoritative test server, generated as zone-file text.
public struct TestZone: Sendable {
    /// The origin, with a trailing dot (`example.org.`).
    public var origin: String
    /// Zone-file lines after the SOA and NS records.
    public var records: [String]
    /// The default TTL (`$TTL`) and SOA minimum, seconds.
    public var ttl: Int

    /// A zone with `records` (zone-file lines relative to `origin`) after its SOA, NS and `ns` A record.
    public init(origin: String, records: [String], ttl: Int = 300) {
        self.origin = origin
        self.records = records
        self.ttl = ttl
    }

    /// The standard test zone: `www` A 192.0.2.1, `mail` MX, an AAAA, and `big` TXT with a record set
    /// larger than 1232 bytes, so a UDP answer with our EDNS size is truncated and only TCP returns it whole.
    public static func example(origin: String = "example.org.", bigStrings: Int = TestZone.bigStringCount) -> TestZone {
        var records = [
            "www IN A 192.0.2.1",
            "www IN AAAA 2001:db8::1",
            "mail IN MX 10 www",
            "alias IN CNAME www",
        ]
        for i in 0..<bigStrings {
            records.append("big IN TXT \"\(Self.bigString(i))\"")
        }
        return TestZone(origin: origin, records: records)
    }

    /// Number of TXT records in `big` (each about 210 bytes on the wire: 8 × 210 > 1232).
    public static let bigStringCount = 8

    /// The text of the `i`th TXT string of `big`: 200 characters, distinct per record.
    public static func bigString(_ i: Int) -> String {
        let tag = "record-\(i)-"
        return tag + String(repeating: Character(UnicodeScalar(UInt8(ascii: "a") + UInt8(i % 26))), count: 200 - tag.count)
    }

    /// The zone file text.
    public var text: String {
        var lines = [
            "$ORIGIN \(self.origin)",
            "$TTL \(self.ttl)",
            "@ IN SOA ns.\(self.origin) hostmaster.\(self.origin) 1 3600 600 86400 \(self.ttl)",
            "@ IN NS ns.\(self.origin)",
            "ns IN A 127.0.0.1",
        ]
        lines += self.records
        return lines.joined(separator: "\n") + "\n"
    }
}
