import DNSPipeline
@testable import DNSPolicy
import DNSWire
import Synchronization
import Testing

@Suite struct PolicyStageTests {
    private func chain(_ sources: [CompiledPolicySource], upstream: RecordingUpstream = RecordingUpstream()) -> Chain {
        let reference = PolicyEngineReference(PolicyEngine(sources: sources))
        return Chain(stages: [QueryPolicyStage(engine: reference), ResponsePolicyStage(engine: reference), upstream])
    }

    private func threats() throws -> CompiledPolicySource { try compileFile(Fixture.rpz("threats.rpz"), name: "threats") }

    @Test("a blocked name is answered NXDOMAIN with EDE 15 naming source and rule, and never reaches upstream")
    func blockedNeverUpstream() async throws {
        let upstream = RecordingUpstream()
        let feed = try compile("*.evil.example\n", name: "urlhaus", kind: .domains)
        let chain = self.chain([feed], upstream: upstream)
        let r = await chain.resolve(query("www.evil.example."), in: QueryContext())
        #expect(r.rcode == .nxDomain)
        #expect(r.policy == PolicyHit(source: "urlhaus", rule: "*.evil.example", action: "nxdomain", trigger: "list"))
        #expect(r.ede?.code == .blocked)
        #expect(r.ede?.text == "palisade: blocked by urlhaus rule *.evil.example")
        #expect(r.message?.questions.first?.name == name("www.evil.example."))
        #expect(upstream.questions.isEmpty)
        let fast = chain.resolveNow(query("www.evil.example."), in: QueryContext())
        #expect(fast?.rcode == .nxDomain)
        #expect(upstream.questions.isEmpty)
    }

    @Test("a name no rule matches goes upstream on both paths")
    func passesThrough() async throws {
        let upstream = RecordingUpstream()
        let chain = self.chain([try self.threats()], upstream: upstream)
        let r = await chain.resolve(query("www.example.org."), in: QueryContext())
        #expect(r.source == .upstream("recorder"))
        #expect(r.answerAddresses == ["192.0.2.10"])
        #expect(chain.resolveNow(query("www.example.org."), in: QueryContext())?.source == .upstream("recorder"))
        #expect(upstream.names == ["www.example.org.", "www.example.org."])
    }

    @Test("each RPZ action produces its answer", arguments: [
        ("nxdomain.example.", ResponseCode.nxDomain, 0), ("nodata.example.", .noError, 0), ("local.example.", .noError, 2),
    ])
    func actions(qname: String, rcode: ResponseCode, answers: Int) async throws {
        let upstream = RecordingUpstream()
        let r = await self.chain([try self.threats()], upstream: upstream).resolve(query(qname), in: QueryContext())
        #expect(r.rcode == rcode)
        #expect(r.message?.answers.count == answers)
        #expect(r.policy != nil)
        #expect(r.ede != nil)
        #expect(upstream.questions.isEmpty)
    }

    @Test("DROP sends no reply and still records the hit")
    func drop() async throws {
        let r = await self.chain([try self.threats()]).resolve(query("drop.example."), in: QueryContext())
        #expect(r.isDrop)
        #expect(r.policy?.action == "drop")
    }

    @Test("TCP-only truncates over UDP and answers normally over TCP")
    func tcpOnly() async throws {
        let upstream = RecordingUpstream()
        let chain = self.chain([try self.threats()], upstream: upstream)
        let udp = await chain.resolve(query("tcp.example.", transport: .udp), in: QueryContext())
        #expect(udp.message?.header.truncated == true)
        #expect(udp.message?.answers.isEmpty == true)
        #expect(udp.policy?.action == "tcp-only")
        #expect(upstream.questions.isEmpty)
        let tcp = await chain.resolve(query("tcp.example.", transport: .tcp), in: QueryContext())
        #expect(tcp.source == .upstream("recorder"))
        #expect(tcp.message?.header.truncated == false)
    }

    @Test("PASSTHRU answers from upstream even though a wildcard would block")
    func passthru() async throws {
        let upstream = RecordingUpstream()
        let r = await self.chain([try self.threats()], upstream: upstream).resolve(query("ok.wild.example."),
            in: QueryContext())
        #expect(r.source == .upstream("recorder"))
        #expect(upstream.names == ["ok.wild.example."])
    }

