public import DNSPipeline
import Metrics
import Synchronization

/// Per-workload query counters for Prometheus, with bounded label cardinality.
///
/// `palisade_workload_queries_total{workload="web-1",blocked="true"}`: the first `maxWorkloads` distinct
/// workload names seen get their own label value; every later one counts under `workload="other"`, and
/// queries from unidentified clients under `workload="unidentified"`. A label set never leaves the registry
/// once created (Prometheus counters must not vanish between scrapes), so the cap is what bounds the
/// registry's memory and the scrape size, whatever the number of containers that come and go.
///
/// A sink: it runs on the query-event drain task, off the DNS path; `emit` is a dictionary lookup and an
/// increment, and never drops.
public final class WorkloadQueryMetrics: QueryEventSink {
    /// The label value for workloads beyond the cap.
    public static let otherLabel = "other"
    /// The label value for clients no identity source knows.
    public static let unidentifiedLabel = "unidentified"

    private struct Pair {
        var allowed: Counter
        var blocked: Counter
    }

    private struct State {
        var named: [String: Pair] = [:]
        var other: Pair?
        var unidentified: Pair?
    }

    /// Most distinct workload label values.
    public let maxWorkloads: Int
    private let state = Mutex(State())
    private let trackedGauge = Gauge(label: "palisade_workload_metrics_tracked")

    /// Creates the sink.
    /// - Parameter maxWorkloads: distinct workload label values before `other` (at least 0).
    public init(maxWorkloads: Int) {
        self.maxWorkloads = max(0, maxWorkloads)
    }

    /// Counts `event` under its workload's label. Always accepts.
    @discardableResult
    public func emit(_ event: QueryEvent) -> Bool {
        let counter = self.state.withLock { s -> Counter in
            let pair: Pair
            if let w = event.workload {
                if let p = s.named[w.name] {
                    pair = p
                } else if s.named.count < self.maxWorkloads {
                    pair = Self.pair(w.name)
                    s.named[w.name] = pair
                    self.trackedGauge.record(s.named.count)
                } else {
                    let p = s.other ?? Self.pair(Self.otherLabel)
                    s.other = p
                    pair = p
                }
            } else {
                let p = s.unidentified ?? Self.pair(Self.unidentifiedLabel)
                s.unidentified = p
                pair = p
            }
            return event.blocked ? pair.blocked : pair.allowed
        }
        // A folded event stands for `count` identical queries (the query log's aggregation).
        counter.increment(by: Int64(max(event.count, 1)))
        return true
    }

    /// The label value `event` is (or would be) counted under, without counting it.
    public func label(for event: QueryEvent) -> String {
        guard let w = event.workload else { return Self.unidentifiedLabel }
        return self.state.withLock { s in
            s.named[w.name] != nil || s.named.count < self.maxWorkloads ? w.name : Self.otherLabel
        }
    }

    /// Every workload label value created so far (at most `maxWorkloads` names, plus `other` and
    /// `unidentified` once used).
    public var labels: Set<String> {
        self.state.withLock { s in
            var out = Set(s.named.keys)
            if s.other != nil { out.insert(Self.otherLabel) }
            if s.unidentified != nil { out.insert(Self.unidentifiedLabel) }
            return out
        }
    }

    private static func pair(_ name: String) -> Pair {
        Pair(
            allowed: Counter(label: "palisade_workload_queries_total", dimensions: [("workload", name), ("blocked", "false")]),
            blocked: Counter(label: "palisade_workload_queries_total", dimensions: [("workload", name), ("blocked", "true")]))
    }
}
