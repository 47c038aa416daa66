import Atomics
import CDirectUDP
import DNSPipeline
import DNSWire
import Foundation
import Logging
import Metrics
import NIOCore
import Synchronization

/// One UDP listening socket served by a thread of its own with batched system calls (recvmmsg, sendmmsg), outside
/// SwiftNIO's channel pipeline (the `direct` UDP engine).
///
/// Its thread reads a burst of datagrams, answers what the synchronous chain answers (cache hits, policy answers,
/// refusals, FORMERR) and sends those answers with one sendmmsg. A cache miss to UDP upstreams is handed, a burst at a
/// time, to the event loop the socket is paired with (its `home`): the loop runs the upstream exchange and the replay
/// as on the NIO engine and sends the answer through the same socket. A query that needs the async chain runs in a
/// task. SwiftNIO costs about 1.1 µs per answered datagram here (BENCHMARKS.md, session 15's floor without
/// SwiftNIO); this path does not pay it.
///
/// A bad datagram is dropped or answered with FORMERR by the processor; a datagram larger than a receive slot is
/// dropped and counted; a failed system call is counted and logged, never fatal (STYLE §7).
final class DirectUDPSocket: Sendable {
    /// Largest query read; a longer datagram is dropped (a DNS query this large is not one a client sends).
    static let receiveSlot: UInt32 = 4096
    /// Datagrams read per recvmmsg.
    static let burst: UInt32 = 32

