public import DNSPipeline
import Atomics
public import Logging
public import NIOCore
import NIOExtras
import NIOPosix
public import NIOSSL
public import ServiceLifecycle
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where and how to listen.
public struct ListenerConfiguration: Sendable {
    /// Transport of this listener.
    public enum Kind: String, Sendable {
        /// Plain DNS: UDP and TCP on the same address and port.
        case dns
        /// DNS over TLS (RFC 7858).
        case dot
    }
    /// Kind of listener.
    public var kind: Kind
    /// Host address to bind.
    public var host: String
    /// Port (0: pick a free one; read it back from ``DNSListener/boundAddresses``).
    public var port: Int
    /// TLS context for DoT.
    public var tls: NIOSSLContext?
    /// RFC 7766 §6.2.3: idle connections are closed after this long.
    public var tcpIdleTimeout: TimeAmount
    /// Most simultaneous TCP/TLS connections on this listener.
    public var maxConnections: Int
    /// How UDP datagrams are read and written.
    public var udpEngine: UDPEngine
    /// Direct engine: most cache misses a socket hands to its event loop that the loop has not started yet; a miss
    /// beyond that is dropped and counted (``DirectUDPSocket/maxBacklog``).
    public var udpBacklog: Int = 4096

    /// Creates a listener configuration.
    public init(kind: Kind, host: String, port: Int, tls: NIOSSLContext? = nil, tcpIdleTimeout: TimeAmount = .seconds(10),
        maxConnections: Int = 1000, udpEngine: UDPEngine = .direct)
    {
        self.kind = kind
        self.host = host
        self.port = port
        self.tls = tls
        self.tcpIdleTimeout = tcpIdleTimeout
        self.maxConnections = maxConnections
        self.udpEngine = udpEngine
    }
}

/// How a listener reads and writes UDP datagrams.
public enum UDPEngine: String, Sendable, CaseIterable {
    /// A thread per socket with recvmmsg/sendmmsg outside SwiftNIO's pipeline; misses go to the paired event loop
    /// (``DirectUDPSocket``).
    case direct
    /// A SwiftNIO datagram channel on each event loop (``UDPQueryHandler``).
    case nio
}

/// Binds the sockets of one listen address and serves them until shutdown.
///
/// UDP gets one socket per event loop (SO_REUSEPORT), so every core reads its own queue.
public final class DNSListener: Service, Sendable {
    private let configuration: ListenerConfiguration
    private let processor: QueryProcessor
    private let group: any EventLoopGroup
    private let logger: Logger
    private let threads: Int
    private let channels = Mutex<[any Channel]>([])
    private let directSockets = Mutex<[DirectUDPSocket]>([])
    private let connections = ManagedAtomic<Int>(0)

    /// Creates a listener.
    public init(configuration: ListenerConfiguration, processor: QueryProcessor, group: any EventLoopGroup, threads: Int,
        logger: Logger)
    {
        self.configuration = configuration
        self.processor = processor
        self.group = group
        self.threads = max(1, threads)
        self.logger = logger
    }

    /// True for a DoT listener.
    public var isTLS: Bool { self.configuration.kind == .dot }

    /// The addresses actually bound (useful with port 0).
    public var boundAddresses: [SocketAddress] {
        self.channels.withLock { $0.compactMap(\.localAddress) } + self.directSockets.withLock { $0.map(\.local) }
    }

