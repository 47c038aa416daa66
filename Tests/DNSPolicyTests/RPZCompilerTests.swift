import DNSPipeline
@testable import DNSPolicy
import DNSWire
import Foundation
import Testing

@Suite struct RPZCompilerTests {
    private func threats() throws -> CompiledPolicySource {
        try compileFile(Fixture.rpz("threats.rpz"), name: "threats")
    }

    private func engine(_ sources: CompiledPolicySource...) -> PolicyEngine { PolicyEngine(sources: sources) }

    @Test("the fixture zone loads with its serial, its apex and every rule")
    func loadsFixture() throws {
        let zone = try self.threats()
        #expect(zone.format == .rpz)
        #expect(zone.serial == 2_024_061_501)
        #expect(zone.apex == name("rpz.example."))
        #expect(zone.stats.badLines == 0, "\(zone.stats.issues)")
        // 13 QNAME rules, 2 client-IP, 3 response-IP, 2 NSDNAME, 1 NSIP.
        #expect(zone.ruleCount == 21)
        #expect(zone.stats.ignored["apex"] == 2)
    }

    @Test("each QNAME action is read from its CNAME target", arguments: [
        ("nxdomain.example.", "nxdomain"), ("x.nxdomain.example.", "nxdomain"), ("nodata.example.", "nodata"),
        ("passthru.example.", "passthru"), ("drop.example.", "drop"), ("tcp.example.", "tcp-only"),
        ("local.example.", "local-data"), ("garden.example.", "local-data"),
    ])
    func qnameActions(qname: String, action: String) throws {
        let d = self.engine(try self.threats()).evaluateQuery(name: name(qname), type: .a, client: ordinaryClient)
        #expect(d?.hit.action == action)
        #expect(d?.hit.trigger == "qname")
        #expect(d?.hit.source == "threats")
    }

    @Test("an exact rule beats the wildcard, and the longer wildcard beats the shorter")
    func wildcardPrecedence() throws {
        let e = self.engine(try self.threats())
        func rule(_ q: String) -> (String?, String?) {
            let d = e.evaluateQuery(name: name(q), type: .a, client: ordinaryClient)
            return (d?.hit.rule, d?.hit.action)
        }
        #expect(rule("a.wild.example.") == ("*.wild.example", "nxdomain"))
        #expect(rule("ok.wild.example.") == ("ok.wild.example", "passthru"))
        #expect(rule("x.ok.wild.example.") == ("*.wild.example", "nxdomain"))
        #expect(rule("x.deep.wild.example.") == ("*.deep.wild.example", "nodata"))
        #expect(rule("deep.wild.example.") == ("*.wild.example", "nxdomain"))
        #expect(rule("wild.example.").0 == nil)
    }

    @Test("local data keeps every record of the trigger, and wildcard owners answer for the query name")
    func localData() throws {
        let e = self.engine(try self.threats())
        let d = try #require(e.evaluateQuery(name: name("local.example."), type: .a, client: ordinaryClient))
        guard case .localData(let data) = d.action else {
            Issue.record("expected local data, got \(d.action)")
            return
        }
        #expect(data.records.map(\.type).sorted() == [.a, .a, .txt, .aaaa].sorted())
        let w = try #require(e.evaluateQuery(name: name("www.local.example."), type: .a, client: ordinaryClient))
        #expect(w.hit.rule == "*.local.example")
        guard case .answer(let r) = w.plan(for: query("WWW.local.example.")) else {
            Issue.record("expected an answer")
            return
        }
        #expect(r.answerAddresses == ["192.0.2.82"])
        #expect(r.message?.answers.first?.name.description == "WWW.local.example.")
    }

