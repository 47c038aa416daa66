import DNSPipeline
@testable import DNSPolicy
import DNSWire
import Foundation
import Synchronization
import Testing

@Suite struct QuarantineTests {
    static let webAddress = IPAddress.v4(IPv4Address(192, 0, 2, 20))
    static let web = Workload(kind: .container, id: "c0ffee", name: "web-1", image: "registry.example.org/web:1")

    /// identify → quarantine → upstream, as the runtime orders them.
    static func chain(_ registry: QuarantineRegistry, allowlist: [String] = [], upstream: RecordingUpstream) -> Chain {
        let directory = WorkloadDirectory()
        directory.publish(.init(exact: [Self.webAddress: Self.web]))
        return Chain(stages: [
            IdentifyStage(directory: directory),
            QuarantineStage(registry: registry, allowlist: allowlist.map { name($0) }),
            upstream,
        ])
    }

    static func entry(_ key: String = "container:c0ffee", answer: QuarantineEntry.Answer = .refused)
        -> QuarantineEntry
    {
        QuarantineEntry(workloadKey: key, answer: answer, by: "ops", reason: "beaconing to evil.example",
            sinceMicros: 1_700_000_000_000_000)
    }

    @Test("A quarantined workload gets REFUSED with EDE 18 naming the actor and reason, on the synchronous path")
    func refusedFastPath() throws {
        let registry = try QuarantineRegistry(path: nil)
        try registry.quarantine(Self.entry())
        let upstream = RecordingUpstream()
        let chain = Self.chain(registry, upstream: upstream)
        let r = try #require(chain.resolveNow(query("www.example.org", client: Self.webAddress), in: QueryContext()))
        #expect(r.rcode == .refused)
        #expect(r.ede?.code == .prohibited)
        #expect(r.ede?.text == "quarantined by ops: beaconing to evil.example")
        #expect(r.policy == PolicyHit(source: "quarantine", rule: "container:c0ffee", action: "refused",
            trigger: "workload"))
        #expect(upstream.questions.isEmpty)
    }

    @Test("The NXDOMAIN answer carries EDE 15 and the async path decides the same")
    func nxdomainAsync() async throws {
        let registry = try QuarantineRegistry(path: nil)
        try registry.quarantine(Self.entry(answer: .nxdomain))
        let upstream = RecordingUpstream()
        let r = await Self.chain(registry, upstream: upstream).resolve(
            query("www.example.org", client: Self.webAddress), in: QueryContext())
        #expect(r.rcode == .nxDomain)
        #expect(r.ede?.code == .blocked)
        #expect(r.policy?.source == "quarantine")
        #expect(upstream.questions.isEmpty)
    }

    @Test("Other workloads, allowlisted names and released workloads resolve normally")
    func passes() throws {
        let registry = try QuarantineRegistry(path: nil)
        try registry.quarantine(Self.entry())
        let upstream = RecordingUpstream()
        let chain = Self.chain(registry, allowlist: ["registry.example.org"], upstream: upstream)
        let other = try #require(chain.resolveNow(query("www.example.org"), in: QueryContext()))
        #expect(other.source == .upstream("recorder"))
        let allowed = try #require(
            chain.resolveNow(query("cdn.registry.example.org", client: Self.webAddress), in: QueryContext()))
        #expect(allowed.source == .upstream("recorder"))
        #expect(allowed.rcode == .noError)
        let exact = try #require(
            chain.resolveNow(query("REGISTRY.example.org", client: Self.webAddress), in: QueryContext()))
        #expect(exact.source == .upstream("recorder"))
        let blocked = try #require(
            chain.resolveNow(query("registry.example.org.evil.example", client: Self.webAddress), in: QueryContext()))
        #expect(blocked.rcode == .refused)

        #expect(try registry.release("container:c0ffee") != nil)
        let released = try #require(chain.resolveNow(query("www.example.org", client: Self.webAddress), in: QueryContext()))
        #expect(released.source == .upstream("recorder"))
        #expect(registry.isEmpty)
        #expect(try registry.release("container:c0ffee") == nil)
    }

    @Test("An unidentified client is quarantined by its address as client:<ip>")
    func clientKey() throws {
        let registry = try QuarantineRegistry(path: nil)
        try registry.quarantine(Self.entry("client:192.0.2.53"))
        let chain = Self.chain(registry, upstream: RecordingUpstream())
        let r = try #require(chain.resolveNow(query("www.example.org", client: ordinaryClient), in: QueryContext()))
        #expect(r.rcode == .refused)
        #expect(r.policy?.rule == "client:192.0.2.53")
    }

    @Test("The registry survives a restart and a corrupt file is refused with its path")
    func persistence() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanUp() }
        let path = dir.path + "/state/quarantine.json"
        let first = try QuarantineRegistry(path: path)
        try first.quarantine(Self.entry())
        try first.quarantine(Self.entry("pod:1234", answer: .nxdomain))
        try first.release("pod:1234")
        let reopened = try QuarantineRegistry(path: path)
        #expect(reopened.all == [Self.entry()])
        #expect(!FileManager.default.fileExists(atPath: path + ".tmp"))

        try Data("{not json".utf8).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: OperatorStateError.self) { try QuarantineRegistry(path: path) }
        #expect(error?.code == .loadFailed)
        #expect(error?.message.contains(path) == true)
    }

    @Test("Malformed workload keys are refused", arguments: ["", "c0ffee", "vm:1", "container:", ":x"])
    func badKeys(key: String) throws {
        let registry = try QuarantineRegistry(path: nil)
        let error = #expect(throws: OperatorStateError.self) { try registry.quarantine(Self.entry(key)) }
        #expect(error?.code == .invalidArgument)
        #expect(registry.isEmpty)
    }

    @Test("Container actions are allowed only up to the configured limit")
    func actionLimit() {
        #expect(ContainerAction.none.isAllowed(by: .none))
        #expect(!ContainerAction.pause.isAllowed(by: .none))
        #expect(ContainerAction.pause.isAllowed(by: .pause))
        #expect(!ContainerAction.stop.isAllowed(by: .pause))
        #expect(ContainerAction.stop.isAllowed(by: .stop))
        #expect(ContainerAction.pause.isAllowed(by: .stop))
    }
}

