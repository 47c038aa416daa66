import DNSWire
import NIOCore
import NIOPosix
import Synchronization

/// Receives the outcome of one query sent through a ``LoopSocketSet``: called exactly once, on the set's loop.
///
/// The caller's own per-query object takes the outcome (``UpstreamPool``'s attempt state), so a query sent on the
/// event-loop path costs no closure context on the way out and none on the way back.
protocol LoopExchangeReceiver: AnyObject, Sendable {
    /// The matching reply, or why there is none.
    func loopExchangeFinished(_ result: Result<UpstreamReply, any Error>)
}

/// A query encoded once, with ID 0, for every attempt to send: each attempt copies it and writes its own ID.
package struct QueryWire: Sendable {
    /// The message's wire form.
    package let bytes: [UInt8]
    /// Its only question (what the reply must echo).
    package let question: Question
    /// Its opcode (what the reply must carry).
    package let opcode: OpCode

    /// Encodes `message`; nil unless it has exactly one question.
    package init?(_ message: DNSMessage) {
        guard message.questions.count == 1, let q = message.questions.first else { return nil }
        var m = message
        m.header.id = 0
        self.bytes = m.encode()
        self.question = q
        self.opcode = message.header.opcode
    }

    /// The query a forwarder sends for `question`: RD set, CD as given, one OPT record advertising `bufferSize` with DO
    /// as given. The bytes ``init(_:)`` gives for that message, written without building it (the event-loop path sends
    /// one per cache miss).
    package init(question: Question, opcode: OpCode, checkingDisabled: Bool, dnssecOK: Bool, bufferSize: UInt16) {
        let name = question.name.wire
        var flags: UInt16 = UInt16(opcode.rawValue) << 11 | 0x0100
        if checkingDisabled { flags |= 0x0010 }
        var b: [UInt8] = []
        b.reserveCapacity(12 + name.count + 4 + 11)
        b.append(contentsOf: [0, 0, UInt8(flags >> 8), UInt8(flags & 0xFF), 0, 1, 0, 0, 0, 0, 0, 1])
        b.append(contentsOf: name)
        b.append(contentsOf: [UInt8(question.type.rawValue >> 8), UInt8(question.type.rawValue & 0xFF)])
        b.append(contentsOf: [UInt8(question.dnsClass.rawValue >> 8), UInt8(question.dnsClass.rawValue & 0xFF)])
        // OPT: root owner, TYPE 41, CLASS = payload size, TTL = extended rcode 0, version 0, DO, no options.
        b.append(contentsOf: [0, 0, 41, UInt8(bufferSize >> 8), UInt8(bufferSize & 0xFF)])
        b.append(contentsOf: [0, 0, dnssecOK ? 0x80 : 0, 0, 0, 0])
        self.bytes = b
        self.question = question
        self.opcode = opcode
    }

    /// The message these bytes encode (ID 0), for the rare attempt that needs it (the TCP retry of a truncated reply).
    package var message: DNSMessage? { try? DNSMessage.decode(self.bytes) }

    /// The query under `id`, in a buffer of its own (one per attempt).
    func buffer(id: UInt16) -> ByteBuffer {
        var buffer = ByteBuffer(bytes: self.bytes)
        buffer.setInteger(id, at: buffer.readerIndex)
        return buffer
    }
}

/// The per-event-loop socket sets of one UDP upstream (the ``UDPSocketStrategy/pooled(size:usesPerSocket:)``
/// strategy on the event-loop path).
///
/// Each event loop that sends queries gets its own set, so a query, its socket, its timeout and its
/// reply all stay on the loop that received the client's datagram: no lock on the hot path but the
/// lookup of the set, and no thread hop.
final class LoopSocketSets: Sendable {
    private let sets = Mutex<[ObjectIdentifier: LoopSocketSet]>([:])
    private let closed = Atomic<Bool>(false)
    let server: SocketAddress
    let size: Int
    let usesPerSocket: Int
    let onMismatch: @Sendable (MismatchReason) -> Void

    init(server: SocketAddress, size: Int, usesPerSocket: Int, onMismatch: @escaping @Sendable (MismatchReason) -> Void) {
        self.server = server
        self.size = size
        self.usesPerSocket = usesPerSocket
        self.onMismatch = onMismatch
    }

