// The floor under Palisade's UDP paths, on one NIO event loop configured as Palisade's UDP listener is (vector reads of
// 32, 2 KiB per message, a flush per read burst). No parsing, no cache, no policy, no log: what is left is NIO's and the
// kernel's cost per datagram.
//
//   nio-floor [HOST:]PORT              echo: answers every datagram with the same bytes and QR set (the cached-hit floor)
//   nio-floor [HOST:]PORT answer       answer: replies to every query with its question and one A record (192.0.2.1),
//                                      the least a real answer from memory takes; ready for the harness's probes, so
//                                      it can run as the harness's SUT next to the peers
//   nio-floor [HOST:]PORT UPSTREAM     forward: relays every datagram to UPSTREAM (HOST:PORT) from one socket with a
//                                      new ID, and the reply back to the client with its own ID (the cache-miss floor:
//                                      what dnsdist does, minus its cache, rules and health checks)
import NIOCore
import NIOPosix

/// Echo (the query with QR set) or answer (the question and one A record) each datagram; anything unreadable is dropped.
final class Responder: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>
    let answer: Bool
    private var pending = false
    /// Name pointer to the question, A, IN, TTL 60, 4 bytes: 192.0.2.1.
    private static let record: [UInt8] = [0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]

    init(answer: Bool) { self.answer = answer }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = Self.unwrapInboundIn(data)
        guard let out = self.answer ? Self.answer(envelope.data, context) : Self.echo(envelope.data) else { return }
        context.write(Self.wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: out)),
            promise: nil)
        self.pending = true
    }

    static func echo(_ query: ByteBuffer) -> ByteBuffer? {
        var out = query
        guard out.readableBytes >= 12, let flags = out.getInteger(at: out.readerIndex + 2, as: UInt8.self) else { return nil }
        out.setInteger(flags | 0x80, at: out.readerIndex + 2)
        return out
    }

    static func answer(_ query: ByteBuffer, _ context: ChannelHandlerContext) -> ByteBuffer? {
        let bytes = query.readableBytesView
        guard bytes.count >= 17 else { return nil }
        var i = bytes.startIndex + 12
        while i < bytes.endIndex, bytes[i] != 0 {
            guard bytes[i] <= 63 else { return nil }
            i += Int(bytes[i]) + 1
        }
        let questionEnd = i + 5
        guard questionEnd <= bytes.endIndex else { return nil }
        var out = context.channel.allocator.buffer(capacity: questionEnd - bytes.startIndex + Self.record.count)
        out.writeBytes(bytes[bytes.startIndex..<questionEnd])
        out.setInteger(UInt8(bytes[bytes.startIndex + 2] | 0x80), at: 2)  // QR
        out.setInteger(UInt8(0x80), at: 3)  // RA, NOERROR
        out.setInteger(UInt16(1), at: 4)
        out.setInteger(UInt16(1), at: 6)
        out.setInteger(UInt16(0), at: 8)
        out.setInteger(UInt16(0), at: 10)
        out.writeBytes(Self.record)
        return out
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard self.pending else { return }
        self.pending = false
        context.flush()
    }
}

/// The relay's state, touched only on its one event loop: which client and ID each upstream ID stands for.
final class Relay: @unchecked Sendable {
    struct Slot {
        var client: SocketAddress?
        var id: UInt16 = 0
    }
    var slots = [Slot](repeating: Slot(), count: 65536)
    var next: UInt16 = 0
    var clientSide: Channel!
    var upstreamSide: Channel!
    let upstream: SocketAddress

    init(upstream: SocketAddress) {
        self.upstream = upstream
    }
}

/// One side of the relay. From the client, a query goes upstream under the next ID; from upstream, a reply goes back to
/// the client its ID was given to, with the client's ID. Each side flushes the other once per read burst.
final class RelaySide: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let relay: Relay
    let fromClient: Bool
    private var pending = false
    init(_ relay: Relay, fromClient: Bool) {
        self.relay = relay
        self.fromClient = fromClient
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = Self.unwrapInboundIn(data)
        var out = envelope.data
        guard out.readableBytes >= 12, let id = out.getInteger(at: out.readerIndex, as: UInt16.self) else { return }
        let target: SocketAddress
        let newID: UInt16
        if self.fromClient {
            newID = self.relay.next
            self.relay.next &+= 1
            self.relay.slots[Int(newID)] = Relay.Slot(client: envelope.remoteAddress, id: id)
            target = self.relay.upstream
        } else {
            let slot = self.relay.slots[Int(id)]
            guard let client = slot.client else { return }
            self.relay.slots[Int(id)].client = nil
            newID = slot.id
            target = client
        }
        out.setInteger(newID, at: out.readerIndex)
        self.other.write(AddressedEnvelope(remoteAddress: target, data: out), promise: nil)
        self.pending = true
    }

    private var other: Channel { self.fromClient ? self.relay.upstreamSide : self.relay.clientSide }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard self.pending else { return }
        self.pending = false
        self.other.flush()
    }
}

func hostPort(_ s: String, defaultHost: String) -> (String, Int)? {
    if let port = Int(s) { return (defaultHost, port) }
    guard let colon = s.lastIndex(of: ":"), let port = Int(s[s.index(after: colon)...]) else { return nil }
    return (String(s[..<colon]), port)
}

let args = CommandLine.arguments
guard args.count == 2 || args.count == 3, let (host, port) = hostPort(args[1], defaultHost: "127.0.0.1") else {
    fatalError("usage: nio-floor [HOST:]PORT [answer | UPSTREAM_HOST:PORT]")
}
let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
func bootstrap(_ handler: @escaping @Sendable () -> ChannelHandler) -> DatagramBootstrap {
    DatagramBootstrap(group: group)
        .channelOption(.socketOption(.so_reuseaddr), value: 1)
        .channelOption(.maxMessagesPerRead, value: 32)
        .channelOption(.datagramVectorReadMessageCount, value: 32)
        .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 32 * 2048))
        .channelInitializer { c in
            c.eventLoop.makeCompletedFuture { try c.pipeline.syncOperations.addHandler(handler()) }
        }
}
if args.count == 3, args[2] == "answer" {
    let channel = try bootstrap { Responder(answer: true) }.bind(host: host, port: port).wait()
    try channel.closeFuture.wait()
} else if args.count == 3 {
    guard let (upHost, upPort) = hostPort(args[2], defaultHost: "127.0.0.1") else {
        fatalError("nio-floor: upstream must be HOST:PORT, not \(args[2])")
    }
    let relay = Relay(upstream: try SocketAddress(ipAddress: upHost, port: upPort))
    relay.upstreamSide = try bootstrap { RelaySide(relay, fromClient: false) }.bind(host: upHost.contains(":") ? "::1" : "127.0.0.1", port: 0).wait()
    relay.clientSide = try bootstrap { RelaySide(relay, fromClient: true) }.bind(host: host, port: port).wait()
    try relay.clientSide.closeFuture.wait()
} else {
    let channel = try bootstrap { Responder(answer: false) }.bind(host: host, port: port).wait()
    try channel.closeFuture.wait()
}
