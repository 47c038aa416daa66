import CoreMetrics

/// The outcome of one attempt against one upstream: the `outcome` label of `palisade_upstream_queries_total`.
package enum AttemptOutcome: String, Sendable, Hashable, CaseIterable {
    case success
    /// The upstream answered REFUSED; the pool fails over.
    case refused
    case timeout
    case networkError = "network_error"
    case tlsError = "tls_error"
    case httpError = "http_error"
    case badReply = "bad_reply"

    /// The outcome for a transport error.
    init(_ error: UpstreamError) {
        switch error.code {
        case .timeout: self = .timeout
        case .tlsError: self = .tlsError
        case .httpError: self = .httpError
        case .badReply: self = .badReply
        default: self = .networkError
        }
    }
}

/// Metric names (STYLE §4: `palisade_<subsystem>_<name>_<unit>`), kept in one place for the house-rule test.
package enum UpstreamMetricName {
    /// Counter, labels `upstream`, `outcome`.
    package static let queries = "palisade_upstream_queries_total"
    /// Timer (histogram), label `upstream`: time until a usable reply.
    package static let latency = "palisade_upstream_query_seconds"
    /// Gauge, label `upstream`: 1 healthy or probing, 0 down.
    package static let healthy = "palisade_upstream_healthy"
    /// Counter, labels `upstream`, `reason`: replies ignored because they did not match the query.
    package static let mismatched = "palisade_upstream_mismatched_total"
    /// Counter, label `upstream`: truncated UDP replies retried over TCP.
    package static let tcpFallback = "palisade_upstream_tcp_fallback_total"
    /// Gauge, label `upstream`: open TCP/TLS connections.
    package static let connections = "palisade_upstream_connections"
}

/// The metric handles of one upstream, created once so the query path only increments.
/// Label values come from the configured upstream ids and closed enums only.
package final class UpstreamMetrics: Sendable {
    private let queries: [AttemptOutcome: Counter]
    private let mismatches: [MismatchReason: Counter]
    /// Time from sending to a usable reply.
    package let latency: Timer
    /// 1 when the upstream takes traffic, 0 when it is down.
    package let healthy: Gauge
    /// Truncated UDP replies retried over TCP.
    package let tcpFallback: Counter
    /// Open stream connections.
    package let connections: Gauge

    /// Creates the handles for upstream `id`.
    package init(upstream id: String, factory: any MetricsFactory) {
        let dims = [("upstream", id)]
        var q: [AttemptOutcome: Counter] = [:]
        for o in AttemptOutcome.allCases {
            q[o] = Counter(label: UpstreamMetricName.queries, dimensions: dims + [("outcome", o.rawValue)], factory: factory)
        }
        self.queries = q
        var m: [MismatchReason: Counter] = [:]
        for r in MismatchReason.allCases {
            m[r] = Counter(label: UpstreamMetricName.mismatched, dimensions: dims + [("reason", r.rawValue)],
                factory: factory)
        }
        self.mismatches = m
        self.latency = Timer(label: UpstreamMetricName.latency, dimensions: dims, factory: factory)
        self.healthy = Gauge(label: UpstreamMetricName.healthy, dimensions: dims, factory: factory)
        self.tcpFallback = Counter(label: UpstreamMetricName.tcpFallback, dimensions: dims, factory: factory)
        self.connections = Gauge(label: UpstreamMetricName.connections, dimensions: dims, factory: factory)
        self.healthy.record(1)
        self.connections.record(0)
    }

    /// Counts one attempt.
    package func count(_ outcome: AttemptOutcome) {
        self.queries[outcome]?.increment()
    }

    /// Counts one ignored reply.
    package func mismatch(_ reason: MismatchReason) {
        self.mismatches[reason]?.increment()
    }
}
