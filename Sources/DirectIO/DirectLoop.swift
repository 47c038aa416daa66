import CDirectUDP
import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A component that keeps state on a ``DirectLoop`` (the upstream module's sockets): the loop calls it every round.
public protocol DirectLoopParticipant: AnyObject {
    /// Fails or retries what is past its deadline.
    func expire(now: NIODeadline)
    /// Sends what was queued since the last round.
    func flush()
    /// The earliest deadline outstanding; nil when there is none.
    var nextDeadline: NIODeadline? { get }
    /// The loop is stopping: fail what is outstanding and close descriptors.
    func close()
}

/// A failed system call of a ``DirectLoop``, named.
public struct DirectLoopError: Error, CustomStringConvertible, Sendable {
    /// The call, e.g. `epoll_ctl`.
    public let call: String
    /// Its errno.
    public let code: Int32

    public init(_ call: String, code: Int32) {
        self.call = call
        self.code = code
    }

    public var description: String { "\(self.call): \(String(cString: strerror(self.code)))" }
}

/// The event loop of a thread that serves datagrams outside SwiftNIO (the direct UDP engine's socket thread): one
/// epoll set for the thread's own descriptors, a wake descriptor, and the descriptors of the components that keep
/// state on the loop (``DirectLoopParticipant``: the upstream module's sockets), with their next deadline as the
/// wait's timeout.
///
/// It is to the direct engine what a SwiftNIO `EventLoop` is to a channel: the server module owns the thread and hands
/// the loop to the chain as a query's home (``DNSPipeline/Deferral/home``), and the upstream module keeps its sockets
/// on it, one set per loop, found with ``participant(_:make:)``. Neither module knows the other.
///
/// Everything but ``post(_:)`` runs on the owning thread (the one that calls ``runRound(tags:before:other:)``).
public final class DirectLoop: @unchecked Sendable {
    // @unchecked: every mutable field but `posted` (a Mutex) is used on the owning thread only.
    /// An event loop for the rare work the thread does not do itself (a TCP exchange).
    public let home: any EventLoop
    private let epoll: Int32
    private let wake: Int32
    private let posted = Mutex<[@Sendable () -> Void]>([])
    private var handlers: [UInt64: (UInt64) -> Void] = [:]
    private var nextTag = DirectLoop.firstTag
    private var participants: [ObjectIdentifier: any DirectLoopParticipant] = [:]
    private var closed = false
    /// Tags the owner may use for its own descriptors are below this (and not ``wakeTag``).
    public static let firstTag: UInt64 = 16
    /// The wake descriptor's tag.
    public static let wakeTag: UInt64 = 1
    /// How late a deadline may be noticed, so the thread wakes a few hundred times a second at most for its sweeps,
    /// not once per outstanding query.
    public static let slack = TimeAmount.milliseconds(5)

    /// Creates a loop woken through `wake` (an eventfd; the caller keeps and closes it).
    /// - Throws: ``DirectLoopError`` when the epoll set cannot be made.
    public init(home: any EventLoop, wake: Int32) throws(DirectLoopError) {
        let ep = pal_epoll_create()
        guard ep >= 0 else { throw DirectLoopError("epoll_create", code: -ep) }
        let added = pal_epoll_add(ep, wake, Self.wakeTag)
        guard added == 0 else {
            Glibc.close(ep)
            throw DirectLoopError("epoll_ctl", code: -added)
        }
        self.home = home
        self.epoll = ep
        self.wake = wake
    }

    deinit { Glibc.close(self.epoll) }

    /// Adds one of the owner's descriptors under `tag` (below ``firstTag``, not ``wakeTag``); `runRound`'s `other`
    /// gets the tag when it is readable.
    public func add(_ fd: Int32, tag: UInt64) throws(DirectLoopError) {
        precondition(tag < Self.firstTag && tag != Self.wakeTag, "tag \(tag) is the loop's own")
        let r = pal_epoll_add(self.epoll, fd, tag)
        guard r == 0 else { throw DirectLoopError("epoll_ctl", code: -r) }
    }

    /// Adds a participant's descriptor; `handler` runs on the loop when it is readable.
    /// - Returns: the descriptor's tag, for ``unregister(_:tag:)``.
    public func register(_ fd: Int32, handler: @escaping (UInt64) -> Void) throws(DirectLoopError) -> UInt64 {
        let tag = self.nextTag
        let r = pal_epoll_add(self.epoll, fd, tag)
        guard r == 0 else { throw DirectLoopError("epoll_ctl", code: -r) }
        self.nextTag &+= 1
        self.handlers[tag] = handler
        return tag
    }

    /// Removes a participant's descriptor (before it is closed).
    public func unregister(_ fd: Int32, tag: UInt64) {
        _ = pal_epoll_del(self.epoll, fd)
        self.handlers[tag] = nil
    }

    /// The loop's participant of type `P`, made with `make` and attached on first use.
    public func participant<P: DirectLoopParticipant>(_ type: P.Type, make: () -> P) -> P {
        if let p = self.participants[ObjectIdentifier(type)] as? P { return p }
        let p = make()
        self.participants[ObjectIdentifier(type)] = p
        return p
    }

    /// One round of the owning thread's loop: expires what is past its deadline, flushes the participants, calls
    /// `before` (the owner sends what it queued), waits until a descriptor is ready or the next deadline, and handles
    /// what is ready: a participant's descriptor with its handler, the wake descriptor by running what was posted,
    /// any other tag with `other`.
    /// - Returns: 0, or the errno of a failed wait.
    public func runRound(tags: inout [UInt64], before: () -> Void, other: (UInt64) -> Void) -> Int32 {
        let now = NIODeadline.now()
        for p in self.participants.values { p.expire(now: now) }
        var next: NIODeadline?
        for p in self.participants.values {
            p.flush()
            if let d = p.nextDeadline, next.map({ d < $0 }) ?? true { next = d }
        }
        // After the participants: a query they failed (a refused send, a deadline) has its answer queued by now.
        before()
        let timeout = next.map { Self.timeout(until: $0, now: .now()) } ?? -1
        let n = tags.withUnsafeMutableBufferPointer { t in
            pal_epoll_wait(self.epoll, t.baseAddress, Int32(t.count), timeout)
        }
        if n < 0 { return -n }
        for i in 0..<Int(n) {
            let tag = tags[i]
            if tag >= Self.firstTag {
                self.handlers[tag]?(tag)
            } else if tag == Self.wakeTag {
                pal_wake_drain(self.wake)
                self.runPosted()
            } else {
                other(tag)
            }
        }
        return 0
    }

    /// Milliseconds from `now` until `deadline`, rounded up and at least ``slack``.
    static func timeout(until deadline: NIODeadline, now: NIODeadline) -> Int32 {
        let ns = max((deadline - now).nanoseconds, Self.slack.nanoseconds)
        return Int32(clamping: (ns + 999_999) / 1_000_000)
    }

    /// Runs `work` on the owning thread: queued, and the thread woken (from any thread).
    public func post(_ work: @escaping @Sendable () -> Void) {
        self.posted.withLock { $0.append(work) }
        pal_wake_signal(self.wake)
    }

    private func runPosted() {
        let work = self.posted.withLock { w in
            defer { w.removeAll() }
            return w
        }
        for w in work { w() }
    }

    /// Closes every participant (each fails what is outstanding), then runs what was posted and not yet run (on the
    /// owning thread, when it stops).
    public func close() {
        guard !self.closed else { return }
        self.closed = true
        for p in self.participants.values { p.close() }
        self.runPosted()
    }

    /// Whether ``close()`` ran: a participant made afterwards must refuse work.
    public var isClosed: Bool { self.closed }
}
