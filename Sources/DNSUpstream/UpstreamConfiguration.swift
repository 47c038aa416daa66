/// How a pool orders its upstreams for each query.
public enum SelectionStrategy: String, Sendable, Hashable, CaseIterable, Codable {
    /// A fresh random order per query: spreads load, no favourite.
    case random
    /// Start one further along the list on each query, then fail over in list order.
    case roundRobin = "round-robin"
    /// Always the first healthy upstream in list order; later ones are fallbacks.
    case sequential
}

/// How the UDP transport gets its sockets.
///
/// Off-path spoofing (RFC 5452) needs the forger to guess, for one outstanding query, the 16-bit random
/// ID *and* the source port, and to send the question back; the sockets are connected to the upstream,
/// so the kernel drops datagrams from any other address or port, and ``ReplyMatcher`` checks address,
/// port, ID and question again. The strategies differ only in how the port is drawn:
///
/// - ``perQuery``: one kernel-chosen random port per query (≈15 bits from Linux's ephemeral range on top
///   of the 16-bit ID). The most entropy per query, at the price of a socket, a connect, an epoll
///   registration and a close per query, which dominates the cost of a cache miss.
/// - ``pooled(size:usesPerSocket:)``: `size` random ports open at a time per event loop, each used for
///   at most `usesPerSocket` queries before it is closed and replaced by a fresh random one. An
///   off-path forger who does not know the ports has the same odds as with per-query ports (a forged
///   datagram hits one of the `size` open ports and then must match one of the IDs outstanding on
///   it: `outstanding / (ports × 65536)` either way). What is lost is the per-query port change: a
///   forger who learns one port (by observing traffic, which an off-path forger cannot) has a window of
///   `usesPerSocket` queries in which only the ID protects. Keep `usesPerSocket` small (≈100) to keep
///   that window short. IDs are unique among the queries outstanding on one socket.
///
/// On the event-loop path (the UDP listener's cache misses) both strategies run on the listener's own
/// event loop with no task; `pooled` additionally multiplexes many outstanding queries per socket.
public enum UDPSocketStrategy: Sendable, Hashable {
    /// A new connected socket on a kernel-chosen random port for every query (like Unbound's per-query
    /// ports). The kernel drops datagrams from any other address, and ICMP port-unreachable surfaces as
    /// an immediate error, so a dead upstream fails fast instead of timing out.
    case perQuery
    /// Up to `size` sockets per event loop (per upstream), each on a random port and connected to the
    /// upstream; a socket is replaced after `usesPerSocket` queries so the port set keeps moving. Faster
    /// (no socket setup per query), but a port serves several queries (see the type's discussion). On
    /// the async path (TCP, DoH clients) a socket carries one outstanding query at a time; on the
    /// event-loop path it carries many, told apart by ID.
    case pooled(size: Int, usesPerSocket: Int)
}

/// How DoH requests carry the query (RFC 8484 §4.1).
public enum DoHMethod: String, Sendable, Hashable, CaseIterable, Codable {
    /// `POST` with an `application/dns-message` body.
    case post
    /// `GET` with the message in the `dns` parameter, base64url without padding (cacheable by HTTP caches).
    case get
}

/// Certificate checks for `tls://` and `https://` upstreams.
public struct UpstreamTLSOptions: Sendable, Hashable {
    /// PEM file with the CA certificates to trust instead of the system store (nil: system trust store).
    public var caFile: String?
    /// SPKI pins (`sha256/BASE64` of the SubjectPublicKeyInfo, as in RFC 7469 §2.4 and RFC 7858 §4.2).
    /// When set, a DoT connection also requires the server's leaf key to match one of them.
    public var pins: [String]
    /// Whether the chain and name are verified. Turning this off is only allowed together with pins.
    public var verifyCertificate: Bool

    /// Creates TLS options; the default verifies against the system trust store.
    public init(caFile: String? = nil, pins: [String] = [], verifyCertificate: Bool = true) {
        self.caFile = caFile
        self.pins = pins
        self.verifyCertificate = verifyCertificate
    }
}

/// Options for talking to one upstream: timeouts, retries and transport details.
public struct UpstreamOptions: Sendable, Hashable {
    /// How long one attempt may take before it counts as a timeout. Default 2 s.
    public var timeout: Duration
    /// Extra attempts on the same upstream after a timeout, before failing over. Default 0 (fail over at once).
    public var retries: Int
    /// Our EDNS UDP payload size (RFC 6891 §6.2.5); 1232 avoids IP fragmentation (DNS flag day 2020).
    public var ednsBufferSize: UInt16
    /// UDP socket handling. Default ``UDPSocketStrategy/perQuery``.
    public var udpSockets: UDPSocketStrategy
    /// How long an idle TCP/TLS connection stays open for reuse. Default 10 s.
    public var tcpIdleTimeout: Duration
    /// Connections to one TCP/TLS upstream at most. Default 2.
    public var tcpMaxConnections: Int
    /// Queries outstanding on one connection at most (RFC 7766 §6.2.1.1 pipelining). Default 64.
    public var tcpMaxInFlight: Int
    /// TLS verification for `tls://` and `https://`.
    public var tls: UpstreamTLSOptions
    /// DoH request method. Default POST.
    public var dohMethod: DoHMethod

