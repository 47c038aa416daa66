import DNSWire
import Testing
import TestSupport

/// The text of an address, written directly into a string (`IPv4Address.description`, `IPv6Address.description`):
/// checked against RFC 5952's examples and against the straightforward construction it replaced.
@Suite struct IPAddressTextTests {
    @Test("IPv4 addresses print as dotted quads without leading zeros")
    func ipv4Golden() {
        let cases: [(UInt32, String)] = [
            (0, "0.0.0.0"), (0xFFFF_FFFF, "255.255.255.255"), (0x7F00_0001, "127.0.0.1"), (0x0A00_0001, "10.0.0.1"),
            (0xC000_0264, "192.0.2.100"), (0x0116_6709, "1.22.103.9"), (0x6409_0A63, "100.9.10.99"),
        ]
        for (value, text) in cases {
            #expect(IPv4Address(value).description == text)
            #expect(IPv4Address(text) == IPv4Address(value))
        }
    }

    @Test("every octet value prints as the decimal number, in each position")
    func ipv4EveryOctet() {
        for v in 0...255 {
            let u = UInt32(v)
            #expect(IPv4Address(u << 24 | u << 16 | u << 8 | u).description == "\(v).\(v).\(v).\(v)")
            #expect(IPv4Address(u << 24 | 7).description == "\(v).0.0.7")
        }
    }

    /// RFC 5952 §4: lower case, no leading zeros, the longest run of two or more zero groups compressed (the first
    /// on a tie), a single zero group never compressed.
    @Test("IPv6 addresses print in RFC 5952's canonical form")
    func ipv6Golden() throws {
        let cases: [(String, String)] = [
            ("::", "::"), ("::1", "::1"), ("1::", "1::"), ("2001:DB8::1", "2001:db8::1"),
            ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"), ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"), ("fe80:0:0:0:abcd:ef01:0:0", "fe80::abcd:ef01:0:0"),
            ("0:0:1:0:0:0:0:0", "0:0:1::"), ("1:0:0:0:0:0:0:0", "1::"), ("0:1:2:3:4:5:6:7", "0:1:2:3:4:5:6:7"),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            ("::ffff:c000:201", "::ffff:c000:201"), ("0a0b:00c0:0d00:f000::", "a0b:c0:d00:f000::"),
        ]
        for (input, text) in cases {
            let address = try #require(IPv6Address(input), "\(input)")
            #expect(address.description == text, "\(input)")
            #expect(IPv6Address(text) == address)
        }
    }

    @Test("20,000 random addresses print as the construction from strings did, and parse back")
    func randomAgainstReference() throws {
        var rng = SplitMix64(seed: 0x5EED_1F00)
        for _ in 0..<20_000 {
            let v4 = IPv4Address(UInt32(truncatingIfNeeded: rng.next()))
            let o = v4.bytes
            #expect(v4.description == "\(o[0]).\(o[1]).\(o[2]).\(o[3])")
            // Zero groups are made common, so that runs of every length and position occur.
            var high: UInt64 = 0
            var low: UInt64 = 0
            for i in 0..<8 {
                let r = rng.next()
                let word: UInt64 = r % 3 == 0 ? 0 : (r >> 8) & (r % 5 == 0 ? 0xF : 0xFFFF)
                if i < 4 { high = high << 16 | word } else { low = low << 16 | word }
            }
            let v6 = IPv6Address(high: high, low: low)
            #expect(v6.description == Self.reference(v6))
            #expect(IPv6Address(v6.description) == v6)
        }
    }

    /// The implementation this one replaced: each group to a string, joined around the compressed run.
    static func reference(_ a: IPv6Address) -> String {
        let w = a.words
        func hex(_ v: UInt16) -> String { String(v, radix: 16) }
        guard let run = a.longestZeroRun else { return w.map(hex).joined(separator: ":") }
        let head = w[0..<run.start].map(hex).joined(separator: ":")
        let tail = w[(run.start + run.length)...].map(hex).joined(separator: ":")
        return head + "::" + tail
    }
}
