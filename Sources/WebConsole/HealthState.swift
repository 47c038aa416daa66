import Synchronization

/// What `/healthz` and `/readyz` report.
///
/// Live means the process serves HTTP; ready means every listener is bound and the policy
/// sources are loaded (or failed in the way the operator configured).
public final class HealthState: Sendable {
    private let state = Mutex<(ready: Bool, reasons: [String])>((false, ["starting"]))

    /// Creates a not-yet-ready state.
    public init() {}

    /// Marks ready (or not, with reasons).
    public func set(ready: Bool, reasons: [String] = []) {
        self.state.withLock { $0 = (ready, reasons) }
    }

    /// Current readiness.
    public var snapshot: (ready: Bool, reasons: [String]) { self.state.withLock { $0 } }
}
