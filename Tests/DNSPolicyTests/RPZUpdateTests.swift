import DNSPipeline
@testable import DNSPolicy
import DNSWire
import Testing
import TestSupport

/// Incremental (IXFR) updates of a compiled RPZ source: every test compares the updated source with a full
/// compile of the zone text after the same change, on the names the change concerns and their neighbours.
@Suite struct RPZUpdateTests {
    static let origin = name("rpz.test.")

    /// The zone text at `serial` with `lines` (relative owners) after the SOA.
    static func zone(_ lines: [String], serial: UInt32 = 1) -> String {
        (["$ORIGIN rpz.test.", "$TTL 300", "@ SOA ns.rpz.test. hostmaster.rpz.test. \(serial) 3600 600 86400 300"] + lines)
            .joined(separator: "\n") + "\n"
    }

    /// Parses record lines relative to `rpz.test.`.
    static func records(_ lines: [String]) throws -> [ResourceRecord] {
        guard !lines.isEmpty else { return [] }
        return try ZoneFileReader.records(in: lines.joined(separator: "\n") + "\n",
            options: .init(origin: Self.origin, defaultTTL: 300))
    }

    /// What the source decides for each name: `action rule` or `-`.
    static func decisions(_ source: CompiledPolicySource, _ names: [String],
        client: IPAddress = ordinaryClient) -> [String]
    {
        let engine = PolicyEngine(sources: [source])
        return names.map { n in
            guard let d = engine.evaluateQuery(name: name(n), type: .a, client: client) else { return "\(n): -" }
            var text = "\(n): \(d.action.label) \(d.hit.rule)"
            if case .localData(let data) = d.action { text += " \(data.records.map { $0.rdata.presentation }.sorted())" }
            return text
        }
    }

