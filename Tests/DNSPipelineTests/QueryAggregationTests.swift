import DNSPipeline
import DNSWire
import Glibc
import Synchronization
import TestSupport
import Testing

/// Folding identical queries into one event per aggregation window (QueryEventBuffer).
@Suite struct QueryAggregationTests {
    private static let second: Int64 = 1_000_000

    private func raw(_ name: String, from address: String = "10.0.0.5", at micros: Int64, latencyMicros: Int64 = 100,
        blockedBy rule: String? = nil, workload: Workload? = nil, findings: [Finding] = []) throws -> RawQueryEvent
    {
        let q = Query(message: try TestMessages.query(name),
            client: ClientInfo(address: try #require(IPAddress(address)), transport: .udp))
        let r: Resolution
        if let rule {
            r = Resolution.rcode(.nxDomain, for: q,
                source: .policy(PolicyHit(source: "urlhaus", rule: rule, action: "nxdomain", trigger: "qname")))
        } else {
            r = Resolution.rcode(.noError, for: q, source: .cache)
        }
        var withFindings = r
        withFindings.findings = findings
        return RawQueryEvent(timestampMicros: micros, query: q, workload: workload, resolution: withFindings,
            latency: .microseconds(latencyMicros))
    }

    @Test("Identical queries within the window become one event with their count, first time and slowest latency")
    func foldsRepeats() throws {
        let sink = CollectingSink()
        let buffer = QueryEventBuffer(sinks: [sink], aggregationWindow: .seconds(2))
        let t0: Int64 = 1_700_000_000 * Self.second
        for i in 0..<50 { buffer.record(try self.raw("www.example.org.", at: t0 + Int64(i) * 1_000, latencyMicros: 100 + Int64(i))) }
        // Case differences are the same question.
        buffer.record(try self.raw("WWW.Example.ORG.", at: t0 + 60_000))
        buffer.record(try self.raw("other.example.org.", at: t0 + 70_000))
        buffer.record(try self.raw("www.example.org.", from: "10.0.0.6", at: t0 + 80_000))
        #expect(buffer.drain(nowMicros: t0 + Self.second) == 0, "nothing is due before the window closes")
        #expect(buffer.openGroups == 3)
        #expect(buffer.drain(nowMicros: t0 + 2 * Self.second + 100_000) == 3)
        let events = sink.events.withLock { $0 }
        let www = try #require(events.first { $0.qname == "www.example.org." && $0.clientIP == "10.0.0.5" })
        #expect(www.count == 51)
        #expect(www.timestampMicros == t0)
        #expect(www.latencyMicros == 149)
        #expect(events.first { $0.qname == "other.example.org." }?.count == 1)
        #expect(events.first { $0.clientIP == "10.0.0.6" }?.count == 1)
        #expect(events.reduce(0) { $0 + $1.count } == 53, "every query is accounted for")
        #expect(buffer.openGroups == 0)
    }

    @Test("The first block of a group is handed over at once; its repeats follow when the window closes")
    func firstBlockIsImmediate() throws {
        let sink = CollectingSink()
        let buffer = QueryEventBuffer(sinks: [sink], aggregationWindow: .seconds(5))
        let t0: Int64 = 1_700_000_000 * Self.second
        buffer.record(try self.raw("evil.example.", at: t0, blockedBy: "evil.example"))
        #expect(buffer.drain(nowMicros: t0 + 1) == 1)
        let first = try #require(sink.events.withLock { $0.first })
        #expect(first.count == 1 && first.blocked && first.policy?.rule == "evil.example")
        for i in 1...999 { buffer.record(try self.raw("evil.example.", at: t0 + Int64(i), blockedBy: "evil.example")) }
        #expect(buffer.drain(nowMicros: t0 + Self.second) == 0)
        #expect(buffer.drain(nowMicros: t0 + 6 * Self.second) == 1)
        let events = sink.events.withLock { $0 }
        #expect(events.count == 2)
        #expect(events.last?.count == 999)
        #expect(events.reduce(0) { $0 + $1.count } == 1_000)
    }

    @Test("A client's first block comes after the queries it asked before it, so incidents read in order")
    func blockKeepsOrder() throws {
        let sink = CollectingSink()
        let buffer = QueryEventBuffer(sinks: [sink], aggregationWindow: .seconds(5))
        let t0: Int64 = 1_700_000_000 * Self.second
        buffer.record(try self.raw("www.example.org.", at: t0))
        buffer.record(try self.raw("www.example.org.", at: t0 + 1))
        buffer.record(try self.raw("other.example.", from: "10.0.0.9", at: t0 + 2))
        buffer.record(try self.raw("mail.example.org.", at: t0 + 3))
        buffer.record(try self.raw("evil.example.", at: t0 + 4, blockedBy: "evil.example"))
        #expect(buffer.drain(nowMicros: t0 + 10) == 3)
        let events = sink.events.withLock { $0 }
        #expect(events.map(\.qname) == ["www.example.org.", "mail.example.org.", "evil.example."])
        #expect(events.first?.count == 2)
        #expect(buffer.openGroups == 2, "the other client's group and the block's repeats stay open")
        #expect(buffer.drain(nowMicros: t0 + 6 * Self.second) == 1)
        #expect(sink.events.withLock { $0.reduce(0) { $0 + $1.count } } == 5)
    }

    @Test("A block storm on exact rules costs a row per name per window; only its first block is immediate")
    func blockStorm() throws {
        let sink = CollectingSink()
        let buffer = QueryEventBuffer(sinks: [sink], aggregationWindow: .seconds(2))
        let t0: Int64 = 1_700_000_000 * Self.second
        for round in 0..<10 {
            for i in 0..<100 {
                buffer.record(try self.raw("x\(i).dga.example.", at: t0 + Int64(round * 100 + i), blockedBy: "x\(i).dga.example"))
            }
        }
        #expect(buffer.drain(nowMicros: t0 + 1_000) == 1, "only the first block is handed over at once")
        #expect(buffer.drain(nowMicros: t0 + 3 * Self.second) == 100)
        let events = sink.events.withLock { $0 }
        #expect(events.count == 101)
        #expect(events.reduce(0) { $0 + $1.count } == 1_000)
        // A new window: the client's next block is immediate again.
        buffer.record(try self.raw("y.dga.example.", at: t0 + 4 * Self.second, blockedBy: "*.dga.example"))
        #expect(buffer.drain(nowMicros: t0 + 4 * Self.second + 1) == 1)
    }

    @Test("Past the storm threshold a client's new blocked names fold into one storm row; earlier names keep theirs")
    func stormFoldsPastTheThreshold() throws {
        let sink = CollectingSink()
        let buffer = QueryEventBuffer(sinks: [sink], aggregationWindow: .seconds(2), stormThreshold: 5)
        let t0: Int64 = 1_700_000_000 * Self.second
        var t = t0
        func at() -> Int64 { t += 1; return t }
        for _ in 0..<2 {
            for i in 0..<20 { buffer.record(try self.raw("x\(i).dga.example.", at: at(), blockedBy: "x\(i).dga.example")) }
        }
        // Another client under the threshold is not affected.
        for i in 0..<3 {
            buffer.record(try self.raw("y\(i).example.", from: "10.0.0.6", at: at(), blockedBy: "y\(i).example"))
        }
        #expect(buffer.drain(nowMicros: t + 1) == 2, "each client's first block is handed over at once")
        #expect(buffer.drain(nowMicros: t0 + 3 * Self.second) == 8)
        let events = sink.events.withLock { $0 }
        #expect(events.reduce(0) { $0 + $1.count } == 43, "every query is accounted for")
        let mine = events.filter { $0.clientIP == "10.0.0.5" }
        // x0 immediate, then x0's repeat, x1–x4 (asked twice each), and the storm.
        #expect(mine.map(\.qname) == ["x0.dga.example.", "x0.dga.example."] + (1...4).map { "x\($0).dga.example." }
            + ["x5.dga.example."])
        #expect(mine.dropLast().allSatisfy { $0.findings.isEmpty && $0.otherNames.isEmpty })
        let storm = try #require(mine.last)
        #expect(storm.count == 30 && storm.blocked && storm.policy?.rule == "x5.dga.example")
        #expect(storm.otherNames == (6..<20).map { "x\($0).dga.example." })
        #expect(storm.findings.map(\.detector) == [QueryEventBuffer.stormDetector])
        #expect(events.filter { $0.clientIP == "10.0.0.6" }.map(\.count) == [1, 1, 1])
        #expect(events.filter { $0.clientIP == "10.0.0.6" }.allSatisfy { $0.findings.isEmpty })
        // The next window starts the count again: the client's next new names have their own rows.
        let t1 = t0 + 4 * Self.second
        for i in 0..<3 { buffer.record(try self.raw("z\(i).dga.example.", at: t1 + Int64(i), blockedBy: "z\(i).dga.example")) }
        #expect(buffer.drain(nowMicros: t1 + 3 * Self.second) == 3)
        #expect(sink.events.withLock { $0 }.suffix(3).allSatisfy { $0.findings.isEmpty && $0.count == 1 })
    }

    @Test("Storm rows stay apart by feed and action, and by question type", arguments: [0, 3])
    func stormRowsByKindOfBlock(threshold: Int) throws {
        let sink = CollectingSink()
        let buffer = QueryEventBuffer(sinks: [sink], aggregationWindow: .seconds(2), stormThreshold: threshold)
        let t0: Int64 = 1_700_000_000 * Self.second
        let hits = [PolicyHit(source: "urlhaus", rule: "", action: "nxdomain", trigger: "qname"),
            PolicyHit(source: "threatfox", rule: "", action: "nxdomain", trigger: "qname"),
            PolicyHit(source: "urlhaus", rule: "", action: "nodata", trigger: "qname")]
        var t = t0
        for i in 0..<10 {
            for (k, hit) in hits.enumerated() {
                for type in [RecordType.a, .aaaa] {
                    t += 1
                    let q = Query(message: try TestMessages.query("n\(i)-\(k).example.", type),
                        client: ClientInfo(address: try #require(IPAddress("10.0.0.5")), transport: .udp))
                    var h = hit
                    h.rule = "n\(i)-\(k).example"
                    buffer.record(RawQueryEvent(timestampMicros: t, query: q, workload: nil,
                        resolution: Resolution.rcode(.nxDomain, for: q, source: .policy(h)), latency: .microseconds(5)))
                }
            }
        }
        buffer.drain(nowMicros: t0 + 3 * Self.second)
        let events = sink.events.withLock { $0 }
        #expect(events.reduce(0) { $0 + $1.count } == 60)
        let storms = events.filter { !$0.findings.isEmpty }
        if threshold == 0 {
            #expect(storms.isEmpty && events.count == 60, "no limit: a row per name and type (the first one immediate)")
        } else {
            // The first 3 questions have their own rows (the first immediate), then one storm per feed, action and
            // type: 6.
            #expect(events.count - storms.count == 3)
            #expect(storms.count == 6)
            #expect(Set(storms.map { "\($0.policy!.source)/\($0.policy!.action)/\($0.qtype)" }).count == 6)
            // The kind changes on every query here, so the buffer's memo of recent storm keys must tell them apart:
            // each storm counts its own queries only (10 per kind, less those with rows of their own).
            let counts = Dictionary(storms.map { ("\($0.policy!.source)/\($0.policy!.action)/\($0.qtype)", $0.count) },
                uniquingKeysWith: +)
            #expect(counts == ["urlhaus/nxdomain/A": 9, "urlhaus/nxdomain/AAAA": 9, "threatfox/nxdomain/A": 9,
                "threatfox/nxdomain/AAAA": 10, "urlhaus/nodata/A": 10, "urlhaus/nodata/AAAA": 10])
        }
    }

    @Test("One client's storm over UDP and over TCP are two storm rows, whichever came last")
    func stormRowsByTransport() throws {
        let sink = CollectingSink()
        let buffer = QueryEventBuffer(sinks: [sink], aggregationWindow: .seconds(2), stormThreshold: 2)
        let t0: Int64 = 1_700_000_000 * Self.second
        let hit = PolicyHit(source: "urlhaus", rule: "", action: "nxdomain", trigger: "qname")
        let transports: [Transport] = [.udp, .udp, .udp, .udp, .tcp, .tcp, .udp, .tcp, .tcp, .udp]
        for (i, transport) in transports.enumerated() {
            let q = Query(message: try TestMessages.query("t\(i).example."),
                client: ClientInfo(address: try #require(IPAddress("10.0.0.7")), transport: transport))
            var h = hit
            h.rule = "t\(i).example"
            buffer.record(RawQueryEvent(timestampMicros: t0 + Int64(i), query: q, workload: nil,
                resolution: Resolution.rcode(.nxDomain, for: q, source: .policy(h)), latency: .microseconds(5)))
        }
        buffer.drain(nowMicros: t0 + 3 * Self.second)
        let storms = sink.events.withLock { $0 }.filter { !$0.findings.isEmpty }
        // The first two names have rows of their own; then UDP t2, t3, t6, t9 and TCP t4, t5, t7, t8.
        #expect(Dictionary(storms.map { ($0.transport, $0.count) }, uniquingKeysWith: +) == ["udp": 4, "tcp": 4])
        #expect(storms.count == 2)
    }

    @Test("Blocks by a rule covering a subtree fold by the rule: one row per window keeps the first other names",
        arguments: ["*.dga.example", "||dga.example^"])
    func wildcardBlocksFoldByRule(rule: String) throws {
        let sink = CollectingSink()
        let buffer = QueryEventBuffer(sinks: [sink], aggregationWindow: .seconds(2))
        let t0: Int64 = 1_700_000_000 * Self.second
        for i in 0..<1_000 {
            // Every name is new, as a DGA's or a tunnel's are; every tenth one repeats an earlier name.
            let n = i % 10 == 9 ? i - 5 : i
            buffer.record(try self.raw("x\(n).dga.example.", at: t0 + Int64(i), blockedBy: rule))
        }
        buffer.record(try self.raw("x1.dga.example.", from: "10.0.0.7", at: t0 + 2_000, blockedBy: rule))
        #expect(buffer.drain(nowMicros: t0 + 2_001) == 2, "each client's first block is handed over at once")
        #expect(buffer.drain(nowMicros: t0 + 3 * Self.second) == 1, "the rest of the storm is one row")
        let events = sink.events.withLock { $0 }
        #expect(events.count == 3)
        #expect(events.reduce(0) { $0 + $1.count } == 1_001, "every query is accounted for")
        let storm = try #require(events.last)
        #expect(storm.count == 999 && storm.clientIP == "10.0.0.5" && storm.policy?.rule == rule)
        #expect(storm.qname == "x1.dga.example.", "the row is named after its first query")
        // x9 is never asked: the tenth query repeats x4.
        #expect(storm.otherNames == (2..<19).filter { $0 != 9 }.map { "x\($0).dga.example." }, "at most 16, no repeats")
        #expect(events[0].otherNames.isEmpty && events[0].qname == "x0.dga.example.")
    }

    @Test("Blocks by exact rules, by quarantine and unblocked answers are never folded across names")
    func onlySubtreeBlocksFoldByRule() throws {
        let sink = CollectingSink()
        let buffer = QueryEventBuffer(sinks: [sink], aggregationWindow: .seconds(2))
        let t0: Int64 = 1_700_000_000 * Self.second
        let quarantine = PolicyHit(source: "quarantine", rule: "container:abc", action: "refused", trigger: "workload")
        let watch = PolicyHit(source: "urlhaus", rule: "*.dga.example", action: "log", trigger: "qname")
        for i in 0..<5 {
            let q = Query(message: try TestMessages.query("q\(i).example."),
                client: ClientInfo(address: try #require(IPAddress("10.0.0.8")), transport: .udp))
            for hit in [quarantine, watch] {
                buffer.record(RawQueryEvent(timestampMicros: t0 + Int64(i), query: q, workload: nil,
                    resolution: Resolution.rcode(.refused, for: q, source: .policy(hit)), latency: .microseconds(5)))
            }
            buffer.record(try self.raw("w\(i).example.", at: t0 + Int64(i)))
        }
        buffer.drain(nowMicros: t0 + 3 * Self.second)
        let events = sink.events.withLock { $0 }
        #expect(events.count == 15, "a row per name for the quarantine, the watch-only rule and the cache answers")
        #expect(events.allSatisfy { $0.otherNames.isEmpty && $0.count == 1 })
    }

    /// A sink that takes `limit` events, then refuses, and says how much room it has (when `reportsRoom`).
    final class LimitedSink: QueryEventSink {
        let state = Mutex((limit: 0, calls: 0, names: [String]()))
        let reportsRoom: Bool
        init(limit: Int, reportsRoom: Bool) {
            self.state.withLock { $0.limit = limit }
            self.reportsRoom = reportsRoom
        }
        func emit(_ event: QueryEvent) -> Bool {
            self.state.withLock { s in
                s.calls += 1
                guard s.names.count < s.limit else { return false }
                s.names.append(event.qname)
                return true
            }
        }
        var spareCapacity: Int { self.reportsRoom ? self.state.withLock { $0.limit - $0.names.count } : .max }
        func raise(by n: Int) { self.state.withLock { $0.limit += n } }
        func makeFull() { self.state.withLock { $0.limit = $0.names.count } }
    }

    /// Client 10.0.0.5 asks three names, then is blocked (those four rows are due at once); client 10.0.0.7 asks five
    /// names that stay open until the window closes: nine rows.
    private func nineRows(_ buffer: QueryEventBuffer, at t0: Int64) throws {
        for name in ["a.example.", "b.example.", "c.example."] { buffer.record(try self.raw(name, at: t0)) }
        buffer.record(try self.raw("evil.example.", at: t0 + 1, blockedBy: "evil.example"))
        for i in 0..<5 { buffer.record(try self.raw("n\(i).example.", from: "10.0.0.7", at: t0 + 2)) }
    }

    private static let nineNames = ["a.example.", "b.example.", "c.example.", "evil.example."]
        + (0..<5).map { "n\($0).example." }

    @Test("A row every sink refuses is offered again at the next drain, after nothing else: no row is lost",
        arguments: [0, 2, 5, 12])
    func refusedRowsAreKept(limit: Int) throws {
        let t0: Int64 = 1_700_000_000 * Self.second
        let sink = LimitedSink(limit: limit, reportsRoom: false)
        let buffer = QueryEventBuffer(sinks: [sink], aggregationWindow: .seconds(5))
        try self.nineRows(buffer, at: t0)
        #expect(buffer.drain(nowMicros: t0 + 6 * Self.second) == min(limit, 9))
        #expect(sink.state.withLock { $0.calls } == min(limit + 1, 9), "no row is built after the first refusal")
        // The drain took the 4 due rows and the closed generation's 9 groups together (client 10.0.0.5's three closed
        // ones and its block's, which count nothing, come first): what waits is the due rows not handed over plus all 9
        // groups, or, once the due rows are through, the groups from the refused one on.
        #expect(buffer.heldBack == (limit < 4 ? 13 - limit : max(0, 9 - limit)), "held back, not dropped")
        sink.raise(by: 100)
        buffer.record(try self.raw("later.example.", at: t0 + 7 * Self.second))
        _ = buffer.drain(nowMicros: t0 + 7 * Self.second)
        buffer.drain(nowMicros: t0 + 20 * Self.second, final: true)
        #expect(sink.state.withLock { $0.names } == Self.nineNames + ["later.example."], "in order, none lost")
        #expect(buffer.heldBack == 0)
    }

    @Test("A drain hands over no more rows than the sinks have room for, and takes nothing new while rows wait")
    func drainsWithinTheSinksRoom() throws {
        let t0: Int64 = 1_700_000_000 * Self.second
        let sink = LimitedSink(limit: 3, reportsRoom: true)
        let buffer = QueryEventBuffer(sinks: [sink, CollectingSink()], aggregationWindow: .seconds(5))
        try self.nineRows(buffer, at: t0)
        #expect(buffer.drain(nowMicros: t0 + 6 * Self.second) == 3)
        #expect(sink.state.withLock { $0.calls } == 3, "nothing was offered beyond the room")
        // A new block from another client while rows wait: it is queued behind them.
        buffer.record(try self.raw("evil.example.", from: "10.0.0.9", at: t0 + 6 * Self.second, blockedBy: "evil.example"))
        #expect(buffer.drain(nowMicros: t0 + 6 * Self.second + 1) == 0, "no room yet")
        var handed = 3
        for _ in 0..<5 {
            sink.raise(by: 3)
            handed += buffer.drain(nowMicros: t0 + 6 * Self.second + 2)
        }
        #expect(handed == 10)
        #expect(sink.state.withLock { $0.names } == Self.nineNames + ["evil.example."])
        #expect(buffer.heldBack == 0)
        // Past the hold-back time a full sink no longer holds the rows: they go to the other sinks.
        sink.makeFull()
        for i in 0..<4 { buffer.record(try self.raw("late\(i).example.", from: "10.0.0.8", at: t0 + 7 * Self.second)) }
        let window = t0 + 13 * Self.second
        #expect(buffer.drain(nowMicros: window) == 0, "the sink is full")
        // An upper bound: the generation's groups, with 10.0.0.9's block group that counts nothing.
        #expect(buffer.heldBack == 5)
        #expect(buffer.drain(nowMicros: window + 3 * Self.second) == 4)
        #expect(sink.state.withLock { $0.names.count } == 10, "the full sink took none of them")
        #expect(buffer.heldBack == 0)
    }

    @Test("While rows wait for room, the open generation stops at maxGroups: new rows are dropped, repeats still count")
    func holdingCapsTheGeneration() throws {
        let t0: Int64 = 1_700_000_000 * Self.second
        let sink = LimitedSink(limit: 0, reportsRoom: true)
        let buffer = QueryEventBuffer(sinks: [sink], capacity: 100, aggregationWindow: .seconds(5), maxGroups: 4)
        for i in 0..<3 { buffer.record(try self.raw("a\(i).example.", at: t0)) }
        #expect(buffer.drain(nowMicros: t0 + 6 * Self.second) == 0)
        #expect(buffer.heldBack == 3)
        var accepted = 0
        for i in 0..<10 where buffer.record(try self.raw("b\(i).example.", at: t0 + 6 * Self.second)) { accepted += 1 }
        #expect(accepted == 4 && buffer.openGroups == 4, "capped at maxGroups, not maxGroups + capacity")
        #expect(buffer.record(try self.raw("b0.example.", at: t0 + 6 * Self.second)), "a repeat is never dropped")
        // Room again: the held rows, then the capped generation, all handed over; no cap once nothing waits.
        sink.raise(by: 100)
        #expect(buffer.drain(nowMicros: t0 + 6 * Self.second + 1) == 3)
        #expect(buffer.drain(nowMicros: t0 + 12 * Self.second) == 4)
        for i in 0..<10 { #expect(buffer.record(try self.raw("c\(i).example.", at: t0 + 12 * Self.second))) }
    }

    @Test("At shutdown everything is handed over, open groups included; what no sink has room for by then is dropped")
    func drainAllAtShutdown() throws {
        let now = QueryEventBuffer.wallMicros()
        let roomy = LimitedSink(limit: 100, reportsRoom: true)
        let buffer = QueryEventBuffer(sinks: [roomy], aggregationWindow: .seconds(60))
        try self.nineRows(buffer, at: now)
        buffer.drainAll(patience: .milliseconds(200))
        #expect(roomy.state.withLock { $0.names } == Self.nineNames, "the open window too, in order")
        #expect(buffer.heldBack == 0 && buffer.openGroups == 0)

        let full = LimitedSink(limit: 2, reportsRoom: true)
        let stuck = QueryEventBuffer(sinks: [full], aggregationWindow: .seconds(60))
        try self.nineRows(stuck, at: now)
        let began = ContinuousClock.now
        stuck.drainAll(patience: .milliseconds(50))
        #expect(ContinuousClock.now - began < .seconds(2), "gives up after its patience, not the hold-back time")
        #expect(full.state.withLock { $0.names } == Array(Self.nineNames.prefix(2)))
        #expect(stuck.heldBack == 0, "the rest is dropped and counted, not kept")
    }

    @Test("The same rule text from two sources, or with another action, stays a separate row")
    func policyHitsDifferingOutsideTheRuleStaySeparate() throws {
        let sink = CollectingSink()
        let buffer = QueryEventBuffer(sinks: [sink], aggregationWindow: .seconds(5))
        let t0: Int64 = 1_700_000_000 * Self.second
        let hits = [
            PolicyHit(source: "urlhaus", rule: "evil.example", action: "nxdomain", trigger: "qname"),
            PolicyHit(source: "threatfox", rule: "evil.example", action: "nxdomain", trigger: "qname"),
            PolicyHit(source: "urlhaus", rule: "evil.example", action: "nodata", trigger: "qname"),
            PolicyHit(source: "urlhaus", rule: "evil.example", action: "nxdomain", trigger: "list"),
        ]
        for round in 0..<3 {
            for (i, hit) in hits.enumerated() {
                let q = Query(message: try TestMessages.query("evil.example."),
                    client: ClientInfo(address: .v4(IPv4Address(10, 0, 0, 5)), transport: .udp))
                buffer.record(RawQueryEvent(timestampMicros: t0 + Int64(round * 10 + i), query: q, workload: nil,
                    resolution: Resolution.rcode(.nxDomain, for: q, source: .policy(hit)), latency: .microseconds(5)))
            }
        }
        #expect(buffer.openGroups == 4)
        buffer.drain(nowMicros: t0 + 6 * Self.second, final: true)
        let events = sink.events.withLock { $0 }
        for hit in hits {
            #expect(events.filter { $0.policy == hit }.reduce(0) { $0 + $1.count } == 3, "\(hit)")
        }
    }

    @Test("A first block hands over only the client's latest groups ahead of it; older ones close with the window")
    func blockContextIsBounded() throws {
        let sink = CollectingSink()
        let buffer = QueryEventBuffer(sinks: [sink], aggregationWindow: .seconds(2), blockContext: 5)
        let t0: Int64 = 1_700_000_000 * Self.second
        for i in 0..<100 { buffer.record(try self.raw("n\(i).example.", at: t0 + Int64(i))) }
        buffer.record(try self.raw("evil.example.", at: t0 + 100, blockedBy: "evil.example"))
        #expect(buffer.drain(nowMicros: t0 + 101) == 6)
        #expect(sink.events.withLock { $0.map(\.qname) } == (95..<100).map { "n\($0).example." } + ["evil.example."])
        #expect(buffer.drain(nowMicros: t0 + 3 * Self.second) == 95)
        let events = sink.events.withLock { $0 }
        #expect(Set(events.map(\.qname)).count == 101, "every group is handed over once")
        #expect(events.reduce(0) { $0 + $1.count } == 101)
    }

    @Test("Different workloads behind one address are never folded together")
    func workloadsStayApart() throws {
        let sink = CollectingSink()
        let buffer = QueryEventBuffer(sinks: [sink], aggregationWindow: .seconds(1))
        let t0: Int64 = 1_700_000_000 * Self.second
        let a = Workload(kind: .container, id: "aaa", name: "old")
        let b = Workload(kind: .container, id: "bbb", name: "new")
        buffer.record(try self.raw("x.example.", at: t0, workload: a))
        buffer.record(try self.raw("x.example.", at: t0 + 10, workload: b))
        buffer.record(try self.raw("x.example.", at: t0 + 20, workload: a))
        #expect(buffer.drain(nowMicros: t0, final: true) == 2)
        let events = sink.events.withLock { $0 }
        #expect(events.first { $0.workload?.name == "old" }?.count == 2)
        #expect(events.first { $0.workload?.name == "new" }?.count == 1)
    }

    @Test("Too many open groups hands them all over early, so memory stays bounded")
    func groupCap() throws {
        let sink = CollectingSink()
        let buffer = QueryEventBuffer(sinks: [sink], aggregationWindow: .seconds(60), maxGroups: 10)
        let t0: Int64 = 1_700_000_000 * Self.second
        for i in 0..<11 { buffer.record(try self.raw("n\(i).example.", at: t0 + Int64(i))) }
        #expect(buffer.drain(nowMicros: t0 + 100) == 11)
        #expect(buffer.openGroups == 0)
    }

    @Test("With the window at zero every query is its own event")
    func windowZero() throws {
        let sink = CollectingSink()
        let buffer = QueryEventBuffer(sinks: [sink])
        for i in 0..<3 { buffer.record(try self.raw("same.example.", at: Int64(i))) }
        #expect(buffer.drain() == 3)
        #expect(sink.events.withLock { $0.allSatisfy { $0.count == 1 } })
    }

    @Test("Repeats of an open group are counted even when the buffer is full; only new rows are dropped")
    func repeatsNeverDrop() throws {
        let sink = CollectingSink()
        let buffer = QueryEventBuffer(sinks: [sink], capacity: 1, aggregationWindow: .seconds(2), maxGroups: 2)
        let t0: Int64 = 1_700_000_000 * Self.second
        for i in 0..<3 { #expect(buffer.record(try self.raw("n\(i).example.", at: t0 + Int64(i)))) }
        #expect(!buffer.record(try self.raw("n3.example.", at: t0 + 3)), "a fourth group is over maxGroups + capacity")
        for i in 0..<1_000 { #expect(buffer.record(try self.raw("n0.example.", at: t0 + 10 + Int64(i)))) }
        #expect(buffer.drain(nowMicros: t0 + 100) == 3, "over maxGroups: every open group is handed over early")
        let events = sink.events.withLock { $0 }
        #expect(events.first { $0.qname == "n0.example." }?.count == 1_001)
        #expect(events.reduce(0) { $0 + $1.count } == 1_003)
        #expect(buffer.record(try self.raw("n3.example.", at: t0 + 200)), "room again after the drain")
    }

    @Test("Queries with detector findings are never folded, even when identical")
    func findingsNeverFold() throws {
        let sink = CollectingSink()
        let buffer = QueryEventBuffer(sinks: [sink], aggregationWindow: .seconds(2))
        let t0: Int64 = 1_700_000_000 * Self.second
        let f = Finding(detector: "dga", score: 0.9, detail: "entropy")
        for i in 0..<3 { buffer.record(try self.raw("kq3v9x.example.", at: t0 + Int64(i), findings: [f])) }
        buffer.record(try self.raw("kq3v9x.example.", at: t0 + 5))
        #expect(buffer.drain(nowMicros: t0 + 10) == 3, "findings are handed over at once, one event each")
        let events = sink.events.withLock { $0 }
        #expect(events.allSatisfy { $0.count == 1 && $0.findings == [f] })
        #expect(events.map(\.timestampMicros) == [t0, t0 + 1, t0 + 2])
        #expect(buffer.drain(nowMicros: t0 + 3 * Self.second) == 1)
        #expect(sink.events.withLock { $0.last?.findings.isEmpty == true && $0.last?.count == 1 })
    }

    @Test("A block flushes only its own client's earlier groups, once per window, and a later repeat opens a new row")
    func blockFlushesOwnClientOnly() throws {
        let sink = CollectingSink()
        let buffer = QueryEventBuffer(sinks: [sink], aggregationWindow: .seconds(2))
        let t0: Int64 = 1_700_000_000 * Self.second
        buffer.record(try self.raw("a.example.", from: "10.0.0.1", at: t0))
        buffer.record(try self.raw("b.example.", from: "10.0.0.2", at: t0 + 1))
        buffer.record(try self.raw("c.example.", from: "10.0.0.1", at: t0 + 2))
        buffer.record(try self.raw("a.example.", from: "10.0.0.1", at: t0 + 3))
        buffer.record(try self.raw("evil.example.", from: "10.0.0.1", at: t0 + 4, blockedBy: "evil.example"))
        // After the block: the same question again is a new row, so the log reads in order.
        buffer.record(try self.raw("a.example.", from: "10.0.0.1", at: t0 + 5))
        buffer.record(try self.raw("bad.example.", from: "10.0.0.1", at: t0 + 6, blockedBy: "bad.example"))
        buffer.record(try self.raw("evil.example.", from: "10.0.0.2", at: t0 + 7, blockedBy: "evil.example"))
        #expect(buffer.drain(nowMicros: t0 + 10) == 5)
        var events = sink.events.withLock { $0 }
        #expect(events.map { "\($0.clientIP) \($0.qname) \($0.count)" } == [
            "10.0.0.1 a.example. 2", "10.0.0.1 c.example. 1", "10.0.0.1 evil.example. 1",
            "10.0.0.2 b.example. 1", "10.0.0.2 evil.example. 1",
        ])
        #expect(buffer.openGroups == 4, "a (again), bad, and the two blocks' repeat groups")
        // The next window: the client's next block is immediate again and carries the row opened before it.
        buffer.record(try self.raw("d.example.", from: "10.0.0.1", at: t0 + 3 * Self.second))
        buffer.record(try self.raw("worse.example.", from: "10.0.0.1", at: t0 + 3 * Self.second + 1,
            blockedBy: "worse.example"))
        #expect(buffer.drain(nowMicros: t0 + 3 * Self.second + 2) == 4, "d, worse, and the first window's a and bad")
        events = sink.events.withLock { $0 }
        #expect(Set(events.suffix(4).map(\.qname)) == ["a.example.", "bad.example.", "d.example.", "worse.example."])
        #expect(events.firstIndex { $0.qname == "d.example." }.map { $0 + 1 }
            == events.firstIndex { $0.qname == "worse.example." })
        #expect(buffer.drain(nowMicros: t0 + 10 * Self.second, final: true) == 0, "block groups with no repeats write nothing")
        #expect(sink.events.withLock { $0.reduce(0) { $0 + $1.count } } == 10)
    }

    @Test("The query-log stage counts repeats without copying them and stamps the first with its arrival time")
    func stageStampsArrival() async throws {
        let sink = CollectingSink()
        let buffer = QueryEventBuffer(sinks: [sink], aggregationWindow: .seconds(60))
        let upstream = ScriptedStage()
        try upstream.answer("www.example.org.", .a, [try TestMessages.a("www.example.org.", "192.0.2.7")])
        let chain = Chain(stages: [QueryLogStage(buffer: buffer), upstream])
        let processor = QueryProcessor(chains: ChainReference(chain))
        let client = ClientInfo(address: try #require(IPAddress("10.0.0.5")), port: 1000, transport: .udp)
        let before = QueryEventBuffer.wallMicros()
        for _ in 0..<5 {
            guard case .async(let q) = processor.processNow(try TestMessages.query("www.example.org.").encode(),
                client: client)
            else {
                Issue.record("the scripted upstream needs the async path")
                return
            }
            _ = await processor.process(q)
        }
        let after = QueryEventBuffer.wallMicros()
        #expect(buffer.openGroups == 1)
        #expect(buffer.drain(final: true) == 1)
        let e = try #require(sink.events.withLock { $0.first })
        #expect(e.count == 5)
        #expect(e.timestampMicros >= before - 1 && e.timestampMicros <= after)
        #expect(e.answers == ["A 192.0.2.7"])
        #expect(e.source == "upstream")
    }

    @Test("A row names the answer source, the upstream and the rcode the resolution had", arguments: [
        AnswerSource.upstream("quad9"), .cache, .staleCache, .local, .synthesized, .failure,
        .policy(PolicyHit(source: "feed", rule: "x.example", action: "nodata", trigger: "qname")),
    ])
    func rowNamesTheSource(source: AnswerSource) throws {
        let q = Query(message: try TestMessages.query("x.example."),
            client: ClientInfo(address: .v4(IPv4Address(10, 0, 0, 1)), transport: .tcp))
        let e = RawQueryEvent(timestampMicros: 7, query: q, workload: nil,
            resolution: Resolution.rcode(.servFail, for: q, source: source), latency: .microseconds(3)).event
        #expect(e.source == source.label)
        #expect(e.upstream == (source == .upstream("quad9") ? "quad9" : nil))
        #expect(e.policy?.rule == (source.label == "policy" ? "x.example" : nil))
        #expect(e.rcode == "SERVFAIL" && e.transport == "tcp" && e.latencyMicros == 3 && e.timestampMicros == 7)
        let dropped = RawQueryEvent(timestampMicros: 7, query: q, workload: nil,
            resolution: Resolution(reply: .drop, source: source), latency: .zero).event
        #expect(dropped.rcode == "DROP" && dropped.answers.isEmpty)
    }
}

extension QueryAggregationTests {
    @Test("The drain builds and hands over rows on a thread below the event loops' priority (a higher nice value)")
    func drainRunsBelowTheEventLoops() async throws {
        let sink = NiceRecordingSink()
        let buffer = QueryEventBuffer(sinks: [sink], aggregationWindow: .seconds(10))
        let drain = Task { await buffer.run(every: .milliseconds(5)) }
        defer { drain.cancel() }
        let ours = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        // A block is handed over at the next drain, without waiting for its window.
        buffer.record(try self.raw("evil.example.", at: QueryEventBuffer.wallMicros(), blockedBy: "evil.example"))
        let deadline = ContinuousClock.now + .seconds(20)
        while sink.nice.withLock({ $0.isEmpty }) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        let seen = sink.nice.withLock { $0 }
        #expect(seen.count == 1, "the block was handed over")
        #expect(seen.allSatisfy { $0 > ours }, "drained at nice \(seen), the test's thread runs at \(ours)")
    }
}

/// Records the nice value of the thread each event is handed over on.
private final class NiceRecordingSink: QueryEventSink {
    let nice = Mutex<[Int32]>([])
    func emit(_ event: QueryEvent) -> Bool {
        let n = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        self.nice.withLock { $0.append(n) }
        return true
    }
}

extension QueryAggregationTests {
    /// A cache hit on `packet` (or a stale hit) from `address` over `transport`.
    private func hit(_ packet: CachedPacket, from address: String = "10.0.0.5", transport: Transport = .udp,
        workload: Workload? = nil, stale: Bool = false, at micros: Int64) throws -> RawQueryEvent
    {
        let q = Query(message: DNSMessage.query(id: 7, name: packet.message.questions[0].name,
            type: packet.message.questions[0].type),
            client: ClientInfo(address: try #require(IPAddress(address)), transport: transport))
        return RawQueryEvent(timestampMicros: micros, query: q, workload: workload,
            resolution: Resolution(reply: .cached(packet, age: 0), source: stale ? .staleCache : .cache),
            latency: .microseconds(100))
    }

    private func packet(_ name: String) throws -> CachedPacket {
        let m = try TestMessages.query(name).makeResponse(rcode: .noError)
        return CachedPacket(bytes: m.encode(), ttlOffsets: [], ttls: [], rcode: .noError, message: m)
    }

    @Test("Cache hits fold by client, transport and workload whichever packet or group the last hit pointed at")
    func cacheHitsFoldExactly() throws {
        let sink = CollectingSink()
        let buffer = QueryEventBuffer(sinks: [sink], aggregationWindow: .seconds(2))
        let t0: Int64 = 1_700_000_000 * Self.second
        let www = try self.packet("www.example.org.")
        let other = try self.packet("other.example.org.")
        let web = Workload(kind: .container, id: "c1", name: "web")
        var t = t0
        func at() -> Int64 { t += 1_000; return t }
        // The packet's last group keeps changing owner: every hit must still land in its own client's group.
        for _ in 0..<3 { buffer.record(try self.hit(www, at: at())) }
        for _ in 0..<2 { buffer.record(try self.hit(www, from: "10.0.0.6", at: at())) }
        buffer.record(try self.hit(www, at: at()))
        buffer.record(try self.hit(www, transport: .tcp, at: at()))
        buffer.record(try self.hit(www, workload: web, at: at()))
        buffer.record(try self.hit(www, workload: web, at: at()))
        buffer.record(try self.hit(other, at: at()))
        buffer.record(try self.hit(www, stale: true, at: at()))
        // The cache replaced the entry: a new packet for the same name joins the same group.
        let refreshed = try self.packet("WWW.example.org.")
        for _ in 0..<2 { buffer.record(try self.hit(refreshed, at: at())) }
        buffer.record(try self.hit(www, at: at()))
        #expect(buffer.drain(nowMicros: t0 + 3 * Self.second) == 6)
        var events = sink.events.withLock { $0 }
        func count(_ name: String, _ client: String = "10.0.0.5", transport: String = "udp", workload: String? = nil,
            source: String = "cache") -> Int?
        {
            events.first {
                $0.qname == name && $0.clientIP == client && $0.transport == transport && $0.workload?.id == workload
                    && $0.source == source
            }?.count
        }
        #expect(count("www.example.org.") == 7)
        #expect(count("www.example.org.", "10.0.0.6") == 2)
        #expect(count("www.example.org.", transport: "tcp") == 1)
        #expect(count("www.example.org.", workload: "c1") == 2)
        #expect(count("other.example.org.") == 1)
        #expect(count("www.example.org.", source: "stale") == 1)
        #expect(events.reduce(0) { $0 + $1.count } == 14)

        // The next generation: the packets still point at positions of the last one, now other groups.
        sink.events.withLock { $0 = [] }
        t = t0 + 4 * Self.second
        buffer.record(try self.hit(other, from: "10.0.0.6", at: at()))
        buffer.record(try self.hit(www, from: "10.0.0.7", at: at()))
        for _ in 0..<3 { buffer.record(try self.hit(www, at: at())) }
        #expect(buffer.drain(nowMicros: t0 + 7 * Self.second) == 3)
        events = sink.events.withLock { $0 }
        #expect(count("other.example.org.", "10.0.0.6") == 1)
        #expect(count("www.example.org.", "10.0.0.7") == 1)
        #expect(count("www.example.org.") == 3)
    }

    @Test("Cache hits after a first block closed their group open a new one: no hit lands in a handed-over row")
    func cacheHitsAfterBlockCloseTheirGroup() throws {
        let sink = CollectingSink()
        let buffer = QueryEventBuffer(sinks: [sink], aggregationWindow: .seconds(2))
        let t0: Int64 = 1_700_000_000 * Self.second
        let www = try self.packet("www.example.org.")
        var t = t0
        func at() -> Int64 { t += 1_000; return t }
        for _ in 0..<3 { buffer.record(try self.hit(www, at: at())) }
        // The client's first block in the window hands over its latest groups, the cache hits' among them.
        let q = Query(message: try TestMessages.query("c2.evil.example."),
            client: ClientInfo(address: .v4(IPv4Address(10, 0, 0, 5)), transport: .udp))
        let hit = PolicyHit(source: "feed", rule: "c2.evil.example", action: "nxdomain", trigger: "qname")
        buffer.record(RawQueryEvent(timestampMicros: at(), query: q, workload: nil,
            resolution: Resolution.rcode(.nxDomain, for: q, source: .policy(hit)), latency: .microseconds(50)))
        #expect(buffer.drain(nowMicros: t0 + Self.second / 2) == 2)
        #expect(sink.events.withLock { $0.map(\.count) } == [3, 1])
        // The packet's hint still points at the handed-over group: these hits must make a row of their own.
        for _ in 0..<4 { buffer.record(try self.hit(www, at: at())) }
        #expect(buffer.drain(nowMicros: t0 + 3 * Self.second) == 1)
        let events = sink.events.withLock { $0 }
        #expect(events.last?.qname == "www.example.org." && events.last?.count == 4)
        #expect(events.reduce(0) { $0 + $1.count } == 8)
    }
}
