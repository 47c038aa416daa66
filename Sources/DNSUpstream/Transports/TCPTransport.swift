import CoreMetrics
import DNSWire
import NIOCore
import NIOExtras
import NIOPosix
import NIOSSL
import NIOTLS
import Synchronization

/// TLS settings of a DoT connection (RFC 7858), prepared once per upstream.
package struct StreamTLS: Sendable {
    /// The context built from the trust roots (expensive: shared by every connection).
    let context: NIOSSLContext
    /// SNI and the name checked against the certificate; nil checks the certificate against the IP.
    let serverName: String?
    /// Additional key pins; empty means none.
    let pins: Set<SPKIPin>

    /// Builds the TLS context.
    /// - Throws: ``UpstreamConfigurationError`` when the CA file cannot be loaded.
    package init(options: UpstreamTLSOptions, serverName: String?) throws(UpstreamConfigurationError) {
        var config = TLSConfiguration.makeClientConfiguration()
        config.minimumTLSVersion = .tlsv12
        config.certificateVerification = options.verifyCertificate ? .fullVerification : .none
        if let ca = options.caFile {
            do {
                config.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(ca))
            } catch {
                throw UpstreamConfigurationError(.unreadableFile, "TLS CA file \"\(ca)\": cannot load PEM certificates (\(error))")
            }
        }
        do {
            self.context = try NIOSSLContext(configuration: config)
        } catch {
            throw UpstreamConfigurationError(.badOption, "TLS configuration rejected: \(error)")
        }
        self.serverName = serverName
        self.pins = Set(options.pins.compactMap(SPKIPin.init))
    }
}

