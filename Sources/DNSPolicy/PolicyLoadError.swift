/// One malformed line of a policy source: which source, which file, which line, and why.
public struct PolicySourceIssue: Sendable, Hashable, CustomStringConvertible {
    /// The source's configured name.
    public var source: String
    /// The file or URL the text came from.
    public var file: String
    /// 1-based line number.
    public var line: Int
    /// 1-based byte column (0 when the whole line is at fault).
    public var column: Int
    /// Why the line was refused.
    public var message: String

    /// Creates an issue.
    public init(source: String, file: String, line: Int, column: Int = 0, message: String) {
        self.source = source
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    /// `source 'urlhaus' urlhaus.txt:12:3: message`.
    public var description: String {
        let at = self.column > 0 ? "\(self.file):\(self.line):\(self.column)" : "\(self.file):\(self.line)"
        return "source '\(self.source)' \(at): \(self.message)"
    }
}

/// Counts from compiling one source.
public struct PolicyLoadStats: Sendable, Hashable {
    /// Rules in the index (distinct trigger/slot pairs).
    public var rules: Int = 0
    /// Lines (lists) or records (RPZ) read.
    public var entries: Int = 0
    /// Malformed lines, skipped (badLines: skip) or fatal (badLines: reject).
    public var badLines: Int = 0
    /// Lines understood but not applicable to DNS (URL rules, cosmetic filters, IP-address entries,
    /// localhost entries, zone apex records), by reason.
    public var ignored: [String: Int] = [:]
    /// Rules that repeat an earlier rule for the same trigger (the first one is kept).
    public var duplicates: Int = 0
    /// The first bad lines (at most ``maxIssues``).
    public var issues: [PolicySourceIssue] = []

    /// How many issues are kept.
    public static let maxIssues = 100

    /// Total ignored lines.
    public var ignoredTotal: Int { self.ignored.values.reduce(0, +) }

    /// Creates empty stats.
    public init() {}

    mutating func ignore(_ reason: String) { self.ignored[reason, default: 0] += 1 }

    mutating func bad(_ issue: PolicySourceIssue) {
        self.badLines += 1
        if self.issues.count < Self.maxIssues { self.issues.append(issue) }
    }
}

/// Why a source could not be loaded or refreshed. The previous copy, if any, stays in use.
public struct PolicyLoadError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure; a struct wrapping a private enum so cases can be added.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case badLine, notPlausible, tooLarge, unreadable, fetchFailed, storeFailed, notApplicable
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }
        /// A malformed line with `badLines: reject`.
        public static let badLine = Code(.badLine)
        /// The text does not look like the expected format (more bad lines than rules, or an empty
        /// update replacing a non-empty copy).
        public static let notPlausible = Code(.notPlausible)
        /// The index would exceed its addressable size.
        public static let tooLarge = Code(.tooLarge)
        /// The stored copy or local file could not be read.
        public static let unreadable = Code(.unreadable)
        /// The fetcher failed.
        public static let fetchFailed = Code(.fetchFailed)
        /// The last good copy could not be written to the data directory.
        public static let storeFailed = Code(.storeFailed)
        /// An incremental update (IXFR) does not fit the copy held: it deletes a rule the copy lacks, adds
        /// a conflicting one, or starts at another serial. The caller falls back to a whole transfer.
        public static let notApplicable = Code(.notApplicable)
        /// The code's name.
        public var description: String { self.base.rawValue }
    }

    /// The kind of failure.
    public var code: Code
    /// Human-readable explanation naming the source.
    public var message: String
    /// The source's name.
    public var source: String
    /// Bad lines behind the failure, when there are any.
    public var issues: [PolicySourceIssue]

    /// Creates an error.
    public init(_ code: Code, source: String, _ message: String, issues: [PolicySourceIssue] = []) {
        self.code = code
        self.source = source
        self.message = message
        self.issues = issues
    }

    /// The message, followed by the first issue when there is one.
    public var description: String {
        guard let first = self.issues.first else { return self.message }
        return "\(self.message): \(first)"
    }
}
