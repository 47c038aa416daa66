import CDirectUDP
import DirectIO
import DNSWire
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import Synchronization

/// What a thread needs to open sockets of its own to one UDP upstream.
struct DirectUpstreamTarget: Sendable {
    let server: SocketAddress
    /// The server as the C side takes it; nil when the address is not IPv4 or IPv6.
    let peer: pal_peer?
    /// Sockets open at a time, and queries per socket before it is replaced.
    let size: Int
    let usesPerSocket: Int
    let onMismatch: @Sendable (MismatchReason) -> Void

    init(server: SocketAddress, strategy: UDPSocketStrategy, onMismatch: @escaping @Sendable (MismatchReason) -> Void) {
        self.server = server
        if let text = server.ipAddress, let ip = IPAddress(text), let port = server.port {
            self.peer = pal_peer(ip, port: port)
        } else {
            self.peer = nil
        }
        switch strategy {
        // A socket per query: one socket in rotation, replaced after its one query (it closes when that is done).
        case .perQuery: (self.size, self.usesPerSocket) = (1, 1)
        case .pooled(let size, let uses): (self.size, self.usesPerSocket) = (max(1, size), max(1, uses))
        }
        self.onMismatch = onMismatch
    }
}

/// The upstream sockets of one direct UDP listener's thread (its ``DirectLoop``): a cache miss is sent, matched, timed
/// out and answered on the thread that read the client's query, with no hand-over to an event loop and no SwiftNIO
/// channel per upstream datagram.
///
/// The same rules as ``LoopSocketSet``, which serves the event-loop path: per upstream, up to `size` connected sockets
/// on random ports, each carrying many outstanding queries told apart by a random ID from the kernel CSPRNG and
/// replaced after `usesPerSocket` queries; a reply is accepted only from the upstream's address and port, with the ID
/// of a query outstanding on that socket and the same question (``ReplyMatcher``); an ICMP error on a socket fails
/// its outstanding queries at once. Queries written in one round leave with one sendmmsg per socket
/// (``flush()``). A truncated reply's TCP retry runs on the loop's `home` event loop and comes back through
/// ``DirectLoop/post(_:)``.
///
/// One per loop (``on(_:)``), used on the loop's thread only.
final class DirectUpstreams: DirectLoopParticipant {
    let loop: DirectLoop
    private var sets: [ObjectIdentifier: DirectSocketSet] = [:]
    private var byTag: [UInt64: DirectSocket] = [:]
    /// Sockets with queries written since the last flush.
    private var unflushed: [DirectSocket] = []
    /// Deadlines in the order the queries were sent (each checked against its socket's table when due, so a query
    /// answered in time costs nothing here); `early` holds, as a min-heap, each deadline shorter than one already
    /// queued (an attempt cut short by its query's overall deadline, or a pool with a shorter timeout than another's).
    private var expiries = CircularBuffer<Expiry>(initialCapacity: 1024)
    private var early = DeadlineHeap<Expiry>()
    private var random = KernelRandomBuffer()
    private let rx: OpaquePointer?
    private var closed = false
    /// Counts ``flush()`` calls: the rotation of each upstream's sockets advances once per round, not per query.
    private var round: UInt64 = 0
    /// Replies read per recvmmsg, and the largest reply (above the 1,232-byte EDNS size asked for; a larger one is
    /// dropped as malformed, as on the event-loop path).
    static let burst: UInt32 = 32
    static let slot: UInt32 = 4096

    private struct Expiry {
        let socket: DirectSocket
        let id: UInt16
        let serial: UInt64
        let deadline: NIODeadline
    }

    private init(loop: DirectLoop) {
        self.loop = loop
        self.rx = pal_rx_create(Self.burst, Self.slot)
        self.closed = loop.isClosed
    }

    deinit { pal_rx_destroy(self.rx) }

    /// The upstream sockets of `loop`, made on first use (on the loop's thread).
    static func on(_ loop: DirectLoop) -> DirectUpstreams {
        loop.participant(DirectUpstreams.self) { DirectUpstreams(loop: loop) }
    }

