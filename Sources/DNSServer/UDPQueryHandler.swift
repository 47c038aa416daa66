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
    /// The datagrams of the read burst in progress, and who sent each.
    private var burst: [[UInt8]] = []
    private var burstSenders: [SocketAddress] = []
    private var flushScheduled = false

    init(processor: QueryProcessor, logger: Logger) {
        self.processor = processor
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Kept until a group is full or the read ends (channelReadComplete): the chain's stages first prefetch for
        // all of the group's queries, then each is answered. Copied out of NIO's receive buffer now, so the buffer is
        // reused.
        let envelope = Self.unwrapInboundIn(data)
        self.burst.append(Array(envelope.data.readableBytesView))
        self.burstSenders.append(envelope.remoteAddress)
        if self.burst.count == Self.group { self.answerBurst(context: context) }
    }

    /// Datagrams answered together: enough for their prefetches to overlap, few enough that answering does not wait
    /// for the whole read (up to 32 vector reads of 32): holding more made the loop idle while the client waited.
    static let group = 16

    /// Prefetches for the datagrams read so far, then answers them in order.
    private func answerBurst(context: ChannelHandlerContext) {
        self.processor.prefetch(self.burst)
        for (bytes, remote) in zip(self.burst, self.burstSenders) {
            self.handle(bytes, from: remote, context: context)
        }
        self.burst.removeAll(keepingCapacity: true)
        self.burstSenders.removeAll(keepingCapacity: true)
    }

    /// Answers one datagram of the burst.
    private func handle(_ bytes: [UInt8], from remote: SocketAddress, context: ChannelHandlerContext) {
        guard let client = ClientInfo(remote, transport: .udp) else { return }
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
        if !self.burst.isEmpty { self.answerBurst(context: context) }
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
