import DNSWire
import NIOCore
import NIOExtras
import NIOPosix
import Synchronization
import TestSupport

/// Replies for scripted servers.
enum FakeAnswer {
    /// A response to `query` with one A record for its name.
    static func a(_ query: DNSMessage, _ address: IPv4Address, ttl: UInt32 = 60) -> DNSMessage {
        var r = query.makeResponse()
        r.answers = [ResourceRecord(name: query.questions.first?.name ?? .root, ttl: ttl, rdata: .a(RData.A(address: address)))]
        return r
    }

    /// A wrong-ID reply and a reply to another question (both for `forged`), then the real answer for `real`:
    /// the spoofing script the async and event-loop paths are both checked against.
    static func wrongIDAndQuestionThenReal(_ query: DNSMessage, forged: IPv4Address, real: IPv4Address)
        -> [FakeUDPServer.Reply]
    {
        var wrongID = FakeAnswer.a(query, forged)
        wrongID.header.id ^= 0x0101
        var otherQuestion = query
        otherQuestion.questions[0].name = (try? DomainName("evil.example.org.")) ?? .root
        return [.message(wrongID), .message(FakeAnswer.a(otherQuestion, forged)), .message(FakeAnswer.a(query, real))]
    }

    /// Two replies with a wrong ID and no real answer: forgeries alone, which must never end the wait.
    static func wrongIDOnly(_ query: DNSMessage, forged: IPv4Address) -> [FakeUDPServer.Reply] {
        var wrongID = FakeAnswer.a(query, forged)
        wrongID.header.id &+= 1
        return [.message(wrongID), .message(wrongID)]
    }

    /// The first A record's address in a reply.
    static func address(_ reply: DNSMessage?) -> IPv4Address? {
        for rr in reply?.answers ?? [] {
            if case .a(let a) = rr.rdata { return a.address }
        }
        return nil
    }
}

/// A scripted UDP DNS server on 127.0.0.1 (a real socket): for each query it sends whatever the
/// script returns, in order, so tests can send forged replies before the real one.
final class FakeUDPServer: Sendable {
    /// One datagram to send back.
    enum Reply: Sendable {
        /// This message, from the server's own address.
        case message(DNSMessage)
        /// Raw bytes, from the server's own address.
        case raw([UInt8])
        /// This message from another port of 127.0.0.1 (an off-path forgery attempt).
        case fromOtherPort(DNSMessage)
    }

    /// The server's port.
    let port: Int
    private let channel: any Channel
    private let spoofer: any Channel
    private let log: QueryLog

    private init(port: Int, channel: any Channel, spoofer: any Channel, log: QueryLog) {
        self.port = port
        self.channel = channel
        self.spoofer = spoofer
        self.log = log
    }

    /// Every query received so far.
    var queries: [DNSMessage] { self.log.all }
    /// The source port of every query received so far.
    var sourcePorts: [Int] { self.log.ports }

    /// Starts a server; `script` maps each received query to the datagrams to send back.
    static func start(host: String = "127.0.0.1", _ script: @escaping @Sendable (DNSMessage) -> [Reply]) async throws
        -> FakeUDPServer
    {
        let spoofer = try await DatagramBootstrap(group: TestNetwork.group).bind(host: host, port: 0).get()
        let log = QueryLog()
        let channel = try await DatagramBootstrap(group: TestNetwork.group)
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHandler(
                        ScriptedUDPHandler(script: script, spoofer: spoofer, record: { log.append($0, sourcePort: $1) }))
                }
            }
            .bind(host: host, port: 0).get()
        guard let port = channel.localAddress?.port else { throw TestDaemonError("fake server has no port") }
        return FakeUDPServer(port: port, channel: channel, spoofer: spoofer, log: log)
    }

    /// Closes the sockets.
    func stop() async {
        try? await self.channel.close()
        try? await self.spoofer.close()
    }
}

/// Queries a fake server received.
final class QueryLog: Sendable {
    private let entries = Mutex<[(message: DNSMessage, port: Int)]>([])
    func append(_ m: DNSMessage, sourcePort: Int = 0) { self.entries.withLock { $0.append((m, sourcePort)) } }
    var all: [DNSMessage] { self.entries.withLock { $0.map(\.message) } }
    var ports: [Int] { self.entries.withLock { $0.map(\.port) } }
}

