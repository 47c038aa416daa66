import DNSPipeline
import Logging
import Metrics
import NIOCore

/// Reads datagrams, answers on the event loop when the fast path can, and hands the rest to a task.
///
/// A cache miss to a UDP upstream stays on this event loop too: the upstream exchange is started here
/// (``QueryProcessor/resume(_:completion:)``), its reply arrives on this loop, and the chain is replayed
/// synchronously, so the common miss needs neither a task nor a thread hop.
///
/// It never closes the channel: one bad packet must not take the listener down (STYLE §7).
final class UDPQueryHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let processor: QueryProcessor
    private let logger: Logger
    private let errors = Counter(label: "palisade_server_errors_total", dimensions: [("transport", "udp")])
    private var pendingFlush = false
    private var flushScheduled = false

    init(processor: QueryProcessor, logger: Logger) {
        self.processor = processor
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = Self.unwrapInboundIn(data)
        let remote = envelope.remoteAddress
        guard let client = ClientInfo(remote, transport: .udp) else { return }
        let bytes = Array(envelope.data.readableBytesView)
        switch self.processor.processOnLoop(bytes, client: client) {
        case .reply(let out):
            let buffer = context.channel.allocator.buffer(bytes: out)
            context.write(Self.wrapOutboundOut(AddressedEnvelope(remoteAddress: remote, data: buffer)), promise: nil)
            self.pendingFlush = true
        case .drop:
            break
        case .async(let query):
            let channel = context.channel
            let processor = self.processor
            Task {
                guard let out = await processor.process(query) else { return }
                let buffer = channel.allocator.buffer(bytes: out)
                channel.writeAndFlush(AddressedEnvelope(remoteAddress: remote, data: buffer), promise: nil)
            }
        case .deferred(let deferred):
            let loop = context.eventLoop
            let bound = NIOLoopBound(DeferredWriter(handler: self, context: context), eventLoop: loop)
            self.processor.resume(deferred) { out in
                guard let out else { return }
                // Usually called on this loop (the upstream socket lives here). The async fallback calls
                // from a task: hop back, the handler and its context belong to the loop.
                if loop.inEventLoop {
                    bound.value.write(out, to: remote)
                } else {
                    loop.execute { bound.value.write(out, to: remote) }
                }
            }
        }
    }

    /// Queues a deferred answer and flushes once after the current batch of events, so the answers to
    /// one burst of upstream replies leave with one sendmmsg.
    fileprivate func writeDeferred(_ out: [UInt8], to remote: SocketAddress, context: ChannelHandlerContext) {
        let buffer = context.channel.allocator.buffer(bytes: out)
        context.write(Self.wrapOutboundOut(AddressedEnvelope(remoteAddress: remote, data: buffer)), promise: nil)
        guard !self.flushScheduled else { return }
        self.flushScheduled = true
        // Tasks run after the loop has handled the I/O events it picked up: every answer completed in
        // this round is written by then.
        let bound = NIOLoopBound(DeferredWriter(handler: self, context: context), eventLoop: context.eventLoop)
        context.eventLoop.execute {
            bound.value.handler.flushScheduled = false
            bound.value.context.flush()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // Flush once per read burst: NIO then sends the queued datagrams with one sendmmsg.
        if self.pendingFlush {
            self.pendingFlush = false
            context.flush()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP errors and the like surface here; log and keep serving.
        self.errors.increment()
        self.logger.debug("udp listener error", metadata: ["error": "\(error)"])
    }
}

@available(*, unavailable)
extension UDPQueryHandler: Sendable {}

/// The handler and context a deferred answer is written through (used on their event loop only).
private struct DeferredWriter {
    let handler: UDPQueryHandler
    let context: ChannelHandlerContext

    func write(_ out: [UInt8], to remote: SocketAddress) {
        self.handler.writeDeferred(out, to: remote, context: self.context)
    }
}
