public import DNSWire
import Synchronization

/// Lets the terminal stage run its I/O on the caller's event loop instead of in a task.
///
/// The cache-miss path without a task per query works in two synchronous passes over the chain:
///
/// 1. The first pass runs ``Stage/resolveNow(_:in:next:)`` as for a cache hit. When it reaches a stage
///    that needs I/O it can start without suspending (the upstream stage with UDP upstreams), that stage
///    registers the I/O here with ``request(_:start:)`` and returns nil, so every stage above returns nil
///    without side effects (the `resolveNow` contract).
/// 2. When the I/O completes (on the event loop that started it), the server stores its resolution with
///    ``complete(_:)`` and runs the synchronous chain again. This time the terminal stage finds the
///    result with ``result(for:)`` and returns it, so the stages above do their usual amend work (cache
///    insert, response policy, query log, metrics) on the event loop.
///
/// A stage that cannot finish the second pass synchronously (a CNAME chase by the response policy, a
/// prefetch) returns nil again, and the server falls back to the async chain with the same context:
/// the upstream stage then returns the stored result instead of asking again.
///
/// The value is shared by the two passes and the async fallback, which never run at the same time;
/// a lock keeps it sound anyway (it is uncontended).
public final class Deferral: Sendable {
    private struct State {
        var question: Question?
        var start: (@Sendable (@escaping @Sendable (Resolution) -> Void) -> Void)?
        var result: Resolution?
    }

    private let state = Mutex(State())
    /// When the first pass began: the query log and metrics time the query from here, not from the replay.
    public let arrival: ContinuousClock.Instant
    /// The event loop the server will resume the query on when the first pass does not run on one (the direct UDP
    /// listener's thread); nil when it runs on the loop itself. Typed loosely because this module knows no event
    /// loops: the stage that starts the I/O casts it.
    public let home: (any Sendable)?

    /// Creates an empty deferral; `arrival` is when the query was received, `home` the loop it resumes on when the
    /// caller is not an event loop.
    public init(arrival: ContinuousClock.Instant = .now, home: (any Sendable)? = nil) {
        self.arrival = arrival
        self.home = home
    }

    /// Registers the I/O that answers `question`; only the first request of a pass is kept.
    /// - Parameters:
    ///   - question: the question the I/O answers (a second pass for another question does not get its result).
    ///   - start: starts the I/O and calls its argument exactly once with the resolution, on the event loop.
    /// - Returns: false when another request was already registered (the caller must then return nil and
    ///   let the async path do the work).
    @discardableResult
    public func request(_ question: Question,
        start: @escaping @Sendable (@escaping @Sendable (Resolution) -> Void) -> Void) -> Bool
    {
        self.state.withLock { s in
            guard s.question == nil else { return false }
            s.question = question
            s.start = start
            return true
        }
    }

    /// Whether a stage registered I/O in the first pass.
    public var isRequested: Bool { self.state.withLock { $0.start != nil } }

    /// Starts the registered I/O (once); `completion` gets its resolution.
    /// - Returns: false when nothing was registered.
    @discardableResult
    public func start(_ completion: @escaping @Sendable (Resolution) -> Void) -> Bool {
        let start = self.state.withLock { s in
            defer { s.start = nil }
            return s.start
        }
        guard let start else { return false }
        start(completion)
        return true
    }

    /// Stores the result of the I/O for the replay.
    public func complete(_ resolution: Resolution) {
        self.state.withLock { $0.result = resolution }
    }

    /// The stored result when it answers `question` (the terminal stage returns it in the replay).
    public func result(for question: Question) -> Resolution? {
        self.state.withLock { s in
            guard let r = s.result, s.question == question else { return nil }
            return r
        }
    }
}
