import DNSWire
import Testing
import TestSupport

@Suite struct DomainNameTests {
    @Test("Presentation names enforce the 63-octet label and 255-octet name limits")
    func limits() throws {
        let l63 = String(repeating: "a", count: 63)
        #expect(throws: DecodeError.self) { try DomainName(String(repeating: "a", count: 64) + ".") }
        #expect(try DomainName("\(l63).\(l63).\(l63).\(String(repeating: "b", count: 61)).").wire.count == 255)
        #expect(throws: DecodeError.self) { try DomainName("\(l63).\(l63).\(l63).\(String(repeating: "b", count: 62)).") }
        #expect(throws: DecodeError.self) { try DomainName(wire: [64] + [UInt8](repeating: 0x61, count: 64) + [0]) }
        #expect(throws: DecodeError.self) { try DomainName("a..b.") }
    }

    @Test("Escapes print and parse back", arguments: ["esc\\.aped.example.org.", "a\\\\b.", "\\000\\255.", "semi\\;colon.", "sp\\032ace."])
    func escapes(_ text: String) throws {
        let n = try DomainName(text)
        #expect(n.description == text)
        #expect(try DomainName(n.description) == n)
    }

    @Test("Equality and hashing ignore ASCII case only")
    func caseInsensitive() throws {
        #expect(try DomainName("WWW.Example.ORG.") == DomainName("www.example.org."))
        #expect(try DomainName("WWW.Example.ORG.").hashValue == DomainName("www.example.org.").hashValue)
        #expect(try DomainName("\\200.") != DomainName("\\232."))
    }

    @Test("The form without the final dot keeps escaped dots and is empty for the root")
    func withoutDot() throws {
        #expect(try DomainName("www.example.org.").descriptionWithoutDot == "www.example.org")
        #expect(try DomainName("esc\\.aped.").descriptionWithoutDot == "esc\\.aped")
        #expect(DomainName.root.descriptionWithoutDot == "")
    }
}

extension DomainNameTests {
    @Test("Hashing lowercases exactly the ASCII capitals, eight octets at a time")
    func hashMatchesEquality() throws {
        var g = SplitMix64(seed: 42)
        for _ in 0..<500 {
            let length = Int.random(in: 1...40, using: &g)
            let label = (0..<length).map { _ in UInt8.random(in: 0...255, using: &g) }
            let flipped = label.map { b -> UInt8 in
                switch b {
                case 0x41...0x5A: b | 0x20
                case 0x61...0x7A: b & ~0x20
                default: b
                }
            }
            let a = try DomainName(labels: [label, Array("example".utf8)])
            let b = try DomainName(labels: [flipped, Array("EXAMPLE".utf8)])
            #expect(a == b)
            #expect(a.hashValue == b.hashValue)
            #expect(a.lowercased.wire == b.lowercased.wire)
        }
        // Octets next to the letter range are not folded.
        for (x, y): (UInt8, UInt8) in [(0x40, 0x60), (0x5B, 0x7B), (0xC1, 0xE1), (0xDA, 0xFA)] {
            #expect(try DomainName(labels: [[x]]) != DomainName(labels: [[y]]))
            // The same octets inside a whole eight-octet block, and in the tail after one.
            let pad = [UInt8](repeating: 0x61, count: 10)
            #expect(try DomainName(labels: [pad + [x] + pad]) != DomainName(labels: [pad + [y] + pad]))
            #expect(try DomainName(labels: [pad + [x]]) != DomainName(labels: [pad + [y]]))
        }
        // Names equal but for one octet deep in a long name, either case of it.
        let long = try DomainName("abcdefgh.ijklmnopq.rstuvwxyz.example.org.")
        #expect(try long != DomainName("abcdefgh.ijklmnopq.rstuvwxya.example.org."))
        #expect(try long == DomainName("abcdefgh.ijklmnopq.rstuvwxyZ.example.org."))
    }
}
