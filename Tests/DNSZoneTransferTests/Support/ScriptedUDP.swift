import TestSupport
import NIOCore
import NIOPosix

/// A fake UDP server on 127.0.0.1: answers each datagram with the datagrams `reply` returns.
final class ScriptedUDP: Sendable {
    let port: Int
    private let channel: any Channel

    private init(port: Int, channel: any Channel) {
        self.port = port
        self.channel = channel
    }

    /// Binds `port` (0: any) and starts answering.
    static func start(port: Int = 0, _ reply: @escaping @Sendable ([UInt8]) -> [[UInt8]]) async throws -> ScriptedUDP {
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(Handler(reply: reply)) }
            }
            .bind(host: "127.0.0.1", port: port).get()
        guard let bound = channel.localAddress?.port else { throw TestDaemonError("scripted UDP server has no port") }
        return ScriptedUDP(port: bound, channel: channel)
    }

    /// Closes the socket.
    func stop() {
        self.channel.close(promise: nil)
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>
        let reply: @Sendable ([UInt8]) -> [[UInt8]]

        init(reply: @escaping @Sendable ([UInt8]) -> [[UInt8]]) { self.reply = reply }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = Self.unwrapInboundIn(data)
            for bytes in self.reply(Array(envelope.data.readableBytesView)) {
                let out = AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: ByteBuffer(bytes: bytes))
                context.write(Self.wrapOutboundOut(out), promise: nil)
            }
            context.flush()
        }
    }
}
