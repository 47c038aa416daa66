import DNSWire
import Foundation
import TestSupport
import Testing

/// Golden packets captured from Knot DNS and built by dnspython (see `Fixtures/packets/generate.py`).
/// Their `.txt` files were rendered by dnspython, so these tests compare the decoder and the
/// presentation printer with an independent implementation.
@Suite struct GoldenPacketTests {
    static let names = Fixtures.packetNames()

    @Test("The fixture set is present and covers every interpreted RDATA type")
    func fixtureCoverage() throws {
        #expect(Self.names.count >= 40)
        var seen = Set<RecordType>()
        for name in Self.names {
            let m = try DNSMessage.decode(try Fixtures.packet(name))
            for rr in m.answers + m.authorities + m.additionals { seen.insert(rr.type) }
        }
        let wanted: [RecordType] = [
            .a, .aaaa, .ns, .cname, .dname, .ptr, .mx, .txt, .soa, .srv, .hinfo, .naptr, .caa, .svcb, .https, .tlsa,
            .sshfp, .ds, .dnskey, .rrsig, .nsec, .nsec3, .nsec3param, RecordType(65280),
        ]
        for t in wanted { #expect(seen.contains(t), "no golden packet holds a \(t) record") }
    }

    @Test("Decoding a golden packet prints its recorded presentation form", arguments: Self.names)
    func decodesToRecordedText(name: String) throws {
        let bytes = try Fixtures.packet(name)
        let message = try DNSMessage.decode(bytes)
        let rendered = message.description
        let path = Fixtures.packetSourceDirectory.appendingPathComponent("\(name).txt")
        let record = ProcessInfo.processInfo.environment["RECORD_GOLDEN"] == "1"
        guard !record, let expected = try? Fixtures.packetText(name) else {
            // A missing golden file is recorded and the test fails, so the new file gets reviewed.
            try rendered.write(to: path, atomically: true, encoding: .utf8)
            Issue.record("recorded \(path.path); review it and run the tests again")
            return
        }
        #expect(rendered == expected)
    }

    @Test("A golden packet re-encodes to a message that decodes equal", arguments: Self.names)
    func reencodes(name: String) throws {
        let message = try DNSMessage.decode(try Fixtures.packet(name))
        let again = try DNSMessage.decode(message.encode())
        #expect(again == message)
        // Names are compressed again, so the result is never larger than what the server sent,
        // except that RFC 3597 §4 forbids compressing names inside newer RDATA types.
        #expect(message.encode() == again.encode())
    }

    @Test("A golden packet's records survive printing and parsing their presentation form", arguments: Self.names)
    func presentationRoundTrip(name: String) throws {
        let message = try DNSMessage.decode(try Fixtures.packet(name))
        for rr in message.answers + message.authorities + message.additionals {
            let text = rr.rdata.presentation
            let parsed = try RData.parse(type: rr.type, text: text, origin: .root)
            #expect(parsed == rr.rdata, "\(rr.type) \(text)")
        }
    }
}
