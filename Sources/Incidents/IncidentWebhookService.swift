public import AsyncHTTPClient
import Foundation
public import Logging
import Metrics
import NIOCore
import NIOHTTP1
public import ServiceLifecycle
import Synchronization

/// One webhook receiver.
public struct WebhookTarget: Sendable, Equatable {
    /// `http://` or `https://` URL the incident is POSTed to.
    public var url: String
    /// When set, each request carries `X-Palisade-Signature: sha256=<hex HMAC-SHA256 of the body>`.
    public var secret: String?
    /// Extra header fields (`Authorization`, …), sent after the built-in ones.
    public var headers: [(name: String, value: String)]

    /// Creates a target.
    public init(url: String, secret: String? = nil, headers: [(name: String, value: String)] = []) {
        self.url = url
        self.secret = secret
        self.headers = headers
    }

    public static func == (a: WebhookTarget, b: WebhookTarget) -> Bool {
        a.url == b.url && a.secret == b.secret && a.headers.map(\.name) == b.headers.map(\.name)
            && a.headers.map(\.value) == b.headers.map(\.value)
    }
}

/// Posts incidents to every configured webhook, with retries, off the DNS path.
///
/// Each target has its own bounded queue and its own delivery task, so a receiver that is down (and being
/// retried with exponential backoff) never delays the others. A full queue drops the incident for that
/// target and counts it. A delivery is retried on connection errors, timeouts, 408, 429 and 5xx, at most
/// `maxAttempts` times in all, waiting `initialBackoff`, then twice that, … up to `maxBackoff`; other 4xx
/// answers are not retried. Giving up is counted and logged.
///
/// Requests: `POST`, `Content-Type: application/json`, `User-Agent: palisade`, `X-Palisade-Incident: <id>`,
/// `X-Palisade-Signature: sha256=<hex>` (HMAC-SHA256 of the exact body under the target's secret, when it
/// has one), then the target's own headers.
///
/// Metrics: `palisade_incidents_sent_total`, `palisade_incidents_failed_total` (gave up),
/// `palisade_incidents_dropped_total` (queue full), `palisade_incidents_retries_total`,
/// `palisade_incidents_delivery_seconds` (successful requests), `palisade_incidents_queue_depth`.
public final class IncidentWebhookService: Service, Sendable {
    /// Delivery tuning, with the defaults of the configuration.
    public struct Configuration: Sendable, Equatable {
        /// Attempts per incident and target, the first included. Default 5.
        public var maxAttempts: Int
        /// Wait before the first retry. Default 500 ms.
        public var initialBackoff: Duration
        /// Longest wait between retries. Default 30 s.
        public var maxBackoff: Duration
        /// Deadline of one request. Default 5 s.
        public var timeout: Duration
        /// Incidents waiting per target before new ones are dropped. Default 1000.
        public var queueCapacity: Int

        /// Creates a configuration.
        public init(maxAttempts: Int = 5, initialBackoff: Duration = .milliseconds(500), maxBackoff: Duration = .seconds(30),
            timeout: Duration = .seconds(5), queueCapacity: Int = 1000)
        {
            self.maxAttempts = maxAttempts
            self.initialBackoff = initialBackoff
            self.maxBackoff = maxBackoff
            self.timeout = timeout
            self.queueCapacity = queueCapacity
        }
    }

    /// Counters since the service was created (summed over targets).
    public struct Statistics: Sendable, Hashable {
        /// Deliveries a receiver accepted (2xx).
        public var sent: Int
        /// Deliveries given up after the last attempt or a non-retryable answer.
        public var failed: Int
        /// Incidents refused because a target's queue was full.
        public var dropped: Int
        /// Retries made.
        public var retries: Int
        /// Deliveries waiting in the queues now (summed over targets).
        public var queued: Int = 0
    }

    private struct Queue: Sendable {
        let target: WebhookTarget
        let stream: AsyncStream<Delivery>
        let continuation: AsyncStream<Delivery>.Continuation
    }