private final class ScriptedUDPHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    let script: @Sendable (DNSMessage) -> [FakeUDPServer.Reply]
    let spoofer: any Channel
    let record: @Sendable (DNSMessage, Int) -> Void

    init(script: @escaping @Sendable (DNSMessage) -> [FakeUDPServer.Reply], spoofer: any Channel,
        record: @escaping @Sendable (DNSMessage, Int) -> Void)
    {
        self.script = script
        self.spoofer = spoofer
        self.record = record
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = self.unwrapInboundIn(data)
        guard let query = try? DNSMessage.decode(Array(envelope.data.readableBytesView)) else { return }
        self.record(query, envelope.remoteAddress.port ?? 0)
        self.send(self.script(query)[...], to: envelope.remoteAddress, context: context)
    }

    /// Sends the replies strictly in order: a datagram from the other port is fully sent (loopback
    /// delivery happens inside sendmsg) before the next one, so the client sees them in script order.
    private func send(_ replies: ArraySlice<FakeUDPServer.Reply>, to client: SocketAddress, context: ChannelHandlerContext) {
        guard let first = replies.first else { return }
        let rest = replies.dropFirst()
        switch first {
        case .message(let m):
            context.writeAndFlush(self.wrapOutboundOut(AddressedEnvelope(remoteAddress: client, data: ByteBuffer(bytes: m.encode()))),
                promise: nil)
            self.send(rest, to: client, context: context)
        case .raw(let bytes):
            context.writeAndFlush(self.wrapOutboundOut(AddressedEnvelope(remoteAddress: client, data: ByteBuffer(bytes: bytes))),
                promise: nil)
            self.send(rest, to: client, context: context)
        case .fromOtherPort(let m):
            let done = self.spoofer.writeAndFlush(
                AddressedEnvelope(remoteAddress: client, data: ByteBuffer(bytes: m.encode())))
            done.hop(to: context.eventLoop).assumeIsolated().whenComplete { _ in
                self.send(rest, to: client, context: context)
            }
        }
    }
}

/// A scripted DNS-over-TCP server on 127.0.0.1 (a real socket).
final class FakeTCPServer: Sendable {
    /// How the server answers.
    enum Mode: Sendable {
        /// Wait until `batch` queries arrived on a connection, then answer them in reverse order.
        case reverseBatches(Int)
        /// Answer each query, then close the connection.
        case closeAfterEachReply
        /// Answer each query at once and keep the connection.
        case echo
    }

    /// The server's port.
    let port: Int
    private let channel: any Channel
    private let box: CounterBox

    private init(port: Int, channel: any Channel, box: CounterBox) {
        self.port = port
        self.channel = channel
        self.box = box
    }

    /// Connections accepted so far.
    var connections: Int { self.box.counters.withLock { $0.connections } }
    /// Queries received so far.
    var queries: Int { self.box.counters.withLock { $0.queries } }

    /// Starts a server; each query `q` is answered with `answer(q)`.
    static func start(host: String = "127.0.0.1", mode: Mode, answer: @escaping @Sendable (DNSMessage) -> DNSMessage)
        async throws -> FakeTCPServer
    {
        let box = CounterBox()
        let channel = try await ServerBootstrap(group: TestNetwork.group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { ch in
                box.connection()
                return ch.eventLoop.makeCompletedFuture {
                    let sync = ch.pipeline.syncOperations
                    try sync.addHandler(ByteToMessageHandler(LengthFieldBasedFrameDecoder(lengthFieldBitLength: .twoBytes)))
                    try sync.addHandler(LengthFieldPrepender(lengthFieldBitLength: .twoBytes))
                    try sync.addHandler(ScriptedTCPHandler(mode: mode, answer: answer, onQuery: { box.query() }))
                }
            }
            .bind(host: host, port: 0).get()
        guard let port = channel.localAddress?.port else { throw TestDaemonError("fake server has no port") }
        return FakeTCPServer(port: port, channel: channel, box: box)
    }

    /// Closes the listening socket.
    func stop() async {
        try? await self.channel.close()
    }
}

private final class CounterBox: Sendable {
    let counters = Mutex<(connections: Int, queries: Int)>((0, 0))
    func connection() { self.counters.withLock { $0.connections += 1 } }
    func query() { self.counters.withLock { $0.queries += 1 } }
}

private final class ScriptedTCPHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let mode: FakeTCPServer.Mode
    let answer: @Sendable (DNSMessage) -> DNSMessage
    let onQuery: @Sendable () -> Void
    var batch: [DNSMessage] = []

    init(mode: FakeTCPServer.Mode, answer: @escaping @Sendable (DNSMessage) -> DNSMessage,
        onQuery: @escaping @Sendable () -> Void)
    {
        self.mode = mode
        self.answer = answer
        self.onQuery = onQuery
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = self.unwrapInboundIn(data)
        guard let query = try? DNSMessage.decode(Array(frame.readableBytesView)) else { return }
        self.onQuery()
        switch self.mode {
        case .echo:
            context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(bytes: self.answer(query).encode())), promise: nil)
        case .closeAfterEachReply:
            context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(bytes: self.answer(query).encode())))
                .assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        case .reverseBatches(let n):
            self.batch.append(query)
            if self.batch.count >= n {
                for q in self.batch.reversed() {
                    context.write(self.wrapOutboundOut(ByteBuffer(bytes: self.answer(q).encode())), promise: nil)
                }
                self.batch = []
                context.flush()
            }
        }
    }
}
