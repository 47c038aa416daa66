import DNSPipeline
import QueryStore
import Testing

/// Twelve events from four workloads and one unidentified client, over two hours. 192.0.2.10 belongs to the
/// `legacy` container first and to `shop-web` two hours later.
struct Dataset {
    static let legacy = container("old", name: "legacy")
    static let web = container("w1", name: "shop-web", labels: ["app": "shop"])
    static let db = container("d1", name: "shop-db")
    static let worker = Workload(kind: .pod, id: "p1", name: "batch/worker")

    static func at(_ minutes: Int64) -> Int64 { baseMicros + minutes * minuteMicros }

    /// (minute, ip, workload, qname, qtype, rcode, source, blocked)
    static let rows: [(Int64, String, Workload?, String, String, String, String, Bool)] = [
        (0, "192.0.2.10", legacy, "www.example.org", "A", "NOERROR", "upstream", false),  // 1
        (1, "192.0.2.10", legacy, "c2.evil.example", "A", "NXDOMAIN", "policy", true),  // 2
        (120, "192.0.2.10", web, "www.example.org", "AAAA", "NOERROR", "cache", false),  // 3
        (121, "192.0.2.10", web, "c2.evil.example", "A", "NXDOMAIN", "policy", true),  // 4
        (122, "192.0.2.11", db, "a.b.evil.example", "TXT", "NXDOMAIN", "policy", true),  // 5
        (123, "192.0.2.12", worker, "api.example.org", "A", "SERVFAIL", "failure", false),  // 6
        (124, "192.0.2.99", nil, "c2.evil.example", "A", "NXDOMAIN", "policy", true),  // 7
        (125, "192.0.2.99", nil, "evil.example", "A", "NOERROR", "upstream", false),  // 8
        (125, "192.0.2.11", db, "www.example.org", "A", "NOERROR", "upstream", false),  // 9 (same time as 8)
        (126, "192.0.2.12", worker, "a.xy.example.org", "A", "NOERROR", "upstream", false),  // 10
        (127, "192.0.2.10", web, "c2.evil.example", "A", "NXDOMAIN", "policy", true),  // 11
        (128, "192.0.2.10", web, "x.evil.example", "A", "NXDOMAIN", "policy", true),  // 12
    ]

    /// The dataset in a fresh store, inserted `chunk` rows per transaction into a store whose name index merges
    /// its tail at `mergeRows` events.
    static func store(mergeRows: Int = QueryStore.defaultNameIndexMergeRows, chunk: Int = 12) async throws -> QueryStore {
        let store = try QueryStore.inMemory(nameIndexMergeRows: mergeRows)
        let events = rows.map { r in
            makeEvent(
                at: at(r.0), ip: r.1, workload: r.2, qname: r.3, qtype: r.4, rcode: r.5, source: r.6,
                policy: r.7 ? blockHit : nil)
        }
        for start in stride(from: 0, to: events.count, by: chunk) {
            try await store.insert(Array(events[start..<min(start + chunk, events.count)]))
        }
        return store
    }
}

@Suite struct QueryStoreSearchTests {
    /// The 1-based dataset row numbers of a page, newest first.
    private func rows(_ page: EventPage) -> [Int] { page.events.map { Int($0.id) } }

    @Test("with no filter the newest events come first, ties broken by id")
    func newestFirst() async throws {
        let store = try await Dataset.store()
        #expect(self.rows(try await store.search(EventFilter())) == [12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1])
    }