    /// An incident, encoded once for every target.
    private struct Delivery: Sendable {
        let id: String
        let body: [UInt8]
    }

    private enum Outcome {
        case delivered
        case retry(String)
        case reject(String)
    }

    /// The targets.
    public let targets: [WebhookTarget]
    /// The tuning in force.
    public let configuration: Configuration
    private let queues: [Queue]
    /// A client supplied by the caller; nil: ``run()`` makes its own (made there, not here, so a service that
    /// never runs, say because startup failed later, owns nothing that must be shut down).
    private let injectedClient: HTTPClient?
    private let logger: Logger
    private let stats = Mutex(Statistics(sent: 0, failed: 0, dropped: 0, retries: 0))

    private let sentCounter = Counter(label: "palisade_incidents_sent_total")
    private let failedCounter = Counter(label: "palisade_incidents_failed_total")
    private let droppedCounter = Counter(label: "palisade_incidents_dropped_total")
    private let retryCounter = Counter(label: "palisade_incidents_retries_total")
    private let deliveryTimer = Metrics.Timer(label: "palisade_incidents_delivery_seconds")
    private let depthGauge = Gauge(label: "palisade_incidents_queue_depth")

    /// Creates the service.
    /// - Parameters:
    ///   - targets: the receivers.
    ///   - configuration: retries, timeouts, queue size.
    ///   - httpClient: the client to use (nil: ``run()`` makes one, redirects off, and shuts it down on return).
    ///   - logger: for failed deliveries.
    public init(targets: [WebhookTarget], configuration: Configuration = Configuration(), httpClient: HTTPClient? = nil,
        logger: Logger = Logger(label: "palisade.incidents"))
    {
        var c = configuration
        c.maxAttempts = max(1, c.maxAttempts)
        c.queueCapacity = max(1, c.queueCapacity)
        self.targets = targets
        self.configuration = c
        self.queues = targets.map { t in
            let (stream, continuation) = AsyncStream.makeStream(of: Delivery.self,
                bufferingPolicy: .bufferingOldest(c.queueCapacity))
            return Queue(target: t, stream: stream, continuation: continuation)
        }
        self.injectedClient = httpClient
        self.logger = logger
    }

    /// Queues `incident` for every target; never blocks.
    /// - Returns: false when at least one target's queue was full (that delivery is dropped and counted).
    @discardableResult
    public func submit(_ incident: Incident) -> Bool {
        let delivery = Delivery(id: incident.id, body: Array(incident.json.utf8))
        var all = true
        for q in self.queues {
            // Counted before the yield, so the consumer's decrement can never come first.
            let depth = self.stats.withLock { s -> Int in
                s.queued += 1
                return s.queued
            }
            if case .dropped = q.continuation.yield(delivery) {
                all = false
                let depth = self.stats.withLock { s -> Int in
                    s.dropped += 1
                    s.queued -= 1
                    return s.queued
                }
                self.droppedCounter.increment()
                self.depthGauge.record(depth)
            } else {
                self.depthGauge.record(depth)
            }
        }
        return all
    }

    /// Counters so far.
    public var statistics: Statistics { self.stats.withLock { $0 } }

    /// Delivers until graceful shutdown or cancellation; incidents still queued then are abandoned (logged).
    public func run() async throws {
        // Redirects off: a receiver answers, it does not send the incident (and its signature) elsewhere.
        let client = self.injectedClient ?? HTTPClient(eventLoopGroupProvider: .singleton,
            configuration: HTTPClient.Configuration(redirectConfiguration: .disallow))
        await withTaskGroup(of: Void.self) { group in
            for q in self.queues {
                group.addTask {
                    try? await cancelWhenGracefulShutdown {
                        for await d in q.stream {
                            let depth = self.stats.withLock { s -> Int in
                                s.queued -= 1
                                return s.queued
                            }
                            self.depthGauge.record(depth)
                            if Task.isCancelled { break }
                            await self.deliver(d, to: q.target, client: client)
                        }
                    }
                }
            }
        }
        for q in self.queues { q.continuation.finish() }
        let abandoned = self.statistics.queued
        if abandoned > 0 {
            self.logger.info("incident deliveries abandoned at shutdown", metadata: ["incidents.queued": "\(abandoned)"])
        }
        if self.injectedClient == nil { try? await client.shutdown() }
    }

