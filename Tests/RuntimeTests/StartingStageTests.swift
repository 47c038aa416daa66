import DNSPipeline
import DNSWire
@testable import Runtime
import TestSupport
import Testing

/// While Palisade starts, its listeners are already bound and answer through ``StartingStage``: an honest
/// SERVFAIL with EDE 14 (Not Ready), never an unfiltered answer, until the real chain is swapped in.
@Suite struct StartingStageTests {
    static let client = ClientInfo(address: .v4(IPv4Address(0x7F00_0001)), transport: .udp)

    static func reply(_ processor: QueryProcessor, _ name: String) async throws -> DNSMessage {
        let bytes = try TestMessages.query(name).encode()
        switch processor.processNow(bytes, client: Self.client) {
        case .reply(let out):
            return try DNSMessage.decode(out)
        case .async(let query):
            let out = try #require(await processor.process(query))
            return try DNSMessage.decode(out)
        case .drop:
            Issue.record("a query was dropped")
            throw DecodeError(.truncated, field: "reply", offset: 0)
        }
    }

    @Test("before the pipeline is in force every query gets SERVFAIL with EDE 14 on the synchronous path")
    func notReadyOnTheFastPath() throws {
        let processor = QueryProcessor(chains: ChainReference(Chain(stages: [StartingStage()])))
        let bytes = try TestMessages.query("blocked.example").encode()
        guard case .reply(let out) = processor.processNow(bytes, client: Self.client) else {
            Issue.record("the starting stage must answer without a task")
            return
        }
        let m = try DNSMessage.decode(out)
        #expect(m.rcode == .servFail)
        #expect(m.answers.isEmpty)
        #expect(m.edns?.options.contains(.extendedError(.notReady, text: "starting: policy loading")) == true)
    }

    @Test("once the real chain is swapped in, the same processor answers through it")
    func swapEndsStartup() async throws {
        let chains = ChainReference(Chain(stages: [StartingStage()]))
        let processor = QueryProcessor(chains: chains)
        #expect(try await Self.reply(processor, "h1.example").rcode == .servFail)
        let upstream = ScriptedStage()
        try upstream.answer("h1.example", .a, [TestMessages.a("h1.example", "192.0.2.1")])
        chains.swap(Chain(stages: [upstream]))
        let m = try await Self.reply(processor, "h1.example")
        #expect(m.rcode == .noError)
        #expect(m.answers.count == 1)
        #expect(upstream.calls.count == 1)
    }
}