@Suite struct OperatorRulesTests {
    static func manager(_ rules: OperatorRules, feed: String = "evil.example\nads.example\n") async throws
        -> (PolicyManager, TemporaryDirectory)
    {
        let dir = try TemporaryDirectory()
        try feed.write(toFile: dir.path + "/feed.txt", atomically: true, encoding: .utf8)
        let m = PolicyManager(sources: [PolicySourceConfig(name: "feed", kind: .domains, location: dir.path + "/feed.txt")],
            dataDirectory: nil, operatorRules: rules)
        await m.start()
        return (m, dir)
    }

    @Test("An operator deny blocks with EDE naming source operator and the rule, without a restart")
    func deny() async throws {
        let rules = try OperatorRules(path: nil)
        let (manager, dir) = try await Self.manager(rules)
        defer { dir.cleanUp() }
        let stage = manager.makeQueryStage()
        let upstream = RecordingUpstream()
        let chain = Chain(stages: [stage, upstream])
        let before = try #require(chain.resolveNow(query("tracker.example"), in: QueryContext()))
        #expect(before.source == .upstream("recorder"))

        try await rules.add(.deny, domain: "Tracker.Example.", by: "ops", reason: "exfil", atMicros: 1)
        await manager.operatorRulesChanged()
        let after = try #require(chain.resolveNow(query("www.tracker.example"), in: QueryContext()))
        #expect(after.rcode == .nxDomain)
        #expect(after.policy?.source == "operator")
        #expect(after.policy?.rule == "tracker.example")
        #expect(after.ede?.code == .blocked)
        #expect(after.ede?.text.contains("operator rule tracker.example") == true)
        #expect(rules.rules(.deny).map(\.domain) == ["tracker.example"])
    }

