import Foundation
import Testing
import TestSupport

/// DNS over TLS (RFC 7858) and DNS over HTTPS (RFC 8484, POST and GET) listeners, checked with Knot's
/// `kdig`, which verifies the certificate against the test CA and the server name.
@Suite("DoT and DoH listeners", .tags(.integration), .enabled(if: Requirements.kdigAndOpenSSL, Requirements.kdigMessage))
struct EncryptedTransportTests {
    /// Starts NSD, makes a CA and a certificate for `dns.example.org`, and runs Palisade with DoT and DoH
    /// listeners on port 0.
    func withTLSPalisade(_ body: (PalisadeProcess, TestCertificates) async throws -> Void) async throws {
        try await withDaemons { r in
            let nsd = r.keep(try await NSDServer.start(zones: [exampleZone()]))
            let dir = try r.directory(prefix: "palisade-certs")
            let certs = try await TestCertificates.generate(in: dir, serverName: "dns.example.org")
            let config = """
                dot:
                  listen: ["127.0.0.1:0"]
                  certificate: "\(certs.certificateFile)"
                  key: "\(certs.keyFile)"
                doh:
                  listen: ["127.0.0.1:0"]
                  certificate: "\(certs.certificateFile)"
                  key: "\(certs.keyFile)"
                """
            let palisade = r.keep(try await PalisadeProcess.start(config: config, upstreams: ["127.0.0.1:\(nsd.port)"]))
            #expect(palisade.ports.dot.count == 1 && palisade.ports.doh.count == 1, "\(palisade.ports)")
            try await body(palisade, certs)
        }
    }

    static func tlsOptions(_ certs: TestCertificates) -> [String] {
        ["+tls-ca=\(certs.caFile)", "+tls-hostname=\(certs.serverName)"]
    }

    @Test("kdig +tls gets the answer over DNS over TLS, with the certificate verified")
    func dnsOverTLS() async throws {
        try await self.withTLSPalisade { palisade, certs in
            let port = try #require(palisade.ports.dot.first)
            let a = try await DigClient.kdig("www.example.org", "A", port: port, options: ["+tls"] + Self.tlsOptions(certs))
            #expect(a.text.contains(";; TLS session"), "kdig did not use TLS:\n\(a)")
            #expect(a.status == "NOERROR", "\(a)\n\(palisade.log)")
            #expect(a.answerSet == ["www.example.org. IN A 192.0.2.1"], "\(a)")

            let mx = try await DigClient.kdig("mail.example.org", "MX", port: port, options: ["+tls"] + Self.tlsOptions(certs))
            #expect(mx.answerSet == ["mail.example.org. IN MX 10 www.example.org."], "\(mx)")
        }
    }

    @Test("kdig +https (POST) and +https-get get the answer over DNS over HTTPS")
    func dnsOverHTTPS() async throws {
        try await self.withTLSPalisade { palisade, certs in
            let port = try #require(palisade.ports.doh.first)
            for mode in ["+https", "+https-get"] {
                let a = try await DigClient.kdig("www.example.org", "AAAA", port: port, options: [mode] + Self.tlsOptions(certs))
                #expect(a.text.contains(";; HTTP session"), "kdig \(mode) did not use HTTP:\n\(a)")
                #expect(a.text.contains(mode == "+https" ? "POST" : "GET"), "\(a)")
                #expect(a.text.contains("status: 200"), "\(a)")
                #expect(a.status == "NOERROR", "\(a)\n\(palisade.log)")
                #expect(a.answerSet == ["www.example.org. IN AAAA 2001:db8::1"], "\(a)")
            }
            let missing = try await DigClient.kdig("nope.example.org", "A", port: port, options: ["+https"] + Self.tlsOptions(certs))
            #expect(missing.status == "NXDOMAIN", "\(missing)")
        }
    }

    @Test("a client that does not trust the certificate's CA is refused the TLS handshake")
    func untrustedCertificateFails() async throws {
        try await self.withTLSPalisade { palisade, certs in
            let port = try #require(palisade.ports.dot.first)
            // The system trust store does not hold the throw-away test CA.
            let a = try await DigClient.kdig("www.example.org", "A", port: port,
                options: ["+tls-ca", "+tls-hostname=\(certs.serverName)"])
            #expect(a.status == nil, "kdig accepted an untrusted certificate:\n\(a)")
        }
    }
}
