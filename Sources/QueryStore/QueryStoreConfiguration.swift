import Foundation

/// Settings of the query log: where it lives, how the writer batches, and how long rows are kept.
///
/// Every field has a default, and a key missing from the configuration file takes that default, so an empty
/// `querylog:` section is valid. Call ``validate()`` after decoding; it names every bad field at once.
public struct QueryStoreConfiguration: Codable, Sendable, Equatable {
    /// Database file. A relative path is resolved against the data directory (``resolvedPath(dataDirectory:)``);
    /// `:memory:` keeps the log in memory (lost on exit). Default `querylog.sqlite`.
    public var path: String
    /// Events the writer queues in memory before it drops new ones (each dropped event is counted in
    /// `palisade_querylog_dropped_total`). Default 65 536: 13 s of a 5 000 queries/s burst, a few tens of MB.
    public var queueCapacity: Int
    /// Most events written in one transaction. Default 10 000: a page that several events of a transaction
    /// change (the right edge of the time indexes, leaves of the name index) goes to the WAL once per transaction,
    /// so at tens of thousands of new names a second (a blocklist's worth of queries) ten times fewer commits
    /// write far fewer pages; 1 000 cost 1.4–1.9 µs more kernel time per blocked query at M=1M (BENCHMARKS.md,
    /// session 8). Readers are not held up (WAL); retention's deletes wait for a longer transaction to commit
    /// (within `busyTimeoutMilliseconds`).
    public var batchSize: Int
    /// How often the writer drains the queue, in milliseconds. Default 200: events reach the console within
    /// a fraction of a second while a busy resolver still writes in full batches.
    public var flushIntervalMilliseconds: Int
    /// Delete events older than this many hours; `null` keeps them regardless of age. Default 168 (7 days).
    public var maxAgeHours: Int?
    /// Keep at most this many events (the newest); `null` means no row cap. Default 10 000 000, about 3 GB on
    /// disk with the default indexes (see docs/storage.md).
    public var maxRows: Int?
    /// How often retention runs, in seconds. Default 300.
    public var retentionIntervalSeconds: Int
    /// How long a connection waits for a lock held by another connection before failing, in milliseconds.
    /// Default 5 000.
    public var busyTimeoutMilliseconds: Int

    /// The file name used when `path` is not set.
    public static let defaultPath = "querylog.sqlite"
    /// Default ``queueCapacity`` (also ``QueryLogWriter``'s).
    public static let defaultQueueCapacity = 65_536
    /// Default ``batchSize`` (also ``QueryLogWriter``'s).
    public static let defaultBatchSize = 10_000
    /// Default ``flushIntervalMilliseconds`` (also ``QueryLogWriter``'s).
    public static let defaultFlushIntervalMilliseconds = 200

    /// Creates a configuration; every argument defaults to the documented default.
    public init(
        path: String = QueryStoreConfiguration.defaultPath,
        queueCapacity: Int = QueryStoreConfiguration.defaultQueueCapacity,
        batchSize: Int = QueryStoreConfiguration.defaultBatchSize,
        flushIntervalMilliseconds: Int = QueryStoreConfiguration.defaultFlushIntervalMilliseconds,
        maxAgeHours: Int? = 168,
        maxRows: Int? = 10_000_000,
        retentionIntervalSeconds: Int = 300,
        busyTimeoutMilliseconds: Int = 5_000
    ) {
        self.path = path
        self.queueCapacity = queueCapacity
        self.batchSize = batchSize
        self.flushIntervalMilliseconds = flushIntervalMilliseconds
        self.maxAgeHours = maxAgeHours
        self.maxRows = maxRows
        self.retentionIntervalSeconds = retentionIntervalSeconds
        self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
    }

    enum CodingKeys: String, CodingKey {
        case path, queueCapacity, batchSize, flushIntervalMilliseconds, maxAgeHours, maxRows
        case retentionIntervalSeconds, busyTimeoutMilliseconds
    }

