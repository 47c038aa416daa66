public import DNSWire
public import NIOCore
import NIOExtras
import NIOPosix
import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The outcome of one transfer, with what it cost.
public struct TransferResult: Sendable {
    /// What the primary sent.
    public var content: TransferContent
    /// Messages received.
    public var messages: Int
    /// Bytes received (DNS messages, without the TCP length prefixes).
    public var bytes: Int
    /// Answer records received, SOAs included.
    public var records: Int
}

/// Talks to one primary about one zone: AXFR (RFC 5936), IXFR (RFC 1995) and SOA queries, over TCP
/// with 2-byte framing (RFC 1035 §4.2.2) and UDP for the SOA check, signing requests and verifying
/// every reply with TSIG (RFC 8945) when a key is given.
///
/// Every exchange uses a fresh random ID and a fresh connection, and is bounded by
/// ``ZoneTransferOptions`` (bytes, records, messages, connect/idle/total time), so a hostile primary
/// can cost at most those. Nothing is kept between calls.
public struct ZoneTransferClient: Sendable {
    /// The primary's address and port.
    public let server: SocketAddress
    /// The zone apex.
    public let zone: DomainName
    /// The TSIG key signing requests and verifying replies; nil for none.
    public let key: TSIGKey?
    /// Bounds and timeouts.
    public let options: ZoneTransferOptions
    private let group: any EventLoopGroup
    private let now: @Sendable () -> UInt64

