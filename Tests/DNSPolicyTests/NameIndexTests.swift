import DNSPipeline
@testable import DNSPolicy
import DNSWire
import Testing

@Suite struct NameIndexTests {
    /// Adds `text` with code `code` in `slot`.
    private func add(_ index: inout NameIndex, _ text: String, _ slot: NameIndex.Slot, _ code: UInt8) {
        let n = name(text)
        guard let offset = index.entry(for: n) else {
            Issue.record("index full")
            return
        }
        index.setCode(code, at: offset, slot, labelCount: n.labelCount)
    }

    @Test("an exact rule matches only the name itself, case-insensitively")
    func exact() {
        var index = NameIndex()
        self.add(&index, "evil.example.", .exact, 1)
        #expect(index.match(name("evil.example.")) == NameIndex.Match(code: 1, slot: .exact, offset: 0))
        #expect(index.match(name("EVIL.Example.")) != nil)
        #expect(index.match(name("www.evil.example.")) == nil)
        #expect(index.match(name("example.")) == nil)
        #expect(index.match(name("evil.example.org.")) == nil)
    }

    @Test("a rule's text read from the arena is the name's presentation form, escapes included, after the prefix")
    func ruleText() throws {
        var index = NameIndex()
        // A dot and a backslash inside labels, a byte outside printable ASCII, and a plain name.
        let names = [
            try DomainName(wire: [5, 0x61, 0x2E, 0x62, 0x5C, 0x63, 7, 0x65, 0x78, 0x61, 0x6D, 0x70, 0x6C, 0x65, 0]),
            try DomainName(wire: [2, 0xC8, 0x20, 7, 0x65, 0x78, 0x61, 0x6D, 0x70, 0x6C, 0x65, 0]),
            name("evil.example."),
        ]
        for n in names {
            guard let offset = index.entry(for: n) else {
                Issue.record("index full")
                return
            }
            #expect(index.text(at: offset, prefix: "") == n.descriptionWithoutDot)
            #expect(index.text(at: offset, prefix: "*.") == "*." + n.descriptionWithoutDot)
        }
        #expect(names[0].descriptionWithoutDot == #"a\.b\\c.example"#)
        #expect(names[1].description == #"\200\032.example."#)
        #expect(DomainName.root.descriptionWithoutDot == "")
    }

    @Test("prefetching is advisory: no match changes, and names it cannot read are ignored")
    func prefetchIsAdvisory() {
        var index = NameIndex(expectedCount: 140_000)
        for i in 0..<140_000 {
            self.add(&index, "n\(i).feed\(i % 7).example.", i % 3 == 0 ? .below : .exact, UInt8(1 + i % 5))
        }
        #expect(index.outgrowsCache, "a 140,000-name index is larger than a core's cache")
        var probes: [DomainName] = []
        for i in stride(from: 0, to: 140_000, by: 97) {
            probes.append(name("n\(i).feed\(i % 7).example."))  // exact, or nothing when the rule is below
            probes.append(name("x.N\(i).FEED\(i % 7).example."))  // below, or nothing
            probes.append(name("n\(i).other.example."))  // nothing
        }
        let before = probes.map { index.match($0) }
        #expect(before.contains { $0?.slot == .exact } && before.contains { $0?.slot == .below } && before.contains(nil))
        let malformed: [[UInt8]] = [
            [], [0], [5, 0x61], [1, 0x61], [0, 0], [64] + [UInt8](repeating: 0x61, count: 64) + [0],
            [UInt8](repeating: 1, count: 300), [UInt8](repeating: 0x3F, count: 256),
        ]
        for step in [NameIndex.PrefetchStep.slots, .entries] {
            for p in probes { p.wire.withUnsafeBufferPointer { index.prefetch(wire: $0, step) } }
            for m in malformed { m.withUnsafeBufferPointer { index.prefetch(wire: $0, step) } }
        }
        #expect(probes.map { index.match($0) } == before)

        var small = NameIndex()
        self.add(&small, "evil.example.", .exact, 1)
        #expect(!small.outgrowsCache, "one name fits any cache: nothing to prefetch")
    }

    @Test("a below rule matches strictly below the name, never the name itself")
    func below() {
        var index = NameIndex()
        self.add(&index, "evil.example.", .below, 2)
        #expect(index.match(name("evil.example.")) == nil)
        #expect(index.match(name("a.evil.example."))?.code == 2)
        #expect(index.match(name("a.b.c.evil.example."))?.slot == .below)
        #expect(index.match(name("notevil.example.")) == nil)
    }

    @Test("an exact rule beats a wildcard, and a longer wildcard beats a shorter one")
    func precedence() {
        var index = NameIndex()
        self.add(&index, "example.", .below, 1)
        self.add(&index, "b.example.", .below, 2)
        self.add(&index, "x.b.example.", .exact, 3)
        #expect(index.match(name("a.example."))?.code == 1)
        #expect(index.match(name("y.b.example."))?.code == 2)
        #expect(index.match(name("z.y.b.example."))?.code == 2)
        #expect(index.match(name("x.b.example."))?.code == 3)
        #expect(index.match(name("w.x.b.example."))?.code == 2)
    }

    @Test("a wildcard at the root matches every name but the root")
    func rootWildcard() {
        var index = NameIndex()
        self.add(&index, ".", .below, 9)
        #expect(index.match(name("anything.example."))?.code == 9)
        #expect(index.match(.root) == nil)
    }

