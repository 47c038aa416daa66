import DNSWire
import Testing

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
