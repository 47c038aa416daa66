import DNSPipeline
import DNSUpstream
import DNSWire
import Logging
import TestSupport
import Testing

@Suite struct UpstreamStageTests {
    static let client = ClientInfo(address: .v4(IPv4Address(127, 0, 0, 1)), port: 40000, transport: .udp)
    static let neverCalled: Next = { _, _ in
        Issue.record("the upstream stage is terminal and must not call next")
        return .rcode(.refused, for: Query(message: DNSMessage(), client: Self.client), source: .failure)
    }

    func clientQuery(name: String = "WwW.Example.ORG.", dnssecOK: Bool = true, cd: Bool = true, edns: Bool = true)
        throws -> Query
    {
        var m = DNSMessage.query(id: 0xBEEF, name: try DomainName(name), type: .a,
            edns: edns ? EDNS(udpPayloadSize: 4096, dnssecOK: dnssecOK,
                options: [EDNSOption(code: .clientSubnet, data: [0, 1, 24, 0, 192, 0, 2]), EDNSOption(code: .cookie, data: [1, 2, 3, 4, 5, 6, 7, 8])])
                : nil)
        m.header.checkingDisabled = cd
        return Query(message: m, client: Self.client)
    }

    @Test("The upstream query copies the question, DO and CD, uses our buffer size and drops client options")
    func upstreamQuery() async throws {
        let t = ScriptedTransport(then: .answer(IPv4Address(192, 0, 2, 1)))
        let stage = UpstreamStage(pool: ScriptedPool.make([t]))
        _ = try await stage.resolve(try self.clientQuery(), in: QueryContext(), next: Self.neverCalled)
        let sent = try #require(t.sent.first)
        #expect(sent.questions == [Question(name: try DomainName("www.example.org."), type: .a)])
        #expect(sent.questions[0].name.description == "WwW.Example.ORG.")
        #expect(sent.header.checkingDisabled)
        #expect(sent.header.recursionDesired)
        #expect(sent.edns?.dnssecOK == true)
        #expect(sent.edns?.udpPayloadSize == 1232)
        #expect(sent.edns?.options.isEmpty == true)

        _ = try await stage.resolve(try self.clientQuery(dnssecOK: false, cd: false, edns: false), in: QueryContext(),
            next: Self.neverCalled)
        let plain = try #require(t.sent.last)
        #expect(!plain.header.checkingDisabled)
        #expect(plain.edns?.dnssecOK == false)
        #expect(plain.edns?.udpPayloadSize == 1232)
    }

    @Test("The reply goes back with the client's ID, question case and RD, labelled with the upstream")
    func clientReply() async throws {
        let stage = UpstreamStage(pool: ScriptedPool.make([ScriptedTransport(then: .answer(IPv4Address(192, 0, 2, 1)))]))
        var query = try self.clientQuery()
        query.message.header.recursionDesired = false
        let r = try await stage.resolve(query, in: QueryContext(), next: Self.neverCalled)
        let m = try #require(r.message)
        #expect(m.header.id == 0xBEEF)
        #expect(!m.header.recursionDesired)
        #expect(m.questions[0].name.description == "WwW.Example.ORG.")
        #expect(FakeAnswer.address(m) == IPv4Address(192, 0, 2, 1))
        #expect(r.source == .upstream("udp://192.0.2.1:53"))
        #expect(m.edns?.udpPayloadSize == 1232)
    }

    @Test("A client without EDNS gets a reply without OPT")
    func noEDNS() async throws {
        let stage = UpstreamStage(pool: ScriptedPool.make([ScriptedTransport(then: .answer(IPv4Address(192, 0, 2, 1)))]))
        let r = try await stage.resolve(try self.clientQuery(edns: false), in: QueryContext(), next: Self.neverCalled)
        #expect(r.message?.edns == nil)
    }

    @Test("Hop-by-hop options from the upstream (cookie, keepalive, padding) never reach the client")
    func stripsHopByHop() throws {
        let query = try self.clientQuery()
        var reply = query.message.makeResponse()
        reply.edns = EDNS(udpPayloadSize: 4096, options: [
            EDNSOption(code: .cookie, data: Array(repeating: 1, count: 24)),
            EDNSOption(code: .padding, data: Array(repeating: 0, count: 100)),
            EDNSOption.extendedError(.staleAnswer, text: "kept"),
        ])
        let out = UpstreamStage.clientReply(reply, for: query)
        #expect(out.edns?.options.map(\.code) == [.extendedError])
    }

