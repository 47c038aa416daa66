/// A failure to get an answer from an upstream, crossing the module boundary (STYLE §7).
///
/// ``code`` is a closed, low-cardinality value (a metric label and the source of the EDE code);
/// ``message`` is free text for logs.
public struct UpstreamError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this was.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case timeout
            case networkError = "network_error"
            case tlsError = "tls_error"
            case httpError = "http_error"
            case badReply = "bad_reply"
            case unavailable
            case shutdown
        }
        private let base: Base

        /// No matching reply arrived before the attempt's deadline.
        public static let timeout = Code(base: .timeout)
        /// The connection was refused, reset or closed, or a socket call failed.
        public static let networkError = Code(base: .networkError)
        /// The TLS handshake or certificate verification (name, CA, pin) failed.
        public static let tlsError = Code(base: .tlsError)
        /// A DoH server answered with a non-200 status or the wrong content type.
        public static let httpError = Code(base: .httpError)
        /// The reply could not be used (malformed on a stream transport, or too large).
        public static let badReply = Code(base: .badReply)
        /// Every upstream was tried (or none was left) within the query deadline.
        public static let unavailable = Code(base: .unavailable)
        /// The pool or transport has been shut down.
        public static let shutdown = Code(base: .shutdown)

        /// The label used in metrics (`timeout`, `network_error`, …).
        public var label: String { self.base.rawValue }
        public var description: String { self.base.rawValue }
    }

    /// What kind of failure this was.
    public var code: Code
    /// Human-readable detail (upstream id, address, errno text).
    public var message: String
    /// The error that caused this one, when there is one.
    public var underlying: (any Error)?

    /// Creates an upstream error.
    public init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String {
        var s = "\(self.code): \(self.message)"
        if let u = self.underlying { s += " (\(u))" }
        return s
    }
}

/// A configuration mistake found while building upstreams: a bad spec string, an unreadable
/// `resolv.conf`, an option that makes no sense. The message names the input and the position.
public struct UpstreamConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of mistake this is.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case badSpec = "bad_spec"
            case badOption = "bad_option"
            case unreadableFile = "unreadable_file"
            case noUpstreams = "no_upstreams"
        }
        private let base: Base

        /// An upstream spec string could not be parsed.
        public static let badSpec = Code(base: .badSpec)
        /// An option value is out of range or contradicts another one.
        public static let badOption = Code(base: .badOption)
        /// A file (resolv.conf, CA bundle) could not be read.
        public static let unreadableFile = Code(base: .unreadableFile)
        /// No usable upstream is left.
        public static let noUpstreams = Code(base: .noUpstreams)

        public var description: String { self.base.rawValue }
    }

    /// What kind of mistake this is.
    public var code: Code
    /// What is wrong and where (`upstream "udp://1.2.3.4:99999": port 99999 is out of range 1…65535`).
    public var message: String

    /// Creates a configuration error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { self.message }
}
