import DNSPipeline
@testable import DNSPolicy
import DNSWire
import Testing

@Suite struct PolicyEngineTests {
    private func rpz(_ name: String, _ body: String, configure: (inout PolicySourceConfig) -> Void = { _ in }) throws
        -> CompiledPolicySource
    {
        try compile("$ORIGIN \(name).rpz.\n@ SOA ns hostmaster 1 3600 600 86400 60\n" + body, name: name, kind: .rpz,
            configure: configure)
    }

    private func decide(_ e: PolicyEngine, _ q: String, client: IPAddress = ordinaryClient) -> PolicyDecision? {
        e.evaluateQuery(name: name(q), type: .a, client: client)
    }

    @Test("across zones the first zone in configured order that matches wins")
    func zoneOrder() throws {
        let first = try self.rpz("first", "*.example CNAME rpz-drop.\n")
        let second = try self.rpz("second", "www.example CNAME .\n")
        #expect(self.decide(PolicyEngine(sources: [first, second]), "www.example.")?.hit.source == "first")
        #expect(self.decide(PolicyEngine(sources: [second, first]), "www.example.")?.hit.source == "second")
    }

    @Test("a PASSTHRU in an earlier zone stops processing before a block in a later zone")
    func passthruFirst() throws {
        let pass = try self.rpz("local", "good.example CNAME rpz-passthru.\n")
        let block = try self.rpz("feed", "good.example CNAME .\n*.example CNAME .\n")
        let e = PolicyEngine(sources: [pass, block])
        let d = self.decide(e, "good.example.")
        #expect(d?.action == .passthru)
        #expect(d?.hit.source == "local")
        #expect(self.decide(e, "bad.example.")?.action == .nxdomain)
        // PASSTHRU also ends the response phase.
        var response = DNSMessage.query(id: 1, name: name("good.example."), type: .a).makeResponse()
        response.answers = [ResourceRecord(name: name("good.example."), ttl: 1,
            rdata: .cname(.init(target: name("bad.example."))))]
        #expect(e.evaluateResponse(name: name("good.example."), type: .a, client: ordinaryClient, response: response) == nil)
    }

    @Test("an allowlist wins over every block list and RPZ zone, wherever it is configured")
    func allowBeforeDeny() throws {
        let block = try self.rpz("feed", "*.example CNAME .\nexample CNAME .\n")
        let list = try compile("partner.example\n", name: "blocklist", kind: .domains)
        let allow = try compile("partner.example\n", name: "allow", kind: .domains) { $0.role = .allow }
        let e = PolicyEngine(sources: [block, list, allow])
        let d = self.decide(e, "www.partner.example.")
        #expect(d?.action == .allow)
        #expect(d?.hit.source == "allow")
        #expect(d?.hit.action == "allow")
        #expect(self.decide(e, "other.example.")?.action == .nxdomain)
    }

    @Test("client-IP quarantine wins even over the allowlist")
    func quarantineBeatsAllow() throws {
        let quarantine = try self.rpz("quarantine", "32.66.100.51.198.rpz-client-ip CNAME .\n")
        let allow = try compile("partner.example\n", name: "allow", kind: .domains) { $0.role = .allow }
        let e = PolicyEngine(sources: [allow, quarantine])
        let infected = IPAddress.v4(IPv4Address(198, 51, 100, 66))
        #expect(self.decide(e, "partner.example.", client: infected)?.hit.trigger == "client-ip")
        #expect(self.decide(e, "partner.example.")?.action == .allow)
    }

    @Test("an override forces its action on every match of the zone")
    func overrideAnswer() throws {
        let zone = try self.rpz("forced", "a.example CNAME rpz-passthru.\nb.example A 192.0.2.1\n") {
            $0.override = .answer(.nxdomain)
        }
        let e = PolicyEngine(sources: [zone])
        #expect(self.decide(e, "a.example.")?.action == .nxdomain)
        #expect(self.decide(e, "b.example.")?.hit.action == "nxdomain")
        let sink = try compile("c.example\n", name: "sink", kind: .domains) {
            $0.override = .answer(.sinkhole([.v4(IPv4Address(192, 0, 2, 250))]))
        }
        #expect(self.decide(PolicyEngine(sources: [sink]), "c.example.")?.hit.action == "sinkhole")
    }

