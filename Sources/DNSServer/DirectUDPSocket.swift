import Atomics
import CDirectUDP
import DNSPipeline
import DNSWire
import DirectIO
import Foundation
import Logging
import Metrics
import NIOCore
import Synchronization

/// One UDP listening socket served by a thread of its own with batched system calls (recvmmsg, sendmmsg), outside
/// SwiftNIO's channel pipeline (the `direct` UDP engine).
///
/// Its thread reads a burst of datagrams, answers what the synchronous chain answers (cache hits, policy answers,
/// refusals, FORMERR) and sends those answers with one sendmmsg. A cache miss to UDP upstreams is served on the same
/// thread too: the thread runs a ``DirectLoop``, the misses' home, on which the upstream module keeps sockets of its
/// own (a round's queries to an upstream leave on one socket, with one sendmmsg); it waits for the replies in the same
/// epoll set as the listening socket, replays the chain with each reply and queues the answer with the others. Only a
/// truncated upstream reply's TCP retry runs on the event loop the socket is paired with (its `home`), and a query
/// that needs the async chain runs in a task. SwiftNIO costs about 1.1 µs per answered datagram here (BENCHMARKS.md,
/// session 15's floor without SwiftNIO), and a miss handed to an event loop cost a thread wake-up and a SwiftNIO
/// channel read and write more (session 22); this path pays none.
///
/// A bad datagram is dropped or answered with FORMERR by the processor; a datagram larger than a receive slot is
/// dropped and counted; a failed system call is counted and logged, never fatal (STYLE §7).
final class DirectUDPSocket: Sendable {
    /// Largest query read; a longer datagram is dropped (a DNS query this large is not one a client sends).
    static let receiveSlot: UInt32 = 4096
    /// Datagrams read per recvmmsg.
    static let burst: UInt32 = 32

    private let fd: Int32
    private let wake: Int32
    private let home: any EventLoop
    /// The address the socket is bound to.
    let local: SocketAddress
    private let processor: QueryProcessor
    private let logger: Logger
    private let failures: SocketFailures
    /// Datagrams dropped because they did not fit a receive slot.
    private let droppedOversized: Counter
    /// Queries dropped because `maxBacklog` misses were already waiting for their upstreams.
    private let droppedBacklog: Counter
    /// Misses started and not yet answered.
    private let backlog = ManagedAtomic<Int>(0)
    /// Most misses waiting for their upstreams at once: a flood of uncached names must not queue without limit (as
    /// Unbound bounds the queries a thread works on). Beyond it a query is dropped, as a full socket buffer would drop
    /// it, and counted.
    let maxBacklog: Int
    private let stopping = Atomic<Bool>(false)
    private let started = Atomic<Bool>(false)
    private let exit = Mutex<ExitState>(.running)
    private let sender: NIOLoopBound<LoopReplySender>

    private enum ExitState {
        case running
        case waiting(CheckedContinuation<Void, Never>)
        case exited
    }

    /// Binds `host:port` (SO_REUSEPORT, so several of these and NIO sockets can share it) without starting to read.
    init(host: String, port: Int, home: any EventLoop, processor: QueryProcessor, maxBacklog: Int, logger: Logger)
        async throws
    {
        guard let address = IPAddress(host) else { throw ListenerError(message: "\(host) is not an IP address") }
        var peer = pal_peer(address, port: port)
        let fd = pal_udp_bind(&peer)
        guard fd >= 0 else { throw ListenerError(message: "udp bind: \(Self.describe(errno: -fd))") }
        let wake = pal_wake_create()
        guard wake >= 0 else {
            close(fd)
            throw ListenerError(message: "eventfd: \(Self.describe(errno: -wake))")
        }
        var bound = pal_peer()
        guard pal_udp_local(fd, &bound) == 0, let ip = IPAddress(bound),
            let local = try? SocketAddress(ipAddress: "\(ip)", port: Int(bound.port))
        else {
            close(fd)
            close(wake)
            throw ListenerError(message: "udp getsockname failed")
        }
        self.fd = fd
        self.wake = wake
        self.home = home
        self.local = local
        self.processor = processor
        self.logger = logger
        let failures = SocketFailures(logger: logger)
        self.failures = failures
        self.droppedOversized = Counter(label: SocketFailures.dropped, dimensions: [("reason", "oversized")])
        self.droppedBacklog = Counter(label: SocketFailures.dropped, dimensions: [("reason", "backlog")])
        self.maxBacklog = maxBacklog
        do {
            self.sender = try await home.submit {
                NIOLoopBound(LoopReplySender(ReplyBatch(fd: fd, processor: processor, failures: failures), loop: home),
                    eventLoop: home)
            }.get()
        } catch {
            close(fd)
            close(wake)
            throw error
        }
    }

