import DNSPipeline
import DNSUpstream
import DNSWire
import TestSupport
import Testing

/// DoT and DoH against a real Unbound forwarding to a real NSD, with certificates made by openssl.
@Suite(.tags(.integration),
    .enabled(if: TestBinaries.has("nsd", "unbound", "openssl"),
        "nsd, unbound or openssl is not installed (apt-get install nsd unbound openssl; .ci/run installs them)"))
struct EncryptedTransportTests {
    /// Starts NSD and Unbound, runs `body`, stops both whatever happens.
    static func withServers<T>(certificateNamesIP: Bool = true, _ body: (UnboundServer) async throws -> T)
        async throws -> T
    {
        let nsd = try await NSDServer.start()
        let unbound: UnboundServer
        do {
            unbound = try await UnboundServer.start(stubPort: nsd.port, certificateNamesIP: certificateNamesIP)
        } catch {
            await nsd.stop()
            throw error
        }
        let result = await Result { try await body(unbound) }
        await unbound.stop()
        await nsd.stop()
        return try result.get()
    }

    static func tls(caFile: String? = nil, pins: [String] = [], verify: Bool = true) -> UpstreamPoolConfiguration {
        var c = Fixtures.fast(timeout: .seconds(5), deadline: .seconds(8))
        c.upstream.tls = UpstreamTLSOptions(caFile: caFile, pins: pins, verifyCertificate: verify)
        c.upstream.tcpMaxConnections = 1
        return c
    }

    /// Queries through a fresh pool and shuts it down.
    static func ask(_ spec: String, _ config: UpstreamPoolConfiguration, _ name: String = "www.example.org.",
        _ type: RecordType = .a) async -> Result<DNSMessage, any Error>
    {
        do {
            let pool = try Fixtures.pool([spec], configuration: config)
            let r = await Result { try await pool.query(try Fixtures.query(name, type)).reply }
            await pool.shutdown()
            return r
        } catch {
            return .failure(error)
        }
    }

    @Test("DoT verified by name or by IP against a custom CA answers, large answers included, over one connection")
    func dotVerified() async throws {
        try await Self.withServers { (unbound: UnboundServer) async throws -> Void in
            let ca = unbound.certificates.caFile
            let byName = "tls://127.0.0.1:\(unbound.tlsPort)#\(unbound.certificates.serverName)"
            let a = await Self.ask(byName, Self.tls(caFile: ca))
            #expect(FakeAnswer.address(try a.get()) == IPv4Address(192, 0, 2, 1))
            let byIP = await Self.ask("tls://127.0.0.1:\(unbound.tlsPort)", Self.tls(caFile: ca))
            #expect(FakeAnswer.address(try byIP.get()) == IPv4Address(192, 0, 2, 1))
            let big = await Self.ask(byName, Self.tls(caFile: ca), "big.example.org.", .txt)
            #expect(Fixtures.txt(try big.get()).count == TestZone.bigStringCount)

            // Concurrent queries share the one allowed connection.
            let pool = try Fixtures.pool([byName], configuration: Self.tls(caFile: ca))
            let transport = try #require(pool.upstreams.first?.transport as? TCPTransport)
            let many = await Result {
                try await withThrowingTaskGroup(of: IPv4Address?.self) { group in
                    for _ in 0..<12 {
                        group.addTask { FakeAnswer.address(try await pool.query(try Fixtures.query("www.example.org.")).reply) }
                    }
                    var out: [IPv4Address?] = []
                    for try await a in group { out.append(a) }
                    return out
                }
            }
            let connections = transport.connectionCount
            await pool.shutdown()
            #expect(try many.get() == Array(repeating: IPv4Address(192, 0, 2, 1), count: 12))
            #expect(connections == 1)
        }
    }