    static let filterCases: [(EventFilter, [Int])] = [
            (EventFilter(workloadKey: "container:w1"), [12, 11, 4, 3]),
            (EventFilter(workloadKey: "pod:p1"), [10, 6]),
            (EventFilter(workloadName: "SHOP"), [12, 11, 9, 5, 4, 3]),
            (EventFilter(workloadName: "%"), []),
            (EventFilter(clientIP: "192.0.2.99"), [8, 7]),
            (EventFilter(qname: NamePattern("C2.Evil.Example.")), [11, 7, 4, 2]),
            (EventFilter(qname: NamePattern("*.evil.example")), [12, 11, 7, 5, 4, 2]),
            (EventFilter(qname: .subdomains(of: "b.evil.example")), [5]),
            (EventFilter(qname: .subdomains(of: "_y.example.org")), []),
            (EventFilter(qname: .subdomains(of: "xy.example.org")), [10]),
            (EventFilter(qtype: "aaaa"), [3]),
            (EventFilter(rcode: "nxdomain"), [12, 11, 7, 5, 4, 2]),
            (EventFilter(blockedOnly: true), [12, 11, 7, 5, 4, 2]),
            (EventFilter(source: "cache"), [3]),
            (EventFilter(fromMicros: Dataset.at(120), untilMicros: Dataset.at(123)), [5, 4, 3]),
            (EventFilter(workloadKey: "container:w1", blockedOnly: true, fromMicros: Dataset.at(121)), [12, 11, 4]),
            (EventFilter(workloadName: "shop", qname: .exact("www.example.org")), [9, 3]),
            (EventFilter(qname: .exact("c2.evil.example"), fromMicros: Dataset.at(121), untilMicros: Dataset.at(127)), [7, 4]),
            (EventFilter(qname: .subdomains(of: "example.org"), before: EventCursor(timestampMicros: Dataset.at(125), id: 9)), [6, 3, 1]),
            (EventFilter(qname: .subdomains(of: "."), limit: 3), [12, 11, 10]),
        ]

    @Test("each filter narrows the result", arguments: Self.filterCases)
    func filters(filter: EventFilter, expected: [Int]) async throws {
        let store = try await Dataset.store()
        #expect(self.rows(try await store.search(filter)) == expected)
    }

    /// The name index answers from its sorted part, its tail or both (``QueryStore/nameIndexMergeRows``): every
    /// event merged, 8 merged and the last 4 in the tail, every event in the tail.
    @Test("a name search finds the same events wherever they are in the name index", arguments: [(1, 12), (5, 4), (100, 12)])
    func filtersAcrossTheNameIndex(mergeRows: Int, chunk: Int) async throws {
        let store = try await Dataset.store(mergeRows: mergeRows, chunk: chunk)
        for (filter, expected) in Self.filterCases where filter.qname != nil {
            #expect(self.rows(try await store.search(filter)) == expected, "\(filter)")
        }
        let merged = try await store.nameIndexCounts()
        #expect(merged.sorted == [1: 12, 5: 8, 100: 0][mergeRows])
        #expect(merged.tail == 12 - merged.sorted)
    }

    @Test("keyset pagination visits every event once, across a timestamp tie", arguments: [1, 2, 3, 5, 12])
    func pagination(pageSize: Int) async throws {
        let store = try await Dataset.store()
        var filter = EventFilter(limit: pageSize)
        var seen: [Int] = []
        var pages = 0
        while true {
            let page = try await store.search(filter)
            pages += 1
            #expect(page.events.count <= pageSize)
            seen += self.rows(page)
            guard let next = page.next else { break }
            filter.before = next
        }
        #expect(seen == [12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1])
        #expect(pages == (12 + pageSize - 1) / pageSize)
    }

    @Test("a cursor survives its text form")
    func cursorText() throws {
        let cursor = EventCursor(timestampMicros: baseMicros, id: 42)
        #expect(EventCursor(cursor.description) == cursor)
        #expect(EventCursor("12-x") == nil)
        #expect(EventCursor("-1-2") == nil)
        #expect(EventCursor("") == nil)
    }

    @Test("the page size is clamped to 1…1000")
    func limitClamped() async throws {
        let store = try await Dataset.store()
        #expect(try await store.search(EventFilter(limit: 0)).events.count == 1)
        #expect(try await store.search(EventFilter(limit: -5)).events.count == 1)
        #expect(try await store.search(EventFilter(limit: 1_000_000)).events.count == 12)
    }

    @Test("events keep the workload they had when asked, even after the IP passes to another container")
    func identityHistory() async throws {
        let store = try await Dataset.store()
        let page = try await store.search(EventFilter(clientIP: "192.0.2.10"))
        let names = page.events.map { $0.event.workload?.name }
        #expect(names == ["shop-web", "shop-web", "shop-web", "shop-web", "legacy", "legacy"])
        #expect(page.events.last?.workloadKey == "container:old")
        #expect(page.events.first?.event.workload?.labels == ["app": "shop"])
        // Unidentified clients stay unidentified.
        let anonymous = try await store.search(EventFilter(clientIP: "192.0.2.99"))
        #expect(anonymous.events.allSatisfy { $0.event.workload == nil && $0.workloadKey == nil })
    }