/// DNS over TCP (RFC 7766) or TLS (RFC 7858): reused connections, pipelined queries, replies matched
/// by ID in any order, idle close, and reconnection on demand.
package final class TCPTransport: UpstreamTransport {
    private final class Connection: Sendable {
        /// Completes when the connection can carry queries (connected, and for TLS handshaken and pinned).
        let ready: EventLoopFuture<any Channel>
        let serial: Int
        init(ready: EventLoopFuture<any Channel>, serial: Int) {
            self.ready = ready
            self.serial = serial
        }
    }

    private struct State {
        var connections: [(connection: Connection, inFlight: Int)] = []
        var nextSerial = 0
        var closed = false
    }

    private let id: String
    private let server: SocketAddress
    private let group: any EventLoopGroup
    private let tls: StreamTLS?
    private let options: UpstreamOptions
    private let metrics: UpstreamMetrics
    private let state = Mutex(State())

    /// Creates a transport; no connection is opened until the first query.
    /// - Parameters:
    ///   - id: the upstream id (logs, errors).
    ///   - server: address and port.
    ///   - tls: TLS settings for DoT; nil for plain TCP.
    ///   - options: idle timeout, connection and pipelining limits, connect timeout.
    ///   - group: event loops for the connections.
    ///   - metrics: connection gauge and mismatch counters.
    package init(id: String, server: SocketAddress, tls: StreamTLS?, options: UpstreamOptions,
        group: any EventLoopGroup, metrics: UpstreamMetrics)
    {
        self.id = id
        self.server = server
        self.group = group
        self.tls = tls
        self.options = options
        self.metrics = metrics
    }

    /// Open connections (including ones still connecting).
    package var connectionCount: Int { self.state.withLock { $0.connections.count } }

    /// Sends `query` and returns the matching reply (see ``UpstreamTransport/exchange(_:deadline:)``).
    package func exchange(_ query: DNSMessage, deadline: NIODeadline) async throws(UpstreamError) -> DNSMessage {
        guard query.questions.count == 1, let question = query.questions.first else {
            throw UpstreamError(.badReply, "\(self.id): a query must carry exactly one question")
        }
        let bytes = ByteBuffer(bytes: query.encode())
        var retried = false
        while true {
            let connection: Connection
            do {
                connection = try self.acquire()
            } catch {
                throw UpstreamError.wrapping(error, upstream: self.id)
            }
            do {
                defer { self.release(connection) }
                return try await Self.send(bytes, question: question, opcode: query.header.opcode, on: connection,
                    deadline: deadline)
            } catch {
                // A connection may close under a query before it is written: the server closed it while
                // idle (RFC 7766 §6.2.3 lets either side close at any time), or our idle timer fired first
                // on a slow start. One retry on a fresh connection, not a failure.
                if !retried, Self.isConnectionLoss(error), NIODeadline.now() < deadline {
                    retried = true
                    // Forget it now: its close notification may not have run yet.
                    self.forget(serial: connection.serial)
                    continue
                }
                throw UpstreamError.wrapping(error, upstream: self.id)
            }
        }
    }

    private static func send(_ bytes: ByteBuffer, question: Question, opcode: OpCode, on connection: Connection,
        deadline: NIODeadline) async throws -> DNSMessage
    {
        let channel = try await connection.ready.within(deadline).get()
        let promise = channel.eventLoop.makePromise(of: DNSMessage.self)
        // If the channel closed since it was picked, the handler is gone and only the write fails:
        // that failure must reach the query (as a connection loss, so it is retried on a new one).
        channel.writeAndFlush(
            StreamExchange(bytes: bytes, question: question, opcode: opcode, promise: promise, deadline: deadline)
        ).whenFailure { promise.fail($0) }
        return try await promise.futureResult.get()
    }

    private static func isConnectionLoss(_ error: any Error) -> Bool {
        switch error {
        case TransportFailure.closed: return true
        case let e as ChannelError: return e == .ioOnClosedChannel || e == .alreadyClosed || e == .eof
        case let e as IOError: return e.errnoCode == ECONNRESET || e.errnoCode == EPIPE
        default: return false
        }
    }

    /// Picks the least-loaded connection with room, or opens one, or (at the connection limit)
    /// pipelines onto the least-loaded one anyway.
    private func acquire() throws -> Connection {
        let loop = self.group.next()
        let (connection, promise): (Connection, EventLoopPromise<any Channel>?) = try self.state.withLock { s in
            guard !s.closed else { throw TransportFailure.shutdown }
            let best = s.connections.indices.min { s.connections[$0].inFlight < s.connections[$1].inFlight }
            if let i = best, s.connections[i].inFlight < self.options.tcpMaxInFlight
                || s.connections.count >= self.options.tcpMaxConnections
            {
                s.connections[i].inFlight += 1
                return (s.connections[i].connection, nil)
            }
            s.nextSerial += 1
            let promise = loop.makePromise(of: (any Channel).self)
            let connection = Connection(ready: promise.futureResult, serial: s.nextSerial)
            s.connections.append((connection, 1))
            self.metrics.connections.record(s.connections.count)
            return (connection, promise)
        }
        // Connect outside the lock: NIO may run completion callbacks (which take the lock) inline.
        if let promise { self.connect(on: loop, serial: connection.serial, into: promise) }
        return connection
    }

    private func release(_ connection: Connection) {
        self.state.withLock { s in
            if let i = s.connections.firstIndex(where: { $0.connection === connection }) {
                s.connections[i].inFlight -= 1
            }
        }
    }

    private func forget(serial: Int) {
        self.state.withLock { s in
            s.connections.removeAll { $0.connection.serial == serial }
            self.metrics.connections.record(s.connections.count)
        }
    }

    private func connect(on loop: any EventLoop, serial: Int, into promise: EventLoopPromise<any Channel>) {
        let tls = self.tls
        let idle = TimeAmount(self.options.tcpIdleTimeout)
        let onMismatch: @Sendable (MismatchReason) -> Void = { [metrics] in metrics.mismatch($0) }
        // Connecting and the TLS handshake get the per-attempt timeout, not the first query's deadline:
        // the connection outlives that query.
        let setupTimeout = TimeAmount(self.options.timeout)
        let ready = loop.makePromise(of: Void.self)
        let bootstrap = ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(setupTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let tls {
                        try sync.addHandler(NIOSSLClientHandler(context: tls.context, serverHostname: tls.serverName))
                    }
                    try sync.addHandler(IdleStateHandler(allTimeout: idle))
                    try sync.addHandler(ByteToMessageHandler(LengthFieldBasedFrameDecoder(lengthFieldBitLength: .twoBytes)))
                    try sync.addHandler(LengthFieldPrepender(lengthFieldBitLength: .twoBytes))
                    try sync.addHandler(
                        DNSStreamClientHandler(ready: ready, tls: tls != nil, pins: tls?.pins ?? [],
                            setupTimeout: setupTimeout, onMismatch: onMismatch))
                }
            }
        let connected = bootstrap.connect(to: self.server)
        connected.whenComplete { result in
            switch result {
            case .success(let channel):
                channel.closeFuture.whenComplete { _ in self.forget(serial: serial) }
            case .failure(let error):
                ready.fail(error)
                self.forget(serial: serial)
            }
        }
        connected.and(ready.futureResult).map { channel, _ in channel }.cascade(to: promise)
    }

    /// Closes sockets and connections.
    package func shutdown() async {
        let connections = self.state.withLock { s in
            s.closed = true
            return s.connections.map(\.connection)
        }
        for c in connections {
            if let channel = try? await c.ready.get() { try? await channel.close() }
        }
    }
}

/// One query on a stream connection.
struct StreamExchange: Sendable {
    /// The encoded query; the handler writes the ID into its first two bytes.
    var bytes: ByteBuffer
    var question: Question
    var opcode: OpCode
    var promise: EventLoopPromise<DNSMessage>
    var deadline: NIODeadline
}

