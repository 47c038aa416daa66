import DNSPipeline

/// The console's read queries, for every backend: SQL with `?` placeholders run through an ``SQLReader``
/// (GRDB for SQLite, PostgresNIO for PostgreSQL), rows mapped by the same code.
///
/// The SQL here sticks to what SQLite and PostgreSQL both accept (`?` placeholders aside): `LIKE … ESCAPE`,
/// `CASE`, `COUNT(DISTINCT …)`, integer division, `LIMIT`, scalar and `IN` subqueries, subqueries in `FROM`.
/// SQLite-specific behaviour relied on: `LIKE` ignores ASCII case (PostgreSQL: `ILIKE`) and text compares
/// bytewise (PostgreSQL: `COLLATE "C"` on `qname_rev`). See docs/storage.md.
///
/// Grouped queries list the `CASE` expression first in `GROUP BY`: grouping by `workload_ref` first tempts
/// SQLite into walking the whole `(workload_ref, ts_us)` index to avoid a sort, which at 10 M rows is
/// seconds instead of the milliseconds the time-range scan takes.
///
/// Sums are written `CAST(COALESCE(SUM(x), 0) AS BIGINT)`: SQLite's `TOTAL()` does not exist in PostgreSQL, and
/// PostgreSQL's `SUM(bigint)` is a `numeric`.
package enum EventQueries {
    /// How the name condition of a search finds its rows.
    package enum NameIndexLayout: Sendable {
        /// An index on `(qname_rev, ts_us)` (PostgreSQL).
        case column
        /// The two-part index of ``NameIndexSQL`` (SQLite): a sorted table and an unindexed tail.
        case hourly
    }

    /// Events matching `filter`, newest first, one page at a time.
    ///
    /// - Parameter filter: The conditions, page size and position. See ``EventFilter`` for which filters use
    ///   an index; unindexed ones should be combined with a time range.
    /// - Returns: Up to `filter.limit` events and the cursor of the next page.
    /// - Throws: ``QueryStoreError`` `.readFailed`.
    package static func search(
        _ filter: EventFilter, on db: some SQLReader, caseInsensitiveLike: String = "LIKE",
        nameIndex: NameIndexLayout = .column
    ) async throws(QueryStoreError) -> EventPage {
        let (sql, arguments, limit) = Self.searchStatement(filter, like: caseInsensitiveLike, nameIndex: nameIndex)
        var events = try await db.fetch(sql, arguments, what: "searching events").map(Self.storedEvent)
        var next: EventCursor?
        if events.count > limit {
            events.removeLast(events.count - limit)
            next = events.last?.cursor
        }
        return EventPage(events: events, next: next)
    }

    /// A condition on the reversed name.
    package enum NameCondition {
        /// `qname_rev = name`.
        case equal(String)
        /// `lower <= qname_rev < upper`.
        case range(String, String)
        /// Every name but the root.
        case notRoot

        /// The SQL on `\(table)qname_rev`.
        func sql(on table: String) -> String {
            switch self {
            case .equal: "\(table)qname_rev = ?"
            case .range: "\(table)qname_rev >= ? AND \(table)qname_rev < ?"
            case .notRoot: "\(table)qname_rev <> '.'"
            }
        }

        /// The arguments of ``sql(on:)``.
        var arguments: [SQLValue] {
            switch self {
            case .equal(let name): [.text(name)]
            case .range(let lower, let upper): [.text(lower), .text(upper)]
            case .notRoot: []
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
    ///
    /// With the ``NameIndexLayout/hourly`` layout (SQLite) a name condition is answered from the candidates of
    /// ``NameIndexSQL``, joined to `events` by id and time; the condition stays in the outer `WHERE` too.
    package static func searchStatement(_ filter: EventFilter, like: String = "LIKE", nameIndex: NameIndexLayout = .column)
        -> (String, [SQLValue], Int)
    {
        let limit = min(max(filter.limit, 1), EventFilter.maximumLimit)
        var conditions: [String] = []
        var arguments: [SQLValue] = []
        var nameCondition: NameCondition?

        if let key = filter.workloadKey {
            // A constant scalar subquery: SQLite evaluates it once and then uses (workload_ref, ts_us).
            conditions.append("e.workload_ref = (SELECT id FROM workloads WHERE key = ?)")
            arguments.append(.text(key))
        }
        if let name = filter.workloadName {
            // SQLite's LIKE ignores ASCII case; PostgreSQL passes ILIKE.
            conditions.append("e.workload_ref IN (SELECT id FROM workloads WHERE name \(like) ? ESCAPE '\\')")
            arguments.append(.text("%" + Self.escapeLike(name) + "%"))
        }
        if let ip = filter.clientIP {
            conditions.append("e.client_ip = ?")
            arguments.append(.text(ip))
        }
        switch filter.qname {
        case .exact(let name):
            nameCondition = .equal(StoredName.reversed(StoredName.normalize(name)))
        case .subdomains(let domain):
            let domain = StoredName.normalize(domain)
            if domain == "." || domain.isEmpty {
                nameCondition = .notRoot
            } else {
                let range = StoredName.subdomainRange(of: domain)
                nameCondition = .range(range.lower, range.upper)
            }
        case nil: break
        }
        if let name = nameCondition {
            conditions.append(name.sql(on: "e."))
            arguments += name.arguments
        }
        if let qtype = filter.qtype {
            conditions.append("e.qtype = ?")
            arguments.append(.text(qtype.uppercased()))
        }
        if let rcode = filter.rcode {
            conditions.append("e.rcode = ?")
            arguments.append(.text(rcode.uppercased()))
        }
        if filter.blockedOnly {
            // A literal, not a parameter: only then can SQLite use the partial index `WHERE blocked = 1`.
            conditions.append("e.blocked = 1")
        }
        if let source = filter.source {
            conditions.append("e.source = ?")
            arguments.append(.text(source))
        }
        if let from = filter.fromMicros {
            conditions.append("e.ts_us >= ?")
            arguments.append(.int(from))
        }
        if let until = filter.untilMicros {
            conditions.append("e.ts_us < ?")
            arguments.append(.int(until))
        }
        if let before = filter.before {
            // `(ts, id) < (cursorTs, cursorId)`, written so that the first term bounds the index range.
            conditions.append("e.ts_us <= ? AND (e.ts_us < ? OR e.id < ?)")
            arguments += [.int(before.timestampMicros), .int(before.timestampMicros), .int(before.id)]
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        // One row more than the page tells whether another page exists.
        arguments.append(.int(Int64(limit + 1)))
        let selectList = """
            SELECT e.id, e.ts_us, e.client_ip, e.transport, w.key, e.qname, e.qtype, e.rcode, e.answers,
                e.source, e.upstream, e.policy_source, e.policy_rule, e.policy_action, e.policy_trigger, e.findings,
                e.latency_us, w.kind, w.workload_id, w.name, w.image, w.labels, e.query_count, e.other_names
            """
        let columns = selectList + "\nFROM events e\nLEFT JOIN workloads w ON w.id = e.workload_ref"
        // Conditions on the name and time only: what the name index holds.
        let nameAndTimeOnly =
            filter.workloadKey == nil && filter.workloadName == nil && filter.clientIP == nil
            && filter.qtype == nil && filter.rcode == nil && !filter.blockedOnly && filter.source == nil
        if let name = nameCondition, nameIndex == .hourly {
            let candidates = NameIndexSQL.candidates(name, filter: filter)
            // Arguments in placeholder order: the CTE's and the candidates', then (deferred join) the inner
            // limit, then the outer conditions and the page limit.
            let pageLimit = arguments.removeLast()
            // An entry whose id retention freed and a new event reused has another time: the join drops it.
            func joined(_ keys: String) -> String {
                """
                \(candidates.with)
                \(selectList)
                FROM \(keys) k
                CROSS JOIN events e ON e.id = k.id AND e.ts_us = k.ts_us
                LEFT JOIN workloads w ON w.id = e.workload_ref
                \(whereClause)
                ORDER BY e.ts_us DESC, e.id DESC
                """
            }
            if nameAndTimeOnly {
                // The page's ids are picked from the candidates alone (SQLite keeps the best `limit` while sorting),
                // for an exact name too: the candidates come out hour by hour, not in time order.
                let picked = "(SELECT ts_us, id FROM name_keys ORDER BY ts_us DESC, id DESC LIMIT ?)"
                return (joined(picked), candidates.arguments + [pageLimit] + arguments, limit)
            }
            return (joined("name_keys") + "\nLIMIT ?", candidates.arguments + arguments + [pageLimit], limit)
        }
        // PostgreSQL: a suffix search with nothing else to narrow it picks the page's ids first.
        if case .subdomains = filter.qname, nameAndTimeOnly {
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

    static let workloadColumns = "key, kind, workload_id, name, image, labels, first_seen_us, last_seen_us"

    /// Workload identities that sent a query at or after `activeSinceMicros`, most recently active first.
    ///
    /// - Parameters:
    ///   - activeSinceMicros: Microseconds since the Unix epoch; 0 lists every stored workload.
    ///   - limit: Most rows returned.
    /// - Throws: ``QueryStoreError`` `.readFailed`.
    package static func workloads(activeSinceMicros: Int64, limit: Int, on db: some SQLReader)
        async throws(QueryStoreError) -> [StoredWorkload]
    {
        try await db.fetch(
            """
            SELECT \(Self.workloadColumns)
            FROM workloads WHERE last_seen_us >= ? ORDER BY last_seen_us DESC, key LIMIT ?
            """,
            [.int(activeSinceMicros), .int(Int64(max(limit, 0)))], what: "listing workloads"
        ).map { Self.storedWorkload($0, at: 0) }
    }

    /// The workload stored under `key`, or nil.
    ///
    /// - Throws: ``QueryStoreError`` `.readFailed`.
    package static func workload(key: String, on db: some SQLReader) async throws(QueryStoreError) -> StoredWorkload? {
        try await db.fetch("SELECT \(Self.workloadColumns) FROM workloads WHERE key = ?", [.text(key)],
            what: "reading a workload"
        ).first.map { Self.storedWorkload($0, at: 0) }
    }

    /// Per workload (or unidentified client): blocked queries since `sinceMicros`, the distinct names
    /// blocked, and the last time, most blocked first. The dashboard's "who tried to reach blocked names".
    ///
    /// - Parameters:
    ///   - sinceMicros: Window start, microseconds since the Unix epoch.
    ///   - limit: Most rows returned.
    /// - Throws: ``QueryStoreError`` `.readFailed`.
    package static func blockedSummary(sinceMicros: Int64, limit: Int, on db: some SQLReader)
        async throws(QueryStoreError) -> [BlockedActivity]
    {
        try await db.fetch(
            """
            SELECT s.workload_ref, s.anon_ip, s.n, s.names, s.last_ts,
                w.key, w.kind, w.workload_id, w.name, w.image, w.labels, w.first_seen_us, w.last_seen_us
            FROM (
                SELECT e.workload_ref,
                    CASE WHEN e.workload_ref IS NULL THEN e.client_ip END AS anon_ip,
                    CAST(COALESCE(SUM(e.query_count), 0) AS BIGINT) AS n, COUNT(DISTINCT e.qname_rev) AS names,
                    MAX(e.ts_us) AS last_ts
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
            [.int(sinceMicros), .int(Int64(max(limit, 0)))], what: "summarising blocked queries"
        ).map { row in
            BlockedActivity(
                subject: Self.subject(row, refColumn: 0, ipColumn: 1, workloadColumn: 5),
                blockedQueries: Int(row.int(2) ?? 0), distinctNames: Int(row.int(3) ?? 0),
                lastBlockedMicros: row.int(4) ?? 0)
        }
    }

    /// The most blocked names since `sinceMicros`, most queries first.
    ///
    /// - Parameters:
    ///   - sinceMicros: Window start, microseconds since the Unix epoch.
    ///   - limit: Most rows returned.
    /// - Throws: ``QueryStoreError`` `.readFailed`.
    package static func topBlockedDomains(sinceMicros: Int64, limit: Int, on db: some SQLReader)
        async throws(QueryStoreError) -> [DomainCount]
    {
        try await db.fetch(
            """
            SELECT qname, CAST(COALESCE(SUM(query_count), 0) AS BIGINT) AS n, COUNT(DISTINCT workload_ref) AS workloads,
                MAX(ts_us) AS last_ts
            FROM events
            WHERE blocked = 1 AND ts_us >= ?
            GROUP BY qname
            ORDER BY n DESC, qname
            LIMIT ?
            """,
            [.int(sinceMicros), .int(Int64(max(limit, 0)))], what: "ranking blocked names"
        ).map { row in
            DomainCount(qname: row.text(0) ?? "", queries: Int(row.int(1) ?? 0), workloads: Int(row.int(2) ?? 0),
                lastSeenMicros: row.int(3) ?? 0)
        }
    }

    /// The workloads (and unidentified clients) that sent the most queries since `sinceMicros`.
    ///
    /// Grouping every event in the window by workload would sort them all (seconds for a day of ten million
    /// events). Instead each workload active in the window gets a count from its own range of the
    /// `(workload_ref, ts_us, query_count)` index, which reads index entries only; blocked counts come from
    /// the small partial index, and unidentified clients (the `workload_ref IS NULL` range) are grouped by
    /// address.
    ///
    /// - Parameters:
    ///   - sinceMicros: Window start, microseconds since the Unix epoch.
    ///   - limit: Most rows returned.
    /// - Throws: ``QueryStoreError`` `.readFailed`.
    package static func topWorkloads(sinceMicros: Int64, limit: Int, on db: some SQLReader)
        async throws(QueryStoreError) -> [WorkloadActivity]
    {
        var blockedByWorkload: [Int64: Int] = [:]
        var blockedByClient: [String: Int] = [:]
        for row in try await db.fetch(
            """
            SELECT CASE WHEN workload_ref IS NULL THEN client_ip END, workload_ref,
                CAST(COALESCE(SUM(query_count), 0) AS BIGINT)
            FROM events
            WHERE blocked = 1 AND ts_us >= ?
            GROUP BY CASE WHEN workload_ref IS NULL THEN client_ip END, workload_ref
            """,
            [.int(sinceMicros)], what: "ranking workloads")
        {
            if let ref = row.int(1) {
                blockedByWorkload[ref] = Int(row.int(2) ?? 0)
            } else if let ip = row.text(0) {
                blockedByClient[ip] = Int(row.int(2) ?? 0)
            }
        }

        var activity: [WorkloadActivity] = []
        for row in try await db.fetch(
            """
            SELECT w.id,
                (SELECT CAST(COALESCE(SUM(e.query_count), 0) AS BIGINT) FROM events e
                    WHERE e.workload_ref = w.id AND e.ts_us >= ?) AS n,
                w.key, w.kind, w.workload_id, w.name, w.image, w.labels, w.first_seen_us, w.last_seen_us
            FROM workloads w
            WHERE w.last_seen_us >= ?
            """,
            [.int(sinceMicros), .int(sinceMicros)], what: "ranking workloads")
        {
            let queries = Int(row.int(1) ?? 0)
            if queries == 0 { continue }
            let ref = row.int(0) ?? -1
            activity.append(
                WorkloadActivity(
                    subject: .workload(Self.storedWorkload(row, at: 2)), queries: queries,
                    blocked: blockedByWorkload[ref] ?? 0))
        }
        for row in try await db.fetch(
            """
            SELECT client_ip, CAST(COALESCE(SUM(query_count), 0) AS BIGINT) FROM events
            WHERE workload_ref IS NULL AND ts_us >= ?
            GROUP BY client_ip
            """,
            [.int(sinceMicros)], what: "ranking workloads")
        {
            let ip = row.text(0) ?? ""
            activity.append(
                WorkloadActivity(subject: .client(ip), queries: Int(row.int(1) ?? 0), blocked: blockedByClient[ip] ?? 0))
        }
        activity.sort { a, b in
            if a.queries != b.queries { return a.queries > b.queries }
            return Self.subjectOrder(a.subject) < Self.subjectOrder(b.subject)
        }
        return Array(activity.prefix(max(limit, 0)))
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
    package static func timeSeries(sinceMicros: Int64, untilMicros: Int64?, bucket: Duration, on db: some SQLReader)
        async throws(QueryStoreError) -> [TimeBucket]
    {
        let width = bucket.components.seconds * 1_000_000 + bucket.components.attoseconds / 1_000_000_000_000
        guard width >= 1_000 else {
            throw QueryStoreError(
                code: .invalidArgument, message: "time series bucket must be at least 1 ms, got \(bucket)")
        }
        let since = max(sinceMicros, 0)
        let start = since / width * width
        let end: Int64
        if let untilMicros {
            end = untilMicros
        } else {
            let newest = try await db.fetch("SELECT MAX(ts_us) FROM events", [], what: "computing the time series")
            end = (newest.first?.int(0) ?? since) + 1
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
        // One range sum per bucket on the covering time index (and on the small partial blocked index), all
        // in one read: `GROUP BY ts_us / width` would feed every event in the window through a sorter first,
        // about seven times slower at ten million events.
        let total = "SELECT CAST(COALESCE(SUM(query_count), 0) AS BIGINT) FROM events WHERE ts_us >= ? AND ts_us < ?"
        let blocked = """
            SELECT CAST(COALESCE(SUM(query_count), 0) AS BIGINT) FROM events
            WHERE blocked = 1 AND ts_us >= ? AND ts_us < ?
            """
        var batch: [(sql: String, arguments: [SQLValue])] = []
        batch.reserveCapacity(Int(count) * 2)
        for i in 0..<count {
            let index = start / width + i
            // The first bucket starts at its boundary but counts only events from `since` on.
            let bounds: [SQLValue] = [.int(max(index * width, since)), .int(min((index + 1) * width, end))]
            batch.append((total, bounds))
            batch.append((blocked, bounds))
        }
        let results = try await db.fetch(batch: batch, what: "computing the time series")
        return (0..<Int(count)).map { i in
            TimeBucket(startMicros: (start / width + Int64(i)) * width,
                queries: Int(results[2 * i].first?.int(0) ?? 0), blocked: Int(results[2 * i + 1].first?.int(0) ?? 0))
        }
    }

    /// Totals over the whole store.
    ///
    /// Counting every event walks the smallest index (a few hundred ms at 10 M rows, see docs/storage.md), so
    /// a dashboard should not poll this every second.
    ///
    /// - Throws: ``QueryStoreError`` `.readFailed`.
    package static func counts(on db: some SQLReader) async throws(QueryStoreError) -> StoreCounts {
        // Separate statements: SQLite answers a lone MIN/MAX on an indexed column from one index probe,
        // but not when it shares a SELECT with COUNT(*).
        let r = try await db.fetch(
            batch: [
                "SELECT COUNT(*) FROM events", "SELECT COUNT(*) FROM events WHERE blocked = 1",
                "SELECT COUNT(*) FROM workloads", "SELECT CAST(COALESCE(SUM(query_count), 0) AS BIGINT) FROM events",
                "SELECT MIN(ts_us) FROM events", "SELECT MAX(ts_us) FROM events",
            ].map { ($0, []) }, what: "counting events"
        ).map { $0.first?.int(0) }
        let (events, blocked, workloads, queries) = (r[0] ?? 0, r[1] ?? 0, r[2] ?? 0, r[3] ?? 0)
        let (oldest, newest) = (r[4], r[5])
        return StoreCounts(
            events: Int(events), blockedEvents: Int(blocked), workloads: Int(workloads), oldestMicros: oldest,
            newestMicros: newest, queries: Int(queries))
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
    static func storedEvent(_ row: CellRow) -> StoredEvent {
        // The workload columns come from a LEFT JOIN: all NULL for an unidentified client.
        let key = row.text(4)
        var workload: Workload?
        if key != nil, let kindText = row.text(17), let id = row.text(18), let name = row.text(19) {
            workload = Workload(
                kind: Workload.Kind(rawValue: kindText) ?? .unknown, id: id, name: name, image: row.text(20),
                labels: JSONText.decodeLabels(row.text(21)))
        }
        var policy: PolicyHit?
        if let source = row.text(11) {
            policy = PolicyHit(source: source, rule: row.text(12) ?? "", action: row.text(13) ?? "",
                trigger: row.text(14) ?? "")
        }
        // The other columns are NOT NULL in the schema; a hand-edited row reads as empty or zero.
        let event = QueryEvent(
            timestampMicros: row.int(1) ?? 0, clientIP: row.text(2) ?? "", transport: row.text(3) ?? "",
            workload: workload, qname: row.text(5) ?? "", qtype: row.text(6) ?? "", rcode: row.text(7) ?? "",
            answers: JSONText.decodeStrings(row.text(8)), source: row.text(9) ?? "", upstream: row.text(10),
            policy: policy, findings: JSONText.decodeFindings(row.text(15)), latencyMicros: row.int(16) ?? 0,
            count: Int(row.int(22) ?? 1), otherNames: JSONText.decodeStrings(row.text(23)))
        return StoredEvent(id: row.int(0) ?? 0, workloadKey: workload == nil ? nil : key, event: event)
    }

    /// Maps the eight workload columns starting at `column` (key, kind, workload_id, name, image, labels,
    /// first_seen_us, last_seen_us).
    static func storedWorkload(_ row: CellRow, at column: Int) -> StoredWorkload {
        let workload = Workload(
            kind: Workload.Kind(rawValue: row.text(column + 1) ?? "") ?? .unknown, id: row.text(column + 2) ?? "",
            name: row.text(column + 3) ?? "", image: row.text(column + 4),
            labels: JSONText.decodeLabels(row.text(column + 5)))
        return StoredWorkload(
            key: row.text(column) ?? "", workload: workload, firstSeenMicros: row.int(column + 6) ?? 0,
            lastSeenMicros: row.int(column + 7) ?? 0)
    }

    /// The subject of a grouped row: the joined workload, or the client address when there is none.
    static func subject(_ row: CellRow, refColumn: Int, ipColumn: Int, workloadColumn: Int) -> EventSubject {
        if !row.isNull(refColumn) && !row.isNull(workloadColumn) {
            return .workload(Self.storedWorkload(row, at: workloadColumn))
        }
        // An unidentified client (or, in a hand-edited database, a reference to a missing workload).
        return .client(row.text(ipColumn) ?? "")
    }
}
