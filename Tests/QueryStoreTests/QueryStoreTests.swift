import TestSupport
import DNSPipeline
import Foundation
import QueryStore
import Testing

@Suite struct QueryStoreTests {
    @Test("migrations apply on a fresh in-memory database")
    func freshInMemory() async throws {
        let store = try QueryStore.inMemory()
        #expect(try await store.appliedMigrations() == QueryStore.migrationNames)
        #expect(
            try await store.counts()
                == StoreCounts(events: 0, blockedEvents: 0, workloads: 0, oldestMicros: nil, newestMicros: nil))
        #expect(try await store.integrityCheck().isEmpty)
    }

    @Test("a file database opens in WAL mode with synchronous NORMAL and owner-only permissions")
    func fileDatabaseSettings() async throws {
        try await withTemporaryDirectory { dir in
            let path = dir + "/q.sqlite"
            let store = try QueryStore(path: path)
            #expect(try await store.pragma("journal_mode") == "wal")
            // 1 = NORMAL.
            #expect(try await store.writerPragma("synchronous") == "1")
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue
            #expect(mode == 0o600)
            try store.close()
        }
    }

    @Test("reopening a database keeps its data and does not re-run migrations")
    func reopen() async throws {
        try await withTemporaryDirectory { dir in
            let path = dir + "/q.sqlite"
            do {
                let store = try QueryStore(path: path)
                try await store.insert([makeEvent(), makeEvent(at: baseMicros + 1)])
                try store.close()
            }
            let reopened = try QueryStore(path: path)
            #expect(try await reopened.appliedMigrations() == QueryStore.migrationNames)
            #expect(try await reopened.counts().events == 2)
            try reopened.close()
        }
    }

    @Test("the store built from a configuration resolves its path in the data directory")
    func fromConfiguration() async throws {
        try await withTemporaryDirectory { dir in
            let store = try QueryStore(configuration: QueryStoreConfiguration(path: "log.db"), dataDirectory: dir)
            #expect(store.path == dir + "/log.db")
            #expect(FileManager.default.fileExists(atPath: dir + "/log.db"))
            try store.close()
        }
    }

    @Test("opening in a missing directory fails with openFailed naming the path")
    func missingDirectory() async throws {
        try await withTemporaryDirectory { dir in
            let path = dir + "/no/such/dir/q.sqlite"
            let error = #expect(throws: QueryStoreError.self) { try QueryStore(path: path) }
            #expect(error?.code == .openFailed)
            #expect(error?.message.contains(path) == true)
        }
    }

    @Test("opening a file that is not a database fails with a clear error, without crashing")
    func notADatabase() async throws {
        try await withTemporaryDirectory { dir in
            let path = dir + "/garbage.sqlite"
            try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: path))
            let error = #expect(throws: QueryStoreError.self) { try QueryStore(path: path) }
            #expect(error?.code == .openFailed || error?.code == .migrationFailed)
            #expect(error?.message.contains(path) == true)
        }
    }

    @Test("an event round-trips through the store with every field")
    func roundTrip() async throws {
        let store = try QueryStore.inMemory()
        let web = container("c0ffee", name: "web", labels: ["app": "shop", "tier": "front"])
        var event = makeEvent(
            at: baseMicros + 42, ip: "192.0.2.7", workload: web, qname: "Evil.Example.", qtype: "TXT",
            rcode: "NXDOMAIN", answers: ["\"quoted\\\" text\"", "line\nbreak"], source: "policy", upstream: nil,
            policy: blockHit, findings: [Finding(detector: "dga", score: 0.93, detail: "entropy 4.1", enforced: true)],
            latencyMicros: 777)
        event.otherNames = ["A.Evil.Example.", "b.evil.example."]
        try await store.insert([event])
        let page = try await store.search(EventFilter())
        let stored = try #require(page.events.first)
        var expected = event
        expected.qname = "evil.example"
        expected.otherNames = ["a.evil.example", "b.evil.example"]
        #expect(stored.event == expected)
        #expect(stored.workloadKey == "container:c0ffee")
        #expect(stored.event.blocked)
        #expect(page.next == nil)
    }

    @Test("a batch that fills multi-row statements and leaves a remainder stores every event, in order, field by field",
        arguments: [1, 15, 16, 17, 37, 48])
    func chunkedInsert(count: Int) async throws {
        let store = try QueryStore.inMemory()
        let web = container("c0ffee", name: "web")
        var events: [QueryEvent] = []
        for i in 0..<count {
            let blocked = i % 7 == 0
            let workload: Workload? = i % 3 == 0 ? web : nil
            let qtype = i % 2 == 0 ? "A" : "AAAA"
            let rcode = i % 5 == 0 ? "NXDOMAIN" : "NOERROR"
            events.append(makeEvent(at: baseMicros + Int64(i), ip: "192.0.2.\(i % 250)", workload: workload,
                qname: "n\(i).example.org", qtype: qtype, rcode: rcode, answers: ["192.0.2.\(i % 200)"],
                source: blocked ? "policy" : "upstream", policy: blocked ? blockHit : nil,
                latencyMicros: Int64(100 + i)))
        }
        try await store.insert(events)
        var filter = EventFilter()
        filter.limit = 100
        let stored: [StoredEvent] = try await store.search(filter).events
        // Newest first: reversed, they are the batch in order, each with its own fields.
        let oldestFirst: [StoredEvent] = stored.reversed()
        #expect(oldestFirst.map(\.event) == events, "\(count) events")
        let keys: [String?] = events.map { $0.workload == nil ? nil : "container:c0ffee" }
        #expect(oldestFirst.map(\.workloadKey) == keys)
    }

    @Test("empty text stays empty (not NULL) and non-ASCII text keeps its bytes through the writer's binding")
    func textBinding() async throws {
        let store = try QueryStore.inMemory()
        let hit = PolicyHit(source: "liste-été", rule: "*.bücher.example", action: "nxdomain", trigger: "qname")
        let event = makeEvent(
            at: baseMicros + 7, ip: "192.0.2.9", workload: nil, qname: "xn--bcher-kva.example.", qtype: "A",
            rcode: "NXDOMAIN", answers: ["", "TXT \"grüße\"", "TXT \"a\\\\b\"", "tab\tnew\nline\u{1}"], source: "policy",
            upstream: "", policy: hit,
            findings: [], latencyMicros: 1)
        try await store.insert([event, event])
        let page = try await store.search(EventFilter())
        #expect(page.events.count == 2)
        let stored = try #require(page.events.first)
        #expect(stored.event.upstream == "")
        #expect(stored.event.answers == ["", "TXT \"grüße\"", "TXT \"a\\\\b\"", "tab\tnew\nline\u{1}"])
        #expect(stored.event.policy == hit)
        #expect(stored.event.qname == "xn--bcher-kva.example")
    }
}

