import GRDB

/// One operator action in the audit trail: who did what to which workload or domain, when and why.
public struct ActionRecord: Sendable, Hashable, Codable {
    /// Row id, assigned by ``QueryStore/recordAction(_:)``; increases with insertion order (0 before insertion).
    public var id: Int64
    /// When the action was taken, microseconds since the Unix epoch.
    public var timestampMicros: Int64
    /// Who took it: the API token's name (or `system` for actions the server takes itself).
    public var actor: String
    /// What was done: `quarantine`, `release`, `allow-add`, `allow-remove`, `deny-add`, `deny-remove`.
    public var action: String
    /// What it was done to: a workload key (`container:3f2a…`) or a domain.
    public var target: String
    /// Why, as the actor wrote it (may be empty).
    public var reason: String
    /// Extra facts (answer code, container action and its outcome), free text.
    public var detail: String

    /// Creates a record; `id` is assigned when it is stored.
    public init(
        id: Int64 = 0, timestampMicros: Int64, actor: String, action: String, target: String, reason: String = "",
        detail: String = ""
    ) {
        self.id = id
        self.timestampMicros = timestampMicros
        self.actor = actor
        self.action = action
        self.target = target
        self.reason = reason
        self.detail = detail
    }
}

extension QueryStore {
    /// The largest page ``actions(limit:beforeID:target:)`` returns.
    public static let maximumActionsLimit = 1_000

    /// Appends `record` to the audit trail.
    ///
    /// - Parameter record: The action; its `id` is ignored.
    /// - Returns: The id the row was stored under.
    /// - Throws: ``QueryStoreError`` `.writeFailed`.
    @discardableResult
    public func recordAction(_ record: ActionRecord) async throws(QueryStoreError) -> Int64 {
        try await self.write("recording an action") { db in
            try db.execute(
                sql: """
                    INSERT INTO actions (ts_us, actor, action, target, reason, detail)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    record.timestampMicros, record.actor, record.action, record.target, record.reason,
                    record.detail,
                ])
            return db.lastInsertedRowID
        }
    }

    /// Recorded actions, newest first.
    ///
    /// - Parameters:
    ///   - limit: Page size, clamped to 1…``maximumActionsLimit``.
    ///   - beforeID: Only actions with a smaller id (the last id of the previous page).
    ///   - target: Only actions on this workload key or domain.
    /// - Throws: ``QueryStoreError`` `.readFailed`.
    public func actions(limit: Int = 100, beforeID: Int64? = nil, target: String? = nil)
        async throws(QueryStoreError) -> [ActionRecord]
    {
        let limit = min(max(limit, 1), Self.maximumActionsLimit)
        return try await self.read("listing actions") { db in
            var conditions: [String] = []
            var arguments: StatementArguments = []
            if let beforeID {
                conditions.append("id < ?")
                arguments += [beforeID]
            }
            if let target {
                conditions.append("target = ?")
                arguments += [target]
            }
            arguments += [limit]
            let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            let sql = """
                SELECT id, ts_us, actor, action, target, reason, detail FROM actions
                \(whereClause)
                ORDER BY id DESC
                LIMIT ?
                """
            // Invariant: every column is NOT NULL in the schema (v2-actions).
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                ActionRecord(
                    id: row[0], timestampMicros: row[1], actor: row[2], action: row[3], target: row[4],
                    reason: row[5], detail: row[6])
            }
        }
    }
}
