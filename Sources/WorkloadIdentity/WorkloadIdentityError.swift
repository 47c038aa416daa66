/// A failure talking to a workload source (container engine, API server) or reading its configuration.
///
/// `code` is a closed set for metrics (``Code/label``); `message` says what and where in words.
public struct WorkloadIdentityError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure (a struct wrapping a private enum, so cases can be added).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case connect, httpStatus = "http_status", decode, lineTooLong = "line_too_long", streamEnded = "stream_ended"
            case gone, configuration, invalidArgument = "invalid_argument"
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The socket or server could not be reached, or the connection broke.
        public static let connect = Code(.connect)
        /// The server answered with an unexpected HTTP status.
        public static let httpStatus = Code(.httpStatus)
        /// A response or stream line was not the JSON expected.
        public static let decode = Code(.decode)
        /// A stream line exceeded the line limit (hostile or broken server).
        public static let lineTooLong = Code(.lineTooLong)
        /// A watch or event stream ended.
        public static let streamEnded = Code(.streamEnded)
        /// Kubernetes: the resource version is too old (HTTP 410 or a watch ERROR with code 410); relist.
        public static let gone = Code(.gone)
        /// A kubeconfig or in-cluster setting is missing or malformed.
        public static let configuration = Code(.configuration)
        /// An argument (a container id) was rejected before any request.
        public static let invalidArgument = Code(.invalidArgument)

        /// Low-cardinality metric label value.
        public var label: String { self.base.rawValue }
        public var description: String { self.base.rawValue }
    }

    /// What kind of failure.
    public var code: Code
    /// What failed and where (socket path, URL, file and field).
    public var message: String
    /// The error underneath, when there is one.
    public var underlying: (any Error & Sendable)?

    /// Creates an error.
    public init(code: Code, message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String {
        self.underlying.map { "\(self.message): \($0)" } ?? self.message
    }
}
