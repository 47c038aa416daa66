import DNSWire
import Testing

@Suite struct Base64Tests {
    /// RFC 4648 §10 test vectors.
    static let vectors: [(String, String, String)] = [
        ("", "", ""), ("f", "Zg==", "CO"), ("fo", "Zm8=", "CPNG"), ("foo", "Zm9v", "CPNMU"), ("foob", "Zm9vYg==", "CPNMUOG"),
        ("fooba", "Zm9vYmE=", "CPNMUOJ1"), ("foobar", "Zm9vYmFy", "CPNMUOJ1E8"),
    ]

    @Test("Base64 and Base32Hex match RFC 4648's test vectors", arguments: Self.vectors.indices)
    func rfc4648Vectors(_ i: Int) throws {
        let (plain, b64, b32) = Self.vectors[i]
        let bytes = Array(plain.utf8)
        #expect(Base64.encode(bytes) == b64)
        #expect(try Base64.decode(b64, "t") == bytes)
        #expect(Base32Hex.encode(bytes) == b32)
        #expect(try Base32Hex.decode(b32, "t") == bytes)
        #expect(try Base32Hex.decode(b32.lowercased(), "t") == bytes)
    }

    @Test("Base64 skips whitespace and rejects bad characters and padding",
        arguments: ["Zg=", "Z===", "Zg==Zg==", "Zm9v!", "Zm9=v", "Zg"])
    func base64Bad(_ text: String) {
        #expect(throws: DecodeError.self) { try Base64.decode(text, "t") }
    }

    @Test("Base64 accepts split input")
    func base64Whitespace() throws {
        #expect(try Base64.decode("Zm9v\n YmFy", "t") == Array("foobar".utf8))
    }

    @Test("Base32Hex rejects bad characters, lengths and trailing bits", arguments: ["W", "C", "CPN", "CP", "CO=", "CPNMUOJ1E9"])
    func base32Bad(_ text: String) {
        #expect(throws: DecodeError.self) { try Base32Hex.decode(text, "t") }
    }

    @Test("Every byte sequence survives both codecs", arguments: 0..<40)
    func allLengths(n: Int) throws {
        var g = SplitMix64(seed: UInt64(n))
        let bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &g) }
        #expect(try Base64.decode(Base64.encode(bytes), "t") == bytes)
        #expect(try Base32Hex.decode(Base32Hex.encode(bytes), "t") == bytes)
    }
}

@Suite struct DNSSECTimeTests {
    @Test("RRSIG times print as YYYYMMDDHHmmSS in UTC and parse back",
        arguments: [(UInt32(0), "19700101000000"), (1_048_354_263, "20030322173103"), (951_782_400, "20000229000000"),
            (UInt32.max, "21060207062815")])
    func format(_ seconds: UInt32, _ text: String) throws {
        #expect(DNSSECTime.format(seconds) == text)
        #expect(try DNSSECTime.parse(text, "t") == seconds)
    }

    @Test("RRSIG times reject impossible dates and accept plain seconds")
    func parse() throws {
        #expect(try DNSSECTime.parse("1048354263", "t") == 1_048_354_263)
        for bad in ["20031301000000", "20030132000000", "19691231235959", "21060207062816", "2003032217310x", "", "-1"] {
            #expect(throws: DecodeError.self) { try DNSSECTime.parse(bad, "t") }
        }
    }
}

@Suite struct TypeBitmapTests {
    @Test("Type bit maps use one block per window and no trailing zero octets")
    func encoding() throws {
        var w = WireWriter()
        TypeBitmap.encode([.a, .mx, .rrsig, .nsec, RecordType(1234), .mx], into: &w)
        // RFC 4034 §4.3's example bit map, plus window 4 for TYPE1234.
        let window4: [UInt8] = [0x04, 0x1B] + [UInt8](repeating: 0, count: 26) + [0x20]
        #expect(w.bytes == [0x00, 0x06, 0x40, 0x01, 0x00, 0x00, 0x00, 0x03] + window4)
        var r = WireReader(bytes: w.bytes)
        #expect(try TypeBitmap.decode(from: &r, "t") == [.a, .mx, .rrsig, .nsec, RecordType(1234)])
    }
}

@Suite struct WireWriterTests {
    @Test("Names are compressed case-insensitively against earlier suffixes")
    func compression() throws {
        var w = WireWriter()
        w.writeBytes([UInt8](repeating: 0, count: 12))
        w.writeName(try DomainName("www.Example.ORG."), compress: true)
        let second = w.bytes.count
        w.writeName(try DomainName("mail.example.org."), compress: true)
        #expect(Array(w.bytes[second...]) == [4, 0x6D, 0x61, 0x69, 0x6C, 0xC0, 16])
        let third = w.bytes.count
        w.writeName(try DomainName("WWW.example.org."), compress: true)
        #expect(Array(w.bytes[third...]) == [0xC0, 12])
        let fourth = w.bytes.count
        w.writeName(try DomainName("www.example.org."), compress: false)
        #expect(w.bytes.count - fourth == 17)
    }