    /// Headers for one request (exposed for tests of the signature).
    package static func headers(for body: [UInt8], id: String, target: WebhookTarget) -> [(String, String)] {
        var h: [(String, String)] = [
            ("Content-Type", "application/json"), ("User-Agent", "palisade"), ("X-Palisade-Incident", id),
        ]
        if let secret = target.secret {
            h.append(("X-Palisade-Signature", "sha256=" + HMACSHA256.hex(for: body, key: Array(secret.utf8))))
        }
        for (n, v) in target.headers { h.append((n, v)) }
        return h
    }

    private func deliver(_ d: Delivery, to target: WebhookTarget, client: HTTPClient) async {
        var delay = self.configuration.initialBackoff
        var lastProblem = ""
        var made = 0
        for attempt in 1...self.configuration.maxAttempts {
            made = attempt
            switch await self.attempt(d, to: target, client: client) {
            case .delivered:
                self.stats.withLock { $0.sent += 1 }
                self.sentCounter.increment()
                return
            case .reject(let why):
                self.gaveUp(d, target: target, attempts: attempt, why: why)
                return
            case .retry(let why):
                lastProblem = why
            }
            guard attempt < self.configuration.maxAttempts else { break }
            do {
                try await Task.sleep(for: delay)
            } catch {
                lastProblem += "; shutting down before the next attempt"
                break
            }
            self.stats.withLock { $0.retries += 1 }
            self.retryCounter.increment()
            delay = min(delay * 2, self.configuration.maxBackoff)
        }
        self.gaveUp(d, target: target, attempts: made, why: lastProblem)
    }

    private func gaveUp(_ d: Delivery, target: WebhookTarget, attempts: Int, why: String) {
        self.stats.withLock { $0.failed += 1 }
        self.failedCounter.increment()
        self.logger.warning("incident webhook delivery failed; giving up",
            metadata: ["incident.id": "\(d.id)", "webhook.url": "\(Self.redacted(target.url))",
                "attempts": "\(attempts)", "error": "\(why)"])
    }

    private func attempt(_ d: Delivery, to target: WebhookTarget, client: HTTPClient) async -> Outcome {
        var request = HTTPClientRequest(url: target.url)
        request.method = .POST
        for (n, v) in Self.headers(for: d.body, id: d.id, target: target) { request.headers.add(name: n, value: v) }
        request.body = .bytes(ByteBuffer(bytes: d.body))
        let began = ContinuousClock.now
        do {
            let response = try await client.execute(request, timeout: TimeAmount(self.configuration.timeout))
            // Read (and discard) a bounded body, so the connection can be reused.
            _ = try? await response.body.collect(upTo: 64 * 1024)
            let code = Int(response.status.code)
            switch code {
            case 200..<300:
                self.deliveryTimer.record(duration: began.duration(to: .now))
                return .delivered
            case 408, 429, 500...599:
                return .retry("HTTP \(code)")
            default:
                return .reject("HTTP \(code)")
            }
        } catch {
            return .retry("\(error)")
        }
    }

    /// The URL without its query and user info (they may hold tokens), for logs.
    static func redacted(_ url: String) -> String {
        var u = url
        if let q = u.firstIndex(of: "?") { u = String(u[..<q]) }
        if let scheme = u.range(of: "://"), let at = u[scheme.upperBound...].firstIndex(of: "@") {
            u = String(u[..<scheme.upperBound]) + String(u[u.index(after: at)...])
        }
        return u
    }
}