    /// Starts the socket's thread.
    func start() {
        guard !self.started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let thread = Thread { [self] in
            // Named from inside: top, perf and the bench scripts find the thread by this name.
            pal_thread_name("palisade-udp")
            self.serve()
            let waiter: CheckedContinuation<Void, Never>? = self.exit.withLock { state in
                defer { state = .exited }
                if case .waiting(let c) = state { return c }
                return nil
            }
            waiter?.resume()
        }
        thread.start()
    }

    /// Stops the thread, waits for it, and closes the socket. Answers still on their way from the home loop or a task
    /// are dropped.
    func stop() async {
        guard !self.stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        pal_wake_signal(self.wake)
        // A socket whose listener failed to start never had a thread to wait for.
        if self.started.exchange(true, ordering: .acquiringAndReleasing) {
            await self.threadExit()
        }
        let sender = self.sender
        try? await self.home.submit { sender.value.close() }.get()
        close(self.fd)
        close(self.wake)
    }

    private func threadExit() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let exited = self.exit.withLock { state in
                if case .exited = state { return true }
                state = .waiting(c)
                return false
            }
            if exited { c.resume() }
        }
    }

    /// The thread's loop: one epoll set for the listening socket, the wake descriptor and the upstream sockets, with
    /// the next upstream deadline as the wait's timeout (``DirectLoop/runRound(tags:before:other:)``). Each round sends
    /// the upstream queries and the answers queued, waits, and reads what is ready.
    private func serve() {
        let replies = ReplyBatch(fd: self.fd, processor: self.processor, failures: self.failures)
        guard let rx = pal_rx_create(Self.burst, Self.receiveSlot), replies.isUsable else {
            self.logger.critical("direct udp socket: out of memory for its buffers; this socket serves nothing")
            return
        }
        defer { pal_rx_destroy(rx) }
        let loop: DirectLoop
        do {
            loop = try DirectLoop(home: self.home, wake: self.wake)
            try loop.add(self.fd, tag: Self.listenTag)
        } catch {
            self.logger.critical("direct udp socket: its epoll set could not be built; this socket serves nothing",
                metadata: ["error": "\(error)"])
            return
        }
        // What is outstanding upstream fails (its answers are not sent), and the upstream sockets close.
        defer { loop.close() }
        var state = BurstState(loop: loop, owner: pthread_self())
        var tags = [UInt64](repeating: 0, count: 64)
        while !self.stopping.load(ordering: .relaxed) {
            let failed = loop.runRound(tags: &tags, before: { replies.flush() }) { tag in
                if tag == Self.listenTag { self.readBursts(rx: rx, replies: replies, state: &state) }
            }
            if failed != 0 {
                self.failures.report("epoll_wait", errno: failed)
                if failed == EBADF { break }
            }
        }
    }

    /// The listening socket's tag in the thread's ``DirectLoop``.
    private static let listenTag: UInt64 = 0

    /// Reads until the socket is empty (a short burst means it is).
    private func readBursts(rx: OpaquePointer, replies: ReplyBatch, state: inout BurstState) {
        while !self.stopping.load(ordering: .relaxed) {
            let n = pal_rx_recv(self.fd, rx)
            if n < 0 {
                self.failures.report("recvmmsg", errno: -n)
                break
            }
            if n == 0 { break }
            self.answer(Int(n), from: rx, into: replies, state: &state)
            if UInt32(n) < Self.burst { break }
        }
    }

    /// What one burst collects: its datagrams, their senders, and its misses; and the thread's loop.
    private struct BurstState {
        /// Datagram buffers, kept from group to group and overwritten: the first `filled` hold the current group's.
        /// Nothing keeps a datagram's bytes once it is answered (a query holds its decoded message), so each buffer
        /// is refilled in place; copying every datagram into a new array was one allocation per query.
        var packets: [[UInt8]] = []
        var filled = 0
        var peers: [pal_peer] = []
        var deferred: [(DeferredQuery, pal_peer)] = []
        /// The thread's loop (the misses' home: the upstream module keeps its sockets there), and the thread.
        let loop: DirectLoop
        let owner: pthread_t

        init(loop: DirectLoop, owner: pthread_t) {
            self.loop = loop
            self.owner = owner
        }
    }

    private func answer(_ n: Int, from rx: OpaquePointer, into replies: ReplyBatch, state: inout BurstState) {
        // In groups, as the NIO handler does: the chain prefetches for a whole group (enough for the index probes to
        // overlap), then each datagram is answered.
        for i in 0..<n {
            var length: UInt32 = 0
            var truncated: Int32 = 0
            var peer = pal_peer()
            if let data = pal_rx_data(rx, UInt32(i), &length, &truncated), truncated == 0,
                pal_rx_peer(rx, UInt32(i), &peer) != 0
            {
                let bytes = UnsafeBufferPointer(start: data, count: Int(length))
                if state.filled < state.packets.count {
                    state.packets[state.filled].removeAll(keepingCapacity: true)
                    state.packets[state.filled].append(contentsOf: bytes)
                } else {
                    state.packets.append(Array(bytes))
                }
                state.filled += 1
                state.peers.append(peer)
            } else {
                self.droppedOversized.increment()
            }
            if state.filled == UDPQueryHandler.group || (i == n - 1 && state.filled > 0) {
                self.processor.prefetch(state.packets[0..<state.filled])
                for j in 0..<state.filled {
                    self.handle(state.packets[j], from: state.peers[j], replies: replies, deferred: &state.deferred,
                        loop: state.loop)
                }
                state.filled = 0
                state.peers.removeAll(keepingCapacity: true)
            }
        }
        replies.flush()
        self.resumeHere(&state, replies: replies)
    }

    /// Starts the burst's misses on this thread: their upstream queries leave at the end of the loop's round, and
    /// their answers are queued on `replies` as the replies arrive (or, when a stage finishes the replay in a task,
    /// posted back to this thread).
    private func resumeHere(_ state: inout BurstState, replies: ReplyBatch) {
        guard !state.deferred.isEmpty else { return }
        let owner = state.owner
        let loop = state.loop
        let batch = UncheckedReplies(replies)
        let backlog = self.backlog
        // By index: the element is passed from the array's storage, where `for (query, peer) in` copied each one out
        // (a retain of every reference in the query, and a release after).
        for i in state.deferred.indices {
            let peer = state.deferred[i].1
            self.processor.resume(state.deferred[i].0) { out in
                // Called directly on this thread (no closure allocated for the common case), else posted back to it.
                if pthread_equal(pthread_self(), owner) != 0 {
                    Self.deliver(out, to: peer, batch, backlog)
                } else {
                    loop.post { Self.deliver(out, to: peer, batch, backlog) }
                }
            }
        }
        state.deferred.removeAll(keepingCapacity: true)
    }

    /// A miss is answered (on the socket's thread): it leaves the backlog, and its answer joins the batch.
    private static func deliver(_ out: [UInt8]?, to peer: pal_peer, _ batch: UncheckedReplies,
        _ backlog: ManagedAtomic<Int>)
    {
        backlog.wrappingDecrement(ordering: .relaxed)
        if let out { batch.replies.add(out, to: peer) }
    }

    private func handle(_ bytes: [UInt8], from peer: pal_peer, replies: ReplyBatch,
        deferred: inout [(DeferredQuery, pal_peer)], loop: DirectLoop)
    {
        guard let address = IPAddress(peer) else { return }
        let client = ClientInfo(address: address.unmapped, port: peer.port, transport: .udp)
        switch self.processor.processOnLoop(bytes, client: client, home: loop) {
        case .reply(let out):
            replies.add(out, to: peer)
        case .drop:
            break
        case .deferred(let d):
            guard self.backlog.wrappingIncrementThenLoad(ordering: .relaxed) <= self.maxBacklog else {
                self.backlog.wrappingDecrement(ordering: .relaxed)
                self.droppedBacklog.increment()
                return
            }
            deferred.append((d, peer))
        case .async(let query):
            let processor = self.processor
            let sender = self.sender
            Task {
                guard let out = await processor.process(query) else { return }
                sender.send(out, to: peer)
            }
        }
    }

    static func describe(errno code: Int32) -> String {
        String(cString: strerror(code))
    }
}

