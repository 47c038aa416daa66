import CoreMetrics
import DirectIO
import DNSWire
import Logging
import NIOCore
import Synchronization

/// A reply from an upstream, with the upstream that gave it.
public struct UpstreamAnswer: Sendable {
    /// The reply as the transport accepted it: decoded, or on the event-loop path a packet.
    package var received: UpstreamReply
    /// The id of the upstream that answered (its normalized spec).
    public var upstream: String

    /// An answer decoded.
    public init(reply: DNSMessage, upstream: String) {
        self.init(received: .message(reply), upstream: upstream)
    }

    package init(received: UpstreamReply, upstream: String) {
        self.received = received
        self.upstream = upstream
    }

    /// The reply as a message: as received (ID and question as the transport sent them), or decoded from the packet the
    /// event-loop path took (ID 0, no OPT record).
    public var reply: DNSMessage { self.received.message }

    /// The reply's response code.
    public var rcode: ResponseCode { self.received.rcode }
}

/// The health of one upstream, for status pages and tests.
public struct UpstreamStatus: Sendable, Hashable {
    /// The upstream id (normalized spec).
    public var id: String
    /// Healthy, down or probing.
    public var state: UpstreamHealthState
    /// Failures since the last success.
    public var consecutiveFailures: Int
}

/// Several upstreams behind one selection strategy, with health tracking, failover, per-upstream
/// timeouts and retries, and an overall deadline per query.
///
/// The pool does not own its `EventLoopGroup`: sockets and connections run on the group passed in,
/// and nothing spawns threads per query. Call ``shutdown()`` before shutting the group down.
public final class UpstreamPool: Sendable {
    /// The pool's configuration.
    public let configuration: UpstreamPoolConfiguration
    /// The upstreams in configuration order.
    package let upstreams: [Upstream]
    private let clock: UpstreamClock
    private let turn = Atomic<Int>(0)
    private let logger: Logger

    /// Creates a pool from spec strings (see ``UpstreamSpec`` for the accepted forms).
    /// - Parameters:
    ///   - specs: one or more upstream specs, e.g. `["192.0.2.53", "tls://192.0.2.1#dns.example.org"]`.
    ///   - configuration: selection, health and timeout settings.
    ///   - group: event loops for every socket and connection of the pool.
    ///   - clock: the clock for health backoff and probes (tests pass a manual clock).
    ///   - metrics: where metrics go (default: the global `MetricsSystem`).
    ///   - logger: for health transitions (info) and per-attempt failures (debug).
    /// - Throws: ``UpstreamConfigurationError`` for a bad spec or option, naming it.
    public convenience init(specs: [String], configuration: UpstreamPoolConfiguration = UpstreamPoolConfiguration(),
        group: any EventLoopGroup, clock: UpstreamClock = .continuous, metrics: any MetricsFactory = MetricsSystem.factory,
        logger: Logger = Logger(label: "palisade.upstream")) throws(UpstreamConfigurationError)
    {
        var parsed: [UpstreamSpec] = []
        for s in specs { parsed.append(try UpstreamSpec.parse(s)) }
        try self.init(upstreams: parsed, configuration: configuration, group: group, clock: clock, metrics: metrics,
            logger: logger)
    }

    /// Creates a pool from parsed specs.
    /// - Throws: ``UpstreamConfigurationError`` when the list is empty, has duplicates, or an option is invalid.
    public convenience init(upstreams specs: [UpstreamSpec],
        configuration: UpstreamPoolConfiguration = UpstreamPoolConfiguration(), group: any EventLoopGroup,
        clock: UpstreamClock = .continuous, metrics: any MetricsFactory = MetricsSystem.factory,
        logger: Logger = Logger(label: "palisade.upstream")) throws(UpstreamConfigurationError)
    {
        try configuration.validate()
        guard !specs.isEmpty else { throw UpstreamConfigurationError(.noUpstreams, "an upstream pool needs at least one upstream") }
        var seen = Set<String>()
        var upstreams: [Upstream] = []
        for spec in specs {
            guard seen.insert(spec.description).inserted else {
                throw UpstreamConfigurationError(.badSpec, "upstream \"\(spec)\" is listed twice")
            }
            upstreams.append(try Upstream.make(spec: spec, configuration: configuration, group: group,
                metricsFactory: metrics))
        }
        self.init(upstreams: upstreams, configuration: configuration, clock: clock, logger: logger)
    }

    /// Creates a pool around ready-made upstreams (tests inject scripted transports this way).
    package init(upstreams: [Upstream], configuration: UpstreamPoolConfiguration, clock: UpstreamClock, logger: Logger) {
        self.upstreams = upstreams
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        self.runsOnEventLoop = upstreams.allSatisfy { $0.udp != nil }
    }

