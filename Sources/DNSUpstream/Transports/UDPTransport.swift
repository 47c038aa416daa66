import CoreMetrics
import DirectIO
import DNSWire
import NIOCore
import NIOPosix
import Synchronization

/// DNS over UDP with a fresh random ID per query, a random source port per query (or per pooled socket),
/// strict reply matching, and a retry over TCP when the reply is truncated (RFC 7766 §5).
package final class UDPTransport: UpstreamTransport {
    private let id: String
    private let server: SocketAddress
    private let group: any EventLoopGroup
    private let metrics: UpstreamMetrics
    private let sockets: UDPSocketSource
    /// The same server over TCP, used when a reply has TC=1.
    private let fallback: TCPTransport
    /// Per-event-loop multiplexed sockets for ``exchange(_:deadline:on:completion:)`` (pooled strategy only).
    private let loopSockets: LoopSocketSets?
    /// What a direct UDP listener's thread needs to open its own sockets to this upstream (``DirectUpstreams``).
    let direct: DirectUpstreamTarget
    /// The direct loops with sockets to this upstream, so that ``shutdown()`` closes them there.
    let directLoops = DirectLoopRegistry()

    /// Creates a UDP transport to `server`.
    /// - Parameters:
    ///   - id: the upstream id (logs, errors).
    ///   - server: address and port.
    ///   - strategy: socket handling.
    ///   - fallback: the TCP transport for truncated replies.
    ///   - group: event loops for the sockets.
    ///   - metrics: counters for mismatched replies and TCP fallbacks.
    package init(id: String, server: SocketAddress, strategy: UDPSocketStrategy, fallback: TCPTransport,
        group: any EventLoopGroup, metrics: UpstreamMetrics)
    {
        self.id = id
        self.server = server
        self.group = group
        self.metrics = metrics
        self.fallback = fallback
        let onMismatch: @Sendable (MismatchReason) -> Void = { [metrics] in metrics.mismatch($0) }
        self.direct = DirectUpstreamTarget(server: server, strategy: strategy, onMismatch: onMismatch)
        switch strategy {
        case .perQuery:
            self.sockets = .perQuery(PerQuerySockets(server: server, group: group, onMismatch: onMismatch))
            self.loopSockets = nil
        case .pooled(let size, let uses):
            self.sockets = .pooled(
                PooledSockets(server: server, group: group, size: size, usesPerSocket: uses, onMismatch: onMismatch))
            self.loopSockets = LoopSocketSets(server: server, size: size, usesPerSocket: uses, onMismatch: onMismatch)
        }
    }

    /// Sends `query` and returns the matching reply (see ``UpstreamTransport/exchange(_:deadline:)``).
    package func exchange(_ query: DNSMessage, deadline: NIODeadline) async throws(UpstreamError) -> DNSMessage {
        let reply = try await self.exchangeUDP(query, deadline: deadline)
        guard reply.header.truncated else { return reply }
        return try await self.retryTruncated(query, deadline: deadline)
    }

    /// One UDP round trip, without the TCP fallback (exposed for tests and benchmarks).
    package func exchangeUDP(_ query: DNSMessage, deadline: NIODeadline) async throws(UpstreamError) -> DNSMessage {
        guard let wire = QueryWire(query) else {
            throw UpstreamError(.badReply, "\(self.id): a query must carry exactly one question")
        }
        let (bytes, matcher) = self.withRandomID(wire)
        do {
            switch self.sockets {
            case .perQuery(let s):
                return try await s.exchange(bytes, matcher: matcher, deadline: deadline).get()
            case .pooled(let s):
                return try await s.exchange(bytes, matcher: matcher, deadline: deadline)
            }
        } catch {
            throw UpstreamError.wrapping(error, upstream: self.id)
        }
    }

    /// `query` under a fresh random ID, and the matcher its reply must pass (every path but the event-loop pooled
    /// sets, which pick IDs unique among their in-flight queries themselves).
    private func withRandomID(_ query: QueryWire) -> (ByteBuffer, ReplyMatcher) {
        // SystemRandomNumberGenerator reads the kernel CSPRNG: the ID is one of the two secrets that
        // stop off-path spoofing (RFC 5452 §4).
        let id = UInt16.random(in: .min ... .max)
        return (query.buffer(id: id), ReplyMatcher(server: self.server, id: id, question: query.question, opcode: query.opcode))
    }

    /// Sends `query` from `loop` and tells `receiver` once, on `loop`, the matching reply or the failure.
    ///
    /// The event-loop path of the miss fast path: the socket (a new one per query, or one of the loop's pooled
    /// set), the timeout and the reply all live on `loop`, so no task and no thread hop is involved. A reply with
    /// TC=1 is delivered as it is: the receiver retries over TCP (``retryOverTCP(_:deadline:on:completion:)``).
    /// - Parameters:
    ///   - query: the message, encoded once; each attempt sends it under its own random ID.
    ///   - deadline: when the attempt fails with `.timeout`.
    ///   - loop: the current event loop (the caller must be on it).
    ///   - receiver: told the outcome, on `loop`.
    func send(_ query: QueryWire, deadline: NIODeadline, on loop: any EventLoop, receiver: any LoopExchangeReceiver) {
        switch self.sockets {
        case .perQuery(let s):
            let (bytes, matcher) = self.withRandomID(query)
            s.exchange(bytes, matcher: matcher, deadline: deadline, on: loop).whenComplete {
                receiver.loopExchangeFinished($0.map(UpstreamReply.message))
            }
        case .pooled:
            guard let set = self.loopSockets?.set(for: loop) else {
                receiver.loopExchangeFinished(.failure(TransportFailure.shutdown))
                return
            }
            set.exchange(query, deadline: deadline, receiver: receiver)
        }
    }

    /// RFC 7766 §5: "the client MUST … retry the query using TCP". A truncated reply is never an answer.
    private func retryTruncated(_ query: DNSMessage, deadline: NIODeadline) async throws(UpstreamError) -> DNSMessage {
        self.metrics.tcpFallback.increment()
        return try await self.fallback.exchange(query, deadline: deadline)
    }

    /// ``retryTruncated(_:deadline:)`` from the event loop (rare, so a task is fine): `completion` is called back on
    /// `loop`.
    func retryOverTCP(_ query: DNSMessage, deadline: NIODeadline, on loop: any EventLoop,
        completion: @escaping @Sendable (Result<DNSMessage, UpstreamError>) -> Void)
    {
        loop.makeFutureWithTask {
            try await self.retryTruncated(query, deadline: deadline)
        }.whenComplete { r in
            completion(r.mapError { UpstreamError.wrapping($0, upstream: self.id) })
        }
    }

    /// Sockets open on the event-loop path (pooled strategy; tests check recycling with it).
    package func loopSocketCount() async -> Int {
        await self.loopSockets?.openSockets() ?? 0
    }

    /// The kernel's receive buffer size of each socket open on the event-loop path (tests).
    package func loopSocketReceiveBuffers() async -> [Int] {
        await self.loopSockets?.receiveBuffers() ?? []
    }

    /// Closes sockets and connections.
    package func shutdown() async {
        // Each direct loop closes its sockets to this upstream on its own thread; their queries fail with `.shutdown`.
        for loop in self.directLoops.close() {
            loop.post { DirectUpstreams.on(loop).remove(self) }
        }
        if case .pooled(let s) = self.sockets { await s.shutdown() }
        await self.loopSockets?.shutdown()
        await self.fallback.shutdown()
    }
}

