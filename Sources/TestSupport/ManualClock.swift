import Synchronization

/// A clock that moves only when a test says so (`advance(by:)`), so time-dependent code is
/// tested without sleeping.
public final class ManualClock: Clock, Sendable {
    /// An instant on the manual clock.
    public struct Instant: InstantProtocol, Sendable {
        /// Time since the clock's origin.
        public var offset: Duration
        public func advanced(by duration: Duration) -> Instant { Instant(offset: self.offset + duration) }
        public func duration(to other: Instant) -> Duration { other.offset - self.offset }
        public static func < (a: Instant, b: Instant) -> Bool { a.offset < b.offset }
    }

    private struct State {
        var now = Instant(offset: .zero)
        var sleepers: [(deadline: Instant, continuation: CheckedContinuation<Void, any Error>)] = []
    }
    private let state = Mutex(State())

    /// A clock at offset zero.
    public init() {}

    public var now: Instant { self.state.withLock { $0.now } }
    public var minimumResolution: Duration { .nanoseconds(1) }

    /// Moves time forward and wakes sleepers whose deadline has passed.
    public func advance(by d: Duration) {
        let due = self.state.withLock { s -> [CheckedContinuation<Void, any Error>] in
            s.now = s.now.advanced(by: d)
            let now = s.now
            let ready = s.sleepers.filter { $0.deadline <= now }.map(\.continuation)
            s.sleepers.removeAll { $0.deadline <= now }
            return ready
        }
        for c in due { c.resume() }
    }

    public func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            let fire = self.state.withLock { s -> Bool in
                if deadline <= s.now { return true }
                s.sleepers.append((deadline, c))
                return false
            }
            if fire { c.resume() }
        }
    }
}