    /// Decodes a configuration; a missing key takes its default, an explicit `null` turns a limit off.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = QueryStoreConfiguration()
        self.path = try c.decodeIfPresent(String.self, forKey: .path) ?? d.path
        self.queueCapacity = try c.decodeIfPresent(Int.self, forKey: .queueCapacity) ?? d.queueCapacity
        self.batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? d.batchSize
        self.flushIntervalMilliseconds =
            try c.decodeIfPresent(Int.self, forKey: .flushIntervalMilliseconds) ?? d.flushIntervalMilliseconds
        // `contains` distinguishes "absent" (default) from "null" (limit off).
        self.maxAgeHours =
            c.contains(.maxAgeHours) ? try c.decodeIfPresent(Int.self, forKey: .maxAgeHours) : d.maxAgeHours
        self.maxRows = c.contains(.maxRows) ? try c.decodeIfPresent(Int.self, forKey: .maxRows) : d.maxRows
        self.retentionIntervalSeconds =
            try c.decodeIfPresent(Int.self, forKey: .retentionIntervalSeconds) ?? d.retentionIntervalSeconds
        self.busyTimeoutMilliseconds =
            try c.decodeIfPresent(Int.self, forKey: .busyTimeoutMilliseconds) ?? d.busyTimeoutMilliseconds
    }

    /// Encodes every field, writing `null` for a disabled limit so that the output decodes to the same value.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(self.path, forKey: .path)
        try c.encode(self.queueCapacity, forKey: .queueCapacity)
        try c.encode(self.batchSize, forKey: .batchSize)
        try c.encode(self.flushIntervalMilliseconds, forKey: .flushIntervalMilliseconds)
        try c.encode(self.maxAgeHours, forKey: .maxAgeHours)
        try c.encode(self.maxRows, forKey: .maxRows)
        try c.encode(self.retentionIntervalSeconds, forKey: .retentionIntervalSeconds)
        try c.encode(self.busyTimeoutMilliseconds, forKey: .busyTimeoutMilliseconds)
    }

    /// Every problem in this configuration, each naming the field, its value and the allowed range.
    ///
    /// - Returns: One message per bad field; empty when the configuration is usable.
    public func validate() -> [String] {
        var problems: [String] = []
        func check(_ name: String, _ value: Int, _ range: ClosedRange<Int>) {
            if !range.contains(value) {
                problems.append("\(name) must be between \(range.lowerBound) and \(range.upperBound), got \(value)")
            }
        }
        if self.path.isEmpty { problems.append("path must not be empty") }
        if self.path.utf8.contains(0) { problems.append("path must not contain a NUL byte") }
        check("queueCapacity", self.queueCapacity, 1...10_000_000)
        check("batchSize", self.batchSize, 1...100_000)
        check("flushIntervalMilliseconds", self.flushIntervalMilliseconds, 1...60_000)
        if let h = self.maxAgeHours { check("maxAgeHours", h, 1...876_000) }
        if let n = self.maxRows { check("maxRows", n, 1...1_000_000_000_000) }
        check("retentionIntervalSeconds", self.retentionIntervalSeconds, 1...86_400)
        check("busyTimeoutMilliseconds", self.busyTimeoutMilliseconds, 0...600_000)
        return problems
    }

    /// The database path: `path` itself when absolute or `:memory:`, else `path` inside `dataDirectory`.
    public func resolvedPath(dataDirectory: String) -> String {
        if self.path == ":memory:" || self.path.hasPrefix("/") { return self.path }
        return URL(fileURLWithPath: dataDirectory, isDirectory: true).appendingPathComponent(self.path).path
    }

    /// ``flushIntervalMilliseconds`` as a duration.
    public var flushInterval: Duration { .milliseconds(self.flushIntervalMilliseconds) }
    /// ``maxAgeHours`` as a duration, or nil when age retention is off.
    public var maxAge: Duration? { self.maxAgeHours.map { .seconds(Int64($0) * 3600) } }
    /// ``retentionIntervalSeconds`` as a duration.
    public var retentionInterval: Duration { .seconds(self.retentionIntervalSeconds) }
    /// ``busyTimeoutMilliseconds`` as a duration.
    public var busyTimeout: Duration { .milliseconds(self.busyTimeoutMilliseconds) }
}
