/// Exponential backoff between reconnect attempts: `initial`, doubling, capped at `maximum`, with up to
/// 20 % jitter so that many Palisades do not hammer a restarted engine in step.
public struct Backoff: Sendable, Equatable {
    /// The first delay.
    public var initial: Duration
    /// The longest delay.
    public var maximum: Duration

    /// Creates a backoff policy.
    public init(initial: Duration = .milliseconds(250), maximum: Duration = .seconds(30)) {
        self.initial = initial
        self.maximum = max(initial, maximum)
    }

    /// The delay before attempt `attempt` (0-based) of a failure streak.
    public func delay(attempt: Int) -> Duration {
        var d = self.initial
        var i = 0
        while i < attempt && d < self.maximum {
            d = d * 2
            i += 1
        }
        let capped = min(d, self.maximum)
        return capped + capped * Double.random(in: 0...0.2)
    }
}
