import DNSWire
import Foundation
import Testing
import TestSupport

/// A TXT RRset larger than 1232 bytes (`big.example.org`, 8 × ~210 bytes): NSD truncates it over UDP, so
/// Palisade must fetch it over TCP; Palisade must in turn truncate it for a UDP client with a small buffer
/// (TC=1), and a client that retries over TCP, as dig does, must get every record.
@Suite("Truncation and TCP fallback", .tags(.integration),
    .enabled(if: Requirements.nsdAndDig, Requirements.nsdAndDigMessage))
struct TruncationTests {
    /// The eight TXT strings NSD serves for `big`.
    static let bigStrings = Set((0..<TestZone.bigStringCount).map { TestZone.bigString($0) })

    @Test("a UDP client without EDNS gets TC=1, and dig's automatic TCP retry gets the whole RRset")
    func truncatedOverUDPCompleteOverTCP() async throws {
        try await withNSDAndPalisade { nsd, palisade in
            // +ignore: show the truncated UDP reply instead of retrying.
            let udp = try await DigClient.dig("big.example.org", "TXT", port: palisade.dnsPort,
                options: ["+noedns", "+ignore"])
            #expect(udp.status == "NOERROR", "\(udp)\n\(palisade.log)")
            #expect(udp.flags.contains("tc"), "no TC bit on a 512-byte UDP reply:\n\(udp)")
            #expect(udp.answers.count < TestZone.bigStringCount, "\(udp)")

            let retried = try await DigClient.dig("big.example.org", "TXT", port: palisade.dnsPort, options: ["+noedns"])
            #expect(retried.text.contains("Truncated, retrying in TCP mode"), "dig did not see TC:\n\(retried)")
            #expect(retried.text.contains("(TCP)"), "\(retried)")
            #expect(!retried.flags.contains("tc"), "\(retried)")
            #expect(retried.answers.count == TestZone.bigStringCount, "\(retried)")

            // A client with EDNS but the default 1232-byte buffer is truncated as well (the RRset is larger).
            let edns = try await DigClient.dig("big.example.org", "TXT", port: palisade.dnsPort,
                options: ["+bufsize=1232", "+ignore"])
            #expect(edns.flags.contains("tc"), "\(edns)")
        }
    }

    @Test("Palisade's own upstream query fell back to TCP and cached the complete RRset")
    func upstreamUsedTCP() async throws {
        try await withNSDAndPalisade { nsd, palisade in
            // NSD itself truncates this RRset over UDP at 1232 bytes: the premise of the test.
            let direct = try await DigClient.dig("big.example.org", "TXT", port: nsd.port,
                options: ["+norec", "+bufsize=1232", "+ignore"])
            #expect(direct.flags.contains("tc"), "NSD did not truncate, so this test proves nothing:\n\(direct)")

            let connection = try await TCPTestConnection.connect(port: palisade.dnsPort)
            defer { connection.close() }
            let query = try DNSTestClient.makeQuery("big.example.org", .txt)
            try await connection.send(query)
            let reply = try await connection.receive(timeout: .seconds(10))
            #expect(reply.header.id == query.header.id)
            #expect(!reply.header.truncated)
            let strings = reply.answers.compactMap { rr -> String? in
                guard case .txt(let txt) = rr.rdata else { return nil }
                return txt.strings.map { String(decoding: $0, as: UTF8.self) }.joined()
            }
            #expect(Set(strings) == Self.bigStrings, "incomplete RRset from the upstream path:\n\(reply)")

            let port = try #require(palisade.httpPort)
            let metrics = try await HTTPTestClient.get("/metrics", port: port)
            let fallback = metrics.body.split(separator: "\n").first {
                $0.hasPrefix("palisade_upstream_tcp_fallback_total") && $0.contains("127.0.0.1:\(nsd.port)")
            }
            let count = fallback.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) } ?? 0
            #expect(count >= 1, "no TCP fallback counted:\n\(fallback.map(String.init) ?? metrics.body)")
        }
    }
}