    let fd: Int32
    private let wake: Int32
    let home: any EventLoop
    /// The address the socket is bound to.
    let local: SocketAddress
    private let processor: QueryProcessor
    private let logger: Logger
    private let errors: Counter
    /// Datagrams dropped because they did not fit a receive slot.
    private let droppedOversized: Counter
    /// Queries dropped because the home loop already had `maxBacklog` misses handed over and not yet started.
    private let droppedBacklog: Counter
    /// Answers the kernel would not take (a full send buffer, an unreachable client).
    private let droppedSend: Counter
    /// Misses handed to the home loop and not yet started there.
    private let backlog = ManagedAtomic<Int>(0)
    /// Most misses waiting for the home loop: the socket thread reads faster than a busy loop can start misses, and
    /// without a bound a flood of uncached names would queue without limit (SwiftNIO's engine has the bound for free:
    /// the loop reads only when it is idle, and the kernel drops the excess). Beyond it a query is dropped, as a full
    /// socket buffer would drop it, and counted.
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
    init(host: String, port: Int, home: any EventLoop, processor: QueryProcessor, maxBacklog: Int = 4096, logger: Logger)
        async throws
    {
        var peer = try Self.peer(host: host, port: port)
        let fd = pal_udp_bind(&peer)
        guard fd >= 0 else { throw ListenerError(message: "udp bind: \(Self.describe(errno: -fd))") }
        let wake = pal_wake_create()
        guard wake >= 0 else {
            close(fd)
            throw ListenerError(message: "eventfd: \(Self.describe(errno: -wake))")
        }
        var bound = pal_peer()
        guard pal_udp_local(fd, &bound) == 0, let local = Self.socketAddress(bound) else {
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
        self.errors = Counter(label: "palisade_server_errors_total", dimensions: [("transport", "udp")])
        let dropped = "palisade_server_udp_dropped_total"
        self.droppedOversized = Counter(label: dropped, dimensions: [("reason", "oversized")])
        self.droppedBacklog = Counter(label: dropped, dimensions: [("reason", "backlog")])
        self.droppedSend = Counter(label: dropped, dimensions: [("reason", "send")])
        self.maxBacklog = maxBacklog
        let maxReply = UInt32(max(512, processor.maxUDPResponse))
        let errors = self.errors
        do {
            self.sender = try await home.submit {
                NIOLoopBound(LoopReplySender(fd: fd, loop: home, maxReply: maxReply, errors: errors, logger: logger),
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

    /// The thread's loop: wait until readable, read bursts until the socket is empty, answer, send.
    private func serve() {
        guard let rx = pal_rx_create(Self.burst, Self.receiveSlot),
            let tx = pal_tx_create(Self.burst, UInt32(max(512, self.processor.maxUDPResponse)))
        else {
            self.logger.critical("direct udp socket: out of memory for its buffers; this socket serves nothing")
            return
        }
        defer {
            pal_rx_destroy(rx)
            pal_tx_destroy(tx)
        }
        var state = BurstState()
        while !self.stopping.load(ordering: .relaxed) {
            let ready = pal_wait(self.fd, self.wake)
            if ready == 0 { break }
            if ready < 0 {
                self.failed("poll", errno: -ready)
                if -ready == EBADF { break }
                continue
            }
            // Read until the socket is empty (a short burst means it is), then wait again.
            while !self.stopping.load(ordering: .relaxed) {
                let n = pal_rx_recv(self.fd, rx)
                if n < 0 {
                    self.failed("recvmmsg", errno: -n)
                    break
                }
                if n == 0 { break }
                self.answer(Int(n), from: rx, into: tx, state: &state)
                if UInt32(n) < Self.burst { break }
            }
        }
    }

    /// What one burst collects: its datagrams, their senders, and the misses for the home loop.
    private struct BurstState {
        var packets: [[UInt8]] = []
        var peers: [pal_peer] = []
        var deferred: [(DeferredQuery, pal_peer)] = []
    }

    private func answer(_ n: Int, from rx: OpaquePointer, into tx: OpaquePointer, state: inout BurstState) {
        // In groups, as the NIO handler does: the chain prefetches for a whole group (enough for the index probes to
        // overlap), then each datagram is answered.
        for i in 0..<n {
            var length: UInt32 = 0
            var truncated: Int32 = 0
            var peer = pal_peer()
            if let data = pal_rx_data(rx, UInt32(i), &length, &truncated), truncated == 0,
                pal_rx_peer(rx, UInt32(i), &peer) != 0
            {
                state.packets.append(Array(UnsafeBufferPointer(start: data, count: Int(length))))
                state.peers.append(peer)
            } else {
                self.droppedOversized.increment()
            }
            if state.packets.count == UDPQueryHandler.group || (i == n - 1 && !state.packets.isEmpty) {
                self.processor.prefetch(state.packets)
                for j in state.packets.indices {
                    self.handle(state.packets[j], from: state.peers[j], tx: tx, deferred: &state.deferred)
                }
                state.packets.removeAll(keepingCapacity: true)
                state.peers.removeAll(keepingCapacity: true)
            }
        }
        self.flush(tx)
        if !state.deferred.isEmpty {
            let misses = state.deferred
            state.deferred.removeAll(keepingCapacity: true)
            let processor = self.processor
            let sender = self.sender
            let backlog = self.backlog
            self.home.execute {
                backlog.wrappingDecrement(by: misses.count, ordering: .relaxed)
                for (query, peer) in misses {
                    processor.resume(query) { out in
                        guard let out else { return }
                        sender.send(out, to: peer)
                    }
                }
            }
        }
    }

    private func handle(_ bytes: [UInt8], from peer: pal_peer, tx: OpaquePointer,
        deferred: inout [(DeferredQuery, pal_peer)])
    {
        guard let client = ClientInfo(peer) else { return }
        switch self.processor.processOnLoop(bytes, client: client, home: self.home) {
        case .reply(let out):
            self.queue(out, to: peer, tx: tx)
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

    private func queue(_ out: [UInt8], to peer: pal_peer, tx: OpaquePointer) {
        var peer = peer
        let added = out.withUnsafeBufferPointer { pal_tx_add(tx, $0.baseAddress, UInt32($0.count), &peer) }
        guard added != 0 else { return }
        if pal_tx_count(tx) == Self.burst {
            self.flush(tx)
            if out.withUnsafeBufferPointer({ pal_tx_add(tx, $0.baseAddress, UInt32($0.count), &peer) }) == 0 { return }
        }
        // Larger than a send slot (only when maxUDPResponse is above the slot size): send it alone.
        let r = out.withUnsafeBufferPointer { pal_send_one(self.fd, $0.baseAddress, $0.count, &peer) }
        if r < 0 { self.failed("sendto", errno: -r) }
    }

    private func flush(_ tx: OpaquePointer) {
        guard pal_tx_count(tx) > 0 else { return }
        var first: Int32 = 0
        let failed = pal_tx_flush(self.fd, tx, &first)
        if failed > 0 {
            self.droppedSend.increment(by: Int64(failed))
            self.failed("sendmmsg", errno: first)
        }
    }

    private func failed(_ call: String, errno code: Int32) {
        self.errors.increment()
        self.logger.debug("udp listener error", metadata: ["call": "\(call)", "error": "\(Self.describe(errno: code))"])
    }

    static func describe(errno code: Int32) -> String {
        String(cString: strerror(code))
    }

    static func peer(host: String, port: Int) throws -> pal_peer {
        var peer = pal_peer()
        peer.port = UInt16(clamping: port)
        if let v4 = IPv4Address(host) {
            peer.family = 4
            withUnsafeMutableBytes(of: &peer.addr) { b in
                b[0] = UInt8(v4.value >> 24)
                b[1] = UInt8(truncatingIfNeeded: v4.value >> 16)
                b[2] = UInt8(truncatingIfNeeded: v4.value >> 8)
                b[3] = UInt8(truncatingIfNeeded: v4.value)
            }
        } else if let v6 = IPv6Address(host) {
            peer.family = 6
            let bytes = v6.bytes
            withUnsafeMutableBytes(of: &peer.addr) { b in
                for i in 0..<16 { b[i] = bytes[i] }
            }
        } else {
            throw ListenerError(message: "\(host) is not an IP address")
        }
        return peer
    }

    static func socketAddress(_ peer: pal_peer) -> SocketAddress? {
        let bytes = withUnsafeBytes(of: peer.addr) { Array($0) }
        switch peer.family {
        case 4:
            return try? SocketAddress(ipAddress: "\(bytes[0]).\(bytes[1]).\(bytes[2]).\(bytes[3])", port: Int(peer.port))
        case 6:
            guard let v6 = IPv6Address(bytes: bytes) else { return nil }
            return try? SocketAddress(ipAddress: "\(v6)", port: Int(peer.port))
        default:
            return nil
        }
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

/// Sends the answers that complete on the home loop through the direct socket: queued, and sent with one sendmmsg
/// after the loop has handled the I/O events of its current round (so a burst of upstream replies leaves together).
final class LoopReplySender {
    private let fd: Int32
    private let loop: any EventLoop
    private let tx: OpaquePointer?
    private let maxReply: UInt32
    private let errors: Counter
    private let logger: Logger
    private var flushScheduled = false
    private var closed = false

    init(fd: Int32, loop: any EventLoop, maxReply: UInt32, errors: Counter, logger: Logger) {
        self.fd = fd
        self.loop = loop
        self.tx = pal_tx_create(DirectUDPSocket.burst, maxReply)
        self.maxReply = maxReply
        self.errors = errors
        self.logger = logger
    }

    deinit { pal_tx_destroy(self.tx) }

    /// Queues an answer (on the loop).
    func queue(_ out: [UInt8], to peer: pal_peer) {
        guard !self.closed else { return }
        var peer = peer
        guard let tx = self.tx,
            out.withUnsafeBufferPointer({ pal_tx_add(tx, $0.baseAddress, UInt32($0.count), &peer) }) == 0
        else {
            // Full, or larger than a slot: send what is queued, then this one alone.
            self.flush()
            let r = out.withUnsafeBufferPointer { pal_send_one(self.fd, $0.baseAddress, $0.count, &peer) }
            if r < 0 { self.failed("sendto", -r) }
            return
        }
        guard !self.flushScheduled else { return }
        self.flushScheduled = true
        let bound = NIOLoopBound(self, eventLoop: self.loop)
        self.loop.execute {
            bound.value.flushScheduled = false
            bound.value.flush()
        }
    }

    /// Sends what is queued (on the loop).
    func flush() {
        guard !self.closed, let tx = self.tx, pal_tx_count(tx) > 0 else { return }
        var first: Int32 = 0
        if pal_tx_flush(self.fd, tx, &first) > 0 { self.failed("sendmmsg", first) }
    }

    /// Drops everything from now on: the socket is about to close (on the loop).
    func close() { self.closed = true }

    private func failed(_ call: String, _ code: Int32) {
        self.errors.increment()
        self.logger.debug("udp listener error", metadata: ["call": "\(call)", "error": "\(DirectUDPSocket.describe(errno: code))"])
    }
}

extension ClientInfo {
    /// Client information from a direct socket's peer.
    init?(_ peer: pal_peer) {
        switch peer.family {
        case 4:
            let v = withUnsafeBytes(of: peer.addr) { b in
                UInt32(b[0]) << 24 | UInt32(b[1]) << 16 | UInt32(b[2]) << 8 | UInt32(b[3])
            }
            self.init(address: .v4(IPv4Address(v)), port: peer.port, transport: .udp)
        case 6:
            guard let v6 = withUnsafeBytes(of: peer.addr, { IPv6Address(bytes: $0) }) else { return nil }
            self.init(address: IPAddress.v6(v6).unmapped, port: peer.port, transport: .udp)
        default:
            return nil
        }
    }
}