    @Test("local data answers only the records of the query type, and NODATA for others")
    func localDataTypes() async throws {
        let chain = self.chain([try self.threats()])
        let aaaa = await chain.resolve(query("local.example.", .aaaa), in: QueryContext())
        #expect(aaaa.answerAddresses == ["2001:db8::80"])
        let mx = await chain.resolve(query("local.example.", .mx), in: QueryContext())
        #expect(mx.rcode == .noError)
        #expect(mx.message?.answers.isEmpty == true)
        let txt = await chain.resolve(query("local.example.", .txt), in: QueryContext())
        #expect(txt.message?.answers.first?.rdata == .txt(.init("blocked by policy")))
    }

    @Test("a walled-garden CNAME is followed below and put in front of the target's answer")
    func walledGarden() async throws {
        let upstream = RecordingUpstream()
        let chain = self.chain([try self.threats()], upstream: upstream)
        let r = await chain.resolve(query("garden.example."), in: QueryContext())
        #expect(r.message?.answers.first?.rdata == .cname(.init(target: name("walled.garden.example."))))
        #expect(r.answerAddresses == ["192.0.2.10"])
        #expect(r.policy?.action == "local-data")
        #expect(upstream.names == ["walled.garden.example."])
        let fast = chain.resolveNow(query("garden.example."), in: QueryContext())
        #expect(fast?.message?.answers.count == 2)
    }

    @Test("a wildcard CNAME target is expanded with the query name")
    func wildcardGarden() async throws {
        let upstream = RecordingUpstream()
        let r = await self.chain([try self.threats()], upstream: upstream).resolve(query("x.cloak.example."),
            in: QueryContext())
        #expect(r.message?.answers.first?.rdata == .cname(.init(target: name("x.cloak.example.garden.example."))))
        #expect(upstream.names == ["x.cloak.example.garden.example."])
    }

    @Test("a sinkhole answers A and AAAA with the configured addresses and other types with NODATA")
    func sinkhole() async throws {
        let list = try compile("ads.example\n", name: "sink", kind: .domains) {
            $0.answer = .sinkhole([.v4(IPv4Address(192, 0, 2, 250)), IPAddress("2001:db8::250") ?? ordinaryClient])
        }
        let chain = self.chain([list])
        #expect(await chain.resolve(query("ads.example."), in: QueryContext()).answerAddresses == ["192.0.2.250"])
        #expect(await chain.resolve(query("ads.example.", .aaaa), in: QueryContext()).answerAddresses == ["2001:db8::250"])
        let txt = await chain.resolve(query("ads.example.", .txt), in: QueryContext())
        #expect(txt.rcode == .noError)
        #expect(txt.message?.answers.isEmpty == true)
        #expect(txt.policy?.action == "sinkhole")
    }

    @Test("REFUSED is an available list answer")
    func refused() async throws {
        let list = try compile("x.example\n", name: "r", kind: .domains) { $0.answer = .refused }
        #expect(await self.chain([list]).resolve(query("x.example."), in: QueryContext()).rcode == .refused)
    }

    @Test("a watch-mode hit reaches upstream and is reported as a finding")
    func watch() async throws {
        let upstream = RecordingUpstream()
        let list = try compile("watched.example\n", name: "trial", kind: .domains) { $0.override = .log }
        let r = await self.chain([list], upstream: upstream).resolve(query("watched.example."), in: QueryContext())
        #expect(r.source == .upstream("recorder"))
        #expect(r.findings.map(\.detector) == ["policy"])
        #expect(r.findings.first?.enforced == false)
        #expect(upstream.names == ["watched.example."])
    }

    @Test("the response stage replaces an answer that points into a blocked network")
    func responseIP() async throws {
        let upstream = RecordingUpstream(scripted: [
            name("site.example."): [ResourceRecord(name: name("site.example."), ttl: 60,
                rdata: .a(.init(address: IPv4Address(203, 0, 113, 5))))]
        ])
        let chain = self.chain([try self.threats()], upstream: upstream)
        let r = await chain.resolve(query("site.example."), in: QueryContext())
        #expect(r.rcode == .nxDomain)
        #expect(r.policy?.trigger == "response-ip")
        #expect(r.ede?.text.contains("answer 203.0.113.5") == true)
        #expect(chain.resolveNow(query("site.example."), in: QueryContext())?.rcode == .nxDomain)
    }