    /// Sends `query` to `transport`'s server under a fresh ID and tells `receiver` once, on the owning thread, the
    /// matching reply or the failure. The datagram leaves at the next ``flush()``.
    func exchange(_ query: QueryWire, via transport: UDPTransport, deadline: NIODeadline,
        receiver: any LoopExchangeReceiver)
    {
        guard !self.closed else { return receiver.loopExchangeFinished(.failure(TransportFailure.shutdown)) }
        guard self.rx != nil else {
            let error = UpstreamError(.networkError, "out of memory for receive buffers")
            return receiver.loopExchangeFinished(.failure(error))
        }
        let key = ObjectIdentifier(transport)
        let set: DirectSocketSet
        if let s = self.sets[key] {
            set = s
        } else {
            // First use on this loop: the transport learns the loop, so that its shutdown closes these sockets.
            guard transport.directLoops.use(self.loop) else {
                return receiver.loopExchangeFinished(.failure(TransportFailure.shutdown))
            }
            set = DirectSocketSet(transport: transport)
            self.sets[key] = set
        }
        let socket: DirectSocket
        switch self.socket(in: set) {
        case .success(let s): socket = s
        case .failure(let error): return receiver.loopExchangeFinished(.failure(error))
        }
        guard socket.pending.count < LoopSocket.maxPending else {
            return receiver.loopExchangeFinished(.failure(TransportFailure.busy))
        }
        // The ID is one of the two secrets that stop off-path spoofing (RFC 5452 §4); it must also differ from every
        // ID outstanding on this socket.
        var id = UInt16.random(in: .min ... .max, using: &self.random)
        while socket.pending[id] != nil { id = UInt16.random(in: .min ... .max, using: &self.random) }
        socket.serial &+= 1
        socket.uses += 1
        socket.pending[id] = DirectSocket.Pending(
            matcher: ReplyMatcher(server: nil, id: id, question: query.question, opcode: query.opcode),
            serial: socket.serial, receiver: receiver)
        socket.queue(query.bytes, id: id, serial: socket.serial)
        if !socket.unflushed {
            socket.unflushed = true
            self.unflushed.append(socket)
        }
        let expiry = Expiry(socket: socket, id: id, serial: socket.serial, deadline: deadline)
        if let last = self.expiries.last, deadline < last.deadline {
            self.early.insert(expiry, at: deadline)
        } else {
            self.expiries.append(expiry)
        }
        if socket.uses >= set.target.usesPerSocket { self.retire(socket, from: set) }
    }

    /// The socket of `set` for this round, opening one when fewer than `size` are open.
    private func socket(in set: DirectSocketSet) -> Result<DirectSocket, any Error> {
        if set.active.count < set.target.size {
            guard var peer = set.target.peer else {
                return .failure(UpstreamError(.networkError, "\(set.target.server) is not an IP address"))
            }
            let fd = pal_udp_connect(&peer, Int32(LoopSocketSet.receiveBuffer))
            guard fd >= 0 else { return .failure(Self.error(-fd, "connect")) }
            let socket = DirectSocket(fd: fd, set: set)
            do {
                socket.tag = try self.loop.register(fd) { [unowned self, unowned socket] _ in self.readable(socket) }
            } catch {
                Glibc.close(fd)
                return .failure(UpstreamError(.networkError, "\(error)"))
            }
            self.byTag[socket.tag] = socket
            set.active.append(socket)
            return .success(socket)
        }
        // One socket per round: the round's queries to this upstream leave with one sendmmsg and their replies come
        // back to one socket, read with one recvmmsg (2.4 % more misses per CPU tick, BENCHMARKS.md session 22).
        if set.turnRound == self.round, set.turn < set.active.count { return .success(set.active[set.turn]) }
        set.turnRound = self.round
        set.turn = (set.turn &+ 1) % set.active.count
        return .success(set.active[set.turn])
    }

    /// Sends what ``exchange(_:via:deadline:receiver:)`` queued since the last flush: one sendmmsg per socket. A
    /// datagram the kernel refuses fails its query now.
    func flush() {
        self.round &+= 1
        while !self.unflushed.isEmpty {
            let sockets = self.unflushed
            self.unflushed.removeAll(keepingCapacity: true)
            for socket in sockets {
                socket.unflushed = false
                let failures = socket.send()
                for (id, serial, code) in failures {
                    // On a connected socket ECONNREFUSED is the server's ICMP port-unreachable: nothing listens, so
                    // every query on the socket is lost; fail them now rather than at their deadlines.
                    if code == ECONNREFUSED {
                        self.failed(socket, Self.error(code, "send"))
                        break
                    }
                    self.finish(socket, id, serial: serial, .failure(Self.error(code, "send")))
                }
            }
        }
    }

