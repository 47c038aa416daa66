// nio-floor PORT: answers every datagram on 127.0.0.1:PORT with the same bytes and QR set, through one NIO event loop
// configured as Palisade's UDP listener is (vector reads of 32, 2 KiB per message, a flush per read burst). No parsing,
// no cache, no policy, no log: what is left is NIO's and the kernel's cost per datagram.
import NIOCore
import NIOPosix

final class Echo: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>
    private var pending = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = Self.unwrapInboundIn(data)
        var out = envelope.data
        guard out.readableBytes >= 12, let flags = out.getInteger(at: out.readerIndex + 2, as: UInt8.self) else { return }
        out.setInteger(flags | 0x80, at: out.readerIndex + 2)
        context.write(Self.wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: out)),
            promise: nil)
        self.pending = true
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard self.pending else { return }
        self.pending = false
        context.flush()
    }
}

guard CommandLine.arguments.count == 2, let port = Int(CommandLine.arguments[1]) else {
    fatalError("usage: nio-floor PORT")
}
let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let channel = try DatagramBootstrap(group: group)
    .channelOption(.socketOption(.so_reuseaddr), value: 1)
    .channelOption(.maxMessagesPerRead, value: 32)
    .channelOption(.datagramVectorReadMessageCount, value: 32)
    .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 32 * 2048))
    .channelInitializer { c in
        c.eventLoop.makeCompletedFuture { try c.pipeline.syncOperations.addHandler(Echo()) }
    }
    .bind(host: "127.0.0.1", port: port).wait()
try channel.closeFuture.wait()