    @Test("the blocked summary groups by workload, and unidentified clients by address")
    func blockedSummary() async throws {
        let store = try await Dataset.store()
        let summary = try await store.blockedSummary(sinceMicros: Dataset.at(120))
        #expect(summary.count == 3)
        guard summary.count == 3 else { return }
        guard case .workload(let web) = summary[0].subject else {
            Issue.record("first row is not a workload: \(summary[0])")
            return
        }
        #expect(web.key == "container:w1")
        #expect(web.workload.name == "shop-web")
        #expect(summary[0].blockedQueries == 3)
        #expect(summary[0].distinctNames == 2)
        #expect(summary[0].lastBlockedMicros == Dataset.at(128))
        #expect(summary[1].subject == .client("192.0.2.99"))
        #expect(summary[1].blockedQueries == 1)
        #expect(summary[1].lastBlockedMicros == Dataset.at(124))
        guard case .workload(let db) = summary[2].subject else {
            Issue.record("third row is not a workload: \(summary[2])")
            return
        }
        #expect(db.workload.name == "shop-db")
        // From the start the legacy container appears too.
        #expect(try await store.blockedSummary(sinceMicros: baseMicros).count == 4)
        #expect(try await store.blockedSummary(sinceMicros: baseMicros, limit: 2).count == 2)
    }

    @Test("the top blocked domains are ranked by blocked queries")
    func topBlockedDomains() async throws {
        let store = try await Dataset.store()
        let top = try await store.topBlockedDomains(sinceMicros: baseMicros, limit: 10)
        #expect(
            top == [
                DomainCount(qname: "c2.evil.example", queries: 4, workloads: 2, lastSeenMicros: Dataset.at(127)),
                DomainCount(qname: "a.b.evil.example", queries: 1, workloads: 1, lastSeenMicros: Dataset.at(122)),
                DomainCount(qname: "x.evil.example", queries: 1, workloads: 1, lastSeenMicros: Dataset.at(128)),
            ])
        #expect(try await store.topBlockedDomains(sinceMicros: baseMicros, limit: 1).count == 1)
    }

    @Test("the top workloads are ranked by queries, with blocked counts")
    func topWorkloads() async throws {
        let store = try await Dataset.store()
        let top = try await store.topWorkloads(sinceMicros: Dataset.at(120), limit: 10)
        let summary = top.map { row -> String in
            switch row.subject {
            case .workload(let w): "\(w.workload.name) \(row.queries)/\(row.blocked)"
            case .client(let ip): "\(ip) \(row.queries)/\(row.blocked)"
            }
        }
        #expect(summary == ["shop-web 4/3", "shop-db 2/1", "batch/worker 2/0", "192.0.2.99 2/1"])
    }

    @Test("the time series has one bucket per interval, empty ones included")
    func timeSeries() async throws {
        let store = try await Dataset.store()
        let fine = try await store.timeSeries(
            sinceMicros: Dataset.at(120), untilMicros: Dataset.at(130), bucket: .seconds(300))
        #expect(
            fine == [
                TimeBucket(startMicros: Dataset.at(120), queries: 5, blocked: 3),
                TimeBucket(startMicros: Dataset.at(125), queries: 5, blocked: 2),
            ])
        // Without an end, the series runs to the newest event.
        #expect(try await store.timeSeries(sinceMicros: Dataset.at(120), bucket: .seconds(300)) == fine)
        let hourly = try await store.timeSeries(
            sinceMicros: baseMicros, untilMicros: Dataset.at(130), bucket: .seconds(3600))
        #expect(
            hourly == [
                TimeBucket(startMicros: baseMicros, queries: 2, blocked: 1),
                TimeBucket(startMicros: Dataset.at(60), queries: 0, blocked: 0),
                TimeBucket(startMicros: Dataset.at(120), queries: 10, blocked: 5),
            ])
    }

    @Test("the time series rejects a sub-millisecond bucket and too many buckets")
    func timeSeriesLimits() async throws {
        let store = try await Dataset.store()
        let tiny = await #expect(throws: QueryStoreError.self) {
            try await store.timeSeries(sinceMicros: baseMicros, bucket: .microseconds(10))
        }
        #expect(tiny?.code == .invalidArgument)
        let many = await #expect(throws: QueryStoreError.self) {
            try await store.timeSeries(sinceMicros: 0, untilMicros: baseMicros, bucket: .seconds(1))
        }
        #expect(many?.code == .invalidArgument)
    }

    @Test("workloads lists identities active since a time, most recent first")
    func workloads() async throws {
        let store = try await Dataset.store()
        let active = try await store.workloads(activeSinceMicros: Dataset.at(120))
        #expect(active.map(\.workload.name) == ["shop-web", "batch/worker", "shop-db"])
        #expect(active.first?.firstSeenMicros == Dataset.at(120))
        #expect(try await store.workloads(activeSinceMicros: 0).count == 4)
    }

    @Test("counts covers events, blocks, workloads and the time span")
    func counts() async throws {
        let store = try await Dataset.store()
        #expect(
            try await store.counts()
                == StoreCounts(
                    events: 12, blockedEvents: 6, workloads: 4, oldestMicros: baseMicros, newestMicros: Dataset.at(128))
        )
    }
}