    /// Whether ``query(_:on:completion:)`` can serve this pool: every upstream is plain UDP (with its TCP
    /// fallback), so selection, failover and retries never need a transport that only has an async API.
    package let runsOnEventLoop: Bool

    /// The ids of the upstreams, in configuration order.
    public var upstreamIDs: [String] { self.upstreams.map(\.id) }

    /// The health of every upstream, in configuration order.
    public func status() -> [UpstreamStatus] {
        let now = self.clock.now()
        return self.upstreams.map {
            UpstreamStatus(id: $0.id, state: $0.state(at: now), consecutiveFailures: $0.consecutiveFailures)
        }
    }

    /// The order in which the next query would try the upstreams (advances the round-robin turn).
    package func nextOrder() -> [Upstream] {
        // One upstream is tried whatever its health (a down server stays a last resort), so its order needs no
        // work: no arrays built per query on the common single-upstream pool.
        if self.upstreams.count == 1 { return self.upstreams }
        let now = self.clock.now()
        let turn = self.turn.wrappingAdd(1, ordering: .relaxed).oldValue
        var rng = SystemRandomNumberGenerator()
        let order = UpstreamSelection.order(strategy: self.configuration.strategy, count: self.upstreams.count,
            turn: turn, isAvailable: { self.upstreams[$0].state(at: now) != .down }, using: &rng)
        return order.map { self.upstreams[$0] }
    }

    /// Sends a query to the pool's upstreams until one answers or the query deadline passes.
    ///
    /// Upstreams are tried in the strategy's order, down ones last. Each attempt gets the per-upstream
    /// timeout (cut to what is left of the deadline); a timeout is retried on the same upstream
    /// `retries` times, any other failure moves on at once. A REFUSED reply moves on too, and is
    /// returned only when nothing better arrives.
    /// - Parameter query: the message to send; its ID is replaced by the transport.
    /// - Returns: the first usable reply and who sent it.
    /// - Throws: ``UpstreamError``: the last attempt's error, or `.unavailable` when nothing was tried in time.
    public func query(_ query: DNSMessage) async throws(UpstreamError) -> UpstreamAnswer {
        let deadline = NIODeadline.now() + TimeAmount(self.configuration.queryDeadline)
        let perAttempt = TimeAmount(self.configuration.upstream.timeout)
        var lastError: UpstreamError?
        var refused: UpstreamAnswer?
        upstreams: for upstream in self.nextOrder() {
            for _ in 0...self.configuration.upstream.retries {
                let start = NIODeadline.now()
                guard start < deadline else { break upstreams }
                do {
                    let reply = try await upstream.transport.exchange(query, deadline: min(start + perAttempt, deadline))
                    let answer = UpstreamAnswer(reply: reply, upstream: upstream.id)
                    guard self.recordReply(answer, from: upstream, startedAt: start) else {
                        refused = refused ?? answer
                        continue upstreams
                    }
                    return answer
                } catch {
                    if error.code == .shutdown { throw error }
                    lastError = error
                    // Only a timeout is worth repeating at once; a refused connection or a TLS failure is not.
                    guard self.recordFailure(error, of: upstream) else { continue upstreams }
                }
            }
        }
        return try self.outcome(refused: refused, lastError: lastError).get()
    }

    /// The result of a query no upstream answered usably: the first REFUSED reply, else the last attempt's
    /// error, else `.unavailable` (nothing could be tried before the deadline).
    private func outcome(refused: UpstreamAnswer?, lastError: UpstreamError?) -> Result<UpstreamAnswer, UpstreamError> {
        if let refused { return .success(refused) }
        if let lastError { return .failure(lastError) }
        return .failure(UpstreamError(.unavailable,
            "no upstream could be tried within \(self.configuration.queryDeadline)"))
    }

    /// Records a reply's latency, health and outcome. Returns false for REFUSED (try the next upstream).
    private func recordReply(_ answer: UpstreamAnswer, from upstream: Upstream, startedAt start: NIODeadline) -> Bool {
        let elapsed = NIODeadline.now() - start
        upstream.metrics.latency.recordNanoseconds(elapsed.nanoseconds)
        if upstream.recordSuccess(at: self.clock.now()) {
            self.logger.info("upstream recovered", metadata: ["upstream.id": "\(upstream.id)"])
        }
        if answer.rcode == .refused {
            upstream.metrics.count(.refused)
            return false
        }
        upstream.metrics.count(.success)
        return true
    }