    @Test("watch mode records the hit, answers normally, and lets a later zone decide")
    func watchMode() throws {
        let watch = try self.rpz("trial", "*.example CNAME .\n") { $0.override = .log }
        let enforce = try self.rpz("feed", "bad.example CNAME rpz-drop.\n")
        let e = PolicyEngine(sources: [watch, enforce])
        let only = self.decide(e, "fine.example.")
        #expect(only?.action == .log)
        #expect(only?.hit.action == "log")
        #expect(only?.watched.map(\.action) == ["nxdomain"])
        #expect(only?.watchFindings.first?.detail.contains("trial rule *.example would nxdomain") == true)
        let both = self.decide(e, "bad.example.")
        #expect(both?.action == .drop)
        #expect(both?.hit.source == "feed")
        #expect(both?.watched.map(\.source) == ["trial"])
    }

    @Test("a disabled zone is not evaluated")
    func disabled() throws {
        let zone = try self.rpz("off", "x.example CNAME .\n") { $0.enabled = false }
        #expect(self.decide(PolicyEngine(sources: [zone]), "x.example.") == nil)
    }

    @Test("a fail-closed source that never loaded answers not-ready, unless allowlisted or decided earlier")
    func failClosedPlaceholder() throws {
        var config = PolicySourceConfig(name: "feed", location: "https://feeds.example/x.rpz", failMode: .closed)
        config.kind = .rpz
        let placeholder = CompiledPolicySource.notReady(config)
        let early = try self.rpz("early", "early.example CNAME rpz-drop.\n")
        let allow = try compile("ok.example\n", name: "allow", kind: .domains) { $0.role = .allow }
        let e = PolicyEngine(sources: [early, placeholder, allow])
        let d = self.decide(e, "anything.example.")
        #expect(d?.action == .notReady)
        #expect(d?.extendedErrorCode == .notReady)
        #expect(d?.extendedErrorText.contains("feed") == true)
        #expect(self.decide(e, "early.example.")?.action == .drop)
        #expect(self.decide(e, "ok.example.")?.action == .allow)
    }

