import DNSWire
import Testing

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
