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

/// The audit trail's statements, shared by both backends.
package enum ActionQueries {
    /// The largest page ``EventStore/actions(limit:beforeID:target:)`` returns.
    package static let maximumLimit = 1_000

    /// Appends a record; returns its id (`RETURNING` works on SQLite >= 3.35 and PostgreSQL).
    package static let insert = """
        INSERT INTO actions (ts_us, actor, action, target, reason, detail)
        VALUES (?, ?, ?, ?, ?, ?)
        RETURNING id
        """

    /// The insert's values for `record`.
    package static func values(_ record: ActionRecord) -> [SQLValue] {
        [.int(record.timestampMicros), .text(record.actor), .text(record.action), .text(record.target),
            .text(record.reason), .text(record.detail)]
    }

    /// Recorded actions, newest first.
    ///
    /// - Parameters:
    ///   - limit: Page size, clamped to 1…``maximumLimit``.
    ///   - beforeID: Only actions with a smaller id (the last id of the previous page).
    ///   - target: Only actions on this workload key or domain.
    package static func list(limit: Int, beforeID: Int64?, target: String?, on db: some SQLReader)
        async throws(QueryStoreError) -> [ActionRecord]
    {
        var conditions: [String] = []
        var arguments: [SQLValue] = []
        if let beforeID {
            conditions.append("id < ?")
            arguments.append(.int(beforeID))
        }
        if let target {
            conditions.append("target = ?")
            arguments.append(.text(target))
        }
        arguments.append(.int(Int64(min(max(limit, 1), Self.maximumLimit))))
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let sql = """
            SELECT id, ts_us, actor, action, target, reason, detail FROM actions
            \(whereClause)
            ORDER BY id DESC
            LIMIT ?
            """
        // Every column is NOT NULL in the schema (v2-actions).
        return try await db.fetch(sql, arguments, what: "listing actions").map { row in
            ActionRecord(
                id: row.int(0) ?? 0, timestampMicros: row.int(1) ?? 0, actor: row.text(2) ?? "",
                action: row.text(3) ?? "", target: row.text(4) ?? "", reason: row.text(5) ?? "",
                detail: row.text(6) ?? "")
        }
    }
}

extension QueryStore {
    /// The largest page ``actions(limit:beforeID:target:)`` returns.
    public static let maximumActionsLimit = ActionQueries.maximumLimit

    @discardableResult
    public func recordAction(_ record: ActionRecord) async throws(QueryStoreError) -> Int64 {
        let values = ActionQueries.values(record).map(Self.databaseValue)
        return try await self.write("recording an action") { db in
            guard let id = try Int64.fetchOne(db, sql: ActionQueries.insert, arguments: StatementArguments(values)) else {
                throw QueryStoreError(code: .writeFailed, message: "recording an action returned no id")
            }
            return id
        }
    }

    public func actions(limit: Int, beforeID: Int64?, target: String?) async throws(QueryStoreError) -> [ActionRecord] {
        try await ActionQueries.list(limit: limit, beforeID: beforeID, target: target, on: self)
    }
}
