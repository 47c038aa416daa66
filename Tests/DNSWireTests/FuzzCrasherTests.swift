import DNSWire
import TestSupport
import Testing

/// Inputs the fuzzer found. Each is kept as a fixture in `Fixtures/packets/crashers`.
@Suite struct FuzzCrasherTests {
    @Test("Fuzz crasher 1: empty TXT RDATA decoded to a TXT without strings, whose presentation did not parse")
    func crasher1() throws {
        let bytes = try Fixtures.packet("fuzz-crasher-1", in: "packets/crashers")
        let error = try #require(decodeError(bytes))
        #expect(error.reason == .truncated)
        #expect(error.field == "additional[0].TXT.strings")
        #expect(error.offset == bytes.count)
    }
}

extension FuzzCrasherTests {
    @Test("Fuzz crasher 2: empty class-ANY HTTPS RDATA printed as \\# 0, which did not parse back")
    func crasher2() throws {
        let bytes = try Fixtures.packet("fuzz-crasher-2", in: "packets/crashers")
        let m = try DNSMessage.decode(bytes)
        let rr = try #require(m.answers.first)
        #expect(rr.dnsClass == .any)
        #expect(rr.rdata == .unknown(.init(type: .https, bytes: [])))
        #expect(rr.rdata.presentation == "\\# 0")
        #expect(try RData.parse(type: .https, text: "\\# 0", origin: .root) == rr.rdata)
        #expect(try DNSMessage.decode(m.encode()) == m)
    }
}