    /// Records a failed attempt. Returns true when it is worth repeating on the same upstream (a timeout).
    private func recordFailure(_ error: UpstreamError, of upstream: Upstream) -> Bool {
        upstream.metrics.count(AttemptOutcome(error))
        self.logger.debug("upstream attempt failed", metadata: ["upstream.id": "\(upstream.id)", "error": "\(error)"])
        if upstream.recordFailure(at: self.clock.now()) {
            self.logger.info("upstream marked down", metadata: ["upstream.id": "\(upstream.id)", "error": "\(error)"])
        }
        return error.code == .timeout
    }

    /// ``query(_:)`` on the caller's event loop, without a task: the same order, per-attempt timeouts,
    /// retries, failover, REFUSED handling, health records and deadline, driven by callbacks.
    ///
    /// Requires ``runsOnEventLoop``; the caller must be on `loop`.
    /// - Parameters:
    ///   - query: the message to send; its ID is replaced by the transport.
    ///   - loop: the current event loop; sockets, timeouts and `completion` run there.
    ///   - completion: the first usable reply, or the error ``query(_:)`` would throw.
    package func query(_ query: DNSMessage, on loop: any EventLoop,
        completion: @escaping @Sendable (Result<UpstreamAnswer, UpstreamError>) -> Void)
    {
        guard let wire = QueryWire(query) else {
            completion(.failure(UpstreamError(.badReply, "a query must carry exactly one question")))
            return
        }
        self.query(wire, on: loop, completion: completion)
    }

    /// ``query(_:on:completion:)`` for a query already in wire form (``QueryWire``).
    package func query(_ wire: QueryWire, on loop: any EventLoop,
        completion: @escaping @Sendable (Result<UpstreamAnswer, UpstreamError>) -> Void)
    {
        self.query(wire, at: .eventLoop(loop), completion: completion)
    }

    /// ``query(_:on:completion:)`` on a direct UDP listener's thread, with that thread's own upstream sockets
    /// (``DirectUpstreams``).
    package func query(_ wire: QueryWire, on loop: DirectLoop,
        completion: @escaping @Sendable (Result<UpstreamAnswer, UpstreamError>) -> Void)
    {
        self.query(wire, at: .direct(loop), completion: completion)
    }

    /// The thread a query runs on without a task: an event loop with its per-loop sockets, or a direct UDP listener's
    /// thread with its own.
    package enum ExchangeHome: Sendable {
        case eventLoop(any EventLoop)
        case direct(DirectLoop)
    }

    /// ``query(_:)`` on `home`, without a task: the same order, per-attempt timeouts, retries, failover, REFUSED
    /// handling, health records and deadline, driven by callbacks. `completion` runs on `home`'s thread. Requires
    /// ``runsOnEventLoop``; the caller must be on `home`'s thread.
    package func query(_ wire: QueryWire, at home: ExchangeHome,
        completion: @escaping @Sendable (Result<UpstreamAnswer, UpstreamError>) -> Void)
    {
        let runner: Runner =
            switch home {
            case .eventLoop(let loop): .loop(loop)
            case .direct(let loop): .direct(DirectUpstreams.on(loop))
            }
        let attempt = LoopPoolQuery(pool: self, wire: wire, runner: runner, order: self.nextOrder(),
            deadline: NIODeadline.now() + TimeAmount(self.configuration.queryDeadline), completion: completion)
        attempt.step()
    }

    /// Where a ``LoopPoolQuery`` sends its attempts and gets their outcomes.
    private enum Runner {
        /// A SwiftNIO event loop and its per-loop sockets.
        case loop(any EventLoop)
        /// A direct listener's thread and its own sockets.
        case direct(DirectUpstreams)
    }

    /// The state of one ``query(_:on:completion:)``: which upstream, which attempt, what failed so far.
    private final class LoopPoolQuery: LoopExchangeReceiver, @unchecked Sendable {
        // @unchecked: created, stepped and completed on the runner's thread only (the transport calls back there).
        let pool: UpstreamPool
        /// The query, encoded once for every attempt.
        let wire: QueryWire
        let runner: Runner
        let order: [Upstream]
        let deadline: NIODeadline
        let completion: @Sendable (Result<UpstreamAnswer, UpstreamError>) -> Void
        var index = 0
        var attempts = 0
        var lastError: UpstreamError?
        var refused: UpstreamAnswer?
        /// The attempt in flight: its upstream, when it started and its deadline.
        var current: (upstream: Upstream, udp: UDPTransport, start: NIODeadline, deadline: NIODeadline)?

        init(pool: UpstreamPool, wire: QueryWire, runner: Runner, order: [Upstream], deadline: NIODeadline,
            completion: @escaping @Sendable (Result<UpstreamAnswer, UpstreamError>) -> Void)
        {
            self.pool = pool
            self.wire = wire
            self.runner = runner
            self.order = order
            self.deadline = deadline
            self.completion = completion
        }

