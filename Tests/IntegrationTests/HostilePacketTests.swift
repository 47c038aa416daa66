import DNSWire
import Foundation
import Testing
import TestSupport

/// Hostile datagrams sent to the real UDP listener: none may crash the process or stop the listener, the
/// next good query must still be answered, and a packet whose header is readable gets FORMERR
/// (STYLE §7; a reply to a reply is never sent, to avoid loops).
@Suite("Hostile UDP packets", .tags(.integration), .enabled(if: TestBinaries.has("nsd"), "needs nsd (Debian: nsd)"))
struct HostilePacketTests {
    /// What Palisade must do with a packet.
    enum Expected: Sendable {
        /// No reply at all.
        case silence
        /// A FORMERR reply echoing the ID.
        case formErr(UInt16)
        /// Either of the above (the RFCs allow both).
        case formErrOrSilence
    }

    /// `www.example.org` in wire form.
    static let name: [UInt8] = [3] + Array("www".utf8) + [7] + Array("example".utf8) + [3] + Array("org".utf8) + [0]

    static func header(id: UInt16, flags: UInt16 = 0x0100, qd: UInt16 = 1, an: UInt16 = 0, ns: UInt16 = 0,
        ar: UInt16 = 0) -> [UInt8]
    {
        [id, flags, qd, an, ns, ar].flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }

    static let cases: [(String, [UInt8], Expected)] = [
        ("empty datagram", [], .silence),
        ("three bytes", [0x12, 0x34, 0x01], .silence),
        ("eleven bytes", Array(header(id: 0x1111).prefix(11)), .silence),
        ("QR=1 (a response sent as a query)", header(id: 0x2222, flags: 0x8180) + name + [0, 1, 0, 1], .silence),
        ("header only, QDCOUNT=1", header(id: 0x3333), .formErr(0x3333)),
        ("compression pointer to itself", header(id: 0x4444) + [0xC0, 0x0C, 0, 1, 0, 1], .formErr(0x4444)),
        ("two pointers pointing at each other",
            header(id: 0x4545) + [0xC0, 0x0E, 0xC0, 0x0C, 0, 1, 0, 1], .formErr(0x4545)),
        ("forward pointer past the end", header(id: 0x4646) + [0xC0, 0xFF, 0, 1, 0, 1], .formErr(0x4646)),
        ("every count 65535", header(id: 0x5555, qd: 0xFFFF, an: 0xFFFF, ns: 0xFFFF, ar: 0xFFFF) + name + [0, 1, 0, 1],
            .formErr(0x5555)),
        ("label longer than 63", header(id: 0x6666) + [64] + Array(repeating: 0x61, count: 64) + [0, 0, 1, 0, 1],
            .formErr(0x6666)),
        ("name longer than 255", header(id: 0x6767) + Array(repeating: [63] + Array(repeating: UInt8(0x61), count: 63), count: 5)
            .flatMap { $0 } + [0, 0, 1, 0, 1], .formErr(0x6767)),
        ("question cut in the type", header(id: 0x7777) + name + [0], .formErr(0x7777)),
        ("OPT with a length past the end",
            header(id: 0x7878, ar: 1) + name + [0, 1, 0, 1] + [0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0xFF, 0xFF],
            .formErr(0x7878)),
        ("opcode 15 with junk", header(id: 0x8888, flags: 0x7800) + [0xDE, 0xAD], .formErrOrSilence),
        ("64 KiB of 0xFF", [0x99, 0x99] + Array(repeating: 0xFF, count: 65_000), .formErrOrSilence),
    ]

    @Test("no hostile datagram crashes the listener; FORMERR where the header is readable")
    func hostileDatagrams() async throws {
        try await withNSDAndPalisade { _, palisade in
            var failures: [String] = []
            var packets = Self.cases
            // Every fuzz crasher the codec has met, too.
            for name in ["fuzz-crasher-1", "fuzz-crasher-2"] {
                if let bytes = try? Fixtures.packet(name, in: "packets/crashers") {
                    packets.append((name, bytes, .formErrOrSilence))
                }
            }
            for (i, (label, bytes, expected)) in packets.enumerated() {
                let reply = try await DNSTestClient.udpExchange(bytes, port: palisade.dnsPort,
                    timeout: .milliseconds(expected.waitsForSilence ? 300 : 5000))
                switch expected {
                case .silence:
                    if let reply { failures.append("\(label): expected no reply, got \(Self.hex(reply))") }
                case .formErr(let id):
                    if let reply, let m = try? DNSMessage.decode(reply), m.header.id == id, m.rcode == .formErr,
                        m.header.isResponse
                    {
                        break
                    }
                    failures.append("\(label): expected FORMERR id \(id), got \(reply.map(Self.hex) ?? "nothing")")
                case .formErrOrSilence:
                    if let reply, (try? DNSMessage.decode(reply))?.rcode != .formErr {
                        failures.append("\(label): expected FORMERR or nothing, got \(Self.hex(reply))")
                    }
                }
                // The next good query is answered, whatever came before.
                let good = try? await DNSTestClient.query("www.example.org", .a, port: palisade.dnsPort,
                    timeout: .seconds(5))
                if good?.answers.first?.rdata.presentation != "192.0.2.1" {
                    failures.append("after \(label) (#\(i)): the good query got \(good.map { "\($0)" } ?? "no answer")")
                }
            }
            #expect(palisade.isRunning, "palisade died:\n\(palisade.log)")
            #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))\n--- log:\n\(palisade.log)")
        }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.prefix(64).map { String(format: "%02x", $0) }.joined() + (bytes.count > 64 ? "…(\(bytes.count) bytes)" : "")
    }
}

extension HostilePacketTests.Expected {
    /// Whether the test must wait out a timeout to see that nothing comes (kept short).
    var waitsForSilence: Bool {
        if case .formErr = self { return false }
        return true
    }
}
