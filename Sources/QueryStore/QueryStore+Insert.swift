public import DNSPipeline
import Foundation
import GRDB
import GRDBSQLite

extension QueryStore {
    /// Writes `events` in one transaction, recording (or refreshing) each event's workload first.
    ///
    /// The workload row is keyed by ``workloadKey(for:)``, the identity captured when the query was answered;
    /// events never look a workload up by IP later. Its name, image and labels take the latest values seen and
    /// its first/last seen times widen to cover the batch.
    ///
    /// - Parameter events: The events, in arrival order (ids are assigned in this order).
    /// - Throws: ``QueryStoreError`` `.writeFailed`; nothing of the batch is written then.
    public func insert(_ events: [QueryEvent]) async throws(QueryStoreError) {
        if events.isEmpty { return }
        try await self.write("inserting \(events.count) events") { db in
            try Self.insert(events, into: db, mergeNamesAfter: self.nameIndexMergeRows)
        }
    }

    /// The body of ``insert(_:)``, for callers already inside a transaction. Merges the name index's tail when it
    /// reaches `mergeNamesAfter` events (``NameIndexSQL``).
    static func insert(_ events: [QueryEvent], into db: Database, mergeNamesAfter: Int) throws {
        let mark = try NameIndexSQL.prepareInsert(db)
        var refs: [String: Int64] = [:]
        let workloads = StoreSQL.batchWorkloads(events)
        if !workloads.isEmpty {
            let upsert = try db.cachedStatement(sql: StoreSQL.upsertWorkload)
            for w in workloads {
                upsert.arguments = StatementArguments(
                    StoreSQL.workloadValues(key: w.key, workload: w.workload, first: w.first, last: w.last)
                        .map(Self.databaseValue))
                guard let id = try Int64.fetchOne(upsert) else {
                    throw QueryStoreError(code: .writeFailed, message: "upserting workload \(w.key) returned no id")
                }
                refs[w.key] = id
            }
        }

        let placeholders = "(" + Array(repeating: "?", count: StoreSQL.eventColumnCount).joined(separator: ", ") + ")"
        let insert = try db.cachedStatement(sql: "INSERT INTO events (\(StoreSQL.eventColumns)) VALUES \(placeholders)")
        // Whole chunks of rows go in one statement: a statement's own cost (starting the program, ending it, the
        // reset) was paid per row, about a tenth of the writer's time on the cache-miss mix (perf: sqlite3VdbeHalt).
        let chunked = try db.cachedStatement(sql: "INSERT INTO events (\(StoreSQL.eventColumns)) VALUES "
            + Array(repeating: placeholders, count: Self.insertChunk).joined(separator: ", "))
        // Bound and stepped through SQLite's C API: GRDB's `StatementArguments` boxes each value in an existential
        // and validates the argument list on every execution, which cost as much CPU per row as SQLite's own
        // insert (perf, hit mix). The statements are GRDB's cached ones, used only here, inside GRDB's transaction.
        let connection = db.sqliteConnection
        var next = 0
        while events.count - next >= Self.insertChunk {
            for k in 0..<Self.insertChunk {
                try RawInsert.bind(chunked.sqliteStatement, self.values(events[next + k], refs),
                    from: Int32(k * StoreSQL.eventColumnCount + 1), connection: connection)
            }
            try RawInsert.step(chunked.sqliteStatement, connection: connection)
            next += Self.insertChunk
        }
        for event in events[next...] {
            try RawInsert.bind(insert.sqliteStatement, self.values(event, refs), from: 1, connection: connection)
            try RawInsert.step(insert.sqliteStatement, connection: connection)
        }
        try NameIndexSQL.mergeIfDue(db, mark: mark, newest: db.lastInsertedRowID, mergeRows: mergeNamesAfter)
    }

    /// Rows per multi-row insert statement (20 columns each: 320 parameters, far below SQLite's limit of 32,766).
    static let insertChunk = 16

