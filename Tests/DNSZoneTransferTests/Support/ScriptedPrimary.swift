import TestSupport
import DNSWire
import NIOCore
import NIOExtras
import NIOPosix
import Synchronization

/// A fake primary on 127.0.0.1 (TCP): each connection reads one framed query and plays a script, to
/// drive the client through hostile and broken behaviour no real server produces on demand.
final class ScriptedPrimary: Sendable {
    /// What the fake primary does after reading the query.
    enum Step: Sendable {
        /// Send one DNS message with its 2-byte length prefix.
        case message([UInt8])
        /// Send raw bytes as they are (broken framing).
        case raw([UInt8])
        /// Close the connection.
        case close
        /// Send messages produced one by one, until the client goes away or `count` is reached.
        case endless(count: Int, @Sendable (Int) -> [UInt8])
        /// Send one message produced every `every`, forever (until the client goes away).
        case trickle(every: TimeAmount, @Sendable (Int) -> [UInt8])
    }

    /// Decides the steps from the raw query bytes.
    typealias Script = @Sendable ([UInt8]) -> [Step]

    let port: Int
    private let channel: any Channel
    private let queries = Mutex<[[UInt8]]>([])

    private init(port: Int, channel: any Channel) {
        self.port = port
        self.channel = channel
    }

    /// The queries received so far.
    var received: [[UInt8]] { self.queries.withLock { $0 } }

    /// Starts listening; `script` runs for each connection's first query. Steps run to their end; a
    /// connection left open after them stays open (a stalled primary) until the client closes it.
    static func start(_ script: @escaping Script) async throws -> ScriptedPrimary {
        let box = Mutex<ScriptedPrimary?>(nil)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(LengthFieldBasedFrameDecoder(lengthFieldBitLength: .twoBytes)))
                    try ch.pipeline.syncOperations.addHandler(ScriptHandler(script: script) { query in
                        box.withLock { $0?.queries.withLock { $0.append(query) } }
                    })
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        guard let port = channel.localAddress?.port else { throw TestDaemonError("scripted primary has no port") }
        let primary = ScriptedPrimary(port: port, channel: channel)
        box.withLock { $0 = primary }
        return primary
    }

    /// Stops listening (open connections close when the client closes them).
    func stop() {
        self.channel.close(promise: nil)
    }
}

private final class ScriptHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let script: ScriptedPrimary.Script
    let record: @Sendable ([UInt8]) -> Void
    var started = false
    var endless: (next: Int, count: Int, make: @Sendable (Int) -> [UInt8])?

    init(script: @escaping ScriptedPrimary.Script, record: @escaping @Sendable ([UInt8]) -> Void) {
        self.script = script
        self.record = record
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.started else { return }
        self.started = true
        let query = Array(Self.unwrapInboundIn(data).readableBytesView)
        self.record(query)
        self.run(self.script(query)[...], context: context)
    }

    private func run(_ steps: ArraySlice<ScriptedPrimary.Step>, context: ChannelHandlerContext) {
        guard let step = steps.first else { return }
        let rest = steps.dropFirst()
        switch step {
        case .message(let bytes):
            var b = context.channel.allocator.buffer(capacity: bytes.count + 2)
            b.writeInteger(UInt16(bytes.count))
            b.writeBytes(bytes)
            context.writeAndFlush(Self.wrapOutboundOut(b), promise: nil)
            self.run(rest, context: context)
        case .raw(let bytes):
            context.writeAndFlush(Self.wrapOutboundOut(ByteBuffer(bytes: bytes)), promise: nil)
            self.run(rest, context: context)
        case .close:
            context.close(promise: nil)
        case .endless(let count, let make):
            self.endless = (next: 0, count: count, make: make)
            self.pump(context: context)
        case .trickle(let every, let make):
            self.trickle(0, every: every, make: make, context: context)
        }
    }

    private func trickle(_ i: Int, every: TimeAmount, make: @escaping @Sendable (Int) -> [UInt8],
        context: ChannelHandlerContext)
    {
        guard context.channel.isActive else { return }
        let bytes = make(i)
        var b = context.channel.allocator.buffer(capacity: bytes.count + 2)
        b.writeInteger(UInt16(bytes.count))
        b.writeBytes(bytes)
        context.writeAndFlush(Self.wrapOutboundOut(b), promise: nil)
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: every) {
            bound.value.handler.trickle(i + 1, every: every, make: make, context: bound.value.context)
        }
    }

    /// Writes while the channel is writable and resumes when it becomes writable again, so a client that
    /// stops reading applies back-pressure instead of filling memory here, and the event loop keeps
    /// serving other channels between bursts.
    private func pump(context: ChannelHandlerContext) {
        guard var e = self.endless else { return }
        while context.channel.isWritable && e.next < e.count {
            let bytes = e.make(e.next)
            var b = context.channel.allocator.buffer(capacity: bytes.count + 2)
            b.writeInteger(UInt16(bytes.count))
            b.writeBytes(bytes)
            context.write(Self.wrapOutboundOut(b), promise: nil)
            e.next += 1
        }
        context.flush()
        self.endless = e.next < e.count ? e : nil
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { self.pump(context: context) }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension ScriptHandler: Sendable {}