@Suite struct StoredNameTests {
    @Test(
        "names are stored lower case without the trailing dot",
        arguments: [
            ("WWW.Example.ORG.", "www.example.org"),
            ("www.example.org", "www.example.org"),
            (".", "."),
            ("", ""),
        ])
    func normalize(input: String, expected: String) {
        #expect(StoredName.normalize(input) == expected)
    }

    @Test(
        "labels are reversed for the name index, keeping escaped dots inside their label",
        arguments: [
            ("www.example.org", "org.example.www"),
            ("example", "example"),
            (".", "."),
            ("a\\.b.example", "example.a\\.b"),
            ("trailing\\", "trailing\\"),
        ])
    func reversed(input: String, expected: String) {
        #expect(StoredName.reversed(input) == expected)
    }

    @Test("the subdomain range holds exactly the names below the domain")
    func subdomainRange() {
        let range = StoredName.subdomainRange(of: "example.org")
        for inside in ["a.example.org", "a.b.example.org", "-.example.org", "~.example.org"] {
            let rev = StoredName.reversed(inside)
            #expect(rev >= range.lower && rev < range.upper, "\(inside) should be inside")
        }
        for outside in ["example.org", "badexample.org", "example.org0", "a.example.net", "org"] {
            let rev = StoredName.reversed(outside)
            #expect(!(rev >= range.lower && rev < range.upper), "\(outside) should be outside")
        }
    }
}

@Suite struct QueryPlanTests {
    /// Each indexed filter must search its index, never scan the table: at 10 M rows a wrong plan is the
    /// difference between milliseconds and seconds.
    @Test(
        "each indexed search uses its index",
        arguments: [
            (EventFilter(workloadKey: "container:w1", fromMicros: 1, untilMicros: 2), "events_workload_ts"),
            (EventFilter(workloadKey: "container:w1"), "events_workload_ts"),
            (EventFilter(blockedOnly: true, fromMicros: 1), "events_blocked_ts"),
            (EventFilter(fromMicros: 1), "events_ts"),
            (EventFilter(), "events_ts"),
            (EventFilter(before: EventCursor(timestampMicros: 5, id: 5)), "events_ts"),
        ])
    func usesIndex(filter: EventFilter, index: String) async throws {
        let store = try await Dataset.store()
        let plan = try await store.searchPlan(filter)
        #expect(plan.contains { $0.contains("INDEX \(index) ") || $0.hasSuffix("INDEX \(index)") }, "\(plan)")
    }

