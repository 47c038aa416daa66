import DNSPipeline
import QueryStore
import Testing

/// The SQLite name index: a sorted part filled in merges and a tail (docs/storage.md, "The name index").
@Suite struct NameIndexTests {
    private func names(_ page: EventPage) -> [String] { page.events.map(\.event.qname) }

    @Test("a merge runs when the tail reaches its size, in the transaction that crossed it")
    func mergeThreshold() async throws {
        let store = try QueryStore.inMemory(nameIndexMergeRows: 5)
        try await store.insert((0..<3).map { makeEvent(at: baseMicros + Int64($0), qname: "a\($0).example") })
        #expect(try await store.nameIndexCounts() == (0, 3))
        try await store.insert((3..<6).map { makeEvent(at: baseMicros + Int64($0), qname: "a\($0).example") })
        #expect(try await store.nameIndexCounts() == (6, 0))
        try await store.insert([makeEvent(at: baseMicros + 6, qname: "a6.example")])
        #expect(try await store.nameIndexCounts() == (6, 1))
        let page = try await store.search(EventFilter(qname: NamePattern("*.example")))
        #expect(self.names(page) == (0..<7).reversed().map { "a\($0).example" })
    }

    @Test("retention drops the entries of expired hours, and deleted events are never found")
    func retentionDropsHours() async throws {
        let store = try QueryStore.inMemory(nameIndexMergeRows: 1)
        // One event per hour for six hours, all merged.
        try await store.insert(
            (0..<6).map { makeEvent(at: baseMicros + Int64($0) * hourMicros + 1, qname: "h\($0).example") })
        #expect(try await store.nameIndexCounts() == (6, 0))
        let deleted = try await store.deleteEvents(olderThanMicros: baseMicros + 4 * hourMicros, limit: 100)
        #expect(deleted == 4)
        // Hours 0-2 are gone; hour 3 stays as the hour of slack before the oldest event (hour 4).
        #expect(try await store.nameIndexCounts() == (3, 0))
        #expect(try await store.search(EventFilter(qname: .exact("h3.example"))).events.isEmpty)
        #expect(self.names(try await store.search(EventFilter(qname: NamePattern("*.example")))) == ["h5.example", "h4.example"])
    }

    @Test("ids reused after every event was deleted are searchable, and stale entries never match")
    func reusedIDs() async throws {
        let store = try QueryStore.inMemory(nameIndexMergeRows: 2)
        try await store.insert((0..<4).map { makeEvent(at: baseMicros + Int64($0), qname: "old\($0).example") })
        #expect(try await store.nameIndexCounts() == (4, 0))
        // Keep one stale entry by hand (retention would drop it with its hour) to show the join rejects it.
        #expect(try await store.deleteEvents(upToID: 4, limit: 100) == 4)
        try await store.executeForTesting(
            "INSERT INTO event_names VALUES (\(baseMicros / hourMicros), 'example.new0', \(baseMicros), 1)")
        // The table is empty, so SQLite hands out ids from 1 again, below the merge mark of 4.
        try await store.insert((0..<3).map { makeEvent(at: baseMicros + 100 + Int64($0), qname: "new\($0).example") })
        #expect(try await store.nameIndexCounts() == (4, 0))
        let all = try await store.search(EventFilter(qname: NamePattern("*.example")))
        #expect(self.names(all) == ["new2.example", "new1.example", "new0.example"])
        #expect(all.events.map(\.id) == [3, 2, 1])
        // Exactly one row for new0.example: the stale entry (id 1, another time) matched nothing.
        #expect(try await store.search(EventFilter(qname: .exact("new0.example"))).events.count == 1)
        #expect(try await store.search(EventFilter(qname: .exact("old0.example"))).events.isEmpty)
    }

    @Test(
        "extreme time bounds from a client neither crash nor match",
        arguments: [
            EventFilter(qname: .exact("a0.example"), before: EventCursor(timestampMicros: .max, id: .max)),
            EventFilter(qname: NamePattern("*.example"), untilMicros: .min),
            EventFilter(qname: NamePattern("*.example"), fromMicros: .max),
            EventFilter(qname: NamePattern("*.example"), fromMicros: .min, untilMicros: .max),
            EventFilter(qname: .exact("a0.example"), before: EventCursor(timestampMicros: .min, id: .min)),
        ])
    func extremeBounds(filter: EventFilter) async throws {
        let store = try QueryStore.inMemory(nameIndexMergeRows: 2)
        try await store.insert((0..<3).map { makeEvent(at: baseMicros + Int64($0), qname: "a\($0).example") })
        let found = try await store.search(filter).events.map(\.event.qname)
        let expected: [String] =
            switch (filter.fromMicros, filter.untilMicros, filter.before?.timestampMicros) {
            case (nil, nil, .some(.max)): ["a0.example"]
            case (.some(.min), .some(.max), nil): ["a2.example", "a1.example", "a0.example"]
            default: []
            }
        #expect(found == expected)
    }

    @Test("migrating a database with the old name index fills the sorted part and drops the index")
    func migration() async throws {
        try await withTemporaryDirectory { dir in
            let path = dir + "/q.sqlite"
            do {
                let store = try QueryStore(path: path)
                try await store.insert(
                    (0..<10).map { makeEvent(at: baseMicros + Int64($0) * 20 * minuteMicros, qname: "m\($0).example") })
                // Back to the v4 shape: the index on (qname_rev, ts_us), no name tables, v5 not applied.
                try await store.executeForTesting(
                    """
                    DROP TABLE event_names; DROP TABLE name_index_state;
                    CREATE INDEX events_qname_ts ON events (qname_rev, ts_us);
                    DELETE FROM grdb_migrations WHERE identifier = 'v5-name-index'
                    """)
                try store.close()
            }
            let store = try QueryStore(path: path)
            #expect(try await store.appliedMigrations() == QueryStore.migrationNames)
            #expect(try await store.nameIndexCounts() == (10, 0))
            let page = try await store.search(EventFilter(qname: NamePattern("*.example"), limit: 4))
            #expect(self.names(page) == ["m9.example", "m8.example", "m7.example", "m6.example"])
            let oldIndex = try await store.fetch(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'events_qname_ts'", [], what: "test")
            #expect(oldIndex.isEmpty)
            #expect(try await store.integrityCheck().isEmpty)
            try store.close()
        }
    }
}