    /// The set of `loop`, created on first use; nil after shutdown.
    func set(for loop: any EventLoop) -> LoopSocketSet? {
        guard !self.closed.load(ordering: .acquiring) else { return nil }
        return self.sets.withLock { sets in
            if let s = sets[ObjectIdentifier(loop)] { return s }
            let s = LoopSocketSet(loop: loop, server: self.server, size: self.size, usesPerSocket: self.usesPerSocket,
                onMismatch: self.onMismatch)
            sets[ObjectIdentifier(loop)] = s
            return s
        }
    }

    /// The number of sockets open on every loop (tests).
    func openSockets() async -> Int {
        await self.onEachLoop { $0.openCount }.reduce(0, +)
    }

    /// The receive buffer size the kernel reports for each open socket of every loop (tests).
    func receiveBuffers() async -> [Int] {
        await self.onEachLoop { set in
            set.channels.compactMap { try? $0.syncOptions?.getOption(.socketOption(.so_rcvbuf)) }.map { Int($0) }
        }.flatMap { $0 }
    }

    /// `body` run on each loop's set, on that loop (tests).
    private func onEachLoop<T: Sendable>(_ body: @escaping @Sendable (LoopSocketSet) -> T) async -> [T] {
        let sets = self.sets.withLock { Array($0.values) }
        var results: [T] = []
        for s in sets {
            if let r = try? await s.loop.submit({ body(s) }).get() { results.append(r) }
        }
        return results
    }

    /// Closes every socket of every loop; pending queries fail with `.shutdown`.
    func shutdown() async {
        self.closed.store(true, ordering: .releasing)
        let sets = self.sets.withLock { sets in
            defer { sets = [:] }
            return Array(sets.values)
        }
        for s in sets { try? await s.loop.submit { s.close() }.get() }
    }
}

/// The sockets of one upstream on one event loop: up to `size` connected datagram sockets, each on a
/// random port and carrying many outstanding queries told apart by ID, each retired after
/// `usesPerSocket` queries so the ports in use keep changing.
///
/// A reply is accepted only from the upstream's address and port, with the ID of a query outstanding on
/// that socket, and the same question (``ReplyMatcher``). IDs are unique among the queries outstanding
/// on one socket, so (socket, ID) names one query and the question is checked on top.
final class LoopSocketSet: @unchecked Sendable {
    // @unchecked: every mutable field is read and written on `loop` only (each entry point asserts it);
    // the set is shared across threads only to be found, never to be used.
    let loop: any EventLoop
    private let server: SocketAddress
    private let size: Int
    private let usesPerSocket: Int
    private let onMismatch: @Sendable (MismatchReason) -> Void
    private var active: [LoopSocket] = []
    private var retired: [ObjectIdentifier: LoopSocket] = [:]
    private var opening = 0
    private var waiting: [Waiting] = []
    private var turn = 0
    private var closed = false
    /// Sockets with queries written but not yet flushed, and whether their flush is scheduled.
    private var unflushed: [LoopSocket] = []
    private var flushScheduled = false
    /// Deadlines of the queries sent, in the order sent (each one checked against its socket's table when due,
    /// so a query answered in time costs nothing here), and the one timer that sweeps them.
    private var expiries = CircularBuffer<Expiry>(initialCapacity: 1024)
    private var sweep: Scheduled<Void>?
    /// Kernel randomness for query IDs, fetched in bulk (see ``KernelRandomBuffer``).
    private var random = KernelRandomBuffer()
    /// Queries held while no socket is open yet; more than this fail at once.
    private static let maxWaiting = 4096
    /// How late a timeout may fire, so the sweep runs a few hundred times a second at most, not once per query.
    static let sweepSlack = TimeAmount.milliseconds(5)
    /// SO_RCVBUF asked for on each socket (see ``refill()``).
    static let receiveBuffer: SocketOptionValue = 1 << 20

    private struct Expiry {
        let socket: LoopSocket
        let id: UInt16
        let serial: UInt64
        let deadline: NIODeadline
    }

    private struct Waiting {
        var query: QueryWire
        var deadline: NIODeadline
        var receiver: any LoopExchangeReceiver
    }

    init(loop: any EventLoop, server: SocketAddress, size: Int, usesPerSocket: Int,
        onMismatch: @escaping @Sendable (MismatchReason) -> Void)
    {
        self.loop = loop
        self.server = server
        self.size = size
        self.usesPerSocket = usesPerSocket
        self.onMismatch = onMismatch
    }

