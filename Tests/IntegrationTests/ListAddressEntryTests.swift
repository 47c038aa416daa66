import DNSWire
import Foundation
import Testing
import TestSupport

/// A list's address entries read as response-IP rules (`ipEntries: response-ip`), through the real server with a
/// configuration file, in front of NSD: a name whose answer holds a listed address is blocked and says why, and
/// the same list without the option lets it through.
@Suite("List address entries as response-IP rules", .tags(.integration),
    .enabled(if: Requirements.nsdAndDig, Requirements.nsdAndDigMessage))
struct ListAddressEntryTests {
    static let zone = exampleZone([
        "flux IN A 192.0.2.44", "flux IN A 192.0.2.66", "clean IN A 192.0.2.45", "v6 IN AAAA 2001:db8::66",
    ])

    /// The configuration of one adblock list at `path`, reading its addresses as `ipEntries` says.
    static func config(_ path: String, ipEntries: String) -> String {
        """
        policy:
          sources:
            - name: feed
              kind: adblock
              location: \(path)
              ipEntries: \(ipEntries)
        """
    }

    @Test("an answer holding a listed address is blocked with the list's rule; without the option it passes")
    func blocksAnswers() async throws {
        try await withDaemons { r in
            let nsd = r.keep(try await NSDServer.start(zones: [Self.zone]))
            let dir = try r.directory(prefix: "palisade-ipentries")
            let list = try dir.write("feed.txt", "||evil.example.org^\n192.0.2.66\n2001:db8::66\n")
            let palisade = r.keep(try await PalisadeProcess.start(config: Self.config(list, ipEntries: "response-ip"),
                upstreams: ["127.0.0.1:\(nsd.port)"]))
            let flux = try await DNSTestClient.query("flux.example.org", .a, port: palisade.dnsPort)
            #expect(flux.rcode == .nxDomain, "\(flux.answers)")
            #expect(flux.extendedError?.text == "palisade: blocked by feed rule ||192.0.2.66^ (answer 192.0.2.66)",
                "\(flux.extendedError?.text ?? "no EDE")")
            let v6 = try await DNSTestClient.query("v6.example.org", .aaaa, port: palisade.dnsPort)
            #expect(v6.rcode == .nxDomain)
            #expect(v6.extendedError?.text.contains("rule ||2001:db8::66^") == true, "\(v6.extendedError?.text ?? "")")
            let clean = try await DNSTestClient.query("clean.example.org", .a, port: palisade.dnsPort)
            #expect(clean.rcode == .noError && clean.answers.count == 1)
            // A second time, from the cache: the answer is checked again.
            let again = try await DNSTestClient.query("flux.example.org", .a, port: palisade.dnsPort)
            #expect(again.rcode == .nxDomain)

            let ignoring = r.keep(try await PalisadeProcess.start(config: Self.config(list, ipEntries: "ignore"),
                upstreams: ["127.0.0.1:\(nsd.port)"]))
            let passed = try await DNSTestClient.query("flux.example.org", .a, port: ignoring.dnsPort)
            #expect(passed.rcode == .noError && passed.answers.count == 2, "\(passed.rcode) \(passed.answers)")
        }
    }
}