    /// Creates options with the documented defaults.
    public init(timeout: Duration = .seconds(2), retries: Int = 0, ednsBufferSize: UInt16 = 1232,
        udpSockets: UDPSocketStrategy = .perQuery, tcpIdleTimeout: Duration = .seconds(10), tcpMaxConnections: Int = 2,
        tcpMaxInFlight: Int = 64, tls: UpstreamTLSOptions = UpstreamTLSOptions(), dohMethod: DoHMethod = .post)
    {
        self.timeout = timeout
        self.retries = retries
        self.ednsBufferSize = ednsBufferSize
        self.udpSockets = udpSockets
        self.tcpIdleTimeout = tcpIdleTimeout
        self.tcpMaxConnections = tcpMaxConnections
        self.tcpMaxInFlight = tcpMaxInFlight
        self.tls = tls
        self.dohMethod = dohMethod
    }

    /// Checks ranges and contradictions.
    /// - Throws: ``UpstreamConfigurationError`` `.badOption` naming the field.
    public func validate() throws(UpstreamConfigurationError) {
        func bad(_ s: String) -> UpstreamConfigurationError { UpstreamConfigurationError(.badOption, s) }
        guard self.timeout > .zero else { throw bad("upstream timeout must be positive, got \(self.timeout)") }
        guard (0...10).contains(self.retries) else { throw bad("upstream retries must be 0…10, got \(self.retries)") }
        guard self.ednsBufferSize >= 512 else {
            throw bad("EDNS buffer size must be at least 512, got \(self.ednsBufferSize)")
        }
        if case .pooled(let size, let uses) = self.udpSockets {
            guard (1...4096).contains(size) else { throw bad("UDP socket pool size must be 1…4096, got \(size)") }
            guard uses >= 1 else { throw bad("UDP socket uses must be at least 1, got \(uses)") }
        }
        guard self.tcpIdleTimeout > .zero else { throw bad("TCP idle timeout must be positive") }
        guard (1...64).contains(self.tcpMaxConnections) else {
            throw bad("TCP max connections must be 1…64, got \(self.tcpMaxConnections)")
        }
        guard (1...65535).contains(self.tcpMaxInFlight) else {
            throw bad("TCP max in-flight must be 1…65535, got \(self.tcpMaxInFlight)")
        }
        guard self.tls.verifyCertificate || !self.tls.pins.isEmpty else {
            throw bad("TLS certificate verification can only be turned off when pins are given")
        }
        for pin in self.tls.pins where SPKIPin(pin) == nil {
            throw bad("TLS pin \"\(pin)\" is not of the form sha256/BASE64 (44 characters of base64)")
        }
    }
}

/// Options for a pool of upstreams: selection, health tracking and the overall deadline.
public struct UpstreamPoolConfiguration: Sendable, Hashable {
    /// How upstreams are ordered per query. Default ``SelectionStrategy/sequential``.
    public var strategy: SelectionStrategy
    /// The whole query, across all upstreams and retries, must finish within this. Default 5 s.
    public var queryDeadline: Duration
    /// Consecutive failures that mark an upstream down. Default 3.
    public var failureThreshold: Int
    /// How long an upstream stays down the first time; doubled on each failed probe. Default 5 s.
    public var downBackoff: Duration
    /// The longest an upstream stays down before it is probed again. Default 60 s.
    public var maxDownBackoff: Duration
    /// Per-upstream options.
    public var upstream: UpstreamOptions

    /// Creates a configuration with the documented defaults.
    public init(strategy: SelectionStrategy = .sequential, queryDeadline: Duration = .seconds(5),
        failureThreshold: Int = 3, downBackoff: Duration = .seconds(5), maxDownBackoff: Duration = .seconds(60),
        upstream: UpstreamOptions = UpstreamOptions())
    {
        self.strategy = strategy
        self.queryDeadline = queryDeadline
        self.failureThreshold = failureThreshold
        self.downBackoff = downBackoff
        self.maxDownBackoff = maxDownBackoff
        self.upstream = upstream
    }

    /// Checks ranges and contradictions.
    /// - Throws: ``UpstreamConfigurationError`` `.badOption` naming the field.
    public func validate() throws(UpstreamConfigurationError) {
        func bad(_ s: String) -> UpstreamConfigurationError { UpstreamConfigurationError(.badOption, s) }
        guard self.queryDeadline > .zero else { throw bad("query deadline must be positive, got \(self.queryDeadline)") }
        guard (1...1000).contains(self.failureThreshold) else {
            throw bad("failure threshold must be 1…1000, got \(self.failureThreshold)")
        }
        guard self.downBackoff > .zero, self.maxDownBackoff >= self.downBackoff else {
            throw bad("down backoff must be positive and at most the maximum backoff")
        }
        try self.upstream.validate()
    }
}