    /// Applies `deleted`/`added` to a compile of `before`, and checks it decides like a compile of `after`.
    @discardableResult
    func check(before: [String], deleted: [String], added: [String], after: [String], probes: [String],
        sourceLocation: SourceLocation = #_sourceLocation) throws -> CompiledPolicySource
    {
        let base = try compile(Self.zone(before), kind: .rpz)
        let updated = try base.applying(RPZUpdate(deleted: try Self.records(deleted), added: try Self.records(added),
            fromSerial: 1, toSerial: 2))
        let full = try compile(Self.zone(after, serial: 2), kind: .rpz)
        #expect(Self.decisions(updated, probes) == Self.decisions(full, probes), sourceLocation: sourceLocation)
        #expect(updated.ruleCount == full.ruleCount, "rule count", sourceLocation: sourceLocation)
        #expect(updated.serial == 2, sourceLocation: sourceLocation)
        return updated
    }

    static let probes = [
        "a.example.", "x.a.example.", "b.example.", "x.b.example.", "y.x.b.example.", "c.example.", "x.c.example.",
        "A.EXAMPLE.", "d.example.", "e.example.", "example.",
    ]

    @Test("adding an exact and a wildcard rule")
    func add() throws {
        let s = try self.check(before: ["a.example CNAME ."], deleted: [], added: ["b.example CNAME .", "*.c.example CNAME rpz-drop."],
            after: ["a.example CNAME .", "b.example CNAME .", "*.c.example CNAME rpz-drop."], probes: Self.probes)
        #expect(!s.overlay.isEmpty)
        #expect(Self.decisions(s, ["x.c.example."]) == ["x.c.example.: drop *.c.example"])
    }

    @Test("removing an exact and a wildcard rule of the base")
    func remove() throws {
        try self.check(before: ["a.example CNAME .", "*.b.example CNAME .", "c.example CNAME *."],
            deleted: ["a.example CNAME .", "*.b.example CNAME ."], added: [], after: ["c.example CNAME *."],
            probes: Self.probes)
    }

    @Test("modifying an action and local data")
    func modify() throws {
        try self.check(before: ["a.example CNAME .", "b.example A 192.0.2.1", "b.example TXT \"x\""],
            deleted: ["a.example CNAME .", "b.example A 192.0.2.1"],
            added: ["a.example CNAME rpz-passthru.", "b.example A 192.0.2.2"],
            after: ["a.example CNAME rpz-passthru.", "b.example TXT \"x\"", "b.example A 192.0.2.2"], probes: Self.probes)
    }

    @Test("an exact rule added under a base wildcard wins, and survives the wildcard's removal")
    func wildcardPrecedence() throws {
        let first = try self.check(before: ["*.b.example CNAME ."], deleted: [], added: ["x.b.example CNAME rpz-passthru."],
            after: ["*.b.example CNAME .", "x.b.example CNAME rpz-passthru."], probes: Self.probes)
        let second = try first.applying(RPZUpdate(deleted: try Self.records(["*.b.example CNAME ."]), added: [],
            fromSerial: 2, toSerial: 3))
        let full = try compile(Self.zone(["x.b.example CNAME rpz-passthru."], serial: 3), kind: .rpz)
        #expect(Self.decisions(second, Self.probes) == Self.decisions(full, Self.probes))
        #expect(Self.decisions(second, ["y.b.example."]) == ["y.b.example.: -"])
    }

    @Test("a wildcard added above a base wildcard does not hide the nearer one")
    func nestedWildcards() throws {
        try self.check(before: ["*.x.b.example CNAME rpz-drop."], deleted: [], added: ["*.b.example CNAME ."],
            after: ["*.x.b.example CNAME rpz-drop.", "*.b.example CNAME ."], probes: Self.probes + ["z.y.x.b.example."])
    }

    @Test("deleting then adding the same owner in one update replaces its rule")
    func deleteThenAdd() throws {
        try self.check(before: ["a.example CNAME .", "b.example A 192.0.2.1"],
            deleted: ["a.example CNAME .", "b.example A 192.0.2.1"], added: ["a.example CNAME .", "b.example CNAME *."],
            after: ["a.example CNAME .", "b.example CNAME *."], probes: Self.probes)
    }

    @Test("an owner removed and added again over two updates answers as the latest text")
    func removeAndReAdd() throws {
        let base = try compile(Self.zone(["a.example CNAME ."]), kind: .rpz)
        let gone = try base.applying(RPZUpdate(deleted: try Self.records(["a.example CNAME ."]), added: [], fromSerial: 1, toSerial: 2))
        #expect(Self.decisions(gone, ["a.example."]) == ["a.example.: -"])
        #expect(gone.ruleCount == 0)
        let back = try gone.applying(RPZUpdate(deleted: [], added: try Self.records(["a.example A 192.0.2.9"]), fromSerial: 2,
            toSerial: 3))
        #expect(Self.decisions(back, ["a.example."]) == ["a.example.: local-data a.example [\"192.0.2.9\"]"])
        #expect(back.ruleCount == 1)
        #expect(back.serial == 3)
        // The earlier snapshots are unchanged: engines holding them keep answering as before.
        #expect(Self.decisions(base, ["a.example."]) == ["a.example.: nxdomain a.example"])
        #expect(Self.decisions(gone, ["a.example."]) == ["a.example.: -"])
    }

    @Test("IP and NSDNAME triggers are updated too")
    func ipAndNSDName() throws {
        let before = ["32.1.2.0.192.rpz-client-ip CNAME .", "24.0.113.0.203.rpz-ip CNAME ."]
        let base = try compile(Self.zone(before), kind: .rpz)
        let updated = try base.applying(RPZUpdate(deleted: try Self.records(["32.1.2.0.192.rpz-client-ip CNAME ."]),
            added: try Self.records(["32.2.2.0.192.rpz-client-ip CNAME rpz-drop.", "ns.evil.example.rpz-nsdname CNAME ."]),
            fromSerial: 1, toSerial: 2))
        let one = IPAddress.v4(IPv4Address(192, 0, 2, 1))
        let two = IPAddress.v4(IPv4Address(192, 0, 2, 2))
        #expect(Self.decisions(updated, ["a.example."], client: one) == ["a.example.: -"])
        #expect(Self.decisions(updated, ["a.example."], client: two) == ["a.example.: drop 32.2.2.0.192.rpz-client-ip"])
        #expect(updated.responseIPs.count == 1)
        #expect(updated.matchNSDName(name("NS.evil.example.")).map { updated.ruleText($0.kind, $0.match, nsdname: true) }
            == "ns.evil.example")
        #expect(updated.ruleCount == 3)
    }