/// Where the UDP transport's sockets come from.
private enum UDPSocketSource: Sendable {
    case perQuery(PerQuerySockets)
    case pooled(PooledSockets)
}

/// A new connected datagram socket for every query.
private struct PerQuerySockets: Sendable {
    let server: SocketAddress
    let group: any EventLoopGroup
    let onMismatch: @Sendable (MismatchReason) -> Void

    /// Everything stays on the event loop as one future chain: no task hops per query.
    /// - Parameter loop: where the socket lives (nil: any loop of the group).
    func exchange(_ bytes: ByteBuffer, matcher: ReplyMatcher, deadline: NIODeadline,
        on loop: (any EventLoop)? = nil) -> EventLoopFuture<DNSMessage>
    {
        let onMismatch = self.onMismatch
        let bootstrap = DatagramBootstrap(group: loop ?? self.group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UDPExchangeHandler(onMismatch: onMismatch))
                }
            }
        // Connecting binds an ephemeral port the kernel picks at random (Linux randomizes UDP
        // autobind), makes the kernel drop datagrams from other peers, and reports ICMP
        // port-unreachable as ECONNREFUSED so a dead server fails at once.
        return bootstrap.connect(to: self.server).flatMap { channel in
            let promise = channel.eventLoop.makePromise(of: DNSMessage.self)
            channel.writeAndFlush(UDPExchange(bytes: bytes, matcher: matcher, promise: promise, deadline: deadline))
                .whenFailure { promise.fail($0) }
            return promise.futureResult.always { _ in channel.close(promise: nil) }
        }
    }
}

/// A bounded set of sockets on random ports, each with one outstanding query at a time.
///
/// The sockets belong to one upstream, so they are connected to it like per-query sockets (kernel
/// source filtering, fast ICMP failure); only the port changes less often.
private final class PooledSockets: Sendable {
    private struct State {
        var idle: [PooledSocket] = []
        var open = 0
        var closed = false
    }
    private struct PooledSocket: Sendable {
        let channel: any Channel
        /// False for a one-off socket opened because every pooled one was busy.
        let pooled: Bool
        var uses: Int
    }

    let server: SocketAddress
    let group: any EventLoopGroup
    let size: Int
    let usesPerSocket: Int
    let onMismatch: @Sendable (MismatchReason) -> Void
    private let state = Mutex(State())

    init(server: SocketAddress, group: any EventLoopGroup, size: Int, usesPerSocket: Int,
        onMismatch: @escaping @Sendable (MismatchReason) -> Void)
    {
        self.server = server
        self.group = group
        self.size = size
        self.usesPerSocket = usesPerSocket
        self.onMismatch = onMismatch
    }