    /// A uniformly random query ID from the kernel CSPRNG.
    func randomID() -> UInt16 {
        UInt16.random(in: .min ... .max, using: &self.random)
    }

    /// Sockets open now, active and retired-but-draining.
    var openCount: Int { self.active.count + self.retired.count }

    /// The channels of the sockets open now (on the loop).
    var channels: [any Channel] { (self.active + Array(self.retired.values)).compactMap(\.channel) }

    /// Sends `query` under a fresh ID on one of the sockets and tells `receiver` once, on the loop, the matching
    /// reply or the failure.
    func exchange(_ query: QueryWire, deadline: NIODeadline, receiver: any LoopExchangeReceiver) {
        self.loop.assertInEventLoop()
        guard !self.closed else {
            receiver.loopExchangeFinished(.failure(TransportFailure.shutdown))
            return
        }
        self.refill()
        guard !self.active.isEmpty else {
            guard self.waiting.count < Self.maxWaiting else {
                receiver.loopExchangeFinished(.failure(TransportFailure.busy))
                return
            }
            self.waiting.append(Waiting(query: query, deadline: deadline, receiver: receiver))
            return
        }
        self.turn = (self.turn &+ 1) % self.active.count
        let socket = self.active[self.turn]
        socket.send(query, deadline: deadline, receiver: receiver)
        if socket.uses >= self.usesPerSocket { self.retire(socket) }
    }

    /// Flushes `socket` once the loop has handled the events of this round: the queries that one burst of client
    /// datagrams sends upstream leave with one sendmmsg per socket rather than a sendmsg each.
    func needsFlush(_ socket: LoopSocket) {
        if !socket.unflushed {
            socket.unflushed = true
            self.unflushed.append(socket)
        }
        guard !self.flushScheduled else { return }
        self.flushScheduled = true
        // Tasks run after the loop has handled the I/O events it picked up.
        self.loop.execute {
            self.flushScheduled = false
            let sockets = self.unflushed
            self.unflushed.removeAll(keepingCapacity: true)
            for s in sockets {
                s.unflushed = false
                s.channel?.flush()
            }
        }
    }

    /// Times out query `id` (`serial`) on `socket` at `deadline` unless it is answered first. Returns false when
    /// `deadline` is earlier than one already queued (a retry cut short by the query's overall deadline): the
    /// caller then schedules its own timer, so no timeout ever fires late behind a longer one.
    func expire(_ socket: LoopSocket, id: UInt16, serial: UInt64, at deadline: NIODeadline) -> Bool {
        if let last = self.expiries.last, deadline < last.deadline { return false }
        self.expiries.append(Expiry(socket: socket, id: id, serial: serial, deadline: deadline))
        if self.sweep == nil { self.scheduleSweep(at: deadline) }
        return true
    }

    private func scheduleSweep(at deadline: NIODeadline) {
        self.sweep = self.loop.scheduleTask(deadline: deadline) { self.sweepExpired() }
    }

    /// Fails the queries whose deadline has passed and are still outstanding; answered ones are just dropped.
    private func sweepExpired() {
        self.sweep = nil
        let now = NIODeadline.now()
        while let first = self.expiries.first, first.deadline <= now {
            self.expiries.removeFirst()
            first.socket.timedOut(first.id, serial: first.serial)
        }
        if let next = self.expiries.first, !self.closed {
            self.scheduleSweep(at: max(next.deadline, now + Self.sweepSlack))
        }
    }