    @Test("the response stage blocks a CNAME into a blocked name (CNAME cloaking)")
    func cloaking() async throws {
        let upstream = RecordingUpstream(scripted: [
            name("metrics.shop.example."): [
                ResourceRecord(name: name("metrics.shop.example."), ttl: 60, rdata: .cname(.init(target: name("t.nxdomain.example.")))),
                ResourceRecord(name: name("t.nxdomain.example."), ttl: 60, rdata: .a(.init(address: IPv4Address(192, 0, 2, 1)))),
            ]
        ])
        let r = await self.chain([try self.threats()], upstream: upstream).resolve(query("metrics.shop.example."),
            in: QueryContext())
        #expect(r.rcode == .nxDomain)
        #expect(r.policy?.rule == "*.nxdomain.example")
    }

    @Test("cached answers are checked too: a CNAME into a blocked name, an address in a blocked network")
    func cachedAnswers() async throws {
        func packet(_ records: [ResourceRecord]) -> CachedPacket {
            let q = query(records[0].name.description)
            let m = DNSMessage(header: Header(isResponse: true), questions: q.message.questions, answers: records)
            return CachedPacket(bytes: [], ttlOffsets: [], ttls: [], rcode: .noError, message: m)
        }
        let cloaked = packet([
            ResourceRecord(name: name("metrics.shop.example."), ttl: 60, rdata: .cname(.init(target: name("t.trk.example.")))),
            ResourceRecord(name: name("t.trk.example."), ttl: 60, rdata: .a(.init(address: IPv4Address(192, 0, 2, 1)))),
        ])
        let plain = packet([ResourceRecord(name: name("site.example."), ttl: 60,
            rdata: .a(.init(address: IPv4Address(203, 0, 113, 5))))])
        #expect(!plain.hasCNAMEAnswer && cloaked.hasCNAMEAnswer)
        // A list has no response triggers: only the answer with a CNAME is looked at.
        let list = try compile("*.trk.example\nsite.example.net\n", name: "trackers", kind: .domains)
        let listChain = self.chain(list: list, cached: [cloaked, plain])
        #expect(PolicyEngine(sources: [list]).needsResponseCheck(hasCNAME: false) == false)
        let blocked = listChain.resolveNow(query("metrics.shop.example."), in: QueryContext())
        #expect(blocked?.rcode == .nxDomain)
        #expect(blocked?.policy?.rule == "*.trk.example")
        #expect(await listChain.resolve(query("metrics.shop.example."), in: QueryContext()).rcode == .nxDomain)
        #expect(listChain.resolveNow(query("site.example."), in: QueryContext())?.source == .cache)
        // The RPZ fixture has an rpz-ip rule for 203.0.113.0/24: a cached answer without a CNAME is checked too.
        let rpz = try self.threats()
        #expect(PolicyEngine(sources: [rpz]).needsResponseCheck(hasCNAME: false) == true)
        let r = self.chain(list: rpz, cached: [cloaked, plain]).resolveNow(query("site.example."), in: QueryContext())
        #expect(r?.rcode == .nxDomain)
        #expect(r?.policy?.trigger == "response-ip")
    }

    @Test("a cached answer found clean is not checked again under the same policy, and is after a reload")
    func cleanVerdictPerPolicy() async throws {
        let q = query("shop.example.")
        let m = DNSMessage(header: Header(isResponse: true), questions: q.message.questions, answers: [
            ResourceRecord(name: name("shop.example."), ttl: 60, rdata: .a(.init(address: IPv4Address(192, 0, 2, 66)))),
        ])
        let packet = CachedPacket(bytes: [], ttlOffsets: [], ttls: [], rcode: .noError, message: m)
        // Response-IP rules for other addresses: the answer is checked once and found clean.
        let first = PolicyEngine(sources: [try compile("192.0.2.1\n", name: "feed", kind: .domains) {
            $0.ipEntries = .responseIP
        }])
        let reference = PolicyEngineReference(first)
        let chain = Chain(stages: [QueryPolicyStage(engine: reference), ResponsePolicyStage(engine: reference),
            CachedAnswers(packets: [packet])])
        #expect(packet.cleanUnderPolicy.load(ordering: .relaxed) == 0)
        #expect(chain.resolveNow(q, in: QueryContext())?.source == .cache)
        #expect(packet.cleanUnderPolicy.load(ordering: .relaxed) == first.generation)
        #expect(await chain.resolve(q, in: QueryContext()).source == .cache)
        // A reload that lists the answer's address applies to the cached answer at once, on both paths.
        let second = PolicyEngine(sources: [try compile("192.0.2.66\n", name: "feed", kind: .domains) {
            $0.ipEntries = .responseIP
        }])
        #expect(second.generation != first.generation)
        reference.replace(with: second)
        #expect(chain.resolveNow(q, in: QueryContext())?.rcode == .nxDomain)
        #expect(await chain.resolve(q, in: QueryContext()).policy?.rule == "192.0.2.66")
        #expect(packet.cleanUnderPolicy.load(ordering: .relaxed) == first.generation)
    }