    @Test("a client-IP trigger matches IPv4 and the zz-compressed IPv6 form")
    func clientIP() throws {
        let e = self.engine(try self.threats())
        let v4 = e.evaluateQuery(name: name("www.example.org."), type: .a, client: .v4(IPv4Address(198, 51, 100, 7)))
        #expect(v4?.hit.trigger == "client-ip")
        #expect(v4?.hit.action == "drop")
        #expect(v4?.hit.rule == "32.7.100.51.198.rpz-client-ip")
        let v6 = e.evaluateQuery(name: name("www.example.org."), type: .a,
            client: IPAddress("2001:db8:bad:1::5") ?? ordinaryClient)
        #expect(v6?.hit.action == "nxdomain")
        #expect(v6?.hit.rule == "48.zz.bad.db8.2001.rpz-client-ip")
        #expect(e.evaluateQuery(name: name("www.example.org."), type: .a,
            client: .v4(IPv4Address(198, 51, 100, 8))) == nil)
    }

    @Test("client-IP beats QNAME within a zone")
    func clientBeforeQName() throws {
        let e = self.engine(try self.threats())
        let d = e.evaluateQuery(name: name("passthru.example."), type: .a, client: .v4(IPv4Address(198, 51, 100, 7)))
        #expect(d?.hit.trigger == "client-ip")
    }

    @Test("response-IP triggers match answer addresses, longest prefix first")
    func responseIP() throws {
        let e = self.engine(try self.threats())
        func answer(_ addresses: [String]) -> DNSMessage {
            var m = DNSMessage.query(id: 1, name: name("site.example."), type: .a).makeResponse()
            m.answers = addresses.map {
                switch IPAddress($0) {
                case .v6(let a)?: ResourceRecord(name: name("site.example."), ttl: 60, rdata: .aaaa(.init(address: a)))
                case .v4(let a)?: ResourceRecord(name: name("site.example."), ttl: 60, rdata: .a(.init(address: a)))
                case nil: ResourceRecord(name: .root, ttl: 0, rdata: .txt(.init("bad test address")))
                }
            }
            return m
        }
        func decide(_ a: [String]) -> PolicyDecision? {
            e.evaluateResponse(name: name("site.example."), type: .a, client: ordinaryClient, response: answer(a))
        }
        #expect(decide(["192.0.2.1"]) == nil)
        #expect(decide(["192.0.2.1", "203.0.113.5"])?.hit.rule == "24.0.113.0.203.rpz-ip")
        #expect(decide(["203.0.113.5"])?.hit.trigger == "response-ip")
        // The /32 PASSTHRU is longer than the /24 NXDOMAIN, so it wins.
        #expect(decide(["203.0.113.5", "203.0.113.9"])?.hit.action == "passthru")
        let v6 = decide(["2001:db8:beef::1"])
        #expect(v6?.hit.rule == "64.zz.beef.db8.2001.rpz-ip")
        #expect(v6?.hit.action == "local-data")
    }

    @Test("NSDNAME and NSIP triggers match the NS records and glue the upstream included")
    func nameServers() throws {
        let e = self.engine(try self.threats())
        var m = DNSMessage.query(id: 1, name: name("site.example."), type: .a).makeResponse()
        m.answers = [ResourceRecord(name: name("site.example."), ttl: 60, rdata: .a(.init(address: IPv4Address(192, 0, 2, 1))))]
        #expect(e.evaluateResponse(name: name("site.example."), type: .a, client: ordinaryClient, response: m) == nil)
        var withNS = m
        withNS.authorities = [ResourceRecord(name: name("example."), ttl: 60,
            rdata: .ns(.init(target: name("ns.evil-dns.example."))))]
        let d = e.evaluateResponse(name: name("site.example."), type: .a, client: ordinaryClient, response: withNS)
        #expect(d?.hit.trigger == "nsdname")
        #expect(d?.hit.rule == "ns.evil-dns.example.rpz-nsdname")
        var wild = m
        wild.authorities = [ResourceRecord(name: name("example."), ttl: 60,
            rdata: .ns(.init(target: name("a.evil-ns.example."))))]
        #expect(e.evaluateResponse(name: name("site.example."), type: .a, client: ordinaryClient, response: wild)?
            .hit.action == "nodata")
        var glue = m
        glue.authorities = [ResourceRecord(name: name("example."), ttl: 60, rdata: .ns(.init(target: name("ns1.example."))))]
        glue.additionals = [ResourceRecord(name: name("ns1.example."), ttl: 60,
            rdata: .a(.init(address: IPv4Address(198, 51, 100, 66))))]
        let nsip = e.evaluateResponse(name: name("site.example."), type: .a, client: ordinaryClient, response: glue)
        #expect(nsip?.hit.trigger == "nsip")
        #expect(nsip?.hit.rule == "32.66.100.51.198.rpz-nsip")
        // Glue for a name that is not a listed name server does not count.
        var stray = m
        stray.additionals = glue.additionals
        #expect(e.evaluateResponse(name: name("site.example."), type: .a, client: ordinaryClient, response: stray) == nil)
    }

    @Test("IP trigger owners parse in both families and reject nonsense", arguments: [
        (["32", "1", "2", "0", "192"], "192.0.2.1", 32),
        (["24", "0", "2", "0", "192"], "192.0.2.0", 24),
        (["128", "1", "zz", "db8", "2001"], "2001:db8::1", 128),
        (["48", "zz", "bad", "db8", "2001"], "2001:db8:bad::", 48),
        (["128", "8", "7", "6", "5", "4", "3", "2", "1"], "1:2:3:4:5:6:7:8", 128),
    ])
    func ipTriggerParsing(labels: [String], address: String, prefix: Int) throws {
        let parsed = try #require(RPZCompiler.ipTrigger(labels))
        #expect(parsed.0 == IPAddress(address))
        #expect(parsed.1 == prefix)
    }

    @Test("malformed IP triggers are refused", arguments: [
        ["33", "1", "2", "0", "192"], ["0", "1", "2", "0", "192"], ["32", "1", "2", "192"], ["32", "300", "2", "0", "192"],
        ["64", "zz", "zz", "2001"], ["129", "zz", "2001"], ["x", "1", "2", "3", "4"], ["32"],
    ])
    func badIPTriggers(labels: [String]) {
        #expect(RPZCompiler.ipTrigger(labels) == nil)
    }

    @Test("bad records are skipped and reported with their line numbers; the rest loads")
    func badLinesSkipped() throws {
        let zone = try compileFile(Fixture.rpz("bad-lines.rpz"), name: "bad")
        #expect(zone.ruleCount == 7)
        #expect(zone.stats.badLines == 5)
        #expect(zone.stats.issues.map(\.line) == [4, 6, 7, 8, 10])
        #expect(zone.stats.issues.allSatisfy { $0.source == "bad" && $0.file.hasSuffix("bad-lines.rpz") })
        let messages = zone.stats.issues.map(\.message)
        #expect(messages[1].contains("bad IP trigger"))
        #expect(messages[3].contains("outside the policy zone"))
        #expect(messages[4].contains("conflicting actions"))
        let e = PolicyEngine(sources: [zone])
        #expect(e.evaluateQuery(name: name("good8.example."), type: .a, client: ordinaryClient)?.hit.action == "nxdomain")
        #expect(e.evaluateQuery(name: name("good4.example."), type: .a, client: ordinaryClient)?.hit.action == "nxdomain")
    }

    @Test("with badLines reject the first bad record refuses the whole zone, naming source, file and line")
    func badLinesRejected() throws {
        let error = #expect(throws: PolicyLoadError.self) {
            try compileFile(Fixture.rpz("bad-lines.rpz"), name: "strict") { $0.badLines = .reject }
        }
        #expect(error?.code == .badLine)
        #expect(error?.source == "strict")
        #expect(error?.issues.first?.line == 4)
        #expect(error?.description.contains("bad-lines.rpz:4") == true)
    }

    @Test("a zone that is mostly garbage is refused as implausible")
    func implausible() {
        let error = #expect(throws: PolicyLoadError.self) {
            try compile("$ORIGIN z.\n@ SOA a. b. 1 2 3 4 5\nx CNAME\ny A nope\nz CNAME .\n", kind: .rpz)
        }
        #expect(error?.code == .notPlausible)
    }

    @Test("local data and a special action on the same trigger conflict")
    func localDataConflict() throws {
        let zone = try compile("""
            $ORIGIN z.example.
            @ SOA ns hostmaster 1 2 3 4 5
            a.example CNAME .
            a.example A 192.0.2.1
            b.example A 192.0.2.2
            b.example CNAME rpz-drop.
            c.example A 192.0.2.3
            c.example TXT "fine"
            d.example CNAME .
            e.example CNAME .
            """, kind: .rpz)
        #expect(zone.stats.issues.map(\.line) == [4, 6])
        let e = PolicyEngine(sources: [zone])
        #expect(e.evaluateQuery(name: name("b.example."), type: .a, client: ordinaryClient)?.hit.action == "local-data")
    }

    @Test("duplicate identical rules are counted, not reported")
    func duplicates() throws {
        let zone = try compile("$ORIGIN z.\n@ SOA a. b. 1 2 3 4 5\nx CNAME .\nx CNAME .\n", kind: .rpz)
        #expect(zone.ruleCount == 1)
        #expect(zone.stats.duplicates == 1)
        #expect(zone.stats.badLines == 0)
    }

    @Test("a zone without an SOA takes absolute owner names relative to the root")
    func noSOA() throws {
        let zone = try compile("evil.example. 60 CNAME .\n*.evil.example. 60 CNAME rpz-drop.\n", kind: .rpz)
        #expect(zone.apex == .root)
        let e = PolicyEngine(sources: [zone])
        #expect(e.evaluateQuery(name: name("x.evil.example."), type: .a, client: ordinaryClient)?.hit.action == "drop")
    }

    @Test("mutated zones never crash the compiler, and every issue points at a real line")
    func hostileZones() throws {
        let original = Array(try String(contentsOfFile: Fixture.rpz("threats.rpz"), encoding: .utf8).utf8)
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
        let alphabet = Array("$@;()\"\\*. \t\n0123456789abcdefz-".utf8) + [0, 0xFF]
        for round in 0..<200 {
            var bytes = original
            for _ in 0..<(1 + Int(next() % 16)) {
                let at = Int(next() % UInt64(bytes.count + 1))
                switch next() % 3 {
                case 0: bytes.insert(alphabet[Int(next() % UInt64(alphabet.count))], at: at)
                case 1: if at < bytes.count { bytes.remove(at: at) }
                default: if at < bytes.count { bytes[at] = UInt8(truncatingIfNeeded: next()) }
                }
            }
            let lines = bytes.filter { $0 == UInt8(ascii: "\n") }.count + 1
            let config = PolicySourceConfig(name: "fuzz", kind: .rpz, location: "fuzz.rpz")
            do {
                let zone = try PolicySourceLoader.compile(config, bytes: bytes, fileName: "fuzz.rpz")
                #expect(zone.stats.issues.allSatisfy { $0.line >= 1 && $0.line <= lines }, "round \(round)")
            } catch {
                #expect(error.code == .notPlausible, "round \(round): \(error)")
                #expect(error.issues.allSatisfy { $0.line >= 1 && $0.line <= lines }, "round \(round)")
            }
        }
    }

    @Test("the legacy PASSTHRU form, a CNAME to the trigger name itself, is understood")
    func legacyPassthru() throws {
        let zone = try compile("$ORIGIN z.\n@ SOA a. b. 1 2 3 4 5\nok.example CNAME ok.example.\n", kind: .rpz)
        let e = PolicyEngine(sources: [zone])
        #expect(e.evaluateQuery(name: name("ok.example."), type: .a, client: ordinaryClient)?.action == .passthru)
    }
}