    @Test("An operator allow beats a block list, and removing it restores the block")
    func allow() async throws {
        let rules = try OperatorRules(path: nil)
        let (manager, dir) = try await Self.manager(rules)
        defer { dir.cleanUp() }
        let chain = Chain(stages: [manager.makeQueryStage(), RecordingUpstream()])
        let blocked = try #require(chain.resolveNow(query("evil.example"), in: QueryContext()))
        #expect(blocked.policy?.source == "feed")

        try await rules.add(.allow, domain: "evil.example", by: "ops", reason: "false positive", atMicros: 1)
        await manager.operatorRulesChanged()
        let allowed = try #require(chain.resolveNow(query("evil.example"), in: QueryContext()))
        #expect(allowed.source == .upstream("recorder"))

        #expect(try await rules.remove(.allow, domain: "evil.example")?.reason == "false positive")
        await manager.operatorRulesChanged()
        let again = try #require(chain.resolveNow(query("evil.example"), in: QueryContext()))
        #expect(again.policy?.source == "feed")
    }

    @Test("A domain cannot be on both lists, bad names are refused, and a repeat add updates the reason")
    func conflicts() async throws {
        let rules = try OperatorRules(path: nil)
        try await rules.add(.deny, domain: "x.example", by: "ops", reason: "one", atMicros: 1)
        let conflict = await #expect(throws: OperatorStateError.self) {
            try await rules.add(.allow, domain: "X.example", by: "ops", reason: "", atMicros: 2)
        }
        #expect(conflict?.code == .conflict)
        for bad in ["", "a..b", "exa mple.org", "*.*.x", String(repeating: "a", count: 64) + ".org", "5\"x", "-a.org",
            "caf\u{E9}.example", " a.org"]
        {
            let e = await #expect(throws: OperatorStateError.self) {
                try await rules.add(.deny, domain: bad, by: "ops", reason: "", atMicros: 3)
            }
            #expect(e?.code == .invalidArgument, "\(bad)")
        }
        let again = try await rules.add(.deny, domain: "x.example", by: "ci", reason: "two", atMicros: 4)
        #expect(again.replaced)
        #expect(rules.rules(.deny).map(\.reason) == ["two"])
    }

    @Test("Rules survive a restart, and a listener hears every change")
    func persistence() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanUp() }
        let path = dir.path + "/operator-rules.json"
        let rules = try OperatorRules(path: path)
        let heard = HeardCount()
        rules.addListener { heard.bump() }
        try await rules.add(.allow, domain: "ok.example", by: "ops", reason: "r", atMicros: 10)
        try await rules.add(.deny, domain: "*.bad.example", by: "ops", reason: "", atMicros: 11)
        #expect(heard.value == 2)
        let reopened = try OperatorRules(path: path)
        #expect(reopened.rules(.allow) == [OperatorRule(domain: "ok.example", addedBy: "ops", reason: "r", timeMicros: 10)])
        #expect(reopened.rules(.deny).map(\.domain) == ["*.bad.example"])
        let (manager, feedDir) = try await OperatorRulesTests.manager(reopened)
        defer { feedDir.cleanUp() }
        let chain = Chain(stages: [manager.makeQueryStage(), RecordingUpstream()])
        #expect(try #require(chain.resolveNow(query("a.bad.example"), in: QueryContext())).policy?.source == "operator")
        #expect(try #require(chain.resolveNow(query("bad.example"), in: QueryContext())).policy == nil)
    }
}

final class HeardCount: Sendable {
    private let count = Mutex(0)
    func bump() { self.count.withLock { $0 += 1 } }
    var value: Int { self.count.withLock { $0 } }
}