    /// Reads the replies waiting on `socket`.
    private func readable(_ socket: DirectSocket) {
        guard let rx = self.rx else { return }
        while socket.fd >= 0 {
            let n = pal_rx_recv(socket.fd, rx)
            if n < 0 {
                if -n == EAGAIN || -n == EINTR { return }
                return self.failed(socket, Self.error(-n, "recvmmsg"))
            }
            if n == 0 { return }
            for i in 0..<UInt32(n) { self.received(i, in: rx, on: socket) }
            if UInt32(n) < Self.burst { return }
        }
    }

    private func received(_ i: UInt32, in rx: OpaquePointer, on socket: DirectSocket) {
        let onMismatch = socket.set.target.onMismatch
        var length: UInt32 = 0
        var truncated: Int32 = 0
        var peer = pal_peer()
        guard let data = pal_rx_data(rx, i, &length, &truncated), truncated == 0, length >= 2 else {
            return onMismatch(.malformed)
        }
        // A connected socket only receives from its server; checked anyway, as cheaply as the event-loop path does.
        guard pal_rx_peer(rx, i, &peer) != 0, let server = socket.set.target.peer, peer.same(as: server) else {
            return onMismatch(.source)
        }
        let id = UInt16(data[0]) << 8 | UInt16(data[1])
        guard let entry = socket.pending[id] else {
            // Another ID, or a late reply to a query that already timed out.
            return onMismatch(.id)
        }
        switch entry.matcher.matchReply(idChecked: Array(UnsafeBufferPointer(start: data, count: Int(length)))) {
        case .accept(let reply):
            self.finish(socket, id, serial: entry.serial, .success(reply))
        case .reject(let reason):
            onMismatch(reason)
        }
    }

    /// Fails the queries whose deadline has passed (their retries are queued for the next ``flush()``).
    func expire(now: NIODeadline) {
        while let first = self.expiries.first, first.deadline <= now {
            self.expiries.removeFirst()
            self.finish(first.socket, first.id, serial: first.serial, .failure(TransportFailure.timeout))
        }
        while let e = self.early.popDue(now) {
            self.finish(e.socket, e.id, serial: e.serial, .failure(TransportFailure.timeout))
        }
    }

    /// The earliest deadline outstanding (answered queries included: the sweep drops them when they come due).
    var nextDeadline: NIODeadline? {
        let fifo = self.expiries.first?.deadline
        guard let heap = self.early.earliest else { return fifo }
        return fifo.map { min($0, heap) } ?? heap
    }

    /// Completes query `id` (`serial`) on `socket` if it is still outstanding.
    private func finish(_ socket: DirectSocket, _ id: UInt16, serial: UInt64,
        _ result: @autoclosure () -> Result<UpstreamReply, any Error>)
    {
        guard let entry = socket.pending[id], entry.serial == serial else { return }
        socket.pending[id] = nil
        entry.receiver.loopExchangeFinished(result())
        if socket.retired, socket.pending.isEmpty { self.closeSocket(socket) }
    }

    /// Takes a socket out of rotation; it closes once its last outstanding query is done.
    private func retire(_ socket: DirectSocket, from set: DirectSocketSet) {
        guard !socket.retired else { return }
        socket.retired = true
        set.active.removeAll { $0 === socket }
        if set.turn >= set.active.count { set.turn = 0 }
    }

    /// The socket failed: every query outstanding on it is lost; fail them and close it.
    private func failed(_ socket: DirectSocket, _ error: any Error) {
        self.retire(socket, from: socket.set)
        let pending = socket.pending
        socket.pending = [:]
        self.closeSocket(socket)
        for (_, e) in pending { e.receiver.loopExchangeFinished(.failure(error)) }
    }

    private func closeSocket(_ socket: DirectSocket) {
        guard socket.fd >= 0 else { return }
        self.loop.unregister(socket.fd, tag: socket.tag)
        Glibc.close(socket.fd)
        socket.fd = -1
        self.byTag[socket.tag] = nil
    }

    /// Closes the sockets to `transport` (it is shutting down); their outstanding queries fail with `.shutdown`.
    func remove(_ transport: UDPTransport) {
        guard let set = self.sets.removeValue(forKey: ObjectIdentifier(transport)) else { return }
        for socket in self.byTag.values where socket.set === set { self.failed(socket, TransportFailure.shutdown) }
    }

    /// Fails every outstanding query with `.shutdown` and closes every socket; later exchanges fail at once (the loop
    /// is stopping).
    func close() {
        self.closed = true
        self.expiries.removeAll()
        self.early.removeAll()
        for socket in Array(self.byTag.values) { self.failed(socket, TransportFailure.shutdown) }
        self.sets = [:]
    }