    /// Opens sockets until `size` are open or opening.
    private func refill() {
        while !self.closed, self.active.count + self.opening < self.size {
            self.opening += 1
            let socket = LoopSocket(set: self, server: self.server, onMismatch: self.onMismatch)
            // Connecting binds an ephemeral port the kernel picks at random (Linux randomizes UDP
            // autobind), makes the kernel drop datagrams from other peers, and reports ICMP
            // port-unreachable as an error so a dead server fails at once.
            DatagramBootstrap(group: self.loop)
                // One vector read per readiness event: a second read would mostly return EAGAIN (half of all
                // recvmmsg calls on the miss mix with 64 sockets, strace). epoll is level-triggered in NIO, so
                // replies left over wake the loop again. Up to 4 replies per read, 4 KiB each (NIO splits the
                // receive buffer evenly between the messages of a vector read, so each part must hold a whole
                // reply: above our 1232-byte EDNS size). 4 measured about 2 % less CPU per miss than 16 with 64
                // sockets (BENCHMARKS.md, session 9), and the same as 16 with 8 sockets (session 18).
                .channelOption(.maxMessagesPerRead, value: 1)
                // A larger receive buffer than the kernel's default (net.core.rmem_default, 212,992 bytes here):
                // with a few sockets per loop, the replies that arrive while the loop is busy queue on fewer
                // sockets, and a full buffer drops them (the queries then time out). The kernel caps the request
                // at net.core.rmem_max; the size is a limit, not memory set aside.
                .channelOption(.socketOption(.so_rcvbuf), value: LoopSocketSet.receiveBuffer)
                .channelOption(.datagramVectorReadMessageCount, value: 4)
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 4 * 4096))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(LoopSocketHandler(socket: socket))
                    }
                }
                .connect(to: self.server)
                .whenComplete { result in
                    self.loop.assertInEventLoop()
                    self.opening -= 1
                    switch result {
                    case .success(let channel):
                        self.opened(socket, channel)
                    case .failure(let error):
                        // Nothing to send on: fail what waits (the next query tries to open again).
                        let waiting = self.waiting
                        self.waiting = []
                        for w in waiting { w.receiver.loopExchangeFinished(.failure(error)) }
                    }
                }
        }
    }

    private func opened(_ socket: LoopSocket, _ channel: any Channel) {
        guard !self.closed else {
            channel.close(promise: nil)
            return
        }
        socket.channel = channel
        if socket.retired {
            // It failed while connecting: never use it; the waiting queries go through exchange again,
            // which opens another socket.
            channel.close(promise: nil)
        } else {
            self.active.append(socket)
        }
        let waiting = self.waiting
        self.waiting = []
        for w in waiting {
            self.exchange(w.query, deadline: w.deadline, receiver: w.receiver)
        }
    }

    /// Takes a socket out of rotation; it closes once its last outstanding query is done.
    func retire(_ socket: LoopSocket) {
        guard !socket.retired else { return }
        socket.retired = true
        self.active.removeAll { $0 === socket }
        if socket.pending.isEmpty {
            socket.close()
        } else {
            self.retired[ObjectIdentifier(socket)] = socket
        }
    }

    /// Called by a socket when it has closed.
    func closedSocket(_ socket: LoopSocket) {
        socket.retired = true
        self.active.removeAll { $0 === socket }
        self.retired[ObjectIdentifier(socket)] = nil
    }

    /// Called by a retired socket whose last outstanding query finished.
    func drained(_ socket: LoopSocket) {
        self.retired[ObjectIdentifier(socket)] = nil
        socket.close()
    }

    /// Closes every socket and fails what waits.
    func close() {
        self.loop.assertInEventLoop()
        self.closed = true
        self.sweep?.cancel()
        self.sweep = nil
        self.expiries.removeAll()
        let waiting = self.waiting
        self.waiting = []
        for w in waiting { w.receiver.loopExchangeFinished(.failure(TransportFailure.shutdown)) }
        let sockets = self.active + Array(self.retired.values)
        self.active = []
        self.retired = [:]
        for s in sockets { s.failAll(TransportFailure.shutdown) }
        for s in sockets { s.close() }
    }
}

/// One connected datagram socket of a ``LoopSocketSet`` and its table of outstanding queries.
final class LoopSocket: @unchecked Sendable {
    // @unchecked: used on its set's loop only, like the set.
    struct Pending {
        var matcher: ReplyMatcher
        var serial: UInt64
        var timeout: Scheduled<Void>?
        var receiver: any LoopExchangeReceiver
    }

    private unowned let set: LoopSocketSet
    private let server: SocketAddress
    private let onMismatch: @Sendable (MismatchReason) -> Void
    var channel: (any Channel)?
    var pending: [UInt16: Pending] = [:]
    var uses = 0
    var retired = false
    /// Written to since the last flush (see ``LoopSocketSet/needsFlush(_:)``).
    var unflushed = false
    private var serial: UInt64 = 0
    /// Outstanding queries on one socket at most; IDs must stay easy to find among 65,536.
    static let maxPending = 16384

    init(set: LoopSocketSet, server: SocketAddress, onMismatch: @escaping @Sendable (MismatchReason) -> Void) {
        self.set = set
        self.server = server
        self.onMismatch = onMismatch
    }