    /// A name search probes the sorted part of the name index hour by hour, reads the tail by rowid range and
    /// reads each candidate's row by rowid; no table or index is scanned whole.
    @Test(
        "a name search probes the name index and the tail, never scans",
        arguments: [
            EventFilter(qname: .exact("www.example.org")),
            EventFilter(qname: .subdomains(of: "example.org")),
            EventFilter(qname: .subdomains(of: "example.org"), qtype: "A"),
            EventFilter(workloadKey: "container:w1", qname: .exact("www.example.org"), fromMicros: 1),
            EventFilter(qname: .subdomains(of: "example.org"), before: EventCursor(timestampMicros: 5, id: 5)),
        ])
    func nameSearchPlan(filter: EventFilter) async throws {
        let store = try await Dataset.store()
        let plan = try await store.searchPlan(filter)
        #expect(plan.contains { $0.hasPrefix("SEARCH n USING PRIMARY KEY (hour=? AND qname_rev") }, "\(plan)")
        #expect(plan.contains { $0.hasPrefix("SEARCH t USING INTEGER PRIMARY KEY (rowid>?)") }, "\(plan)")
        #expect(plan.contains { $0.hasPrefix("SEARCH e USING INTEGER PRIMARY KEY (rowid=?)") }, "\(plan)")
        let scans = plan.filter { line in ["e", "n", "t"].contains { line == "SCAN \($0)" || line.hasPrefix("SCAN \($0) ") } }
        #expect(scans.isEmpty, "\(plan)")
    }
}

@Suite struct SuffixSearchTests {
    /// With the default merge size every event is in the name index's tail; with 5 000, 10 000 are merged (in two
    /// merges) and 2 000 are in the tail.
    @Test(
        "a suffix search picks its page from the name index alone, and pages correctly",
        arguments: [QueryStore.defaultNameIndexMergeRows, 5_000])
    func suffixPages(mergeRows: Int) async throws {
        let store = try QueryStore.inMemory(nameIndexMergeRows: mergeRows)
        // 12 000 events under common.example, every 7th under rare.example instead, in time order, 1 000 a batch.
        let events = (0..<12_000).map { i in
            makeEvent(
                at: baseMicros + Int64(i) * 1_000,
                qname: i.isMultiple(of: 7) ? "h\(i).rare.example" : "h\(i).common.example")
        }
        for start in stride(from: 0, to: events.count, by: 1_000) {
            try await store.insert(Array(events[start..<start + 1_000]))
        }
        #expect(try await store.nameIndexCounts().tail == (mergeRows == 5_000 ? 2_000 : 12_000))
        let common = EventFilter(qname: NamePattern("*.common.example"), limit: 50)
        let rare = EventFilter(qname: NamePattern("*.rare.example"), limit: 50)
        let plan = try await store.searchPlan(common)
        #expect(plan.contains { $0.hasPrefix("SEARCH n USING PRIMARY KEY (hour=? AND qname_rev>? AND qname_rev<?)") }, "\(plan)")
        // The page is picked from the candidates (a sort of (ts_us, id) pairs) before any row is read.
        #expect(plan.contains("CO-ROUTINE k"), "\(plan)")
        // An exact name too: its candidates come hour by hour, not in time order.
        #expect(try await store.searchPlan(EventFilter(qname: .exact("h1.rare.example"))).contains("CO-ROUTINE k"))
        // With a condition the index does not hold, the plain form is used.
        let mixed = try await store.searchPlan(EventFilter(qname: NamePattern("*.common.example"), qtype: "A"))
        #expect(!mixed.contains("CO-ROUTINE k"), "\(mixed)")

        for (filter, suffix, total) in [(common, ".common.example", 10_285), (rare, ".rare.example", 1_715)] {
            var page = try await store.search(filter)
            var seen = page.events
            while let next = page.next {
                var f = filter
                f.before = next
                page = try await store.search(f)
                seen += page.events
            }
            #expect(seen.count == total)
            #expect(seen.allSatisfy { $0.event.qname.hasSuffix(suffix) })
            let times = seen.map(\.event.timestampMicros)
            #expect(times == times.sorted(by: >))
            #expect(Set(seen.map(\.id)).count == seen.count)
            // The newest matching event comes first.
            let newest = (0..<12_000).last { ($0.isMultiple(of: 7)) == (suffix == ".rare.example") } ?? 0
            #expect(seen.first?.event.timestampMicros == baseMicros + Int64(newest) * 1_000)
        }
        // A time range and a cursor combine with the suffix.
        let window = EventFilter(
            qname: NamePattern("*.rare.example"), fromMicros: baseMicros + 7_000_000,
            untilMicros: baseMicros + 8_000_000, limit: 1_000)
        let inWindow = try await store.search(window)
        #expect(inWindow.events.count == 143)
        #expect(
            inWindow.events.allSatisfy {
                (baseMicros + 7_000_000..<baseMicros + 8_000_000).contains($0.event.timestampMicros)
            })
    }
}