    /// Sockets open now (tests).
    var openSockets: Int { self.byTag.count }

    private static func error(_ code: Int32, _ call: String) -> UpstreamError {
        UpstreamError(.networkError, "\(DirectLoopError(call, code: code))")
    }
}

/// The sockets of one upstream on one direct listener's thread.
final class DirectSocketSet {
    /// The transport, kept so that its identity (the set's key) cannot be reused while the set exists.
    let transport: UDPTransport
    var target: DirectUpstreamTarget { self.transport.direct }
    var active: [DirectSocket] = []
    var turn = 0
    /// The round in which `turn` last advanced.
    var turnRound: UInt64 = .max

    init(transport: UDPTransport) { self.transport = transport }
}

/// The direct loops that opened sockets to one upstream transport.
final class DirectLoopRegistry: Sendable {
    private let state = Mutex<(closed: Bool, loops: [ObjectIdentifier: DirectLoop])>((false, [:]))

    /// Records that `loop` opens sockets to the transport; false once the transport has shut down.
    func use(_ loop: DirectLoop) -> Bool {
        self.state.withLock { s in
            guard !s.closed else { return false }
            s.loops[ObjectIdentifier(loop)] = loop
            return true
        }
    }

    /// Marks the transport shut down and returns the loops that have sockets to it.
    func close() -> [DirectLoop] {
        self.state.withLock { s in
            s.closed = true
            defer { s.loops = [:] }
            return Array(s.loops.values)
        }
    }
}

/// One connected socket of a ``DirectSocketSet``: its outstanding queries and the datagrams queued for the next send.
final class DirectSocket {
    struct Pending {
        var matcher: ReplyMatcher
        var serial: UInt64
        var receiver: any LoopExchangeReceiver
    }

    var fd: Int32
    /// Its tag in the loop's epoll set.
    var tag: UInt64 = 0
    unowned let set: DirectSocketSet
    var pending: [UInt16: Pending] = [:]
    var serial: UInt64 = 0
    var uses = 0
    var retired = false
    var unflushed = false
    private var out: [UInt8] = []
    private var lengths: [UInt32] = []
    private var sent: [(id: UInt16, serial: UInt64)] = []
    private var errors: [Int32] = []

    init(fd: Int32, set: DirectSocketSet) {
        self.fd = fd
        self.set = set
    }

    /// Queues `bytes` (a query with ID 0) under `id`.
    func queue(_ bytes: [UInt8], id: UInt16, serial: UInt64) {
        let start = self.out.count
        self.out.append(contentsOf: bytes)
        self.out[start] = UInt8(id >> 8)
        self.out[start + 1] = UInt8(id & 0xFF)
        self.lengths.append(UInt32(bytes.count))
        self.sent.append((id, serial))
    }

    /// Sends what is queued; returns the queries whose datagram the kernel refused, with the errno.
    func send() -> [(UInt16, UInt64, Int32)] {
        let count = self.lengths.count
        guard count > 0, self.fd >= 0 else { return [] }
        if self.errors.count < count { self.errors = [Int32](repeating: 0, count: count) }
        let failed = self.out.withUnsafeBufferPointer { data in
            self.lengths.withUnsafeBufferPointer { lengths in
                self.errors.withUnsafeMutableBufferPointer { errors in
                    pal_send_batch(self.fd, data.baseAddress, lengths.baseAddress, UInt32(count), errors.baseAddress)
                }
            }
        }
        var refused: [(UInt16, UInt64, Int32)] = []
        if failed > 0 {
            for i in 0..<count where self.errors[i] != 0 {
                refused.append((self.sent[i].id, self.sent[i].serial, self.errors[i]))
            }
        }
        self.out.removeAll(keepingCapacity: true)
        self.lengths.removeAll(keepingCapacity: true)
        self.sent.removeAll(keepingCapacity: true)
        return refused
    }
}

extension pal_peer {
    /// Same family, port and address bytes.
    func same(as other: pal_peer) -> Bool {
        guard self.family == other.family, self.port == other.port else { return false }
        let n = self.family == 4 ? 4 : 16
        return withUnsafeBytes(of: self.addr) { a in
            withUnsafeBytes(of: other.addr) { b in memcmp(a.baseAddress!, b.baseAddress!, n) == 0 }
        }
    }
}