    @Test("a CNAME target in the answer is checked against QNAME and list rules")
    func cnameCloaking() throws {
        let list = try compile("tracker.example\n", name: "trackers", kind: .domains)
        let e = PolicyEngine(sources: [list])
        var response = DNSMessage.query(id: 1, name: name("metrics.shop.example."), type: .a).makeResponse()
        response.answers = [
            ResourceRecord(name: name("metrics.shop.example."), ttl: 60, rdata: .cname(.init(target: name("x.tracker.example.")))),
            ResourceRecord(name: name("x.tracker.example."), ttl: 60, rdata: .a(.init(address: IPv4Address(192, 0, 2, 7)))),
        ]
        let d = e.evaluateResponse(name: name("metrics.shop.example."), type: .a, client: ordinaryClient, response: response)
        #expect(d?.hit.rule == "tracker.example")
        #expect(d?.matchedName == name("x.tracker.example."))
        #expect(d?.extendedErrorText == "palisade: blocked by trackers rule tracker.example (matched x.tracker.example)")
        // An allowlisted target is not blocked.
        let allow = try compile("x.tracker.example\n", name: "allow", kind: .domains) {
            $0.role = .allow
            $0.subdomains = false
        }
        let allowed = PolicyEngine(sources: [list, allow])
        #expect(allowed.evaluateResponse(name: name("metrics.shop.example."), type: .a, client: ordinaryClient,
            response: response) == nil)
    }

    @Test("a list's address entry blocks an answer holding the address, named as the list wrote it")
    func listAddressBlocksAnswer() throws {
        let feed = try compile("evil.example\n||192.0.2.66^\n", name: "urlhaus", kind: .adblock) {
            $0.ipEntries = .responseIP
        }
        let e = PolicyEngine(sources: [feed])
        let owner = name("cdn.shop.example.")
        var response = DNSMessage.query(id: 1, name: owner, type: .a).makeResponse()
        response.answers = [
            ResourceRecord(name: owner, ttl: 60, rdata: .a(.init(address: IPv4Address(192, 0, 2, 5)))),
            ResourceRecord(name: owner, ttl: 60, rdata: .a(.init(address: IPv4Address(192, 0, 2, 66)))),
        ]
        let d = e.evaluateResponse(name: owner, type: .a, client: ordinaryClient, response: response)
        #expect(d?.hit
            == PolicyHit(source: "urlhaus", rule: "||192.0.2.66^", action: "nxdomain", trigger: "response-ip"))
        #expect(d?.extendedErrorText.hasPrefix("palisade: blocked by urlhaus rule ||192.0.2.66^") == true,
            "\(d?.extendedErrorText ?? "")")
        // Another address passes; so does the same answer when the list ignores addresses (the default).
        response.answers.removeLast()
        #expect(e.evaluateResponse(name: name("cdn.shop.example."), type: .a, client: ordinaryClient,
            response: response) == nil)
        response.answers.append(ResourceRecord(name: name("cdn.shop.example."), ttl: 60,
            rdata: .a(.init(address: IPv4Address(192, 0, 2, 66)))))
        let ignoring = PolicyEngine(sources: [try compile("evil.example\n||192.0.2.66^\n", name: "urlhaus",
            kind: .adblock)])
        #expect(ignoring.evaluateResponse(name: name("cdn.shop.example."), type: .a, client: ordinaryClient,
            response: response) == nil)
        // An allowlisted query name is never blocked by its answer.
        let allow = try compile("shop.example\n", name: "allow", kind: .domains) { $0.role = .allow }
        #expect(PolicyEngine(sources: [feed, allow]).evaluateResponse(name: name("cdn.shop.example."), type: .a,
            client: ordinaryClient, response: response) == nil)
    }

    @Test("the EDE text names the source and the rule, and the code follows the source's setting")
    func edeText() throws {
        let feed = try compile("*.evil.example\n", name: "urlhaus", kind: .domains)
        let d = self.decide(PolicyEngine(sources: [feed]), "a.evil.example.")
        #expect(d?.extendedErrorText == "palisade: blocked by urlhaus rule *.evil.example")
        #expect(d?.extendedErrorCode == .blocked)
        #expect(d?.hit == PolicyHit(source: "urlhaus", rule: "*.evil.example", action: "nxdomain", trigger: "list"))
        let filtered = try compile("evil.example\n", name: "family", kind: .domains) { $0.extendedError = .filtered }
        #expect(self.decide(PolicyEngine(sources: [filtered]), "evil.example.")?.extendedErrorCode == .filtered)
        // The encoded option follows the code and the text, also when either is changed afterwards.
        var changed = try #require(d)
        #expect(changed.extendedError.extendedErrorValue?.text == "palisade: blocked by urlhaus rule *.evil.example")
        changed.extendedErrorText = "palisade: other"
        changed.extendedErrorCode = .filtered
        #expect(changed.extendedError.extendedErrorValue?.text == "palisade: other")
        #expect(changed.extendedError.extendedErrorValue?.code == .filtered)
    }

    @Test("evaluating an engine with no sources finds nothing")
    func empty() {
        #expect(self.decide(.empty, "example.") == nil)
        #expect(PolicyEngine.empty.evaluateResponse(name: name("example."), type: .a, client: ordinaryClient,
            response: DNSMessage()) == nil)
    }

    @Test("a swap through the reference is seen by the next evaluation")
    func referenceSwap() throws {
        let reference = PolicyEngineReference()
        #expect(reference.current.evaluateQuery(name: name("x.example."), type: .a, client: ordinaryClient) == nil)
        let old = reference.replace(with: PolicyEngine(sources: [try compile("x.example\n", kind: .domains)]))
        #expect(old.sourceNames.isEmpty)
        #expect(reference.current.evaluateQuery(name: name("x.example."), type: .a, client: ordinaryClient) != nil)
    }
}
