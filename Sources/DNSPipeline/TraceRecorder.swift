import Synchronization

/// Collects each stage's decision for `palisade query --trace`.
public final class TraceRecorder: Sendable {
    private let steps = Mutex<[(StageID, String)]>([])

    /// Creates an empty recorder.
    public init() {}

    /// Appends one decision.
    public func record(stage: StageID, decision: String) {
        self.steps.withLock { $0.append((stage, decision)) }
    }

    /// Decisions in the order they were made.
    public var entries: [(stage: StageID, decision: String)] {
        self.steps.withLock { $0.map { (stage: $0.0, decision: $0.1) } }
    }
}
