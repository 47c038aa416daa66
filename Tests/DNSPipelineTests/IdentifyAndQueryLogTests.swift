import DNSPipeline
import DNSWire
import Synchronization
import TestSupport
import Testing

/// Collects events for assertions.
final class CollectingSink: QueryEventSink {
    let events = Mutex<[QueryEvent]>([])
    func emit(_ event: QueryEvent) -> Bool {
        self.events.withLock { $0.append(event) }
        return true
    }
}

@Suite struct IdentifyAndQueryLogTests {
    @Test("Exact addresses win over prefixes, and the most specific prefix wins")
    func directory() throws {
        let d = WorkloadDirectory()
        let wide = Workload(kind: .static, id: "net", name: "network")
        let narrow = Workload(kind: .static, id: "sub", name: "subnet")
        let host = Workload(kind: .container, id: "c1", name: "billing", image: "billing:1", labels: ["team": "pay"])
        d.publish(.init(exact: [try #require(IPAddress("10.0.0.5")): host],
            prefixes: [(try #require(IPNetwork("10.0.0.0/8")), wide), (try #require(IPNetwork("10.0.0.0/24")), narrow)]))
        #expect(d.lookup(try #require(IPAddress("10.0.0.5")))?.name == "billing")
        #expect(d.lookup(try #require(IPAddress("10.0.0.6")))?.name == "subnet")
        #expect(d.lookup(try #require(IPAddress("10.9.0.6")))?.name == "network")
        #expect(d.lookup(try #require(IPAddress("192.0.2.1"))) == nil)
        // An IPv4 client seen through a dual-stack socket.
        #expect(d.lookup(try #require(IPAddress("::ffff:10.0.0.5")))?.name == "billing")
    }

    @Test("Every query becomes one event naming the workload, the answer source and the answers")
    func queryLogNamesTheWorkload() async throws {
        let d = WorkloadDirectory()
        d.publish(.init(exact: [try #require(IPAddress("10.0.0.5")): Workload(kind: .container, id: "c1", name: "billing")]))
        let sink = CollectingSink()
        let buffer = QueryEventBuffer(sinks: [sink])
        let upstream = ScriptedStage()
        try upstream.answer("www.example.org.", .a, [try TestMessages.a("www.example.org.", "192.0.2.7")])
        let chain = Chain(stages: [IdentifyStage(directory: d), QueryLogStage(buffer: buffer), upstream])
        let processor = QueryProcessor(chains: ChainReference(chain))
        let client = ClientInfo(address: try #require(IPAddress("10.0.0.5")), port: 1000, transport: .udp)
        guard case .async(let q) = processor.processNow(try TestMessages.query("www.example.org.").encode(), client: client)
        else {
            Issue.record("the scripted upstream needs the async path")
            return
        }
        _ = await processor.process(q)
        #expect(sink.events.withLock { $0.isEmpty }, "events are built off the DNS path, only when drained")
        #expect(buffer.drain() == 1)
        let e = try #require(sink.events.withLock { $0.first })
        #expect(e.workload?.name == "billing")
        #expect(e.clientIP == "10.0.0.5")
        #expect(e.qname == "www.example.org.")
        #expect(e.rcode == "NOERROR")
        #expect(e.source == "upstream")
        #expect(e.answers == ["A 192.0.2.7"])
    }

    @Test("A full buffer drops new events and keeps answering")
    func bufferBound() throws {
        let sink = CollectingSink()
        let buffer = QueryEventBuffer(sinks: [sink], capacity: 2)
        let q = Query(message: try TestMessages.query("a.example.org."),
            client: ClientInfo(address: .v4(IPv4Address(127, 0, 0, 1)), transport: .udp))
        let r = Resolution.rcode(.nxDomain, for: q, source: .synthesized)
        let raw = RawQueryEvent(timestampMicros: 0, query: q, workload: nil, resolution: r, latency: .zero)
        #expect(buffer.record(raw))
        #expect(buffer.record(raw))
        #expect(!buffer.record(raw))
        #expect(buffer.drain() == 2)
        #expect(buffer.record(raw))
    }
}