extension NIOLoopBound where Value == LoopReplySender {
    /// Sends from any thread: at once on the loop, else after a hop to it.
    func send(_ out: [UInt8], to peer: pal_peer) {
        if self.eventLoop.inEventLoop {
            self.value.queue(out, to: peer)
        } else {
            self.eventLoop.execute { self.value.queue(out, to: peer) }
        }
    }
}

/// A socket thread's reply batch, captured by the completions of the misses it starts; only ever used on that thread
/// (a completion on another thread posts its answer back first).
private struct UncheckedReplies: @unchecked Sendable {
    let replies: ReplyBatch
    init(_ replies: ReplyBatch) { self.replies = replies }
}

/// Answers queued for one direct socket and sent with one sendmmsg. Used by one thread at a time: the socket's
/// thread has one, its home loop another (in ``LoopReplySender``).
final class ReplyBatch {
    private let fd: Int32
    private let tx: OpaquePointer?
    private let failures: SocketFailures

    /// A batch of ``DirectUDPSocket/burst`` slots, each as large as the largest UDP answer `processor` sends.
    init(fd: Int32, processor: QueryProcessor, failures: SocketFailures) {
        self.fd = fd
        self.tx = pal_tx_create(DirectUDPSocket.burst, UInt32(max(512, processor.maxUDPResponse)))
        self.failures = failures
    }

