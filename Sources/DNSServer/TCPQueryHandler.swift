import DNSPipeline
import Logging
import Metrics
import NIOCore

/// Handles length-framed DNS messages on one TCP or TLS connection (RFC 7766).
///
/// Several queries per connection, pipelined: answers go back as they complete, possibly out of
/// order (clients match by ID). The connection closes when idle with nothing in flight.
final class TCPQueryHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let processor: QueryProcessor
    private let transport: Transport
    private let logger: Logger
    private let maxInFlight: Int
    private var inFlight = 0
    private var client: ClientInfo?

    init(processor: QueryProcessor, transport: Transport, logger: Logger, maxInFlight: Int = 100) {
        self.processor = processor
        self.transport = transport
        self.logger = logger
        self.maxInFlight = maxInFlight
    }

    func channelActive(context: ChannelHandlerContext) {
        self.client = ClientInfo(context.channel.remoteAddress, transport: self.transport)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = Self.unwrapInboundIn(data)
        guard let client = self.client else {
            context.close(promise: nil)
            return
        }
        let bytes = Array(frame.readableBytesView)
        switch self.processor.processNow(bytes, client: client) {
        case .reply(let out):
            context.write(Self.wrapOutboundOut(context.channel.allocator.buffer(bytes: out)), promise: nil)
        case .drop:
            // On a stream, a frame too short for a header means the framing is lost: what follows would
            // be read as garbage lengths. Close this connection (RFC 7766 §6.2.4 allows it); the
            // listener and other connections are unaffected.
            if bytes.count < 12 { context.close(promise: nil) }
        case .async(let query):
            guard self.inFlight < self.maxInFlight else {
                // Too many outstanding queries on one connection: shed this one, keep the connection.
                return
            }
            self.inFlight += 1
            let loop = context.eventLoop
            let channel = context.channel
            let processor = self.processor
            let bound = NIOLoopBound(self, eventLoop: loop)
            Task {
                let out = await processor.process(query)
                loop.execute {
                    bound.value.inFlight -= 1
                    if let out {
                        channel.writeAndFlush(channel.allocator.buffer(bytes: out), promise: nil)
                    }
                }
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            if self.inFlight == 0 {
                context.close(promise: nil)
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A bad connection (oversized frame, TLS failure, reset) closes only itself.
        self.logger.debug("tcp connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension TCPQueryHandler: Sendable {}