    @Test("DoT fails with a TLS error for a wrong name, no name, an untrusted CA or a wrong pin; the stage says EDE 23")
    func dotRejected() async throws {
        // The certificate names only dns.example.org, not 127.0.0.1.
        try await Self.withServers(certificateNamesIP: false) { (unbound: UnboundServer) async throws -> Void in
            let ca = unbound.certificates.caFile
            let named = "tls://127.0.0.1:\(unbound.tlsPort)#\(unbound.certificates.serverName)"
            let wrongPin = "sha256/" + Base64.encode([UInt8](repeating: 0xAB, count: 32))
            let control = await Self.ask(named, Self.tls(caFile: ca))
            #expect(FakeAnswer.address(try control.get()) == IPv4Address(192, 0, 2, 1))
            let cases: [(String, UpstreamPoolConfiguration)] = [
                ("tls://127.0.0.1:\(unbound.tlsPort)#other.example.org", Self.tls(caFile: ca)),
                ("tls://127.0.0.1:\(unbound.tlsPort)", Self.tls(caFile: ca)),
                (named, Self.tls()),
                (named, Self.tls(caFile: ca, pins: [wrongPin])),
            ]
            for (spec, config) in cases {
                let r = await Self.ask(spec, config)
                guard case .failure(let e as UpstreamError) = r else {
                    Issue.record("\(spec): expected a TLS error, got \(r)")
                    continue
                }
                #expect(e.code == .tlsError, "\(spec): \(e)")
            }
            let pool = try Fixtures.pool([cases[0].0], configuration: cases[0].1)
            let r = await Result {
                try await UpstreamStage(pool: pool).resolve(try Fixtures.clientQuery("www.example.org."), in: QueryContext(),
                    next: Fixtures.terminal)
            }
            await pool.shutdown()
            #expect(try r.get().rcode == .servFail)
            #expect(try r.get().extendedErrors.first?.extendedErrorValue?.code == .networkError)
        }
    }

    @Test("DoT with the right pin is accepted, with or without CA verification")
    func dotPinned() async throws {
        try await Self.withServers { (unbound: UnboundServer) async throws -> Void in
            let spec = "tls://127.0.0.1:\(unbound.tlsPort)#\(unbound.certificates.serverName)"
            let pin = unbound.certificates.pin
            let both = await Self.ask(spec, Self.tls(caFile: unbound.certificates.caFile, pins: [pin]))
            #expect(FakeAnswer.address(try both.get()) == IPv4Address(192, 0, 2, 1))
            let pinOnly = await Self.ask(spec, Self.tls(pins: [pin], verify: false))
            #expect(FakeAnswer.address(try pinOnly.get()) == IPv4Address(192, 0, 2, 1))
        }
    }

    @Test("DoH answers over HTTP/2 with POST and with GET", arguments: DoHMethod.allCases)
    func doh(method: DoHMethod) async throws {
        try #require(await UnboundServer.supportsDoH(), "this unbound has no nghttp2 (DoH) support")
        try await Self.withServers { (unbound: UnboundServer) async throws -> Void in
            var config = Self.tls(caFile: unbound.certificates.caFile)
            config.upstream.dohMethod = method
            // Unbound's DoH speaks only HTTP/2, so an answer proves h2 was negotiated.
            let spec = "https://127.0.0.1:\(unbound.httpsPort)/dns-query"
            let a = await Self.ask(spec, config)
            #expect(FakeAnswer.address(try a.get()) == IPv4Address(192, 0, 2, 1))
            let big = await Self.ask(spec, config, "big.example.org.", .txt)
            #expect(Fixtures.txt(try big.get()).count == TestZone.bigStringCount)
            let nx = await Self.ask(spec, config, "nope.example.org.")
            #expect(try nx.get().rcode == .nxDomain)
        }
    }

    @Test("DoH reports an HTTP error for a wrong path and a TLS error for an untrusted certificate")
    func dohErrors() async throws {
        try #require(await UnboundServer.supportsDoH(), "this unbound has no nghttp2 (DoH) support")
        try await Self.withServers { (unbound: UnboundServer) async throws -> Void in
            let wrongPath = await Self.ask("https://127.0.0.1:\(unbound.httpsPort)/nope",
                Self.tls(caFile: unbound.certificates.caFile))
            guard case .failure(let e as UpstreamError) = wrongPath else {
                Issue.record("expected an HTTP error, got \(wrongPath)")
                return
            }
            #expect(e.code == .httpError)
            let untrusted = await Self.ask("https://127.0.0.1:\(unbound.httpsPort)/dns-query", Self.tls())
            guard case .failure(let t as UpstreamError) = untrusted else {
                Issue.record("expected a TLS error, got \(untrusted)")
                return
            }
            #expect(t.code == .tlsError, "\(t)")
        }
    }
}