    /// Creates a client.
    /// - Parameters:
    ///   - server: the primary.
    ///   - zone: the zone to transfer.
    ///   - key: TSIG key, or nil.
    ///   - options: limits and timeouts.
    ///   - group: event loops for the sockets.
    ///   - now: wall-clock seconds since the epoch, for TSIG time (injectable for tests).
    public init(server: SocketAddress, zone: DomainName, key: TSIGKey? = nil, options: ZoneTransferOptions = .init(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        now: @escaping @Sendable () -> UInt64 = ZoneTransferClient.systemTime)
    {
        self.server = server
        self.zone = zone
        self.key = key
        self.options = options
        self.group = group
        self.now = now
    }

    /// Seconds since 1970-01-01 UTC from the system clock.
    @Sendable public static func systemTime() -> UInt64 {
        UInt64(max(0, Date().timeIntervalSince1970))
    }

    private var peer: String { "\(self.server.ipAddress ?? "?"):\(self.server.port ?? 0)" }

    // MARK: AXFR / IXFR

    /// Transfers the whole zone (RFC 5936).
    /// - Returns: ``TransferContent/full(_:)`` and the cost.
    /// - Throws: ``ZoneTransferError`` naming the zone and server.
    public func axfr() async throws(ZoneTransferError) -> TransferResult {
        let question = Question(name: self.zone, type: .axfr)
        do throws(ZoneTransferError) {
            return try await self.transfer(question: question, authority: [], request: .axfr)
        } catch {
            throw error.context("AXFR of \(self.zone) from \(self.peer)")
        }
    }

    /// Asks for the changes since `soa` (RFC 1995), which is put in the request's authority section.
    /// - Returns: the incremental form, a full zone (the AXFR form), or a single SOA (up to date, or a
    ///   newer serial without the diffs: then ask for an AXFR).
    /// - Throws: ``ZoneTransferError`` naming the zone and server.
    public func ixfr(from soa: ResourceRecord) async throws(ZoneTransferError) -> TransferResult {
        guard let serial = ZoneRecordSet.serial(of: soa) else {
            throw ZoneTransferError(.badResponse, "IXFR of \(self.zone): the current SOA \(soa) is not an SOA record")
        }
        let question = Question(name: self.zone, type: .ixfr)
        do throws(ZoneTransferError) {
            return try await self.transfer(question: question, authority: [soa], request: .ixfr(current: serial))
        } catch {
            throw error.context("IXFR of \(self.zone) from serial \(serial) from \(self.peer)")
        }
    }

    private func transfer(question: Question, authority: [ResourceRecord], request: TransferStream.Request)
        async throws(ZoneTransferError) -> TransferResult
    {
        let (bytes, checker) = self.makeRequest(question: question, authority: authority)
        var checkerState = checker
        var stream = TransferStream(zone: self.zone, request: request, maxRecords: self.options.maxRecords)
        var total = 0
        let options = self.options
        try await self.tcpExchange(bytes) { (raw: [UInt8]) throws(ZoneTransferError) -> Bool in
            total += raw.count
            guard total <= options.maxTransferBytes else {
                throw ZoneTransferError(.limitExceeded, "more than \(options.maxTransferBytes) bytes (maxTransferBytes)")
            }
            guard checkerState.messages < options.maxMessages else {
                throw ZoneTransferError(.limitExceeded, "more than \(options.maxMessages) messages (maxMessages)")
            }
            let message = try checkerState.check(raw, stream: true)
            try stream.consume(message: message.answers)
            return stream.isComplete
        }
        try checkerState.finish()
        return TransferResult(content: try stream.content(), messages: checkerState.messages, bytes: total,
            records: stream.recordCount)
    }

    /// Encodes (and signs) a request with a fresh random ID; returns it and the checker for its replies.
    private func makeRequest(question: Question, authority: [ResourceRecord]) -> ([UInt8], ReplyChecker) {
        let id = UInt16.random(in: 0...UInt16.max)
        let message = DNSMessage(header: Header(id: id, recursionDesired: false), questions: [question],
            authorities: authority)
        var bytes = message.encode()
        var verifier: TSIGVerifier?
        if let key = self.key {
            let signed = TSIGSigner(key: key, fudge: self.options.tsigFudge).sign(bytes, time: self.now())
            bytes = signed.message
            verifier = TSIGVerifier(key: key, requestMAC: signed.mac, now: self.now)
        }
        return (bytes, ReplyChecker(id: id, question: question, verifier: verifier))
    }

    // MARK: SOA

    /// Queries the primary's SOA for the zone: over UDP first (``ZoneTransferOptions/soaQueryAttempts``
    /// attempts), then over TCP when the reply is truncated or UDP got no answer.
    /// - Returns: the SOA record from the answer section (authoritative answers only).
    /// - Throws: ``ZoneTransferError`` naming the zone and server.
    public func querySOA() async throws(ZoneTransferError) -> ResourceRecord {
        let question = Question(name: self.zone, type: .soa)
        var udpProblem = "no reply over UDP"
        for _ in 0..<max(0, self.options.soaQueryAttempts) {
            let (bytes, checker) = self.makeRequest(question: question, authority: [])
            var c = checker
            let id = checker.id
            do throws(ZoneTransferError) {
                guard let raw = try await self.udpExchange(bytes, accept: { candidate in
                    // Only replies with our ID are considered; others may be stale or spoofed.
                    candidate.count >= 2 && UInt16(candidate[0]) << 8 | UInt16(candidate[1]) == id
                }) else { continue }
                let message = try c.check(raw, stream: false)
                if message.header.truncated {
                    udpProblem = "the UDP reply was truncated"
                    break
                }
                try c.finish()
                return try self.soa(in: message)
            } catch {
                throw error.context("SOA query for \(self.zone) to \(self.peer) over UDP")
            }
        }
        let (bytes, checker) = self.makeRequest(question: question, authority: [])
        var c = checker
        var answer: DNSMessage?
        do throws(ZoneTransferError) {
            try await self.tcpExchange(bytes) { (raw: [UInt8]) throws(ZoneTransferError) -> Bool in
                answer = try c.check(raw, stream: true)
                return true
            }
            try c.finish()
            guard let answer else { throw ZoneTransferError(.connectionClosed, "no reply") }
            return try self.soa(in: answer)
        } catch {
            throw error.context("SOA query for \(self.zone) to \(self.peer) over TCP (after \(udpProblem))")
        }
    }

    private func soa(in message: DNSMessage) throws(ZoneTransferError) -> ResourceRecord {
        guard message.header.authoritative else {
            throw ZoneTransferError(.badResponse, "the answer is not authoritative (AA=0): is this the zone's primary?")
        }
        guard let soa = message.answers.first(where: { $0.type == .soa && $0.name == self.zone }) else {
            throw ZoneTransferError(.badResponse, "the answer holds no SOA for \(self.zone)")
        }
        return soa
    }

    // MARK: Sockets

    /// Sends `request` over a new UDP socket and returns the first datagram from the server that
    /// `accept` approves, or nil after ``ZoneTransferOptions/soaQueryTimeout``.
    private func udpExchange(_ request: [UInt8], accept: @escaping @Sendable ([UInt8]) -> Bool)
        async throws(ZoneTransferError) -> [UInt8]?
    {
        let server = self.server
        let channel: NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>
        do {
            channel = try await DatagramBootstrap(group: self.group)
                .bind(host: server.protocol == .inet6 ? "::" : "0.0.0.0", port: 0)
                .flatMapThrowing { ch in
                    try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(
                        wrappingChannelSynchronously: ch)
                }.get()
        } catch {
            throw ZoneTransferError(.connectionFailed, "cannot open a UDP socket", underlying: error)
        }
        let raw = channel.channel
        let timer = raw.eventLoop.scheduleTask(in: TimeAmount(self.options.soaQueryTimeout)) {
            raw.close(promise: nil)
        }
        defer { timer.cancel() }
        do {
            return try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(AddressedEnvelope(remoteAddress: server, data: ByteBuffer(bytes: request)))
                var ignored = 0
                for try await envelope in inbound {
                    guard envelope.remoteAddress == server else { continue }
                    let bytes = Array(envelope.data.readableBytesView)
                    if accept(bytes) { return bytes }
                    ignored += 1
                    // A flood of mismatching datagrams must not keep the query alive forever.
                    if ignored > 64 { return nil }
                }
                return nil
            }
        } catch {
            // The timer closing the socket ends the stream with an error on some paths: that is a timeout.
            return nil
        }
    }

