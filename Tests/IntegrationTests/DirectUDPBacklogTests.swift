import DNSPipeline
import DNSServer
import DNSWire
import Foundation
import Logging
import NIOCore
import NIOPosix
import Testing
import TestSupport

/// The direct UDP engine hands cache misses to its event loop; when that loop is busy, at most `udpBacklog` of them
/// may wait, and the rest are dropped (as a full socket buffer would drop them) instead of queueing without bound.
/// In process, with a terminal stage that defers every query to the loop as the upstream stage does.
@Suite("Direct UDP engine: miss backlog", .tags(.integration))
struct DirectUDPBacklogTests {
    /// Defers every query to the event loop and answers it there with NOERROR and one A record.
    struct DeferringStage: Stage {
        let id: StageID = "deferring"

        func resolve(_ query: Query, in context: QueryContext, next: @escaping Next) async throws -> Resolution {
            Self.answer(query)
        }

        func resolveNow(_ query: Query, in context: QueryContext, next: NextNow) throws -> Resolution? {
            guard let deferral = context.deferral else { return nil }
            if let r = deferral.result(for: query.question) { return r }
            deferral.request(query.question) { complete in complete(Self.answer(query)) }
            return nil
        }

        static func answer(_ query: Query) -> Resolution {
            var m = query.message.makeResponse()
            m.answers = [ResourceRecord(name: query.question.name, ttl: 60,
                rdata: .a(.init(address: IPv4Address(192, 0, 2, 7))))]
            return Resolution(reply: .message(m), source: .upstream("test"))
        }
    }

    /// Starts a one-loop listener with `backlog`, blocks its loop for `block`, sends `count` queries in one burst while
    /// it is blocked, and returns how many were answered; then checks that a later query is answered.
    func answered(backlog: Int, count: Int, block: Duration = .milliseconds(600)) async throws -> Int {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var config = ListenerConfiguration(kind: .dns, host: "127.0.0.1", port: 0, udpEngine: .direct)
        config.udpBacklog = backlog
        let listener = DNSListener(configuration: config,
            processor: QueryProcessor(chains: ChainReference(Chain(stages: [DeferringStage()]))), group: group,
            threads: 1, logger: Logger(label: "test"))
        try await listener.start()
        let port = try #require(listener.boundAddresses.first?.port)
        let millis = UInt32(block.components.seconds * 1000 + block.components.attoseconds / 1_000_000_000_000_000)
        group.next().execute { usleep(millis * 1000) }
        try await Task.sleep(for: .milliseconds(50))
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

    @Test("with the loop blocked, exactly `udpBacklog` misses wait and are answered; the rest are dropped")
    func backlogBounded() async throws {
        #expect(try await self.answered(backlog: 8, count: 40) == 8)
    }

    @Test("the same burst with room in the backlog is answered in full once the loop is free")
    func backlogRoom() async throws {
        #expect(try await self.answered(backlog: 4096, count: 40) == 40)
    }
}
