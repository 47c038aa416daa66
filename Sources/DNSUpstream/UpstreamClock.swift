/// A type-erased monotonic clock: time since the clock was created, and a way to sleep on it.
///
/// Health backoff and probes run on this clock, so tests drive them with a manual clock and never sleep.
public struct UpstreamClock: Sendable {
    /// Time elapsed since this value was created, on the wrapped clock.
    public let now: @Sendable () -> Duration
    /// Sleeps for a duration on the wrapped clock.
    public let sleep: @Sendable (Duration) async throws -> Void

    /// Wraps any clock measured in `Duration`.
    public init<C: Clock>(_ clock: C) where C.Duration == Duration {
        let origin = clock.now
        self.now = { origin.duration(to: clock.now) }
        self.sleep = { d in try await clock.sleep(until: clock.now.advanced(by: d), tolerance: nil) }
    }

    /// The real monotonic clock.
    public static var continuous: UpstreamClock { UpstreamClock(ContinuousClock()) }
}
