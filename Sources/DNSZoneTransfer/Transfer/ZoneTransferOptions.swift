/// Bounds and timeouts of zone transfers: what a hostile or broken primary can cost at most.
public struct ZoneTransferOptions: Sendable, Hashable {
    /// Most bytes (all messages of one response, framing excluded) accepted per transfer. Default 2 GiB.
    public var maxTransferBytes: Int
    /// Most answer records accepted per transfer (SOAs included). Default 50 million.
    public var maxRecords: Int
    /// Most messages accepted per transfer (an empty-message stream is otherwise bounded only by time).
    /// Default 10 million.
    public var maxMessages: Int
    /// Time to establish the TCP connection. Default 10 s.
    public var connectTimeout: Duration
    /// Longest silence between two reads during a TCP exchange. Default 30 s.
    public var idleTimeout: Duration
    /// Longest whole TCP exchange, connection included. Default 15 minutes.
    public var transferTimeout: Duration
    /// Wait for each UDP SOA query attempt. Default 2 s.
    public var soaQueryTimeout: Duration
    /// UDP SOA query attempts before trying TCP. Default 2.
    public var soaQueryAttempts: Int
    /// TSIG fudge (permitted clock difference) sent in our signatures. Default 300 s (RFC 8945 §10).
    public var tsigFudge: UInt16

    /// Creates options; every parameter has the documented default.
    public init(maxTransferBytes: Int = 2 << 30, maxRecords: Int = 50_000_000, maxMessages: Int = 10_000_000,
        connectTimeout: Duration = .seconds(10), idleTimeout: Duration = .seconds(30),
        transferTimeout: Duration = .seconds(900), soaQueryTimeout: Duration = .seconds(2), soaQueryAttempts: Int = 2,
        tsigFudge: UInt16 = 300)
    {
        self.maxTransferBytes = maxTransferBytes
        self.maxRecords = maxRecords
        self.maxMessages = maxMessages
        self.connectTimeout = connectTimeout
        self.idleTimeout = idleTimeout
        self.transferTimeout = transferTimeout
        self.soaQueryTimeout = soaQueryTimeout
        self.soaQueryAttempts = soaQueryAttempts
        self.tsigFudge = tsigFudge
    }
}
