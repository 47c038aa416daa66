import DNSWire
import Foundation
import Testing
import TestSupport

/// The ingress ACL is keyed on the socket's source address: with only 127.0.0.2 allowed, a client on
/// 127.0.0.1 is refused and a client bound to 127.0.0.2 is answered (on Linux all of 127.0.0.0/8 is
/// loopback, so both are local).
@Suite("Access control", .tags(.integration), .enabled(if: TestBinaries.has("nsd"), "needs nsd (Debian: nsd)"))
struct ACLTests {
    static let config = """
        acl:
          allow: ["127.0.0.2/32"]
        """

    @Test("a client outside acl.allow gets REFUSED with EDE 18; an allowed one gets the answer")
    func onlyAllowedClientIsAnswered() async throws {
        try await withNSDAndPalisade(config: Self.config) { _, palisade in
            let refused = try await DNSTestClient.query("www.example.org", .a, port: palisade.dnsPort, source: "127.0.0.1")
            #expect(refused.rcode == .refused, "\(refused)")
            #expect(refused.answers.isEmpty)
            #expect(refused.extendedError?.code == .prohibited, "\(refused)")

            let allowed = try await DNSTestClient.query("www.example.org", .a, port: palisade.dnsPort, source: "127.0.0.2")
            #expect(allowed.rcode == .noError, "\(allowed)\n\(palisade.log)")
            #expect(allowed.answers.map(\.rdata.presentation) == ["192.0.2.1"], "\(allowed)")

            // The refusal does not depend on what was cached by the allowed client.
            let again = try await DNSTestClient.query("www.example.org", .a, port: palisade.dnsPort, source: "127.0.0.1")
            #expect(again.rcode == .refused, "a cached answer leaked to a refused client:\n\(again)")
        }
    }

    @Test("the ACL applies over TCP as well")
    func aclOverTCP() async throws {
        try await withNSDAndPalisade(config: Self.config) { _, palisade in
            let connection = try await TCPTestConnection.connect(port: palisade.dnsPort)
            defer { connection.close() }
            try await connection.send(try DNSTestClient.makeQuery("www.example.org", .a))
            switch await connection.receiveFrame(timeout: .seconds(10)) {
            case .message(let bytes):
                #expect(try DNSTestClient.decode(bytes).rcode == .refused)
            case .closed:
                break  // Closing on a refused client is also a refusal.
            case .timeout:
                Issue.record("a refused TCP client got neither REFUSED nor a close")
            }
        }
    }
}