    /// Binds every socket.
    /// - Throws: the bind error, naming the address (startup errors are fatal).
    public func start() async throws {
        var bound: [any Channel] = []
        var direct: [DirectUDPSocket] = []
        do {
            let cfg = self.configuration
            var port = cfg.port
            let tcp = try await self.bindStream(host: cfg.host, port: port)
            bound.append(tcp)
            port = tcp.localAddress?.port ?? port
            if cfg.kind == .dns {
                for _ in 0..<self.threads {
                    switch cfg.udpEngine {
                    case .nio:
                        bound.append(try await self.bindUDP(host: cfg.host, port: port))
                    case .direct:
                        direct.append(try await DirectUDPSocket(host: cfg.host, port: port, home: self.group.next(),
                            processor: self.processor, maxBacklog: cfg.udpBacklog, logger: self.logger))
                    }
                }
            }
        } catch {
            for c in bound { try? await c.close() }
            for d in direct { await d.stop() }
            throw ListenerError(message: "cannot listen on \(self.configuration.host):\(self.configuration.port) "
                + "(\(self.configuration.kind.rawValue)): \(error)")
        }
        let all = bound
        self.channels.withLock { $0 = all }
        let sockets = direct
        self.directSockets.withLock { $0 = sockets }
        for d in sockets { d.start() }
        let stream = self.configuration.kind == .dot ? "dot" : "tcp"
        let udp = "udp+\(stream) (\(all.count - 1 + sockets.count) udp sockets, \(self.configuration.udpEngine.rawValue) engine)"
        self.logger.info("listening", metadata: ["address": "\(self.configuration.host):\(all.first?.localAddress?.port ?? 0)",
            "transport": "\(self.configuration.kind == .dns ? udp : stream)"])
    }

    /// Closes every socket.
    public func stop() async {
        let all = self.channels.withLock { c in
            defer { c = [] }
            return c
        }
        for c in all { try? await c.close() }
        let direct = self.directSockets.withLock { d in
            defer { d = [] }
            return d
        }
        for d in direct { await d.stop() }
    }

    /// Service entry: bind, serve until graceful shutdown, close.
    public func run() async throws {
        if self.channels.withLock({ $0.isEmpty }) {
            try await self.start()
        }
        try? await gracefulShutdown()
        await self.stop()
    }

    private func bindUDP(host: String, port: Int) async throws -> any Channel {
        let processor = self.processor
        let logger = self.logger
        return try await DatagramBootstrap(group: self.group.next())
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.socketOption(NIOBSDSocket.Option(rawValue: SO_REUSEPORT)), value: 1)
            .channelOption(.maxMessagesPerRead, value: 32)
            .channelOption(.datagramVectorReadMessageCount, value: 32)
            // NIO splits the receive buffer evenly between the messages of a vector read: 2 KiB per query
            // (4096 in total gave 128 bytes each, which cut a padded or cookie-carrying query short).
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 32 * 2048))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UDPQueryHandler(processor: processor, logger: logger))
                }
            }
            .bind(host: host, port: port)
            .get()
    }

    private func bindStream(host: String, port: Int) async throws -> any Channel {
        let processor = self.processor
        let logger = self.logger
        let cfg = self.configuration
        let connections = self.connections
        let transport: Transport = cfg.kind == .dot ? .dot : .tcp
        return try await ServerBootstrap(group: self.group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // Connection cap: refuse the connection, never the listener.
                    if connections.loadThenWrappingIncrement(ordering: .relaxed) >= cfg.maxConnections {
                        connections.wrappingDecrement(ordering: .relaxed)
                        channel.close(promise: nil)
                        return
                    }
                    channel.closeFuture.whenComplete { _ in connections.wrappingDecrement(ordering: .relaxed) }
                    let ops = channel.pipeline.syncOperations
                    if let tls = cfg.tls {
                        try ops.addHandler(NIOSSLServerHandler(context: tls))
                    }
                    try ops.addHandler(IdleStateHandler(readTimeout: cfg.tcpIdleTimeout))
                    try ops.addHandler(ByteToMessageHandler(LengthFieldBasedFrameDecoder(lengthFieldBitLength: .twoBytes)))
                    try ops.addHandler(LengthFieldPrepender(lengthFieldBitLength: .twoBytes))
                    try ops.addHandler(TCPQueryHandler(processor: processor, transport: transport, logger: logger))
                }
            }
            .bind(host: host, port: port)
            .get()
    }
}

/// A listener failed to start.
public struct ListenerError: Error, CustomStringConvertible {
    /// What failed, with the address.
    public var message: String
    public var description: String { self.message }
}