    @Test("A rolled-back name is no longer a compression target")
    func rollBack() throws {
        var w = WireWriter()
        let mark = w.mark()
        w.writeName(try DomainName("example.org."), compress: true)
        w.rollBack(to: mark)
        #expect(w.bytes.isEmpty)
        w.writeBytes([1, 2, 3])
        w.writeName(try DomainName("example.org."), compress: true)
        #expect(w.bytes.count == 3 + 13)
    }

    @Test("Names in RFC 3597-era RDATA are written uncompressed; the classic types are compressed")
    func rdataCompression() throws {
        let owner = try DomainName("example.org.")
        let m = DNSMessage(header: Header(id: 1, isResponse: true), questions: [Question(name: owner, type: .any)], answers: [
            ResourceRecord(name: owner, ttl: 1, rdata: .mx(.init(preference: 1, exchange: owner))),
            ResourceRecord(name: owner, ttl: 1, rdata: .srv(.init(priority: 1, weight: 1, port: 1, target: owner))),
            ResourceRecord(name: owner, ttl: 1, rdata: .svcb(.init(svcPriority: 1, targetName: owner))),
            ResourceRecord(name: owner, ttl: 1, rdata: .nsec(.init(nextDomainName: owner, typeBitMaps: [.a]))),
        ])
        let bytes = m.encode()
        let decoded = try DNSMessage.decode(bytes)
        #expect(decoded == m)
        // MX: 2 + pointer; SRV: 6 + 13; SVCB: 2 + 13; NSEC: 13 + 3.
        var r = WireReader(bytes: bytes, offset: 12 + 13 + 4)
        var lengths: [Int] = []
        for _ in 0..<4 {
            _ = try r.readName("name")
            r.offset += 8
            let len = Int(try r.readUInt16("len"))
            lengths.append(len)
            r.offset += len
        }
        #expect(lengths == [4, 19, 15, 16])
    }

    @Test("encode(maxSize:) drops the sections, sets TC and keeps OPT")
    func truncation() throws {
        var m = DNSMessage.query(id: 5, name: try DomainName("big.example.org."), type: .txt).makeResponse()
        for i in 0..<20 {
            m.answers.append(ResourceRecord(name: m.questions[0].name, ttl: 60, rdata: .txt(.init(String(repeating: "x", count: 100 + i)))))
        }
        let full = m.encode()
        #expect(full.count > 2000)
        let cut = m.encode(maxSize: 512)
        #expect(cut.count <= 512)
        let decoded = try DNSMessage.decode(cut)
        #expect(decoded.header.truncated)
        #expect(decoded.answers.isEmpty)
        #expect(decoded.edns != nil)
        #expect(decoded.questions == m.questions)
    }

    @Test("A record whose RDATA exceeds 65535 octets is left out and the counts stay right")
    func oversizedRDATA() throws {
        let owner = try DomainName("example.org.")
        let huge = ResourceRecord(name: owner, ttl: 1, rdata: .unknown(.init(type: RecordType(65280), bytes: [UInt8](repeating: 1, count: 70000))))
        let small = ResourceRecord(name: owner, ttl: 1, rdata: .a(.init(address: IPv4Address(192, 0, 2, 1))))
        let m = DNSMessage(header: Header(id: 1, isResponse: true), answers: [huge, small])
        let decoded = try DNSMessage.decode(m.encode())
        #expect(decoded.answers == [small])
    }
}

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
        }
    }
}

extension WireWriterTests {
    @Test("Compression keeps working past the linear table, and after a roll-back")
    func manyNames() throws {
        var w = WireWriter()
        var firstOffsets: [Int] = []
        for i in 0..<120 {
            firstOffsets.append(w.bytes.count)
            w.writeName(try DomainName("host\(i).zone\(i % 7).example.org."), compress: true)
        }
        let mark = w.mark()
        w.writeName(try DomainName("fresh.example.net."), compress: true)
        w.rollBack(to: mark)
        for i in 0..<120 {
            let at = w.bytes.count
            w.writeName(try DomainName("HOST\(i).zone\(i % 7).example.org."), compress: true)
            #expect(Array(w.bytes[at...]) == [0xC0 | UInt8(firstOffsets[i] >> 8), UInt8(firstOffsets[i] & 0xFF)])
        }
        // The rolled-back name is written in full, not pointed at.
        let at = w.bytes.count
        w.writeName(try DomainName("fresh.example.net."), compress: true)
        #expect(w.bytes.count - at == 6 + 8 + 4 + 1)
        var r = WireReader(bytes: w.bytes, offset: firstOffsets[119])
        #expect(try r.readName("n") == DomainName("host119.zone0.example.org."))
    }
}
