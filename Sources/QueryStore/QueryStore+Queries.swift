import DNSPipeline
import GRDB

/// The console's read queries.
///
/// The SQL here sticks to what SQLite and PostgreSQL both accept (`?` placeholders aside): `LIKE … ESCAPE`,
/// `CASE`, `COUNT(DISTINCT …)`, integer division, `LIMIT`, scalar and `IN` subqueries, subqueries in `FROM`.
/// SQLite-specific behaviour relied on: `LIKE` ignores ASCII case (PostgreSQL: `ILIKE`) and text compares
/// bytewise (PostgreSQL: `COLLATE "C"` on `qname_rev`). See docs/storage.md.
///
/// Grouped queries list the `CASE` expression first in `GROUP BY`: grouping by `workload_ref` first tempts
/// SQLite into walking the whole `(workload_ref, ts_us)` index to avoid a sort, which at 10 M rows is
/// seconds instead of the milliseconds the time-range scan takes.
extension QueryStore {
    /// Events matching `filter`, newest first, one page at a time.
    ///
    /// - Parameter filter: The conditions, page size and position. See ``EventFilter`` for which filters use
    ///   an index; unindexed ones should be combined with a time range.
    /// - Returns: Up to `filter.limit` events and the cursor of the next page.
    /// - Throws: ``QueryStoreError`` `.readFailed`.
    public func search(_ filter: EventFilter) async throws(QueryStoreError) -> EventPage {
        try await self.read("searching events") { db in
            let (sql, arguments, limit) = Self.searchStatement(filter)
            var events: [StoredEvent] = []
            let rows = try Row.fetchCursor(db, sql: sql, arguments: arguments)
            while let row = try rows.next() {
                events.append(Self.storedEvent(row))
            }
            var next: EventCursor?
            if events.count > limit {
                events.removeLast(events.count - limit)
                next = events.last?.cursor
            }
            return EventPage(events: events, next: next)
        }
    }