@Suite struct CrashSafetyTests {
    /// Copies the database and its -wal/-shm files as they are on disk at this instant: what a new process
    /// would find if this one were killed now.
    private static func snapshot(_ path: String, to copy: String) throws {
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
            try FileManager.default.copyItem(atPath: path + suffix, toPath: copy + suffix)
        }
    }

    @Test("a WAL database copied mid-transaction reopens intact with only committed rows")
    func crashMidTransaction() async throws {
        try await withTemporaryDirectory { dir in
            let path = dir + "/live.sqlite"
            let crashed = dir + "/crashed.sqlite"
            let store = try QueryStore(path: path)
            let committed = (0..<2_000).map {
                makeEvent(at: baseMicros + Int64($0), workload: container("a", name: "a"))
            }
            try await store.insert(committed)
            // Enough rows that SQLite spills uncommitted pages into the WAL before the copy is taken.
            let inFlight = (0..<40_000).map {
                makeEvent(at: baseMicros + 10_000 + Int64($0), qname: "inflight-\($0).example.org")
            }
            try store.insert(inFlight) {
                try Self.snapshot(path, to: crashed)
            }
            #expect(FileManager.default.fileExists(atPath: crashed + "-wal"))
            try store.close()

            let reopened = try QueryStore(path: crashed)
            #expect(try await reopened.integrityCheck().isEmpty)
            #expect(try await reopened.counts().events == committed.count)
            #expect(try await reopened.appliedMigrations() == QueryStore.migrationNames)
            // The recovered database is writable.
            try await reopened.insert([makeEvent(at: baseMicros + 99_999)])
            #expect(try await reopened.counts().events == committed.count + 1)
            try reopened.close()
        }
    }

    @Test("a database whose writer was dropped with events still queued reopens intact")
    func droppedWriter() async throws {
        try await withTemporaryDirectory { dir in
            let path = dir + "/q.sqlite"
            do {
                let store = try QueryStore(path: path)
                let writer = QueryLogWriter(
                    store: store, queueCapacity: 100, batchSize: 10, clock: ManualClock(), logger: quietLogger)
                for i in 0..<25 { writer.emit(makeEvent(at: baseMicros + Int64(i))) }
                await writer.flush()
                for i in 25..<30 { writer.emit(makeEvent(at: baseMicros + Int64(i))) }
                #expect(writer.statistics.queued == 5)
                // No flush, no close: the writer and store go away with 5 events still queued.
            }
            let reopened = try QueryStore(path: path)
            #expect(try await reopened.integrityCheck().isEmpty)
            #expect(try await reopened.counts().events == 25)
            try reopened.close()
        }
    }
}
