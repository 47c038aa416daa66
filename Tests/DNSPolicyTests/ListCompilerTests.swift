import DNSPipeline
@testable import DNSPolicy
import DNSWire
import Testing

@Suite struct ListCompilerTests {
    private func blocks(_ source: CompiledPolicySource, _ qname: String) -> PolicyDecision? {
        PolicyEngine(sources: [source]).evaluateQuery(name: name(qname), type: .a, client: ordinaryClient)
    }

    @Test("a domains list blocks names and, by default, the names below them")
    func domains() throws {
        let list = try compileFile(Fixture.list("domains.txt"), name: "plain")
        #expect(list.format == .domains)
        #expect(list.ruleCount == 4)
        #expect(list.stats.ignored["localhost"] == 1)
        #expect(self.blocks(list, "evil.example.")?.hit.rule == "evil.example")
        #expect(self.blocks(list, "www.evil.example.")?.hit.rule == "evil.example")
        #expect(self.blocks(list, "phishing.example.")?.hit.trigger == "list")
        #expect(self.blocks(list, "tracker.example.") != nil)
        #expect(self.blocks(list, "localhost.") == nil)
        #expect(self.blocks(list, "notevil.example.") == nil)
    }

    @Test("`*.d` always means strictly below d")
    func starForm() throws {
        let list = try compileFile(Fixture.list("domains.txt"))
        #expect(self.blocks(list, "wildcard.example.") == nil)
        #expect(self.blocks(list, "a.wildcard.example.")?.hit.rule == "*.wildcard.example")
    }

    @Test("with subdomains false a bare domain blocks only itself")
    func exactOnly() throws {
        let list = try compileFile(Fixture.list("domains.txt")) { $0.subdomains = false }
        #expect(self.blocks(list, "evil.example.") != nil)
        #expect(self.blocks(list, "www.evil.example.") == nil)
        #expect(self.blocks(list, "a.wildcard.example.") != nil)
    }

    @Test("a hosts file blocks every name after the address and ignores localhost entries")
    func hosts() throws {
        let list = try compileFile(Fixture.list("hosts.txt"))
        #expect(list.format == .hosts)
        #expect(list.ruleCount == 5)
        #expect(list.stats.ignored["localhost"] == 5)
        #expect(list.stats.ignored["ip-address"] == 1)
        #expect(list.stats.badLines == 0)
        for n in ["malware.example.", "c2.example.", "c2-backup.example.", "tab.example.", "v6sink.example."] {
            #expect(self.blocks(list, n) != nil, "\(n)")
        }
        #expect(self.blocks(list, "ip6-localhost.") == nil)
    }

    @Test("the adblock subset: || rules, exceptions, and counted ignores for what DNS cannot apply")
    func adblock() throws {
        let list = try compileFile(Fixture.list("adblock.txt"), name: "ads")
        #expect(list.format == .adblock)
        #expect(list.ruleCount == 6)
        #expect(list.stats.ignored == ["modifier": 1, "url": 2, "cosmetic": 1, "ip-address": 1])
        #expect(self.blocks(list, "ads.example.")?.hit.rule == "||ads.example^")
        #expect(self.blocks(list, "x.ads.example.") != nil)
        #expect(self.blocks(list, "tracker.example.") != nil)
        #expect(self.blocks(list, "bare-host.example.")?.hit.rule == "||bare-host.example^")
        #expect(self.blocks(list, "doc.example.") != nil)
        #expect(self.blocks(list, "hosts-style.example.") != nil)
        // @@ cancels this list's own match…
        #expect(self.blocks(list, "safe.ads.example.") == nil)
        #expect(self.blocks(list, "a.safe.ads.example.") == nil)
        // …and the $third-party rule was ignored, leaving the parent rule.
        #expect(self.blocks(list, "ok.ads.example.")?.hit.rule == "||ads.example^")
    }

    @Test("an adblock exception in one list does not unblock what another list blocks")
    func exceptionScope() throws {
        let ads = try compileFile(Fixture.list("adblock.txt"), name: "ads")
        let other = try compile("safe.ads.example\n", name: "other", kind: .domains)
        let e = PolicyEngine(sources: [ads, other])
        #expect(e.evaluateQuery(name: name("safe.ads.example."), type: .a, client: ordinaryClient)?.hit.source == "other")
    }