    func exchange(_ bytes: ByteBuffer, matcher: ReplyMatcher, deadline: NIODeadline) async throws -> DNSMessage {
        var socket = try await self.acquire()
        let promise = socket.channel.eventLoop.makePromise(of: DNSMessage.self)
        socket.channel.writeAndFlush(UDPExchange(bytes: bytes, matcher: matcher, promise: promise, deadline: deadline))
            .whenFailure { promise.fail($0) }
        let result: Result<DNSMessage, any Error>
        do {
            result = .success(try await promise.futureResult.get())
        } catch {
            result = .failure(error)
        }
        socket.uses += 1
        self.release(socket)
        return try result.get()
    }

    private func acquire() async throws -> PooledSocket {
        enum Take { case reuse(PooledSocket), open, extra }
        let take: Take = try self.state.withLock { s in
            guard !s.closed else { throw TransportFailure.shutdown }
            if let sock = s.idle.popLast() { return .reuse(sock) }
            if s.open < self.size {
                s.open += 1
                return .open
            }
            // Every socket is busy: use a one-off socket rather than queueing behind a slow query.
            return .extra
        }
        switch take {
        case .reuse(let sock):
            return sock
        case .open, .extra:
            let pooled: Bool
            if case .open = take { pooled = true } else { pooled = false }
            do {
                return PooledSocket(channel: try await self.bind(), pooled: pooled, uses: 0)
            } catch {
                if pooled { self.state.withLock { $0.open -= 1 } }
                throw error
            }
        }
    }

    private func release(_ socket: PooledSocket) {
        let keep: Bool = self.state.withLock { s in
            if socket.pooled, !s.closed, socket.channel.isActive, socket.uses < self.usesPerSocket {
                s.idle.append(socket)
                return true
            }
            if socket.pooled { s.open -= 1 }
            return false
        }
        if !keep { socket.channel.close(promise: nil) }
    }

    private func bind() async throws -> any Channel {
        let onMismatch = self.onMismatch
        return try await DatagramBootstrap(group: self.group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UDPExchangeHandler(onMismatch: onMismatch))
                }
            }
            .connect(to: self.server)
            .get()
    }

    func shutdown() async {
        let channels = self.state.withLock { s in
            s.closed = true
            defer { s.idle = [] }
            return s.idle.map(\.channel)
        }
        for c in channels { try? await c.close() }
    }
}

/// One UDP query in flight: what to send, how to recognise the answer, where to deliver it.
struct UDPExchange: Sendable {
    var bytes: ByteBuffer
    var matcher: ReplyMatcher
    var promise: EventLoopPromise<DNSMessage>
    var deadline: NIODeadline
}

/// Sends one query at a time on a datagram socket and accepts only the matching reply.
///
/// Everything else that arrives (another ID, another question, another source, garbage, a late
/// reply to an earlier query) is counted and ignored: an attacker racing the real server must not
/// be able to end the wait with a forged answer *or* a forged error.
final class UDPExchangeHandler: ChannelDuplexHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundIn = UDPExchange
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private struct Pending {
        var matcher: ReplyMatcher
        var promise: EventLoopPromise<DNSMessage>
        var timeout: Scheduled<Void>
    }

    private var pending: Pending?
    private let onMismatch: @Sendable (MismatchReason) -> Void

    init(onMismatch: @escaping @Sendable (MismatchReason) -> Void) {
        self.onMismatch = onMismatch
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let exchange = self.unwrapOutboundIn(data)
        guard self.pending == nil, let server = exchange.matcher.server else {
            exchange.promise.fail(TransportFailure.busy)
            promise?.fail(TransportFailure.busy)
            return
        }
        let loop = context.eventLoop.assumeIsolated()
        let timeout = loop.scheduleTask(deadline: exchange.deadline) {
            self.finish(.failure(TransportFailure.timeout))
        }
        self.pending = Pending(matcher: exchange.matcher, promise: exchange.promise, timeout: timeout)
        let written = context.eventLoop.makePromise(of: Void.self)
        written.futureResult.assumeIsolated().whenFailure { error in
            self.finish(.failure(error))
        }
        context.write(self.wrapOutboundOut(AddressedEnvelope(remoteAddress: server, data: exchange.bytes)),
            promise: written)
        promise?.succeed()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = self.unwrapInboundIn(data)
        guard let pending = self.pending else {
            // A late reply to a query that already timed out (pooled sockets only).
            self.onMismatch(.id)
            return
        }
        switch pending.matcher.match(envelope.data, from: envelope.remoteAddress) {
        case .accept(let message):
            self.finish(.success(message))
        case .reject(let reason):
            self.onMismatch(reason)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // On a connected socket ECONNREFUSED means ICMP port unreachable from the server itself (the
        // kernel checks the ICMP payload's addresses): fail now instead of waiting for the deadline.
        self.finish(.failure(error))
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.finish(.failure(TransportFailure.closed))
        context.fireChannelInactive()
    }

    private func finish(_ result: Result<DNSMessage, any Error>) {
        guard let pending = self.pending else { return }
        self.pending = nil
        pending.timeout.cancel()
        pending.promise.completeWith(result)
    }
}

@available(*, unavailable)
extension UDPExchangeHandler: Sendable {}