    @Test("an answer let through for one client by a client-IP PASSTHRU is still checked for the next client")
    func exemptionIsNotACleanVerdict() throws {
        let zone = "$ORIGIN feed.rpz.\n@ SOA ns hostmaster 1 3600 600 86400 60\n"
            + "32.2.0.0.127.rpz-client-ip CNAME rpz-passthru.\n32.66.2.0.192.rpz-ip CNAME .\n"
        let engine = PolicyEngine(sources: [try compile(zone, name: "feed", kind: .rpz)])
        let reference = PolicyEngineReference(engine)
        let q = query("shop.example.")
        let m = DNSMessage(header: Header(isResponse: true), questions: q.message.questions, answers: [
            ResourceRecord(name: name("shop.example."), ttl: 60, rdata: .a(.init(address: IPv4Address(192, 0, 2, 66)))),
        ])
        let packet = CachedPacket(bytes: [], ttlOffsets: [], ttls: [], rcode: .noError, message: m)
        let chain = Chain(stages: [QueryPolicyStage(engine: reference), ResponsePolicyStage(engine: reference),
            CachedAnswers(packets: [packet])])
        let passthruClient = IPAddress.v4(IPv4Address(127, 0, 0, 2))
        let exempt = chain.resolveNow(query("shop.example.", client: passthruClient), in: QueryContext())
        #expect(exempt?.source == .cache)
        #expect(packet.cleanUnderPolicy.load(ordering: .relaxed) == 0)
        #expect(chain.resolveNow(q, in: QueryContext())?.rcode == .nxDomain)
    }

    private func chain(list: CompiledPolicySource, cached: [CachedPacket]) -> Chain {
        let reference = PolicyEngineReference(PolicyEngine(sources: [list]))
        return Chain(stages: [QueryPolicyStage(engine: reference), ResponsePolicyStage(engine: reference),
            CachedAnswers(packets: cached)])
    }

    @Test("an allowlisted name is answered by upstream even when a feed lists it")
    func allowlisted() async throws {
        let upstream = RecordingUpstream()
        let block = try compile("partner.example\n", name: "feed", kind: .domains)
        let allow = try compile("partner.example\n", name: "allow", kind: .domains) { $0.role = .allow }
        let r = await self.chain([block, allow], upstream: upstream).resolve(query("partner.example."), in: QueryContext())
        #expect(r.source == .upstream("recorder"))
        #expect(upstream.names == ["partner.example."])
    }

    @Test("a trace records the stage's decision")
    func trace() async throws {
        let recorder = TraceRecorder()
        _ = await self.chain([try self.threats()]).resolve(query("nxdomain.example."), in: QueryContext(trace: recorder))
        #expect(recorder.entries.first?.stage == "query-policy")
        #expect(recorder.entries.first?.decision.contains("nxdomain by threats") == true)
    }

    @Test("a reload swaps the engine under a running chain")
    func reload() async throws {
        let reference = PolicyEngineReference()
        let upstream = RecordingUpstream()
        let chain = Chain(stages: [QueryPolicyStage(engine: reference), upstream])
        #expect(await chain.resolve(query("new.example."), in: QueryContext()).source == .upstream("recorder"))
        reference.replace(with: PolicyEngine(sources: [try compile("new.example\n", kind: .domains)]))
        #expect(await chain.resolve(query("new.example."), in: QueryContext()).rcode == .nxDomain)
    }
}

/// Answers from cached packets, as the cache stage does, by question name.
private struct CachedAnswers: Stage {
    let id: StageID = "cache"
    let packets: [CachedPacket]

    private func answer(_ q: Query) -> Resolution {
        guard let p = self.packets.first(where: { $0.message.questions.first?.name == q.question.name }) else {
            return .failure(for: q, text: "not cached")
        }
        return Resolution(reply: .cached(p, age: 0), source: .cache)
    }

    func resolve(_ query: Query, in context: QueryContext, next: @escaping Next) async throws -> Resolution {
        self.answer(query)
    }

    func resolveNow(_ query: Query, in context: QueryContext, next: NextNow) throws -> Resolution? {
        self.answer(query)
    }
}