    deinit { pal_tx_destroy(self.tx) }

    /// False when the batch's memory could not be allocated.
    var isUsable: Bool { self.tx != nil }

    /// Whether answers are queued.
    var isEmpty: Bool { self.tx.map { pal_tx_count($0) == 0 } ?? true }

    /// Queues an answer; when the batch is full, sends it first. An answer larger than a slot goes alone.
    func add(_ out: [UInt8], to peer: pal_peer) {
        var peer = peer
        guard let tx = self.tx else { return }
        let add = { out.withUnsafeBufferPointer { pal_tx_add(tx, $0.baseAddress, UInt32($0.count), &peer) } == 0 }
        if add() { return }
        if pal_tx_count(tx) == DirectUDPSocket.burst {
            self.flush()
            if add() { return }
        }
        let r = out.withUnsafeBufferPointer { pal_send_one(self.fd, $0.baseAddress, $0.count, &peer) }
        if r < 0 { self.failures.report("sendto", errno: -r) }
    }

    /// Sends what is queued; what the kernel refuses is dropped and counted.
    func flush() {
        guard let tx = self.tx, pal_tx_count(tx) > 0 else { return }
        var first: Int32 = 0
        let failed = pal_tx_flush(self.fd, tx, &first)
        if failed > 0 { self.failures.droppedOnSend(Int(failed), errno: first) }
    }
}

/// How a direct socket reports a failed system call (never fatal: STYLE §7).
struct SocketFailures: Sendable {
    /// The name of the counter of dropped datagrams, labelled by reason.
    static let dropped = "palisade_server_udp_dropped_total"
    let logger: Logger
    private let errors = Counter(label: "palisade_server_errors_total", dimensions: [("transport", "udp")])
    /// Answers the kernel would not take (a full send buffer, an unreachable client).
    private let droppedSend = Counter(label: SocketFailures.dropped, dimensions: [("reason", "send")])

    init(logger: Logger) { self.logger = logger }

    /// Counts and logs (at debug level) a failed call.
    func report(_ call: String, errno code: Int32) {
        self.errors.increment()
        self.logger.debug("udp listener error", metadata: ["call": "\(call)", "error": "\(DirectUDPSocket.describe(errno: code))"])
    }

    /// Counts answers a sendmmsg could not send, and the failure.
    func droppedOnSend(_ count: Int, errno code: Int32) {
        self.droppedSend.increment(by: Int64(count))
        self.report("sendmmsg", errno: code)
    }
}

/// Sends the answers that complete on the home loop through the direct socket: queued, and sent with one sendmmsg
/// after the loop has handled the I/O events of its current round (so a burst of upstream replies leaves together).
final class LoopReplySender {
    private let replies: ReplyBatch
    private let loop: any EventLoop
    private var flushScheduled = false
    private var closed = false

    init(_ replies: ReplyBatch, loop: any EventLoop) {
        self.replies = replies
        self.loop = loop
    }

    /// Queues an answer (on the loop).
    func queue(_ out: [UInt8], to peer: pal_peer) {
        guard !self.closed else { return }
        self.replies.add(out, to: peer)
        guard !self.flushScheduled, !self.replies.isEmpty else { return }
        self.flushScheduled = true
        let bound = NIOLoopBound(self, eventLoop: self.loop)
        self.loop.execute {
            bound.value.flushScheduled = false
            if !bound.value.closed { bound.value.replies.flush() }
        }
    }

    /// Drops everything from now on: the socket is about to close (on the loop).
    func close() { self.closed = true }
}