    /// SQLite's plan for ``search(_:)`` with `filter` (`EXPLAIN QUERY PLAN` details), for tests and the
    /// benchmark: it names the index each search uses.
    package func searchPlan(_ filter: EventFilter) async throws(QueryStoreError) -> [String] {
        try await self.read("explaining a search") { db in
            let (sql, arguments, _) = Self.searchStatement(filter)
            return try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments).map { row in
                row["detail"] ?? ""
            }
        }
    }

    /// The SQL, its arguments and the clamped page size of a search.
    ///
    /// A `*.domain` filter is a range of the name index, whose entries come out in name order and must be
    /// sorted by time. Fetching every matching row to sort it costs a table lookup per match: 1.7 s for a
    /// suffix that matches 2 % of ten million events. When the other conditions are only on time (what the
    /// `(qname_rev, ts_us)` index holds, with the rowid), the page's ids are chosen from the index alone
    /// (SQLite keeps only the best `limit` entries while sorting) and only those rows are read: a "deferred
    /// join". Walking the time index instead would be fast for a suffix that is common now and slow for one
    /// that was common last week; the deferred join costs one sequential read of the matching index entries
    /// either way.
    private static func searchStatement(_ filter: EventFilter) -> (String, StatementArguments, Int) {
        let limit = min(max(filter.limit, 1), EventFilter.maximumLimit)
        var conditions: [String] = []
        var arguments: StatementArguments = []

        if let key = filter.workloadKey {
            // A constant scalar subquery: SQLite evaluates it once and then uses (workload_ref, ts_us).
            conditions.append("e.workload_ref = (SELECT id FROM workloads WHERE key = ?)")
            arguments += [key]
        }
        if let name = filter.workloadName {
            conditions.append("e.workload_ref IN (SELECT id FROM workloads WHERE name LIKE ? ESCAPE '\\')")
            arguments += ["%" + Self.escapeLike(name) + "%"]
        }
        if let ip = filter.clientIP {
            conditions.append("e.client_ip = ?")
            arguments += [ip]
        }
        switch filter.qname {
        case .exact(let name):
            conditions.append("e.qname_rev = ?")
            arguments += [StoredName.reversed(StoredName.normalize(name))]
        case .subdomains(let domain):
            let domain = StoredName.normalize(domain)
            if domain == "." || domain.isEmpty {
                conditions.append("e.qname_rev <> '.'")
            } else {
                let range = StoredName.subdomainRange(of: domain)
                conditions.append("e.qname_rev >= ? AND e.qname_rev < ?")
                arguments += [range.lower, range.upper]
            }
        case nil: break
        }
        if let qtype = filter.qtype {
            conditions.append("e.qtype = ?")
            arguments += [qtype.uppercased()]
        }
        if let rcode = filter.rcode {
            conditions.append("e.rcode = ?")
            arguments += [rcode.uppercased()]
        }
        if filter.blockedOnly {
            // A literal, not a parameter: only then can SQLite use the partial index `WHERE blocked = 1`.
            conditions.append("e.blocked = 1")
        }
        if let source = filter.source {
            conditions.append("e.source = ?")
            arguments += [source]
        }
        if let from = filter.fromMicros {
            conditions.append("e.ts_us >= ?")
            arguments += [from]
        }
        if let until = filter.untilMicros {
            conditions.append("e.ts_us < ?")
            arguments += [until]
        }
        if let before = filter.before {
            // `(ts, id) < (cursorTs, cursorId)`, written so that the first term bounds the index range.
            conditions.append("e.ts_us <= ? AND (e.ts_us < ? OR e.id < ?)")
            arguments += [before.timestampMicros, before.timestampMicros, before.id]
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        // One row more than the page tells whether another page exists.
        arguments += [limit + 1]
        let columns = """
            SELECT e.id, e.ts_us, e.client_ip, e.transport, w.key, e.qname, e.qtype, e.rcode, e.answers,
                e.source, e.upstream, e.policy_source, e.policy_rule, e.policy_action, e.policy_trigger, e.findings,
                e.latency_us, w.kind, w.workload_id, w.name, w.image, w.labels, e.query_count
            FROM events e
            LEFT JOIN workloads w ON w.id = e.workload_ref
            """
        var suffixOnly = false
        if case .subdomains = filter.qname {
            suffixOnly =
                filter.workloadKey == nil && filter.workloadName == nil && filter.clientIP == nil
                && filter.qtype == nil && filter.rcode == nil && !filter.blockedOnly && filter.source == nil
        }
        if suffixOnly {
            let sql = """
                \(columns)
                WHERE e.id IN (
                    SELECT e.id FROM events e
                    \(whereClause)
                    ORDER BY e.ts_us DESC, e.id DESC
                    LIMIT ?)
                ORDER BY e.ts_us DESC, e.id DESC
                """
            return (sql, arguments, limit)
        }
        let sql = """
            \(columns)
            \(whereClause)
            ORDER BY e.ts_us DESC, e.id DESC
            LIMIT ?
            """
        return (sql, arguments, limit)
    }

    /// Workload identities that sent a query at or after `activeSinceMicros`, most recently active first.
    ///
    /// - Parameters:
    ///   - activeSinceMicros: Microseconds since the Unix epoch; 0 lists every stored workload.
    ///   - limit: Most rows returned.
    /// - Throws: ``QueryStoreError`` `.readFailed`.
    public func workloads(activeSinceMicros: Int64, limit: Int = 1_000) async throws(QueryStoreError)
        -> [StoredWorkload]
    {
        let limit = max(limit, 0)
        return try await self.read("listing workloads") { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT key, kind, workload_id, name, image, labels, first_seen_us, last_seen_us
                    FROM workloads WHERE last_seen_us >= ? ORDER BY last_seen_us DESC, key LIMIT ?
                    """,
                arguments: [activeSinceMicros, limit]
            ).map { Self.storedWorkload($0, at: 0) }
        }
    }

    /// The workload stored under `key`, or nil.
    ///
    /// - Throws: ``QueryStoreError`` `.readFailed`.
    public func workload(key: String) async throws(QueryStoreError) -> StoredWorkload? {
        try await self.read("reading a workload") { db in
            try Row.fetchOne(
                db,
                sql: """
                    SELECT key, kind, workload_id, name, image, labels, first_seen_us, last_seen_us
                    FROM workloads WHERE key = ?
                    """,
                arguments: [key]
            ).map { Self.storedWorkload($0, at: 0) }
        }
    }

    /// Per workload (or unidentified client): blocked queries since `sinceMicros`, the distinct names
    /// blocked, and the last time, most blocked first. The dashboard's "who tried to reach blocked names".
    ///
    /// - Parameters:
    ///   - sinceMicros: Window start, microseconds since the Unix epoch.
    ///   - limit: Most rows returned.
    /// - Throws: ``QueryStoreError`` `.readFailed`.
    public func blockedSummary(sinceMicros: Int64, limit: Int = 100) async throws(QueryStoreError)
        -> [BlockedActivity]
    {
        let limit = max(limit, 0)
        return try await self.read("summarising blocked queries") { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT s.workload_ref, s.anon_ip, s.n, s.names, s.last_ts,
                        w.key, w.kind, w.workload_id, w.name, w.image, w.labels, w.first_seen_us, w.last_seen_us
                    FROM (
                        SELECT e.workload_ref,
                            CASE WHEN e.workload_ref IS NULL THEN e.client_ip END AS anon_ip,
                            SUM(e.query_count) AS n, COUNT(DISTINCT e.qname_rev) AS names, MAX(e.ts_us) AS last_ts
                        FROM events e
                        WHERE e.blocked = 1 AND e.ts_us >= ?
                        GROUP BY CASE WHEN e.workload_ref IS NULL THEN e.client_ip END, e.workload_ref
                        ORDER BY n DESC, last_ts DESC
                        LIMIT ?
                    ) s
                    LEFT JOIN workloads w ON w.id = s.workload_ref
                    ORDER BY s.n DESC, s.last_ts DESC, CASE WHEN s.workload_ref IS NULL THEN 1 ELSE 0 END,
                        w.key, s.anon_ip
                    """,
                arguments: [sinceMicros, limit]
            ).map { row in
                BlockedActivity(
                    subject: Self.subject(row, refColumn: 0, ipColumn: 1, workloadColumn: 5),
                    blockedQueries: row[2], distinctNames: row[3], lastBlockedMicros: row[4])
            }
        }
    }

    /// The most blocked names since `sinceMicros`, most queries first.
    ///
    /// - Parameters:
    ///   - sinceMicros: Window start, microseconds since the Unix epoch.
    ///   - limit: Most rows returned.
    /// - Throws: ``QueryStoreError`` `.readFailed`.
    public func topBlockedDomains(sinceMicros: Int64, limit: Int = 20) async throws(QueryStoreError) -> [DomainCount] {
        let limit = max(limit, 0)
        return try await self.read("ranking blocked names") { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT qname, SUM(query_count) AS n, COUNT(DISTINCT workload_ref) AS workloads, MAX(ts_us) AS last_ts
                    FROM events
                    WHERE blocked = 1 AND ts_us >= ?
                    GROUP BY qname
                    ORDER BY n DESC, qname
                    LIMIT ?
                    """,
                arguments: [sinceMicros, limit]
            ).map { row in
                DomainCount(qname: row[0], queries: row[1], workloads: row[2], lastSeenMicros: row[3])
            }
        }
    }

    /// The workloads (and unidentified clients) that sent the most queries since `sinceMicros`.
    ///
    /// Grouping every event in the window by workload would sort them all (seconds for a day of ten million
    /// events). Instead each workload active in the window gets a count from its own range of the
    /// `(workload_ref, ts_us)` index, which reads index entries only; blocked counts come from the small
    /// partial index, and unidentified clients (the `workload_ref IS NULL` range) are grouped by address.
    ///
    /// - Parameters:
    ///   - sinceMicros: Window start, microseconds since the Unix epoch.
    ///   - limit: Most rows returned.
    /// - Throws: ``QueryStoreError`` `.readFailed`.
    public func topWorkloads(sinceMicros: Int64, limit: Int = 20) async throws(QueryStoreError) -> [WorkloadActivity] {
        let limit = max(limit, 0)
        return try await self.read("ranking workloads") { db in
            var blockedByWorkload: [Int64: Int] = [:]
            var blockedByClient: [String: Int] = [:]
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT CASE WHEN workload_ref IS NULL THEN client_ip END, workload_ref, SUM(query_count)
                    FROM events
                    WHERE blocked = 1 AND ts_us >= ?
                    GROUP BY CASE WHEN workload_ref IS NULL THEN client_ip END, workload_ref
                    """,
                arguments: [sinceMicros])
            {
                if let ref: Int64 = row[1] {
                    blockedByWorkload[ref] = row[2]
                } else if let ip: String = row[0] {
                    blockedByClient[ip] = row[2]
                }
            }

            var activity: [WorkloadActivity] = []
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT w.id,
                        (SELECT TOTAL(e.query_count) FROM events e WHERE e.workload_ref = w.id AND e.ts_us >= ?) AS n,
                        w.key, w.kind, w.workload_id, w.name, w.image, w.labels, w.first_seen_us, w.last_seen_us
                    FROM workloads w
                    WHERE w.last_seen_us >= ?
                    """,
                arguments: [sinceMicros, sinceMicros])
            {
                // TOTAL() is a float (0.0 for no rows); counts stay far below 2^53.
                let queries = Int(row[1] as Double)
                if queries == 0 { continue }
                let ref: Int64 = row[0]
                activity.append(
                    WorkloadActivity(
                        subject: .workload(Self.storedWorkload(row, at: 2)), queries: queries,
                        blocked: blockedByWorkload[ref] ?? 0))
            }
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT client_ip, SUM(query_count) FROM events
                    WHERE workload_ref IS NULL AND ts_us >= ?
                    GROUP BY client_ip
                    """,
                arguments: [sinceMicros])
            {
                let ip: String = row[0]
                activity.append(
                    WorkloadActivity(subject: .client(ip), queries: row[1], blocked: blockedByClient[ip] ?? 0))
            }
            activity.sort { a, b in
                if a.queries != b.queries { return a.queries > b.queries }
                return Self.subjectOrder(a.subject) < Self.subjectOrder(b.subject)
            }
            return Array(activity.prefix(limit))
        }
    }

    /// Tie-break order for subjects: workloads by key, then clients by address.
    private static func subjectOrder(_ subject: EventSubject) -> String {
        switch subject {
        case .workload(let w): "0" + w.key
        case .client(let ip): "1" + ip
        }
    }

    /// Queries and blocked queries per time bucket, oldest first, with empty buckets included.
    ///
    /// - Parameters:
    ///   - sinceMicros: Window start, microseconds since the Unix epoch; rounded down to a bucket boundary.
    ///   - untilMicros: Window end (exclusive); nil means up to the newest event.
    ///   - bucket: Bucket width, at least one millisecond.
    /// - Returns: One bucket per `bucket` interval from the first boundary at or before `sinceMicros`.
    /// - Throws: ``QueryStoreError`` `.invalidArgument` when the width is under 1 ms, the window is negative
    ///   or would need more than 10 000 buckets; `.readFailed`.
    public func timeSeries(sinceMicros: Int64, untilMicros: Int64? = nil, bucket: Duration)
        async throws(QueryStoreError) -> [TimeBucket]
    {
        let width = bucket.components.seconds * 1_000_000 + bucket.components.attoseconds / 1_000_000_000_000
        guard width >= 1_000 else {
            throw QueryStoreError(
                code: .invalidArgument, message: "time series bucket must be at least 1 ms, got \(bucket)")
        }
        let since = max(sinceMicros, 0)
        let start = since / width * width
        let until = untilMicros
        return try await self.read("computing the time series") { db in
            let end: Int64
            if let until {
                end = until
            } else {
                end = (try Int64.fetchOne(db, sql: "SELECT MAX(ts_us) FROM events") ?? since) + 1
            }
            guard end >= since else {
                throw QueryStoreError(
                    code: .invalidArgument, message: "time series window ends (\(end)) before it starts (\(since))")
            }
            let count = (end - start + width - 1) / width
            guard count <= 10_000 else {
                throw QueryStoreError(
                    code: .invalidArgument,
                    message: "time series would have \(count) buckets (at most 10000): widen the bucket")
            }
            // One range count per bucket on the covering time index (and on the small partial blocked index):
            // `GROUP BY ts_us / width` would feed every event in the window through a sorter first, about
            // seven times slower at ten million events.
            let total = try db.cachedStatement(sql: "SELECT TOTAL(query_count) FROM events WHERE ts_us >= ? AND ts_us < ?")
            let blockedTotal = try db.cachedStatement(
                sql: "SELECT TOTAL(query_count) FROM events WHERE blocked = 1 AND ts_us >= ? AND ts_us < ?")
            return try (0..<count).map { i in
                let index = start / width + i
                // The first bucket starts at its boundary but counts only events from `since` on.
                let lower = max(index * width, since)
                let upper = min((index + 1) * width, end)
                return TimeBucket(
                    startMicros: index * width,
                    queries: Int(try Double.fetchOne(total, arguments: [lower, upper]) ?? 0),
                    blocked: Int(try Double.fetchOne(blockedTotal, arguments: [lower, upper]) ?? 0))
            }
        }
    }

    /// Totals over the whole store.
    ///
    /// Counting every event walks the smallest index (a few hundred ms at 10 M rows, see docs/storage.md), so
    /// a dashboard should not poll this every second.
    ///
    /// - Throws: ``QueryStoreError`` `.readFailed`.
    public func counts() async throws(QueryStoreError) -> StoreCounts {
        try await self.read("counting events") { db in
            // Separate statements: SQLite answers a lone MIN/MAX on an indexed column from one index probe,
            // but not when it shares a SELECT with COUNT(*).
            let events = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events") ?? 0
            let blocked = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events WHERE blocked = 1") ?? 0
            let workloads = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM workloads") ?? 0
            let queries = Int(try Double.fetchOne(db, sql: "SELECT TOTAL(query_count) FROM events") ?? 0)
            let oldest = try Int64.fetchOne(db, sql: "SELECT MIN(ts_us) FROM events")
            let newest = try Int64.fetchOne(db, sql: "SELECT MAX(ts_us) FROM events")
            return StoreCounts(
                events: events, blockedEvents: blocked, workloads: workloads, oldestMicros: oldest, newestMicros: newest,
                queries: queries)
        }
    }

    // MARK: - Row mapping

    /// `%`, `_` and `\` are wildcards or the escape in LIKE; `_` is common in DNS names (`_dmarc`).
    static func escapeLike(_ text: String) -> String {
        var out = ""
        for c in text {
            if c == "%" || c == "_" || c == "\\" { out.append("\\") }
            out.append(c)
        }
        return out
    }

    /// Maps a `search` row (column order as in its SELECT).
    static func storedEvent(_ row: Row) -> StoredEvent {
        // The workload columns come from a LEFT JOIN: all NULL for an unidentified client.
        let key: String? = row[4]
        var workload: Workload?
        if key != nil, let kindText: String = row[17], let id: String = row[18], let name: String = row[19] {
            workload = Workload(
                kind: Workload.Kind(rawValue: kindText) ?? .unknown, id: id, name: name, image: row[20],
                labels: JSONText.decodeLabels(row[21]))
        }
        var policy: PolicyHit?
        if let source: String = row[11] {
            policy = PolicyHit(source: source, rule: row[12] ?? "", action: row[13] ?? "", trigger: row[14] ?? "")
        }
        // Invariant: the other columns are NOT NULL in the schema (v1-events), so the non-optional
        // subscripts below cannot meet a NULL.
        let event = QueryEvent(
            timestampMicros: row[1], clientIP: row[2], transport: row[3], workload: workload, qname: row[5],
            qtype: row[6], rcode: row[7], answers: JSONText.decodeStrings(row[8]), source: row[9], upstream: row[10],
            policy: policy, findings: JSONText.decodeFindings(row[15]), latencyMicros: row[16], count: row[22])
        return StoredEvent(id: row[0], workloadKey: workload == nil ? nil : key, event: event)
    }

    /// Maps the eight workload columns starting at `column` (key, kind, workload_id, name, image, labels,
    /// first_seen_us, last_seen_us).
    static func storedWorkload(_ row: Row, at column: Int) -> StoredWorkload {
        // Invariant: every column but `image` is NOT NULL in the schema (v1-events).
        let kindText: String = row[column + 1]
        let workload = Workload(
            kind: Workload.Kind(rawValue: kindText) ?? .unknown, id: row[column + 2], name: row[column + 3],
            image: row[column + 4], labels: JSONText.decodeLabels(row[column + 5]))
        return StoredWorkload(
            key: row[column], workload: workload, firstSeenMicros: row[column + 6], lastSeenMicros: row[column + 7])
    }

    /// The subject of a grouped row: the joined workload, or the client address when there is none.
    static func subject(_ row: Row, refColumn: Int, ipColumn: Int, workloadColumn: Int) -> EventSubject {
        if !row.hasNull(atIndex: refColumn) && !row.hasNull(atIndex: workloadColumn) {
            return .workload(Self.storedWorkload(row, at: workloadColumn))
        }
        // An unidentified client (or, in a hand-edited database, a reference to a missing workload).
        let ip: String? = row[ipColumn]
        return .client(ip ?? "")
    }
}