/// Carries pipelined queries on one TCP/TLS connection and matches replies by ID (after
/// swift-nio-extras' `NIORequestResponseWithIDHandler`, but with DNS IDs assigned here so they are
/// unique per connection, and with per-query deadlines).
final class DNSStreamClientHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = StreamExchange
    typealias OutboundOut = ByteBuffer

    private struct Pending {
        var matcher: ReplyMatcher
        var promise: EventLoopPromise<DNSMessage>
        var timeout: Scheduled<Void>
    }

    private var inFlight = StreamInFlight<Pending>()
    private var closed = false
    private var random = SystemRandomNumberGenerator()
    private let ready: EventLoopPromise<Void>
    private var isReady = false
    private let tls: Bool
    private let pins: Set<SPKIPin>
    private let setupTimeout: TimeAmount
    private var setupTimer: Scheduled<Void>?
    private let onMismatch: @Sendable (MismatchReason) -> Void

    init(ready: EventLoopPromise<Void>, tls: Bool, pins: Set<SPKIPin>, setupTimeout: TimeAmount,
        onMismatch: @escaping @Sendable (MismatchReason) -> Void)
    {
        self.ready = ready
        self.tls = tls
        self.pins = pins
        self.setupTimeout = setupTimeout
        self.onMismatch = onMismatch
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let ctx = context
        self.setupTimer = context.eventLoop.assumeIsolated().scheduleTask(in: self.setupTimeout) {
            guard !self.isReady else { return }
            self.ready.fail(TransportFailure.timeout)
            ctx.close(promise: nil)
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        if !self.tls { self.markReady() }
        context.fireChannelActive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted = tlsEvent {
            if self.pins.isEmpty || self.peerMatchesPin(context) {
                self.markReady()
            } else {
                self.ready.fail(TransportFailure.pinMismatch)
                context.close(promise: nil)
            }
        } else if event is IdleStateHandler.IdleStateEvent {
            // RFC 7766 §6.2.3: close idle connections; never while a query is outstanding.
            if self.inFlight.isEmpty { context.close(promise: nil) }
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func peerMatchesPin(_ context: ChannelHandlerContext) -> Bool {
        guard let handler = try? context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self),
            let leaf = handler.peerCertificate, let spki = try? leaf.extractPublicKey().toSPKIBytes()
        else { return false }
        return self.pins.contains(SPKIPin(spki: spki))
    }

    private func markReady() {
        guard !self.isReady else { return }
        self.isReady = true
        self.setupTimer?.cancel()
        self.ready.succeed()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let exchange = self.unwrapOutboundIn(data)
        guard !self.closed, let id = self.inFlight.unusedID(using: &self.random) else {
            exchange.promise.fail(TransportFailure.closed)
            promise?.fail(TransportFailure.closed)
            return
        }
        var bytes = exchange.bytes
        bytes.setInteger(id, at: bytes.readerIndex)
        let loop = context.eventLoop.assumeIsolated()
        let timeout = loop.scheduleTask(deadline: exchange.deadline) {
            // The connection stays: a late reply is simply unmatched and counted.
            if let p = self.inFlight.remove(id) { p.promise.fail(TransportFailure.timeout) }
        }
        self.inFlight.insert(
            Pending(matcher: ReplyMatcher(server: nil, id: id, question: exchange.question, opcode: exchange.opcode),
                promise: exchange.promise, timeout: timeout), id: id)
        let written = context.eventLoop.makePromise(of: Void.self)
        written.futureResult.assumeIsolated().whenFailure { error in
            if let p = self.inFlight.remove(id) {
                p.timeout.cancel()
                p.promise.fail(error)
            }
        }
        context.write(self.wrapOutboundOut(bytes), promise: written)
        promise?.succeed()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = self.unwrapInboundIn(data)
        guard let id = ReplyMatcher.peekID(frame), let pending = self.inFlight.peek(id) else {
            self.onMismatch(ReplyMatcher.peekID(frame) == nil ? .malformed : .id)
            return
        }
        switch pending.matcher.match(frame, from: nil) {
        case .accept(let message):
            _ = self.inFlight.remove(id)
            pending.timeout.cancel()
            pending.promise.succeed(message)
        case .reject(let reason):
            self.onMismatch(reason)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.failAll(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.failAll(TransportFailure.closed)
        context.fireChannelInactive()
    }

    private func failAll(_ error: any Error) {
        self.closed = true
        self.setupTimer?.cancel()
        if !self.isReady {
            self.isReady = true
            self.ready.fail(error)
        }
        for p in self.inFlight.removeAll() {
            p.timeout.cancel()
            p.promise.fail(error)
        }
    }
}

@available(*, unavailable)
extension DNSStreamClientHandler: Sendable {}

extension EventLoopFuture where Value: Sendable {
    /// This future, or a failure with ``TransportFailure/timeout`` if it has not completed by `deadline`.
    func within(_ deadline: NIODeadline) -> EventLoopFuture<Value> {
        let promise = self.eventLoop.makePromise(of: Value.self)
        // Whichever comes second is ignored: completing a fulfilled promise is a no-op in NIO.
        let timer = self.eventLoop.scheduleTask(deadline: deadline) {
            promise.fail(TransportFailure.timeout)
        }
        self.whenComplete { result in
            timer.cancel()
            promise.completeWith(result)
        }
        return promise.futureResult
    }
}
