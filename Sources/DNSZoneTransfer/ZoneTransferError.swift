public import DNSWire

/// A failed zone transfer, SOA check, key load or NOTIFY set-up, crossing the module boundary (STYLE §7).
///
/// ``code`` is closed and low-cardinality (a metric label); ``message`` names the server, zone and what
/// went wrong. A caller that keeps a last good copy (the policy engine does) simply records the error.
public struct ZoneTransferError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this was.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case badLocation = "bad_location"
            case unknownKey = "unknown_key"
            case badKey = "bad_key"
            case connectionFailed = "connection_failed"
            case connectionClosed = "connection_closed"
            case timeout
            case serverError = "server_error"
            case badResponse = "bad_response"
            case limitExceeded = "limit_exceeded"
            case tsigBadSig = "tsig_badsig"
            case tsigBadKey = "tsig_badkey"
            case tsigBadTime = "tsig_badtime"
            case tsigBadTrunc = "tsig_badtrunc"
            case tsigMissing = "tsig_missing"
            case diffNotApplicable = "diff_not_applicable"
            case listenerFailed = "listener_failed"
        }
        private let base: Base

        /// A location string could not be parsed (`axfr://ADDR[:PORT]/zone[?tsig=key]`).
        public static let badLocation = Code(base: .badLocation)
        /// A location names a TSIG key that is not in the key registry.
        public static let unknownKey = Code(base: .unknownKey)
        /// A TSIG key definition is unusable: bad syntax, bad base64, unsupported algorithm.
        public static let badKey = Code(base: .badKey)
        /// The TCP connection (or the UDP socket) to the primary could not be set up.
        public static let connectionFailed = Code(base: .connectionFailed)
        /// The primary closed or reset the connection before the transfer was complete.
        public static let connectionClosed = Code(base: .connectionClosed)
        /// Nothing arrived within the idle timeout, or the whole exchange exceeded its deadline.
        public static let timeout = Code(base: .timeout)
        /// The primary answered with an error RCODE (REFUSED, NOTAUTH, NOTIMP, SERVFAIL, …); see
        /// ``ZoneTransferError/rcode``.
        public static let serverError = Code(base: .serverError)
        /// A reply was malformed or broke the protocol: wrong ID, question or opcode, records out of
        /// zone, no closing SOA, records after it, or an undecodable message.
        public static let badResponse = Code(base: .badResponse)
        /// The transfer exceeded a configured bound (bytes, records, messages).
        public static let limitExceeded = Code(base: .limitExceeded)
        /// RFC 8945 BADSIG: a MAC did not verify (ours at the primary, or the primary's here).
        public static let tsigBadSig = Code(base: .tsigBadSig)
        /// RFC 8945 BADKEY: the key name or algorithm is not known to the other side, or differs.
        public static let tsigBadKey = Code(base: .tsigBadKey)
        /// RFC 8945 BADTIME: the signing time is outside the fudge window (clock skew).
        public static let tsigBadTime = Code(base: .tsigBadTime)
        /// RFC 8945 BADTRUNC: a truncated MAC, which this implementation never accepts.
        public static let tsigBadTrunc = Code(base: .tsigBadTrunc)
        /// A reply that had to be signed was not (or too many unsigned messages followed each other).
        public static let tsigMissing = Code(base: .tsigMissing)
        /// An IXFR diff does not fit the copy held (wrong starting serial, deletion of an absent
        /// record, serial not increasing); the caller falls back to AXFR.
        public static let diffNotApplicable = Code(base: .diffNotApplicable)
        /// The NOTIFY listener could not bind its address.
        public static let listenerFailed = Code(base: .listenerFailed)

        /// The label used in metrics and logs (`timeout`, `tsig_badsig`, …).
        public var label: String { self.base.rawValue }
        /// The text form, for logs and error messages.
        public var description: String { self.base.rawValue }
    }

    /// What kind of failure this was.
    public var code: Code
    /// Human-readable detail naming the server, zone and cause.
    public var message: String
    /// The RCODE the primary answered with, for ``Code/serverError`` (and TSIG errors it reported).
    public var rcode: ResponseCode?
    /// The error that caused this one, when there is one.
    public var underlying: (any Error)?

    /// Creates an error.
    public init(_ code: Code, _ message: String, rcode: ResponseCode? = nil, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.rcode = rcode
        self.underlying = underlying
    }

    /// The text form, for logs and error messages.
    public var description: String {
        var s = "\(self.code): \(self.message)"
        if let u = self.underlying { s += " (\(u))" }
        return s
    }

    /// The same error with `context` (e.g. `AXFR of rpz.test. from 192.0.2.1:53`) put before the message.
    func context(_ context: String) -> ZoneTransferError {
        var e = self
        e.message = "\(context): \(self.message)"
        return e
    }
}
