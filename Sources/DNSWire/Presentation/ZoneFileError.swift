/// An error found while reading a master file (RFC 1035 §5): which file, which line and column, and why.
///
/// The reader never stops on a bad entry unless asked to (``ZoneFileReader/ErrorMode/stop``); in
/// ``ZoneFileReader/ErrorMode/collect`` mode it records the error and carries on with the next entry,
/// so a policy feed with a few bad lines still loads.
public struct ZoneFileError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of problem this is. A struct wrapping a private enum, so cases can be added without
    /// breaking callers; safe to use as a metric label.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case syntax
            case unterminated
            case badDirective
            case unsupportedDirective
            case missingOwner
            case badName
            case badTTL
            case missingType
            case unknownType
            case badRData
            case rejected
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// Unbalanced parentheses or a stray character.
        public static let syntax = Code(.syntax)
        /// A quoted string or a parenthesis group that is never closed.
        public static let unterminated = Code(.unterminated)
        /// An unknown `$` directive, or a known one with the wrong arguments.
        public static let badDirective = Code(.badDirective)
        /// `$INCLUDE` or `$GENERATE`: understood but deliberately not supported.
        public static let unsupportedDirective = Code(.unsupportedDirective)
        /// A line with a blank owner before any owner was given.
        public static let missingOwner = Code(.missingOwner)
        /// A malformed domain name (empty label, label over 63 octets, name over 255 octets, bad escape).
        public static let badName = Code(.badName)
        /// A TTL that is not a number of seconds or BIND units, or does not fit 32 bits.
        public static let badTTL = Code(.badTTL)
        /// An entry with an owner (and maybe TTL/class) but no type.
        public static let missingType = Code(.missingType)
        /// A TYPE that is neither a known mnemonic nor `TYPEnnn`, or a meta-type (OPT, ANY, AXFR…).
        public static let unknownType = Code(.unknownType)
        /// RDATA that does not parse for its type.
        public static let badRData = Code(.badRData)
        /// A record the consumer refused (for example an RPZ rule it cannot use).
        public static let rejected = Code(.rejected)

        /// The code's name, e.g. `badRData`.
        public var description: String { self.base.rawValue }
    }

    /// What kind of problem this is.
    public var code: Code
    /// Human-readable reason, e.g. `A: not an IPv4 address: 192.0.2.300`.
    public var message: String
    /// The file (or source) name given in ``ZoneFileReader/Options/fileName``.
    public var file: String
    /// 1-based line number.
    public var line: Int
    /// 1-based byte column within the line (0 when the error concerns the whole entry).
    public var column: Int
    /// The codec error behind this one, when there is one.
    public var underlying: DecodeError?

    /// Creates an error.
    public init(_ code: Code, _ message: String, file: String, line: Int, column: Int = 0, underlying: DecodeError? = nil) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.underlying = underlying
    }

    /// `file:line:column: message`, the form compilers use, so editors can jump to it.
    public var description: String {
        self.column > 0
            ? "\(self.file):\(self.line):\(self.column): \(self.message)"
            : "\(self.file):\(self.line): \(self.message)"
    }
}
