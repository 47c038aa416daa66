import DNSWire
import Testing

/// `DNSMessage.decodeAnswers`, the partial decode behind the query log's answer text.
@Suite struct DecodeAnswersTests {
    private static func response(answers: Int, extras: Bool = true) throws -> DNSMessage {
        let owner = try DomainName("www.example.org.")
        var m = DNSMessage(header: Header(id: 9, isResponse: true), questions: [Question(name: owner, type: .a)],
            answers: (0..<answers).map {
                ResourceRecord(name: owner, ttl: 60, rdata: .a(.init(address: IPv4Address(192, 0, 2, UInt8($0)))))
            })
        if extras {
            m.authorities = [ResourceRecord(name: try DomainName("example.org."), ttl: 60,
                rdata: .ns(.init(target: try DomainName("ns1.example.org."))))]
            m.edns = EDNS(dnssecOK: false)
        }
        return m
    }

    @Test("The first records of the answer section equal the full decode's, whatever the limit")
    func agreesWithDecode() throws {
        let bytes = try Self.response(answers: 10).encode()
        let full = try DNSMessage.decode(bytes)
        #expect(try DNSMessage.decodeAnswers(bytes, limit: 8) == Array(full.answers.prefix(8)))
        #expect(try DNSMessage.decodeAnswers(bytes, limit: 50) == full.answers)
        #expect(try DNSMessage.decodeAnswers(bytes, limit: 0).isEmpty)
        #expect(try DNSMessage.decodeAnswers(try Self.response(answers: 0).encode(), limit: 8).isEmpty)
    }

    @Test("A bad header, question or answer is an error naming where; what lies past the limit is not read")
    func hostile() throws {
        var bytes = try Self.response(answers: 3).encode()
        #expect(throws: DecodeError.self) { try DNSMessage.decodeAnswers(Array(bytes.prefix(11)), limit: 8) }
        // ANCOUNT far beyond what the bytes can hold.
        var counted = bytes
        counted[6] = 0xFF
        let error = try #require(throws: DecodeError.self) { try DNSMessage.decodeAnswers(counted, limit: 8) }
        #expect(error.reason == .countExceedsMessage && error.offset == 4)
        // A question name pointing at itself.
        var looped = bytes
        looped[12] = 0xC0
        looped[13] = 12
        #expect(throws: DecodeError.self) { try DNSMessage.decodeAnswers(looped, limit: 8) }
        // The third answer cut short: reading two stops before it, reading three fails on it.
        let none = try Self.response(answers: 0, extras: false).encode().count
        let each = (try Self.response(answers: 3, extras: false).encode().count - none) / 3
        bytes = try Self.response(answers: 3, extras: false).encode()
        let full = try DNSMessage.decode(bytes)
        bytes = Array(bytes.prefix(none + 2 * each + 5))
        #expect(try DNSMessage.decodeAnswers(bytes, limit: 2) == Array(full.answers.prefix(2)))
        #expect(throws: DecodeError.self) { try DNSMessage.decodeAnswers(bytes, limit: 3) }
    }
}
