import TestSupport
import DNSUpstream
import DNSWire
import Logging
import NIOCore
import Synchronization

/// An in-memory transport: answers with a script, records what it was sent. For pool and stage unit tests.
final class ScriptedTransport: UpstreamTransport {
    /// What to do with one query.
    enum Step: Sendable {
        /// Answer with the query's response skeleton plus an A record.
        case answer(IPv4Address)
        /// Answer with this rcode and no records.
        case rcode(ResponseCode)
        /// Fail with this code.
        case fail(UpstreamError.Code)
    }

    private let steps: Mutex<[Step]>
    private let fallback: Step
    private let log = QueryLog()

    /// Plays `steps` in order, then `fallback` forever.
    init(_ steps: [Step] = [], then fallback: Step) {
        self.steps = Mutex(steps)
        self.fallback = fallback
    }

    /// Queries received.
    var sent: [DNSMessage] { self.log.all }

    func exchange(_ query: DNSMessage, deadline: NIODeadline) async throws(UpstreamError) -> DNSMessage {
        self.log.append(query)
        let step = self.steps.withLock { $0.isEmpty ? self.fallback : $0.removeFirst() }
        switch step {
        case .answer(let a):
            return FakeAnswer.a(query, a)
        case .rcode(let r):
            return query.makeResponse(rcode: r)
        case .fail(let code):
            throw UpstreamError(code, "scripted failure")
        }
    }

    func shutdown() async {}
}

/// Builds pools over scripted transports.
enum ScriptedPool {
    /// A pool whose upstream `i` is `transports[i]`, named `udp://192.0.2.(i+1):53`.
    static func make(_ transports: [ScriptedTransport], configuration: UpstreamPoolConfiguration = .init(),
        clock: ManualClock = ManualClock(), metrics: TestMetrics = TestMetrics()) -> UpstreamPool
    {
        let upstreams = transports.enumerated().map { i, t in
            let spec = UpstreamSpec.udp(.v4(IPv4Address(192, 0, 2, UInt8(i + 1))))
            return Upstream(spec: spec, transport: t,
                health: UpstreamHealth(failureThreshold: configuration.failureThreshold,
                    downBackoff: configuration.downBackoff, maxDownBackoff: configuration.maxDownBackoff),
                metrics: UpstreamMetrics(upstream: spec.description, factory: metrics))
        }
        return UpstreamPool(upstreams: upstreams, configuration: configuration, clock: UpstreamClock(clock),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }
}
