/// A failure of the query store: opening, migrating, writing or reading the database.
///
/// The `code` is a struct over a private enum (as swift-nio's `LengthPrefixError`) so that codes can be added
/// without breaking callers that switch on them.
public struct QueryStoreError: Error, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case openFailed, migrationFailed, writeFailed, readFailed, invalidArgument
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The database file could not be opened or configured (permissions, missing directory, not SQLite).
        public static let openFailed = Code(.openFailed)
        /// A schema migration failed; the database was left at the previous version.
        public static let migrationFailed = Code(.migrationFailed)
        /// A write (batch insert, retention delete) failed and was rolled back.
        public static let writeFailed = Code(.writeFailed)
        /// A read query failed.
        public static let readFailed = Code(.readFailed)
        /// A caller passed an argument outside its allowed range.
        public static let invalidArgument = Code(.invalidArgument)

        /// Stable lower-case name of the code.
        public var description: String {
            switch self.base {
            case .openFailed: "open-failed"
            case .migrationFailed: "migration-failed"
            case .writeFailed: "write-failed"
            case .readFailed: "read-failed"
            case .invalidArgument: "invalid-argument"
            }
        }
    }

    /// What kind of failure this is.
    public var code: Code
    /// What failed and where (the path, the operation, the argument).
    public var message: String
    /// The error that caused it (usually a GRDB `DatabaseError`), if any.
    public var underlying: (any Error)?

    /// Creates an error.
    public init(code: Code, message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// `code: message (underlying)`.
    public var description: String {
        if let underlying = self.underlying {
            return "\(self.code): \(self.message) (\(underlying))"
        }
        return "\(self.code): \(self.message)"
    }
}