        /// Starts the next attempt, or completes when there is none.
        func step() {
            let retries = self.pool.configuration.upstream.retries
            while self.index < self.order.count {
                guard self.attempts <= retries else {
                    self.moveOn()
                    continue
                }
                let start = NIODeadline.now()
                guard start < self.deadline else { break }
                let upstream = self.order[self.index]
                guard let udp = upstream.udp else {
                    // Invariant: the pool runs on the event loop only when every upstream is UDP; skip otherwise.
                    self.moveOn()
                    continue
                }
                self.attempts += 1
                let perAttempt = TimeAmount(self.pool.configuration.upstream.timeout)
                let attemptDeadline = min(start + perAttempt, self.deadline)
                self.current = (upstream, udp, start, attemptDeadline)
                switch self.runner {
                case .loop(let loop): udp.send(self.wire, deadline: attemptDeadline, on: loop, receiver: self)
                case .direct(let direct):
                    direct.exchange(self.wire, via: udp, deadline: attemptDeadline, receiver: self)
                }
                return
            }
            self.completion(self.pool.outcome(refused: self.refused, lastError: self.lastError))
        }

        /// The transport's outcome for the attempt in flight.
        func loopExchangeFinished(_ result: Result<UpstreamReply, any Error>) {
            guard let (upstream, udp, start, deadline) = self.current else { return }
            self.current = nil
            switch result {
            case .success(let reply) where reply.isTruncated:
                guard let query = self.wire.message else {
                    // Invariant: the bytes are a query this process encoded; never reached.
                    return self.handle(.failure(UpstreamError(.badReply, "the query could not be read back")),
                        from: upstream, startedAt: start)
                }
                switch self.runner {
                case .loop(let loop):
                    udp.retryOverTCP(query, deadline: deadline, on: loop) { r in
                        self.handle(r.map(UpstreamReply.message), from: upstream, startedAt: start)
                    }
                case .direct(let direct):
                    // Rare: the TCP exchange runs on the home loop, and its outcome comes back to this thread.
                    let loop = direct.loop
                    udp.retryOverTCP(query, deadline: deadline, on: loop.home) { r in
                        loop.post { self.handle(r.map(UpstreamReply.message), from: upstream, startedAt: start) }
                    }
                }
            case .success(let reply):
                self.handle(.success(reply), from: upstream, startedAt: start)
            case .failure(let error):
                self.handle(.failure(UpstreamError.wrapping(error, upstream: upstream.id)), from: upstream, startedAt: start)
            }
        }

        private func moveOn() {
            self.index += 1
            self.attempts = 0
        }

        private func handle(_ result: Result<UpstreamReply, UpstreamError>, from upstream: Upstream,
            startedAt start: NIODeadline)
        {
            switch result {
            case .success(let reply):
                let answer = UpstreamAnswer(received: reply, upstream: upstream.id)
                guard self.pool.recordReply(answer, from: upstream, startedAt: start) else {
                    self.refused = self.refused ?? answer
                    self.moveOn()
                    return self.step()
                }
                self.completion(.success(answer))
            case .failure(let error):
                if error.code == .shutdown { return self.completion(.failure(error)) }
                self.lastError = error
                if !self.pool.recordFailure(error, of: upstream) { self.moveOn() }
                self.step()
            }
        }
    }

    /// Sends a health probe (`. IN NS`) to every upstream whose down period has ended, so a recovered
    /// upstream comes back even when no real query would try it (e.g. a sequential pool's first entry).
    /// - Returns: the ids of the upstreams that answered.
    @discardableResult
    public func probe() async -> [String] {
        let now = self.clock.now()
        var recovered: [String] = []
        for upstream in self.upstreams where upstream.state(at: now) == .probing {
            let probe = DNSMessage.query(id: 0, name: .root, type: .ns,
                edns: EDNS(udpPayloadSize: self.configuration.upstream.ednsBufferSize))
            let deadline = NIODeadline.now() + TimeAmount(self.configuration.upstream.timeout)
            do {
                _ = try await upstream.transport.exchange(probe, deadline: deadline)
                upstream.recordSuccess(at: self.clock.now())
                self.logger.info("upstream recovered", metadata: ["upstream.id": "\(upstream.id)"])
                recovered.append(upstream.id)
            } catch {
                upstream.recordFailure(at: self.clock.now())
            }
        }
        return recovered
    }

    /// Runs ``probe()`` every `interval` on the pool's clock until the task is cancelled.
    public func runHealthProbes(every interval: Duration) async {
        while !Task.isCancelled {
            do {
                try await self.clock.sleep(interval)
            } catch {
                return
            }
            await self.probe()
        }
    }

    /// Closes every socket and connection; later queries fail with `.shutdown`.
    public func shutdown() async {
        for upstream in self.upstreams { await upstream.transport.shutdown() }
    }
}