    @Test("bad lines are skipped and reported with line and column; with reject the list is refused")
    func badLines() throws {
        let list = try compileFile(Fixture.list("bad-lines.txt"), name: "sloppy", kind: .domains)
        #expect(list.ruleCount == 7)
        #expect(list.stats.badLines == 3)
        #expect(list.stats.issues.map(\.line) == [2, 6, 9])
        #expect(list.stats.issues[2].column == 4)
        #expect(list.stats.issues[2].description.contains("bad-lines.txt:9:4"))
        #expect(list.stats.issues[2].message.contains("'$'"))
        let error = #expect(throws: PolicyLoadError.self) {
            try compileFile(Fixture.list("bad-lines.txt"), name: "strict", kind: .domains) { $0.badLines = .reject }
        }
        #expect(error?.code == .badLine)
        #expect(error?.issues.first?.line == 2)
        #expect(error?.message.contains("strict") == true)
    }

    @Test("an HTML error page served instead of a list is refused as implausible")
    func htmlPage() {
        let error = #expect(throws: PolicyLoadError.self) {
            try compile("<html>\n<head><title>502 Bad Gateway</title></head>\n<body>oops</body>\n</html>\n",
                kind: .domains)
        }
        #expect(error?.code == .notPlausible)
    }

    @Test("the format is detected from the content", arguments: [
        ("$TTL 300\n@ SOA a. b. 1 2 3 4 5\n", PolicySourceConfig.Kind.rpz),
        ("; zone\nx.example. CNAME .\n", .rpz),
        ("x.example. 300 IN CNAME .\n", .rpz),
        ("! adblock\n||x.example^\n", .adblock),
        ("[Adblock Plus 2.0]\n", .adblock),
        ("# hosts\n0.0.0.0 x.example\n", .hosts),
        ("# domains\n\nx.example\n", .domains),
        ("", .domains),
    ])
    func detection(text: String, kind: PolicySourceConfig.Kind) {
        let bytes = Array(text.utf8)
        #expect(bytes.withUnsafeBufferPointer { PolicySourceLoader.detectFormat($0) } == kind)
    }

    @Test("an allowlist's entries are allow rules, in any format")
    func allowRole() throws {
        let allow = try compileFile(Fixture.list("allow.txt"), name: "allow") { $0.role = .allow }
        let d = PolicyEngine(sources: [allow]).evaluateQuery(name: name("safe.example."), type: .a, client: ordinaryClient)
        #expect(d?.action == .allow)
        #expect(d?.hit.source == "allow")
    }

    @Test("reading a list in small chunks gives the same rules as reading it whole")
    func chunked() throws {
        let text = "# c\nalpha.example\n0.0.0.0 beta.example\n*.gamma.example\n"
        let config = PolicySourceConfig(name: "c", kind: .hosts, location: "c")
        for size in 1...8 {
            var session = PolicySourceLoader.Session(config: config, fileName: "c", expectedBytes: 0)
            let bytes = Array(text.utf8)
            var i = 0
            while i < bytes.count {
                let end = min(i + size, bytes.count)
                try bytes[i..<end].withUnsafeBufferPointer { try session.feed($0, isFinal: false) }
                i = end
            }
            let list = try session.finish()
            #expect(list.ruleCount == 3, "chunk size \(size)")
            #expect(self.blocks(list, "x.gamma.example.") != nil, "chunk size \(size)")
        }
    }

    @Test("mutated lists never crash the compiler, and every domain-list line is accounted for", arguments: [
        PolicySourceConfig.Kind.domains, .hosts, .adblock,
    ])
    func hostileLists(kind: PolicySourceConfig.Kind) throws {
        var state: UInt64 = 0x5DEE_CE66_D1CE_4E5B
        func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
        // The domains seed has no hosts-style lines, so there each line is exactly one rule, duplicate,
        // bad line or ignored entry.
        let seed = kind == .domains
            ? Array("# c\nevil.example\n*.w.example\nok.example # c\nx.example.\n".utf8)
            : Array("! c\n# c\nevil.example\n0.0.0.0 a.example b.example\n||ads.example^$all\n@@||ok.example^\n*.w.example\n"
                .utf8)
        let alphabet = Array("|^$@#!*. \t\n/:0123456789az-_".utf8) + [0, 0x80, 0xFF]
        for round in 0..<400 {
            var bytes = seed
            for _ in 0..<(1 + Int(next() % 10)) {
                let at = Int(next() % UInt64(bytes.count + 1))
                switch next() % 3 {
                case 0: bytes.insert(alphabet[Int(next() % UInt64(alphabet.count))], at: at)
                case 1: if at < bytes.count { bytes.remove(at: at) }
                default: if at < bytes.count { bytes[at] = UInt8(truncatingIfNeeded: next()) }
                }
            }
            let config = PolicySourceConfig(name: "fuzz", kind: kind, location: "fuzz")
            do {
                let list = try PolicySourceLoader.compile(config, bytes: bytes, fileName: "fuzz")
                let s = list.stats
                if kind == .domains {
                    #expect(s.entries == s.rules + s.duplicates + s.badLines + s.ignoredTotal, "round \(round)")
                } else {
                    #expect(s.entries <= s.rules + s.duplicates + s.badLines + s.ignoredTotal, "round \(round)")
                }
            } catch {
                #expect(error.code == .notPlausible, "round \(round): \(error)")
            }
        }
    }

    @Test("address entries are ignored by default and become response-IP rules with ipEntries response-ip")
    func addressEntries() throws {
        let text = "evil.example\n192.0.2.66\n2001:db8::66\n192.0.2.66\n0.0.0.0 sink.example\n"
        let ignored = try compile(text, name: "feed", kind: .domains)
        #expect(ignored.stats.ignored["ip-address"] == 3)
        #expect(ignored.ruleCount == 2)
        #expect(ignored.responseIPs.isEmpty)
        let read = try compile(text, name: "feed", kind: .domains) { $0.ipEntries = .responseIP }
        #expect(read.stats.ignored["ip-address"] == nil)
        // Two addresses, one of them twice; the hosts line's first column is a sink, not an entry.
        #expect(read.ruleCount == 4)
        #expect(read.stats.duplicates == 1)
        #expect(read.responseIPs.match(.v4(IPv4Address(192, 0, 2, 66)))?.prefixLength == 32)
        #expect(read.responseIPs.match(.v4(IPv4Address(192, 0, 2, 67))) == nil)
        #expect(read.responseIPs.match(.v4(IPv4Address(0, 0, 0, 0))) == nil)
        #expect(read.responseIPs.match(IPAddress("2001:db8::66")!)?.prefixLength == 128)
        // An allowlist never reads addresses as rules.
        let allow = try compile(text, name: "ok", kind: .domains) {
            $0.role = .allow
            $0.ipEntries = .responseIP
        }
        #expect(allow.responseIPs.isEmpty)
        #expect(allow.stats.ignored["ip-address"] == 3)
        // The adblock form.
        let adblockText = "||ads.example^\n||198.51.100.9^\n@@||198.51.100.10^\n"
        let adblock = try compile(adblockText, name: "ads", kind: .adblock) {
            $0.ipEntries = .responseIP
        }
        #expect(adblock.responseIPs.match(.v4(IPv4Address(198, 51, 100, 9))) != nil)
        #expect(adblock.responseIPs.match(.v4(IPv4Address(198, 51, 100, 10))) == nil)
        #expect(adblock.stats.ignored["ip-address"] == 1)
    }

    @Test("with ipEntries response-ip the URLhaus snapshot's addresses become rules")
    func urlhausAddresses() throws {
        let plain = try compileFile(Fixture.urlhaus, name: "urlhaus")
        let read = try compileFile(Fixture.urlhaus, name: "urlhaus") { $0.ipEntries = .responseIP }
        let addresses = plain.stats.ignored["ip-address"] ?? 0
        #expect(addresses > 2000)
        #expect(read.stats.ignored["ip-address"] == nil)
        #expect(read.ruleCount + read.stats.duplicates == plain.ruleCount + plain.stats.duplicates + addresses)
    }

    @Test("the bundled URLhaus snapshot loads as adblock with a realistic rule count and blocks its hosts")
    func urlhaus() throws {
        let list = try compileFile(Fixture.urlhaus, name: "urlhaus")
        #expect(list.format == .adblock)
        #expect(list.stats.badLines == 0, "\(list.stats.issues.prefix(3))")
        #expect(list.ruleCount > 500 && list.ruleCount < 2000, "\(list.ruleCount)")
        #expect((list.stats.ignored["url"] ?? 0) > 3000)
        #expect((list.stats.ignored["ip-address"] ?? 0) > 2000)
        for host in ["111101111.ru.", "4393eb8c.solaraweb-alj.pages.dev.", "7octubredc.duckdns.org.",
            "wegrowcoaching.com."]
        {
            let d = self.blocks(list, host)
            #expect(d?.hit.source == "urlhaus", "\(host)")
            #expect(d?.extendedErrorText.hasPrefix("palisade: blocked by urlhaus rule ") == true, "\(host)")
        }
        // A host that only appears with a path (a URL rule) is not blocked wholesale.
        #expect(self.blocks(list, "web.archive.org.") == nil)
        #expect(self.blocks(list, "example.org.") == nil)
    }
}