    func send(_ query: QueryWire, deadline: NIODeadline, receiver: any LoopExchangeReceiver) {
        guard let channel = self.channel, self.pending.count < Self.maxPending else {
            receiver.loopExchangeFinished(.failure(TransportFailure.busy))
            return
        }
        // The ID comes from the kernel CSPRNG (the set's buffer of it): it is one of the two secrets that stop
        // off-path spoofing (RFC 5452 §4). It must also differ from every ID outstanding on this socket.
        var fresh = self.set.randomID()
        while self.pending[fresh] != nil { fresh = self.set.randomID() }
        let id = fresh
        self.serial &+= 1
        let serial = self.serial
        self.uses += 1
        // The set's sweep times the query out; only a deadline shorter than one already queued needs a timer.
        var timeout: Scheduled<Void>? = nil
        if !self.set.expire(self, id: id, serial: serial, at: deadline) {
            timeout = channel.eventLoop.scheduleTask(deadline: deadline) {
                self.finish(id, serial: serial, .failure(TransportFailure.timeout))
            }
        }
        // No server in the matcher: `read` has compared the source before the matcher runs.
        self.pending[id] = Pending(matcher: ReplyMatcher(server: nil, id: id, question: query.question,
            opcode: query.opcode), serial: serial, timeout: timeout, receiver: receiver)
        let written = channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenFailure { error in
            self.finish(id, serial: serial, .failure(error))
        }
        channel.write(AddressedEnvelope(remoteAddress: self.server, data: query.buffer(id: id)), promise: written)
        self.set.needsFlush(self)
    }

    /// The set's sweep found query `id` (`serial`) past its deadline: fails it if it is still outstanding.
    func timedOut(_ id: UInt16, serial: UInt64) {
        self.finish(id, serial: serial, .failure(TransportFailure.timeout))
    }

    /// A datagram arrived.
    func read(_ envelope: AddressedEnvelope<ByteBuffer>) {
        // Cheap checks first, so a flood of forgeries is rejected without decoding.
        guard ReplyMatcher.sameEndpoint(envelope.remoteAddress, self.server) else {
            self.onMismatch(.source)
            return
        }
        guard let id = ReplyMatcher.peekID(envelope.data), let entry = self.pending[id] else {
            // Another ID, or a late reply to a query that already timed out.
            self.onMismatch(.id)
            return
        }
        switch entry.matcher.matchReply(envelope.data, from: envelope.remoteAddress) {
        case .accept(let reply):
            self.finish(id, serial: entry.serial, .success(reply))
        case .reject(let reason):
            self.onMismatch(reason)
        }
    }

    /// Completes query `id` (`serial`) with `result` if it is still outstanding. The result is built only then: most
    /// queries the timeout sweep visits were answered long ago, and boxing the error allocates.
    private func finish(_ id: UInt16, serial: UInt64, _ result: @autoclosure () -> Result<UpstreamReply, any Error>) {
        guard let entry = self.pending[id], entry.serial == serial else { return }
        self.pending[id] = nil
        entry.timeout?.cancel()
        entry.receiver.loopExchangeFinished(result())
        if self.retired, self.pending.isEmpty, self.channel != nil { self.set.drained(self) }
    }

    /// Fails every outstanding query (the socket broke).
    func failAll(_ error: any Error) {
        let entries = self.pending
        self.pending = [:]
        for (_, e) in entries {
            e.timeout?.cancel()
            e.receiver.loopExchangeFinished(.failure(error))
        }
    }

    /// The socket failed (on a connected socket: ICMP port unreachable from the server itself): every
    /// query outstanding on it is lost, so fail them now rather than at their deadlines, and stop using it.
    func failed(_ error: any Error) {
        self.set.retire(self)
        self.failAll(error)
        self.close()
    }

    /// The channel closed.
    func inactive() {
        self.failAll(TransportFailure.closed)
        self.set.closedSocket(self)
        self.channel = nil
    }

    func close() {
        self.channel?.close(promise: nil)
    }
}

/// Forwards a socket's events to its ``LoopSocket``.
final class LoopSocketHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let socket: LoopSocket

    init(socket: LoopSocket) {
        self.socket = socket
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.socket.read(self.unwrapInboundIn(data))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.socket.failed(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.socket.inactive()
        context.fireChannelInactive()
    }
}

@available(*, unavailable)
extension LoopSocketHandler: Sendable {}