    /// The column values of `event`'s row.
    private static func values(_ event: QueryEvent, _ refs: [String: Int64]) -> [SQLValue] {
        StoreSQL.eventValues(event, workloadRef: event.workload.flatMap { refs[Self.workloadKey(for: $0)] },
            findings: event.findings.isEmpty ? nil : JSONText.encodeFindings(event.findings))
    }
}

/// Binds and steps one prepared insert through SQLite's C API.
enum RawInsert {
    /// SQLite copies the bytes before `sqlite3_bind_text` returns (`SQLITE_TRANSIENT`, a C macro Swift cannot
    /// import).
    private static let transient = unsafeBitCast(Int(-1), to: sqlite3_destructor_type.self)

    /// Binds `values` to the parameters of `statement` from `first` on.
    ///
    /// - Throws: ``QueryStoreError`` `.writeFailed` with SQLite's message when binding fails; the statement is reset.
    static func bind(_ statement: OpaquePointer?, _ values: [SQLValue], from first: Int32, connection: OpaquePointer?)
        throws
    {
        for (i, value) in values.enumerated() {
            let index = first + Int32(i)
            let rc: Int32
            switch value {
            case .int(let v): rc = sqlite3_bind_int64(statement, index, v)
            case .null: rc = sqlite3_bind_null(statement, index)
            case .text(var s):
                rc = s.withUTF8 { bytes -> Int32 in
                    // A nil pointer would bind NULL, not the empty string.
                    guard let base = bytes.baseAddress else {
                        return sqlite3_bind_text(statement, index, "", 0, Self.transient)
                    }
                    return base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                        sqlite3_bind_text(statement, index, $0, Int32(bytes.count), Self.transient)
                    }
                }
            }
            guard rc == SQLITE_OK else {
                sqlite3_reset(statement)
                throw Self.error("binding parameter \(index)", rc, connection)
            }
        }
    }

    /// Steps `statement` once (every parameter bound) and resets it. Every parameter is bound before each step, so the
    /// bindings are never cleared: reset is enough.
    ///
    /// - Throws: ``QueryStoreError`` `.writeFailed` with SQLite's message when the step fails.
    static func step(_ statement: OpaquePointer?, connection: OpaquePointer?) throws {
        defer { sqlite3_reset(statement) }
        let rc = sqlite3_step(statement)
        guard rc == SQLITE_DONE else { throw Self.error("inserting events", rc, connection) }
    }

    private static func error(_ doing: String, _ rc: Int32, _ connection: OpaquePointer?) -> QueryStoreError {
        let message = connection.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) } ?? "SQLite error"
        return QueryStoreError(code: .writeFailed, message: "\(doing): \(message) (code \(rc))")
    }
}