    @Test("Total failure is SERVFAIL with EDE 22 after timeouts and EDE 23 after network errors", arguments: [
        (UpstreamError.Code.timeout, ExtendedErrorCode.noReachableAuthority),
        (.networkError, .networkError),
        (.tlsError, .networkError),
        (.httpError, .networkError),
    ])
    func totalFailure(code: UpstreamError.Code, ede: ExtendedErrorCode) async throws {
        let stage = UpstreamStage(pool: ScriptedPool.make([ScriptedTransport(then: .fail(code))]))
        let trace = TraceRecorder()
        let r = try await stage.resolve(try self.clientQuery(), in: QueryContext(trace: trace), next: Self.neverCalled)
        #expect(r.rcode == .servFail)
        #expect(r.source == .failure)
        #expect(r.extendedErrors.first?.extendedErrorValue?.code == ede)
        #expect(r.message?.header.id == 0xBEEF)
        #expect(trace.entries.first?.stage == "upstream")
    }

    @Test("The stage id is upstream")
    func stageID() {
        #expect(UpstreamStage(pool: ScriptedPool.make([ScriptedTransport(then: .rcode(.noError))])).id == "upstream")
    }
}

@Suite struct UpstreamRouterTests {
    @Test("The longest matching zone wins; other names go to the default pool")
    func longestSuffix() throws {
        let def = ScriptedPool.make([ScriptedTransport(then: .rcode(.noError))])
        let cluster = ScriptedPool.make([ScriptedTransport(then: .rcode(.noError))])
        let svc = ScriptedPool.make([ScriptedTransport(then: .rcode(.noError))])
        let router = UpstreamRouter(defaultPool: def, zones: [
            try DomainName("cluster.local."): cluster,
            try DomainName("svc.cluster.local."): svc,
        ])
        #expect(router.pool(for: try DomainName("www.example.org.")) === def)
        #expect(router.pool(for: try DomainName("cluster.local.")) === cluster)
        #expect(router.pool(for: try DomainName("node1.CLUSTER.local.")) === cluster)
        #expect(router.pool(for: try DomainName("web.ns1.svc.cluster.local.")) === svc)
        #expect(router.pool(for: try DomainName("svc.cluster.local.")) === svc)
        #expect(router.pool(for: try DomainName("xsvc.cluster.local.")) === cluster)
        #expect(router.pool(for: try DomainName("local.")) === def)
        #expect(router.pool(for: .root) === def)
        #expect(router.route(try DomainName("a.svc.cluster.local.")).zone == (try DomainName("svc.cluster.local.")))
        #expect(router.pools.count == 3)
    }

    @Test("Zones from configuration text are validated and named in errors")
    func configErrors() {
        #expect {
            try UpstreamRouter(defaultSpecs: ["192.0.2.1"], zones: ["cluster.local": ["not-an-ip"]],
                group: TestNetwork.group)
        } throws: { error in
            let m = (error as? UpstreamConfigurationError)?.message ?? ""
            return m.contains("cluster.local") && m.contains("not-an-ip")
        }
        #expect {
            try UpstreamRouter(defaultSpecs: ["192.0.2.1"], zones: ["bad..zone": ["192.0.2.2"]], group: TestNetwork.group)
        } throws: { error in
            (error as? UpstreamConfigurationError)?.message.contains("bad..zone") ?? false
        }
    }
}

/// The event-loop path writes the upstream query's bytes directly; they must be what encoding the message gives.
@Suite struct QueryWireTests {
    @Test("The query written directly is the encoded message, for every CD, DO, opcode and buffer size")
    func sameBytes() throws {
        let question = Question(name: try DomainName("WwW.Example.ORG."), type: .aaaa)
        for cd in [false, true] {
            for dnssecOK in [false, true] {
                for opcode in [OpCode.query, OpCode(rawValue: 2)] {
                    for size in [UInt16(512), 1232, 4096] {
                        var header = Header(id: 0, opcode: opcode, recursionDesired: true)
                        header.checkingDisabled = cd
                        let message = DNSMessage(header: header, questions: [question],
                            edns: EDNS(udpPayloadSize: size, dnssecOK: dnssecOK))
                        let direct = QueryWire(question: question, opcode: opcode, checkingDisabled: cd,
                            dnssecOK: dnssecOK, bufferSize: size)
                        #expect(direct.bytes == QueryWire(message)?.bytes, "cd \(cd) do \(dnssecOK) \(opcode) \(size)")
                        #expect(direct.message == message)
                    }
                }
            }
        }
    }

    @Test("The event-loop path's upstream query is the async path's, in bytes, for every client DO, CD and EDNS")
    func samePathBytes() throws {
        let stage = UpstreamStageTests()
        for edns in [false, true] {
            for dnssecOK in [false, true] {
                for cd in [false, true] {
                    let q = try stage.clientQuery(dnssecOK: dnssecOK, cd: cd, edns: edns)
                    let wire = UpstreamStage.upstreamWire(for: q, bufferSize: 1232)
                    let message = UpstreamStage.upstreamQuery(for: q, bufferSize: 1232)
                    #expect(wire.bytes == QueryWire(message)?.bytes, "edns \(edns) do \(dnssecOK) cd \(cd)")
                }
            }
        }
    }
}
