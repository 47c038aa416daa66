import DNSPipeline
@testable import DNSPolicy
import DNSWire
import Testing

/// A rule that matches a CNAME target in the upstream answer keeps the chain up to that target and applies
/// its action there, as BIND and Unbound do (found by the Unbound differential test).
@Suite struct CNAMEChainPolicyTests {
    static let rules = """
        $ORIGIN rpz.test.
        @ SOA ns.rpz.test. hostmaster.rpz.test. 1 3600 600 86400 300
        bad.example.org CNAME .
        empty.example.org CNAME *.
        local.example.org A 192.0.2.80
        local.example.org TXT "local data"
        garden.example.org CNAME walled.example.net.

        """

    private func resolve(_ qname: String, _ type: RecordType = .a, chainTo target: String) async throws -> Resolution {
        func cname(_ from: String, _ to: String) -> ResourceRecord {
            ResourceRecord(name: name(from), ttl: 60, rdata: .cname(.init(target: name(to))))
        }
        let upstream = RecordingUpstream(scripted: [
            name(qname): [
                cname(qname, "hop.example.org."), cname("hop.example.org.", target),
                ResourceRecord(name: name(target), ttl: 60, rdata: .a(.init(address: IPv4Address(192, 0, 2, 66)))),
            ],
            name("walled.example.net."): [
                ResourceRecord(name: name("walled.example.net."), ttl: 60, rdata: .a(.init(address: IPv4Address(192, 0, 2, 7))))
            ],
        ])
        let reference = PolicyEngineReference(PolicyEngine(sources: [try compile(Self.rules, kind: .rpz)]))
        let chain = Chain(stages: [QueryPolicyStage(engine: reference), ResponsePolicyStage(engine: reference), upstream])
        let r = await chain.resolve(query(qname, type), in: QueryContext())
        let now = chain.resolveNow(query(qname, type), in: QueryContext())
        #expect(now?.message?.answers == r.message?.answers, "the synchronous path must answer the same")
        #expect(now?.rcode == r.rcode)
        return r
    }

    private func texts(_ r: Resolution) -> [String] { (r.message?.answers ?? []).map { "\($0.name) \($0.rdata)" } }

    @Test("NXDOMAIN at a CNAME target keeps the chain that led there")
    func nxdomainKeepsChain() async throws {
        let r = try await self.resolve("start.example.org.", chainTo: "bad.example.org.")
        #expect(r.rcode == .nxDomain)
        #expect(r.message?.answers.map(\.type) == [.cname, .cname])
        #expect(r.message?.answers.last?.rdata == .cname(.init(target: name("bad.example.org."))))
        #expect(r.policy?.rule == "bad.example.org")
    }

    @Test("NODATA at a CNAME target keeps the chain with NOERROR")
    func nodataKeepsChain() async throws {
        let r = try await self.resolve("start.example.org.", chainTo: "empty.example.org.")
        #expect(r.rcode == .noError)
        #expect(r.message?.answers.map(\.type) == [.cname, .cname])
    }

    @Test("local data at a CNAME target is owned by the target and follows the chain")
    func localDataAtTarget() async throws {
        let r = try await self.resolve("start.example.org.", chainTo: "local.example.org.")
        #expect(r.rcode == .noError)
        #expect(r.message?.answers.count == 3)
        let last = try #require(r.message?.answers.last)
        #expect(last.name == name("local.example.org."))
        #expect(last.rdata == .a(.init(address: IPv4Address(192, 0, 2, 80))))
    }

    @Test("a walled-garden CNAME at a CNAME target is chased after the chain")
    func gardenAtTarget() async throws {
        let r = try await self.resolve("start.example.org.", chainTo: "garden.example.org.")
        #expect(r.rcode == .noError)
        let answers = r.message?.answers ?? []
        #expect(answers.count == 4, "\(self.texts(r))")
        #expect(answers.dropLast().last?.name == name("garden.example.org."))
        #expect(answers.last?.rdata == .a(.init(address: IPv4Address(192, 0, 2, 7))))
    }

    @Test("the chain helper refuses a loop and a chain that never reaches the target")
    func chainHelper() {
        let a = ResourceRecord(name: name("a.test."), ttl: 1, rdata: .cname(.init(target: name("b.test."))))
        let b = ResourceRecord(name: name("b.test."), ttl: 1, rdata: .cname(.init(target: name("a.test."))))
        #expect(PolicyDecision.chain(in: [a, b], from: name("a.test."), to: name("c.test.")) == nil)
        #expect(PolicyDecision.chain(in: [a, b], from: name("A.TEST."), to: name("b.test.")) == [a])
        #expect(PolicyDecision.chain(in: [], from: name("a.test."), to: name("b.test.")) == nil)
    }
}