/// How names are stored and compared: lower case, without the trailing dot (the root stays `.`), plus the
/// label-reversed form that the name index is built on.
package enum StoredName {
    /// `WWW.Example.org.` → `www.example.org`. Returns the input unchanged (no copy) in the common case.
    package static func normalize(_ name: String) -> String {
        var needsWork = false
        for byte in name.utf8 where byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") {
            needsWork = true
            break
        }
        let trailingDot = name.utf8.count > 1 && name.utf8.last == UInt8(ascii: ".")
        if !needsWork {
            // Every logged name ends with a dot: drop it with one byte copy, not a Unicode-aware lowercased().
            return trailingDot ? String(decoding: name.utf8.dropLast(), as: UTF8.self) : name
        }
        var s = name.lowercased()
        if s.utf8.count > 1 && s.hasSuffix(".") { s.removeLast() }
        return s
    }

    /// The labels of a normalized name in reverse order: `www.example.org` → `org.example.www`. A dot
    /// escaped inside a label (`a\.b`) stays inside it. The root and the empty name are returned unchanged.
    ///
    /// Stored in `qname_rev`, so that the names under `example.org` are exactly the index range
    /// `["org.example.", "org.example/")`.
    package static func reversed(_ name: String) -> String {
        // Written once per stored row: one pass to find the label dots, one copy into the result, no arrays.
        var name = name
        let out: String? = name.withUTF8 { bytes -> String? in
            let n = bytes.count
            if n <= 1 { return nil }
            return withUnsafeTemporaryAllocation(of: Int.self, capacity: n) { dots -> String? in
                var count = 0
                var i = 0
                while i < n {
                    if bytes[i] == UInt8(ascii: "\\") {
                        i += 2
                        continue
                    }
                    if bytes[i] == UInt8(ascii: ".") {
                        dots[count] = i
                        count += 1
                    }
                    i += 1
                }
                if count == 0 { return nil }
                return String(unsafeUninitializedCapacity: n) { buffer in
                    var o = 0
                    var end = n
                    var k = count - 1
                    while k >= 0 {
                        for j in (dots[k] + 1)..<end {
                            buffer[o] = bytes[j]
                            o += 1
                        }
                        buffer[o] = UInt8(ascii: ".")
                        o += 1
                        end = dots[k]
                        k -= 1
                    }
                    for j in 0..<end {
                        buffer[o] = bytes[j]
                        o += 1
                    }
                    return o
                }
            }
        }
        return out ?? name
    }

    /// The `qname_rev` range holding every name strictly below `domain` (normalized): `[rev + ".", rev + "/")`,
    /// since `/` is the byte after `.`.
    package static func subdomainRange(of domain: String) -> (lower: String, upper: String) {
        let rev = Self.reversed(domain)
        return (rev + ".", rev + "/")
    }
}

/// A small JSON string-array codec: answers are written for every event, and JSONEncoder costs more than the
/// rest of the row.
package enum JSONText {
    /// Labels as a JSON object with sorted keys (stable text, so an unchanged workload's row is unchanged).
    package static func encodeLabels(_ labels: [String: String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(labels)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// Findings as JSON; `[]` in the impossible case that encoding fails.
    package static func encodeFindings(_ findings: [Finding]) -> String {
        (try? JSONEncoder().encode(findings)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
    }

    /// `["a","b\"c"]`, escaping per RFC 8259 §7.
    package static func encode(_ strings: [String]) -> String {
        // Written for every logged answer: one buffer, and each string copied whole when it needs no escape (answers
        // and names almost never do). The scalar-by-scalar append was 1.8 % of the process on the cache-miss mix.
        var out = "["
        out.reserveCapacity(strings.reduce(2) { $0 + $1.utf8.count + 3 })
        for (i, s) in strings.enumerated() {
            if i > 0 { out.append(",") }
            out.append("\"")
            if !s.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
                out.append(s)
                out.append("\"")
                continue
            }
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\"": out.append("\\\"")
                case "\\": out.append("\\\\")
                case "\n": out.append("\\n")
                case "\r": out.append("\\r")
                case "\t": out.append("\\t")
                case let c where c.value < 0x20:
                    let hex = String(c.value, radix: 16)
                    out.append("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
                default: out.unicodeScalars.append(scalar)
                }
            }
            out.append("\"")
        }
        out.append("]")
        return out
    }

    /// Decodes a JSON array of strings; nil or malformed text (never written by this module) gives `[]`.
    package static func decodeStrings(_ text: String?) -> [String] {
        guard let text, let data = text.data(using: .utf8) else { return [] }
        return (try? JSONDecoder().decode([String].self, from: data)) ?? []
    }

    /// Decodes findings; nil or malformed text gives `[]`.
    package static func decodeFindings(_ text: String?) -> [Finding] {
        guard let text, let data = text.data(using: .utf8) else { return [] }
        return (try? JSONDecoder().decode([Finding].self, from: data)) ?? []
    }

    /// Decodes labels; nil or malformed text gives `[:]`.
    package static func decodeLabels(_ text: String?) -> [String: String] {
        guard let text, let data = text.data(using: .utf8) else { return [:] }
        return (try? JSONDecoder().decode([String: String].self, from: data)) ?? [:]
    }
}