    @Test("the name of a match prints back")
    func nameAtOffset() {
        var index = NameIndex()
        self.add(&index, "One.Example.", .exact, 1)
        let m = index.match(name("one.example."))
        #expect(m.map { index.name(at: $0.offset).description } == "one.example.")
    }

    @Test("thousands of names survive growth and compaction and match like a reference set")
    func againstReference() {
        var index = NameIndex(expectedCount: 100)
        var exact: Set<String> = []
        var below: Set<String> = []
        var rng = SystemRandomNumberGenerator()
        for i in 0..<5000 {
            let text = "n\(i)-\(rng.next() % 1000).d\(i % 37).example."
            if i % 3 == 0 {
                below.insert(text)
                self.add(&index, text, .below, 2)
            } else {
                exact.insert(text)
                self.add(&index, text, .exact, 1)
            }
        }
        index.compact()
        #expect(index.count == exact.count + below.count)
        for text in exact { #expect(index.match(name(text))?.code == 1, "\(text)") }
        for text in below {
            #expect(index.match(name(text)) == nil, "\(text)")
            #expect(index.match(name("www." + text))?.code == 2, "\(text)")
        }
        for i in 0..<2000 { #expect(index.match(name("miss\(i).d\(i % 37).example.")) == nil) }
    }

    @Test("names keep a shared last label once: past the table's 255 labels, long labels and the bare label itself still match and print")
    func sharedLastLabels() {
        var index = NameIndex()
        // 300 short top-level labels (more than the table holds), a 7-byte one (too long for it), and the bare labels.
        var texts: [String] = []
        for t in 0..<300 { texts += ["host\(t).t\(t).", "t\(t)."] }
        texts += ["a.toolong.", "b.com.", "c.b.com.", "com."]
        for (i, text) in texts.enumerated() { self.add(&index, text, .exact, UInt8(1 + i % 200)) }
        #expect(index.count == texts.count)
        for (i, text) in texts.enumerated() {
            let m = index.match(name(text.uppercased()))
            #expect(m?.code == UInt8(1 + i % 200), "\(text)")
            #expect(m.map { index.name(at: $0.offset).description } == text, "\(text)")
            #expect(m.map { index.text(at: $0.offset, prefix: "*.") } == "*." + text.dropLast(), "\(text)")
        }
        // Same labels before a different last label, or the last label alone under another name: no match.
        #expect(index.match(name("host1.t2.")) == nil)
        #expect(index.match(name("host1.t1x.")) == nil)
        #expect(index.match(name("b.co.")) == nil)
        #expect(index.match(name("b.comx.")) == nil)
        #expect(index.match(name("a.toolonG.")) != nil)
    }

    @Test("a shared last label is not stored with each name")
    func sharedLastLabelSize() {
        var index = NameIndex()
        var inline = 0
        for i in 0..<1000 {
            let text = "name\(i).com."
            self.add(&index, text, .exact, 1)
            inline += name(text).wire.count - 1 + 3
        }
        // Each entry: [length][tail][labels before `com`][exact][below]; `\3com` (4 bytes) is kept once.
        #expect(index.layout.arenaUsed == inline - 1000 * 3)
    }

    @Test("adding a name twice finds the same entry")
    func dedup() {
        var index = NameIndex()
        let a = index.entry(for: name("a.example."))
        let b = index.entry(for: name("A.EXAMPLE."))
        #expect(a != nil && a == b)
        #expect(index.count == 1)
    }
}

@Suite struct CIDRIndexTests {
    private func v4(_ s: String) -> IPAddress { IPAddress(s) ?? .v4(IPv4Address(0)) }

    @Test("the longest matching prefix wins, in either family")
    func longestPrefix() {
        var b = CIDRIndex.Builder()
        _ = b.insert(self.v4("192.0.2.0"), prefixLength: 24, value: 1)
        _ = b.insert(self.v4("192.0.2.128"), prefixLength: 25, value: 2)
        _ = b.insert(self.v4("192.0.2.130"), prefixLength: 32, value: 3)
        _ = b.insert(self.v4("2001:db8::"), prefixLength: 32, value: 4)
        _ = b.insert(self.v4("2001:db8:1::"), prefixLength: 48, value: 5)
        let index = b.build()
        #expect(index.count == 5)
        #expect(index.match(self.v4("192.0.2.1"))?.value == 1)
        #expect(index.match(self.v4("192.0.2.200"))?.value == 2)
        #expect(index.match(self.v4("192.0.2.130"))?.value == 3)
        #expect(index.match(self.v4("192.0.3.1")) == nil)
        #expect(index.match(self.v4("2001:db8:2::1"))?.value == 4)
        #expect(index.match(self.v4("2001:db8:1::1"))?.value == 5)
        #expect(index.match(self.v4("2001:db9::1")) == nil)
    }

    @Test("host bits are cleared and an IPv4-mapped address matches as IPv4")
    func normalisation() {
        var b = CIDRIndex.Builder()
        _ = b.insert(self.v4("198.51.100.77"), prefixLength: 24, value: 7)
        #expect(b.insert(self.v4("198.51.100.1"), prefixLength: 24, value: 8) == 7)
        let index = b.build()
        #expect(index.match(self.v4("::ffff:198.51.100.9"))?.value == 7)
        #expect(index.match(self.v4("198.51.100.9"))?.network == self.v4("198.51.100.0"))
    }
}
