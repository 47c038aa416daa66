import TestSupport
import DNSWire
import NIOCore
import NIOExtras
import NIOPosix
import Synchronization
import Testing

@testable import DNSZoneTransfer

/// The NOTIFY listener on real loopback sockets.
@Suite(.tags(.integration)) struct NotifyListenerTests {
    final class Calls: Sendable {
        let zones = Mutex<[DomainName]>([])
        var count: Int { self.zones.withLock { $0.count } }
    }

    static func listener(key: TSIGKey? = nil, calls: Calls) async throws -> NotifyListener {
        let auth = StaticNotifyAuthorizer(zones: [.init(name: Build.zone, primaries: [Build.ip("127.0.0.1")], key: key)]) {
            zone, _ in calls.zones.withLock { $0.append(zone) }
        }
        return try await NotifyListener.start(host: "127.0.0.1", port: 0, responder: NotifyResponder(authorizer: auth))
    }

    @Test("A NOTIFY over UDP is answered and reported; garbage before it does not stop the listener")
    func udp() async throws {
        let calls = Calls()
        let listener = try await Self.listener(calls: calls)
        defer { listener.close() }
        #expect(listener.port > 0)
        // Garbage, a truncated header and a response: none may hurt the listener.
        _ = await TestNetwork.udpExchange([1, 2, 3], to: listener.port, timeout: .milliseconds(100))
        _ = await TestNetwork.udpExchange(Array(repeating: 0xFF, count: 600), to: listener.port, timeout: .milliseconds(100))
        let raw = try #require(await TestNetwork.udpExchange(NotifyResponderTests.notify(id: 4242), to: listener.port,
            timeout: .seconds(10)))
        let reply = try DNSMessage.decode(raw)
        #expect(reply.header.id == 4242)
        #expect(reply.header.opcode == .notify && reply.header.isResponse && reply.header.authoritative)
        #expect(reply.rcode == .noError)
        #expect(await Poll.until(timeout: .seconds(10)) { calls.count == 1 })
        #expect(calls.zones.withLock { $0 } == [Build.zone])
    }

    @Test("A NOTIFY over TCP is answered and reported")
    func tcp() async throws {
        let calls = Calls()
        let listener = try await Self.listener(key: Build.key, calls: calls)
        defer { listener.close() }
        let signed = TSIGSigner(key: Build.key).sign(NotifyResponderTests.notify(id: 99), time: ZoneTransferClient.systemTime())
        let channel = try await ClientBootstrap(group: TestNetwork.group)
            .connect(host: "127.0.0.1", port: listener.port) { ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(LengthFieldBasedFrameDecoder(lengthFieldBitLength: .twoBytes)))
                    try ch.pipeline.syncOperations.addHandler(LengthFieldPrepender(lengthFieldBitLength: .twoBytes))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: ch)
                }
            }
        let raw: [UInt8]? = try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(bytes: signed.message))
            for try await frame in inbound { return Array(frame.readableBytesView) }
            return nil
        }
        let bytes = try #require(raw)
        var verifier = TSIGVerifier(key: Build.key, requestMAC: signed.mac, now: ZoneTransferClient.systemTime)
        try verifier.verify(try SignedMessage.split(bytes), received: bytes)
        #expect(await Poll.until(timeout: .seconds(10)) { calls.count == 1 })
    }

    @Test("The fetcher accepts NOTIFY only for its zones from their primary and calls the refresh handler")
    func fetcherRefresh() async throws {
        let fetcher = ZoneTransferFetcher()
        let location = "ixfr://127.0.0.1:53000/rpz.test"
        try fetcher.register(location)
        try fetcher.register("axfr://192.0.2.9/other.test")
        let refreshed = Mutex<[String]>([])
        fetcher.setRefreshHandler { loc in refreshed.withLock { $0.append(loc) } }
        #expect(fetcher.authorize(zone: Build.zone, source: Build.ip("127.0.0.1")) == .accept(key: nil))
        #expect(fetcher.authorize(zone: Build.zone, source: Build.ip("192.0.2.9")) == .refusedSource)
        #expect(fetcher.authorize(zone: Build.name("nope.test."), source: Build.ip("127.0.0.1")) == .unknownZone)
        let listener = try await NotifyListener.start(host: "127.0.0.1", port: 0,
            responder: NotifyResponder(authorizer: fetcher))
        defer { listener.close() }
        let reply = try #require(await TestNetwork.udpQuery(
            try DNSMessage.decode(NotifyResponderTests.notify(id: 5)), to: listener.port, timeout: .seconds(10)))
        #expect(reply.rcode == .noError)
        #expect(await Poll.until(timeout: .seconds(10)) { refreshed.withLock { $0 } == [location] })
    }
}
