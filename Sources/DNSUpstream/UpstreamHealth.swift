/// Whether an upstream is used.
public enum UpstreamHealthState: String, Sendable, Hashable {
    /// Taking traffic.
    case healthy
    /// Marked down after consecutive failures; skipped until its backoff ends.
    case down
    /// Its backoff has ended: the next real query (or a health probe) decides whether it is back.
    case probing
}

/// Failure counting and backoff for one upstream (a plain state machine; the pool keeps it under a lock).
///
/// `failureThreshold` consecutive failures mark the upstream down for `downBackoff`. When the backoff
/// ends the upstream is *probing*: one success makes it healthy again, one failure puts it down again
/// for twice as long, up to `maxDownBackoff` (the exponential backoff CoreDNS's forward plugin and
/// Unbound's infra cache use, so a dead server costs a timeout only once per backoff period).
package struct UpstreamHealth: Sendable, Hashable {
    /// Failures since the last success.
    package private(set) var consecutiveFailures = 0
    /// When the current down period ends (clock offset); nil when not down.
    package private(set) var downUntil: Duration?
    /// How long the next down period lasts.
    package private(set) var currentBackoff: Duration

    /// Consecutive failures that mark the upstream down.
    package let failureThreshold: Int
    /// The first down period.
    package let downBackoff: Duration
    /// The longest down period.
    package let maxDownBackoff: Duration

    /// Creates a healthy record.
    package init(failureThreshold: Int, downBackoff: Duration, maxDownBackoff: Duration) {
        self.failureThreshold = max(1, failureThreshold)
        self.downBackoff = downBackoff
        self.maxDownBackoff = max(downBackoff, maxDownBackoff)
        self.currentBackoff = downBackoff
    }

    /// The state at `now`.
    package func state(at now: Duration) -> UpstreamHealthState {
        guard let until = self.downUntil else { return .healthy }
        return now < until ? .down : .probing
    }

    /// Whether queries should go to this upstream at `now` (healthy or probing).
    package func isAvailable(at now: Duration) -> Bool { self.state(at: now) != .down }

    /// Records a reply: the upstream is healthy again.
    package mutating func recordSuccess() {
        self.consecutiveFailures = 0
        self.downUntil = nil
        self.currentBackoff = self.downBackoff
    }

    /// Records a failed attempt.
    /// - Returns: true when this failure marked the upstream down (a transition worth logging).
    @discardableResult
    package mutating func recordFailure(at now: Duration) -> Bool {
        self.consecutiveFailures += 1
        switch self.state(at: now) {
        case .down:
            // Already down (a query that started before it was marked): no change.
            return false
        case .probing:
            // The probe failed: back off for longer.
            self.currentBackoff = min(self.currentBackoff * 2, self.maxDownBackoff)
            self.downUntil = now + self.currentBackoff
            return true
        case .healthy:
            guard self.consecutiveFailures >= self.failureThreshold else { return false }
            self.downUntil = now + self.currentBackoff
            return true
        }
    }
}
