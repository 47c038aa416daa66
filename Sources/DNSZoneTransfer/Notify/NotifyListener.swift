import DNSWire
public import Logging
public import NIOCore
import NIOExtras
import NIOPosix
import Synchronization

/// Receives NOTIFY messages (RFC 1996) over UDP and TCP on one address and port, answers them through a
/// ``NotifyResponder``, and reports the accepted ones to the responder's ``NotifyAuthorizer``.
///
/// A bad packet or connection never stops the listener: undecodable input is answered FORMERR or
/// dropped, TCP connections are capped, idle ones closed, and a failing connection only closes itself.
public final class NotifyListener: Sendable {
    /// The UDP and TCP address actually bound (the port is the real one when 0 was asked for).
    public let localAddress: SocketAddress
    private let udp: any Channel
    private let tcp: any Channel

    /// Most TCP connections open at once; more are closed on accept.
    public static let maxTCPConnections = 16
    /// A TCP connection idle for this long is closed.
    public static let tcpIdleTimeout: TimeAmount = .seconds(10)

    private init(localAddress: SocketAddress, udp: any Channel, tcp: any Channel) {
        self.localAddress = localAddress
        self.udp = udp
        self.tcp = tcp
    }

    /// The bound port.
    public var port: Int { self.localAddress.port ?? 0 }

    /// Binds UDP and TCP on `host`:`port` (port 0 picks a free port, the same for both) and starts
    /// answering.
    /// - Parameters:
    ///   - host: an IP address to listen on (`127.0.0.1`, `::`).
    ///   - port: the port, or 0.
    ///   - responder: the protocol logic (authorizer, TSIG clock).
    ///   - group: event loops.
    ///   - logger: `.debug` line per message, `.info` per accepted NOTIFY.
    /// - Throws: ``ZoneTransferError`` `.listenerFailed` naming the address.
    public static func start(host: String, port: Int, responder: NotifyResponder,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "palisade.zone-transfer.notify")) async throws(ZoneTransferError) -> NotifyListener
    {
        var lastError: (any Error)?
        // With port 0 the UDP port chosen may be taken for TCP: try a few.
        for _ in 0..<(port == 0 ? 5 : 1) {
            let udp: any Channel
            do {
                udp = try await DatagramBootstrap(group: group)
                    .channelOption(.socketOption(.so_reuseaddr), value: 1)
                    .channelInitializer { ch in
                        ch.eventLoop.makeCompletedFuture {
                            try ch.pipeline.syncOperations.addHandler(NotifyUDPHandler(responder: responder, logger: logger))
                        }
                    }
                    .bind(host: host, port: port).get()
            } catch {
                throw ZoneTransferError(.listenerFailed, "NOTIFY listener cannot bind UDP \(host):\(port)",
                    underlying: error)
            }
            guard let bound = udp.localAddress, let boundPort = bound.port else {
                try? await udp.close()
                throw ZoneTransferError(.listenerFailed, "NOTIFY listener on UDP \(host):\(port) has no local address")
            }
            let connections = ConnectionCount()
            do {
                let tcp = try await ServerBootstrap(group: group)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .serverChannelOption(.backlog, value: 32)
                    .childChannelInitializer { ch in
                        guard connections.enter() else { return ch.close() }
                        ch.closeFuture.whenComplete { _ in connections.leave() }
                        return ch.eventLoop.makeCompletedFuture {
                            let sync = ch.pipeline.syncOperations
                            try sync.addHandler(IdleStateHandler(readTimeout: Self.tcpIdleTimeout))
                            try sync.addHandler(ByteToMessageHandler(LengthFieldBasedFrameDecoder(lengthFieldBitLength: .twoBytes)))
                            try sync.addHandler(LengthFieldPrepender(lengthFieldBitLength: .twoBytes))
                            try sync.addHandler(NotifyTCPHandler(responder: responder, logger: logger))
                        }
                    }
                    .bind(host: host, port: boundPort).get()
                return NotifyListener(localAddress: bound, udp: udp, tcp: tcp)
            } catch {
                lastError = error
                try? await udp.close()
            }
        }
        throw ZoneTransferError(.listenerFailed, "NOTIFY listener cannot bind TCP \(host):\(port)", underlying: lastError)
    }

    /// Closes both sockets and waits until they are closed (open TCP connections finish on their own or
    /// at their idle timeout).
    public func stop() async {
        try? await self.udp.close()
        try? await self.tcp.close()
    }

    /// Starts closing both sockets without waiting (for synchronous shutdown paths).
    public func close() {
        self.udp.close(promise: nil)
        self.tcp.close(promise: nil)
    }

    /// Reports an accepted NOTIFY and logs the outcome.
    static func handle(_ outcome: NotifyResponder.Outcome, source: IPAddress, responder: NotifyResponder, logger: Logger) {
        if let n = outcome.notified {
            logger.info("NOTIFY accepted", metadata: [
                "xfr.zone": "\(n.zone)", "client.ip": "\(source)", "xfr.serial": "\(n.serial.map(String.init) ?? "-")",
            ])
            responder.authorizer.notified(zone: n.zone, serial: n.serial, source: source)
        } else {
            logger.debug("NOTIFY not accepted", metadata: ["client.ip": "\(source)", "reason": "\(outcome.reason)"])
        }
    }

    static func ip(of address: SocketAddress?) -> IPAddress? {
        address?.ipAddress.flatMap { IPAddress($0) }?.unmapped
    }
}

/// Counts open TCP connections against ``NotifyListener/maxTCPConnections``.
private final class ConnectionCount: Sendable {
    private let count = Mutex(0)

    func enter() -> Bool {
        self.count.withLock { n in
            guard n < NotifyListener.maxTCPConnections else { return false }
            n += 1
            return true
        }
    }

    func leave() {
        self.count.withLock { $0 -= 1 }
    }
}

/// Answers NOTIFY datagrams; never closes the socket because of one.
final class NotifyUDPHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let responder: NotifyResponder
    private let logger: Logger

    init(responder: NotifyResponder, logger: Logger) {
        self.responder = responder
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = Self.unwrapInboundIn(data)
        guard let source = NotifyListener.ip(of: envelope.remoteAddress) else { return }
        let outcome = self.responder.respond(to: Array(envelope.data.readableBytesView), from: source)
        if let reply = outcome.reply {
            let out = AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: ByteBuffer(bytes: reply))
            context.writeAndFlush(Self.wrapOutboundOut(out), promise: nil)
        }
        NotifyListener.handle(outcome, source: source, responder: self.responder, logger: self.logger)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP errors and the like surface here; the socket stays open for the next datagram.
        self.logger.debug("NOTIFY UDP socket error", metadata: ["error": "\(error)"])
    }
}

@available(*, unavailable)
extension NotifyUDPHandler: Sendable {}

/// Answers NOTIFY messages on one TCP connection (already de-framed); closes only this connection on
/// an error or when idle.
final class NotifyTCPHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let responder: NotifyResponder
    private let logger: Logger

    init(responder: NotifyResponder, logger: Logger) {
        self.responder = responder
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = Self.unwrapInboundIn(data)
        guard let source = NotifyListener.ip(of: context.channel.remoteAddress) else {
            context.close(promise: nil)
            return
        }
        let outcome = self.responder.respond(to: Array(frame.readableBytesView), from: source)
        if let reply = outcome.reply {
            context.writeAndFlush(Self.wrapOutboundOut(ByteBuffer(bytes: reply)), promise: nil)
        }
        NotifyListener.handle(outcome, source: source, responder: self.responder, logger: self.logger)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.logger.debug("NOTIFY TCP connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension NotifyTCPHandler: Sendable {}
