/// A small zone for the authoritative test server, generated as zone-file text.
struct TestZone: Sendable {
    /// The origin, with a trailing dot (`example.org.`).
    var origin: String
    /// Zone-file lines after the SOA and NS records.
    var records: [String]

    /// The standard test zone: `www` A 192.0.2.1, `mail` MX, an AAAA, and `big` TXT with a record set
    /// larger than 1232 bytes, so a UDP answer with our EDNS size is truncated and only TCP returns it whole.
    static func example(origin: String = "example.org.", bigStrings: Int = TestZone.bigStringCount) -> TestZone {
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
    static let bigStringCount = 8

    /// The text of the `i`th TXT string of `big`: 200 characters, distinct per record.
    static func bigString(_ i: Int) -> String {
        let tag = "record-\(i)-"
        return tag + String(repeating: Character(UnicodeScalar(UInt8(ascii: "a") + UInt8(i % 26))), count: 200 - tag.count)
    }

    /// The zone file text.
    var text: String {
        var lines = [
            "$ORIGIN \(self.origin)",
            "$TTL 300",
            "@ IN SOA ns.\(self.origin) hostmaster.\(self.origin) 1 3600 600 86400 300",
            "@ IN NS ns.\(self.origin)",
            "ns IN A 127.0.0.1",
        ]
        lines += self.records
        return lines.joined(separator: "\n") + "\n"
    }
}