    /// Sends `request` over a new TCP connection and hands every framed reply to `onMessage` until it
    /// returns true (done).
    ///
    /// The connect timeout, the idle timeout between reads and the total deadline are enforced on the
    /// channel's event loop, so a primary that stalls or trickles cannot hold the caller.
    private func tcpExchange(_ request: [UInt8],
        onMessage: ([UInt8]) throws(ZoneTransferError) -> Bool) async throws(ZoneTransferError)
    {
        let deadline = NIODeadline.now() + TimeAmount(self.options.transferTimeout)
        let idle = TimeAmount(self.options.idleTimeout)
        // Which timeout cut the exchange short, if one did. On a loaded machine the idle timer can fire before
        // this task has even written the request; the write then fails with "closed channel", and only this
        // record says the real cause was a timeout (the rare "stalled primary gets connection_closed" flake).
        let timedOut = TimeoutRecord()
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            channel = try await ClientBootstrap(group: self.group)
                .connectTimeout(TimeAmount(self.options.connectTimeout))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connect(to: self.server) { ch in
                    ch.eventLoop.makeCompletedFuture {
                        let sync = ch.pipeline.syncOperations
                        try sync.addHandler(IdleStateHandler(readTimeout: idle))
                        try sync.addHandler(TransferTimeoutHandler(record: timedOut))
                        try sync.addHandler(ByteToMessageHandler(LengthFieldBasedFrameDecoder(lengthFieldBitLength: .twoBytes)))
                        try sync.addHandler(LengthFieldPrepender(lengthFieldBitLength: .twoBytes))
                        return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: ch)
                    }
                }
        } catch {
            if let e = error as? ChannelError, case .connectTimeout = e {
                throw ZoneTransferError(.timeout, "no TCP connection within \(self.options.connectTimeout)", underlying: e)
            }
            throw ZoneTransferError(.connectionFailed, "cannot connect over TCP", underlying: error)
        }
        let raw = channel.channel
        let timer = raw.eventLoop.scheduleTask(deadline: deadline) {
            timedOut.set(.total)
            raw.pipeline.fireErrorCaught(TransferTimeout.total)
            raw.close(promise: nil)
        }
        defer { timer.cancel() }
        var failure: ZoneTransferError?
        var finished = false
        do {
            try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(ByteBuffer(bytes: request))
                for try await frame in inbound {
                    do throws(ZoneTransferError) {
                        if try onMessage(Array(frame.readableBytesView)) {
                            finished = true
                            return
                        }
                    } catch {
                        failure = error
                        return
                    }
                }
            }
        } catch {
            if let failure { throw failure }
            throw Self.streamError(timedOut.value.map { $0 as any Error } ?? error, options: self.options)
        }
        if let failure { throw failure }
        if !finished, let timeout = timedOut.value { throw Self.streamError(timeout, options: self.options) }
        guard finished else {
            throw ZoneTransferError(.connectionClosed, "the primary closed the connection before the reply was complete")
        }
    }

    private static func streamError(_ error: any Error, options: ZoneTransferOptions) -> ZoneTransferError {
        switch error {
        case TransferTimeout.idle:
            return ZoneTransferError(.timeout, "nothing received for \(options.idleTimeout) (idleTimeout)")
        case TransferTimeout.total:
            return ZoneTransferError(.timeout, "the exchange took longer than \(options.transferTimeout) (transferTimeout)")
        case ByteToMessageDecoderError.leftoverDataWhenDone:
            return ZoneTransferError(.connectionClosed, "the primary closed the connection in the middle of a message")
        default:
            return ZoneTransferError(.connectionClosed, "the connection failed during the exchange",
                underlying: error)
        }
    }
}

/// Why the event loop cut a TCP exchange short.
enum TransferTimeout: Error, Sendable {
    case idle
    case total
}

/// The first timeout that fired during one exchange, set on the event loop and read by the task.
final class TimeoutRecord: Sendable {
    private let storage = Mutex<TransferTimeout?>(nil)

    /// Records `timeout` unless one was recorded already.
    func set(_ timeout: TransferTimeout) { self.storage.withLock { $0 = $0 ?? timeout } }

    /// The timeout that fired, if any.
    var value: TransferTimeout? { self.storage.withLock { $0 } }
}

/// Turns the read-idle event into an error on the channel, so the exchange fails with `.timeout`.
final class TransferTimeoutHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let record: TimeoutRecord

    init(record: TimeoutRecord) {
        self.record = record
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? IdleStateHandler.IdleStateEvent, e == .read {
            self.record.set(.idle)
            context.fireErrorCaught(TransferTimeout.idle)
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}

@available(*, unavailable)
extension TransferTimeoutHandler: Sendable {}