    @Test("an update starting at another serial is refused")
    func serialMismatch() throws {
        let base = try compile(Self.zone(["a.example CNAME ."]), kind: .rpz)
        #expect(base.serial == 1)
        #expect(throws: PolicyLoadError.self) {
            try base.applying(RPZUpdate(deleted: [], added: try Self.records(["b.example CNAME ."]), fromSerial: 5, toSerial: 6))
        }
        let chained = try base.applying(RPZUpdate(deleted: [], added: try Self.records(["b.example CNAME ."]), fromSerial: 1,
            toSerial: 2))
        let again = try chained.applying(RPZUpdate(deleted: [], added: try Self.records(["c.example CNAME ."]), fromSerial: 2,
            toSerial: 3))
        #expect(again.serial == 3)
        #expect(Self.decisions(again, ["a.example.", "b.example.", "c.example."]).allSatisfy { $0.contains("nxdomain") })
    }

    @Test("an update that deletes what the copy lacks, or conflicts, is refused and changes nothing", arguments: [
        (["b.example CNAME ."], [String]()),  // not held
        (["a.example CNAME rpz-drop."], []),  // held with another action
        ([], ["a.example CNAME rpz-drop."]),  // a second action for the same trigger
        ([], ["a.example A 192.0.2.1"]),  // local data next to an action
        ([], ["c.example CNAME garden.example.", "c.example A 192.0.2.1"]),  // local data next to a CNAME
        ([], ["1.2.3.rpz-ip CNAME ."]),  // a malformed IP trigger
    ])
    func refused(deleted: [String], added: [String]) throws {
        let base = try compile(Self.zone(["a.example CNAME ."]), kind: .rpz)
        let error = #expect(throws: PolicyLoadError.self) {
            try base.applying(RPZUpdate(deleted: try Self.records(deleted), added: try Self.records(added), fromSerial: 1,
                toSerial: 2))
        }
        #expect(error?.code == .notApplicable)
        #expect(Self.decisions(base, ["a.example.", "b.example.", "c.example."])
            == ["a.example.: nxdomain a.example", "b.example.: -", "c.example.: -"])
    }

    @Test("SOA and DNSSEC records in an update are ignored; a list source is refused")
    func ignoredRecords() throws {
        let base = try compile(Self.zone(["a.example CNAME ."]), kind: .rpz)
        let soa = try Self.records(["@ SOA ns.rpz.test. hostmaster.rpz.test. 2 3600 600 86400 300"])
        let updated = try base.applying(RPZUpdate(deleted: [], added: soa, fromSerial: 1, toSerial: 2))
        #expect(updated.overlay.isEmpty)
        #expect(updated.serial == 2)
        let list = try compile("evil.example\n", kind: .domains)
        #expect(throws: PolicyLoadError.self) { try list.applying(RPZUpdate(deleted: [], added: [], fromSerial: nil, toSerial: nil)) }
    }

    @Test("random updates over many rounds decide like a full compile of the same text")
    func randomised() throws {
        var rng = SplitMix64(seed: 0x5EED)
        let owners = (0..<40).map { "n\($0).example" } + (0..<10).map { "*.w\($0).example" } + ["*.n1.example", "*.n2.example"]
        let actions = ["CNAME .", "CNAME *.", "CNAME rpz-drop.", "CNAME rpz-passthru.", "A 192.0.2.1", "TXT \"t\"",
            "CNAME garden.example."]
        var current: [String: String] = [:]
        for o in owners where rng.next() % 2 == 0 { current[o] = actions[Int(rng.next() % UInt64(actions.count))] }
        func lines(_ m: [String: String]) -> [String] { m.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" } }
        var source = try compile(Self.zone(lines(current)), kind: .rpz)
        let probes = (0..<40).flatMap { ["n\($0).example.", "x.n\($0).example."] } + (0..<10).flatMap { ["w\($0).example.", "a.b.w\($0).example."] }
        for round in 0..<60 {
            var deleted: [String] = []
            var added: [String] = []
            var next = current
            for _ in 0..<(1 + Int(rng.next() % 6)) {
                let o = owners[Int(rng.next() % UInt64(owners.count))]
                if let had = next[o] {
                    // Avoid deleting what this round added: the IXFR would carry neither.
                    guard !added.contains("\(o) \(had)") else { continue }
                    deleted.append("\(o) \(had)")
                    next[o] = nil
                    if rng.next() % 2 == 0 {
                        let a = actions[Int(rng.next() % UInt64(actions.count))]
                        added.append("\(o) \(a)")
                        next[o] = a
                    }
                } else {
                    let a = actions[Int(rng.next() % UInt64(actions.count))]
                    added.append("\(o) \(a)")
                    next[o] = a
                }
            }
            let serial = UInt32(round + 1)
            source = try source.applying(RPZUpdate(deleted: try Self.records(deleted), added: try Self.records(added),
                fromSerial: serial, toSerial: serial + 1))
            current = next
            let full = try compile(Self.zone(lines(current), serial: serial + 1), kind: .rpz)
            #expect(Self.decisions(source, probes) == Self.decisions(full, probes), "round \(round)")
            #expect(source.ruleCount == full.ruleCount, "round \(round)")
        }
        #expect(!source.needsMerge, "a few hundred changes stay well under the merge threshold")
    }
}
