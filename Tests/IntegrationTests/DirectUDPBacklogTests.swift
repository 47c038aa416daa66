import DNSPipeline
import DNSServer
import DNSWire
import Foundation
import Logging
import NIOCore
import NIOPosix
import Testing
import TestSupport

/// The direct UDP engine serves cache misses on its socket's thread; at most `udpBacklog` of them may wait for their
/// upstream at once, and the rest are dropped (as a full socket buffer would drop them) instead of queueing without
/// bound. In process, with a terminal stage that defers every query as the upstream stage does and holds the answers
/// back for a while, completing them from another thread as a slow upstream would.
@Suite("Direct UDP engine: miss backlog", .tags(.integration))
struct DirectUDPBacklogTests {
    /// Defers every query and answers it `delay` later, from a thread of its own, with NOERROR and one A record.
    struct DeferringStage: Stage {
        let id: StageID = "deferring"
        let delay: Duration

        func resolve(_ query: Query, in context: QueryContext, next: @escaping Next) async throws -> Resolution {
            Self.answer(query)
        }

        func resolveNow(_ query: Query, in context: QueryContext, next: NextNow) throws -> Resolution? {
            guard let deferral = context.deferral else { return nil }
            if let r = deferral.result(for: query.question) { return r }
            let delay = self.delay
            deferral.request(query.question) { complete in
                Thread.detachNewThread {
                    Thread.sleep(forTimeInterval: Double(delay.components.seconds)
                        + Double(delay.components.attoseconds) / 1e18)
                    complete(Self.answer(query))
                }
            }
            return nil
        }

        static func answer(_ query: Query) -> Resolution {
            var m = query.message.makeResponse()
            m.answers = [ResourceRecord(name: query.question.name, ttl: 60,
                rdata: .a(.init(address: IPv4Address(192, 0, 2, 7))))]
            return Resolution(reply: .message(m), source: .upstream("test"))
        }
    }

    /// Starts a one-thread listener with `backlog` whose misses are answered `delay` after they start, sends `count`
    /// queries in one burst and returns how many were answered; then checks that a later query is answered.
    func answered(backlog: Int, count: Int, delay: Duration = .milliseconds(600)) async throws -> Int {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var config = ListenerConfiguration(kind: .dns, host: "127.0.0.1", port: 0, udpEngine: .direct)
        config.udpBacklog = backlog
        let listener = DNSListener(configuration: config,
            processor: QueryProcessor(chains: ChainReference(Chain(stages: [DeferringStage(delay: delay)]))),
            group: group, threads: 1, logger: Logger(label: "test"))
        try await listener.start()
        let port = try #require(listener.boundAddresses.first?.port)
        let packets = try (0..<count).map { i in
            try TestMessages.query("n\(i).example.test.", id: UInt16(i + 1)).encode()
        }
        let replies = try await DNSTestClient.udpBurst(packets, port: port, expected: count, timeout: .seconds(3))
        let later = try await DNSTestClient.query("later.example.test", .a, port: port)
        #expect(later.answers.first?.rdata.presentation == "192.0.2.7", "a query after the backlog drained: \(later)")
        await listener.stop()
        try await group.shutdownGracefully()
        var ids: Set<UInt16> = []
        for r in replies {
            let m = try DNSMessage.decode(r)
            #expect(m.rcode == .noError && m.answers.count == 1, "\(m)")
            ids.insert(m.header.id)
        }
        #expect(ids.count == replies.count, "one reply per query")
        return replies.count
    }

    @Test("with the upstream slow, exactly `udpBacklog` misses wait and are answered; the rest are dropped")
    func backlogBounded() async throws {
        #expect(try await self.answered(backlog: 8, count: 40) == 8)
    }

    @Test("the same burst with room in the backlog is answered in full when the answers come")
    func backlogRoom() async throws {
        #expect(try await self.answered(backlog: 4096, count: 40) == 40)
    }
}
