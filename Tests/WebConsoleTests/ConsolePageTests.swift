import DNSPipeline
import DNSPolicy
import Foundation
import Hummingbird
import HummingbirdTesting
import QueryStore
import Testing
import TestSupport

@testable import WebConsole

/// The console's pages through the router, with events written by the real ``QueryStore/insert(_:)``.
@Suite struct ConsolePageTests {
    /// 2026-11-29T07:00:00Z: every event's age is counted back from here.
    static let now: Int64 = 1_795_935_600_000_000

    static let web = Workload(
        kind: .static, id: "web-1", name: "web-1", image: "registry.example.org/web:1.4",
        labels: ["team": "payments", "env": "prod"])
    static let batch = Workload(kind: .container, id: "3f2a9c", name: "batch-7", image: "localhost/batch:2")
    static let urlhaus = PolicyHit(source: "urlhaus", rule: "*.evil.example", action: "nxdomain", trigger: "qname")
    static let adsList = PolicyHit(source: "ads.list", rule: "tracker.example.net", action: "nxdomain", trigger: "list")

    /// One logged query `ageSeconds` before ``now``; blocked when `hit` is given.
    static func event(_ ageSeconds: Int64, _ workload: Workload?, ip: String, _ qname: String, qtype: String = "A",
        hit: PolicyHit? = nil) -> QueryEvent
    {
        QueryEvent(
            timestampMicros: Self.now - ageSeconds * 1_000_000, clientIP: ip, transport: "udp", workload: workload,
            qname: qname, qtype: qtype, rcode: hit == nil ? "NOERROR" : "NXDOMAIN",
            answers: hit == nil ? ["192.0.2.1"] : [], source: hit == nil ? "upstream" : "policy",
            upstream: hit == nil ? "127.0.0.1:53" : nil, policy: hit, findings: [], latencyMicros: 420)
    }

    /// The standard data set: two workloads, an unidentified client, blocks in the last hour and one 3 h ago.
    static func standardEvents() -> [QueryEvent] {
        var events: [QueryEvent] = []
        for i in 0..<20 { events.append(Self.event(Int64(i) * 60 + 30, Self.web, ip: "10.89.0.5", "www.example.org")) }
        for i in 0..<3 {
            events.append(Self.event(330 + Int64(i), Self.web, ip: "10.89.0.5", "c2.evil.example", hit: Self.urlhaus))
        }
        for i in 0..<5 { events.append(Self.event(Int64(i) * 90 + 10, Self.batch, ip: "10.89.0.6", "api.example.org")) }
        events.append(Self.event(200, Self.batch, ip: "10.89.0.6", "tracker.example.net", hit: Self.adsList))
        events.append(Self.event(100, nil, ip: "192.0.2.99", "www.example.org", qtype: "AAAA"))
        events.append(Self.event(120, nil, ip: "192.0.2.99", "miner.evil.example", hit: Self.urlhaus))
        events.append(Self.event(3 * 3600, Self.web, ip: "10.89.0.5", "old-c2.evil.example", hit: Self.urlhaus))
        // Oldest first, as the writer would hand them over.
        return events.sorted { $0.timestampMicros < $1.timestampMicros }
    }

    struct Page {
        var status: HTTPResponse.Status
        var headers: HTTPFields
        var body: String
    }

    /// Serves the console over `store` and `feeds` and fetches `paths` in order.
    static func get(_ paths: [String], store: QueryStore?, feeds: [PolicySourceStatus] = [],
        quarantine: (@Sendable (String) async -> ConsoleQuarantineState?)? = nil) async throws -> [Page]
    {
        let router = Router(context: BasicRequestContext.self)
        let now = Self.now
        ConsoleRoutes.register(
            on: router, sources: ConsoleDataSources(store: store, feeds: { feeds }, now: { now }, quarantine: quarantine))
        let app = Application(router: router)
        return try await app.test(.router) { client in
            var pages: [Page] = []
            for path in paths {
                pages.append(
                    try await client.execute(uri: path, method: .get) { response in
                        Page(status: response.status, headers: response.headers, body: String(buffer: response.body))
                    })
            }
            return pages
        }
    }

    /// A store holding ``standardEvents()`` plus `extra`.
    static func store(_ extra: [QueryEvent] = []) async throws -> QueryStore {
        let store = try QueryStore.inMemory()
        try await store.insert(Self.standardEvents() + extra)
        return store
    }

    @Test("The dashboard lists who was blocked, the names and the feed and rule, with unknown clients by address")
    func dashboardBlockedSummary() async throws {
        let page = try #require(try await Self.get(["/?range=1h"], store: try await Self.store()).first)
        #expect(page.status == .ok)
        let blocked = try #require(Self.section("blocked", of: page.body), "no blocked section:\n\(page.body)")
        for expected in [
            "web-1", "registry.example.org/web:1.4", "env=prod", "team=payments", "c2.evil.example", "×3",
            "<span class=\"feed\">urlhaus</span>: <span class=\"rule\">*.evil.example</span>",
            "batch-7", "tracker.example.net", "<span class=\"feed\">ads.list</span>",
            "unknown (192.0.2.99)", "miner.evil.example",
        ] {
            #expect(blocked.contains(expected), "blocked summary lacks \(expected):\n\(blocked)")
        }
        // Three hours old: outside the last hour.
        #expect(!page.body.contains("old-c2.evil.example"))
        // web-1 has the most blocks, so it comes first.
        let webAt = try #require(blocked.range(of: "web-1")?.lowerBound)
        let batchAt = try #require(blocked.range(of: "batch-7")?.lowerBound)
        #expect(webAt < batchAt)
        #expect(page.body.contains("href=\"/workloads/static%3Aweb-1\""))
        // The unknown client links to its queries in the same window (the address filter has no index).
        #expect(blocked.contains("href=\"/search?client_ip=192.0.2.99&amp;from=-1h\">unknown (192.0.2.99)</a>"))
    }

    @Test("The dashboard's range picker widens the window to 24 hours and 7 days")
    func dashboardRanges() async throws {
        let pages = try await Self.get(["/", "/?range=24h", "/?range=7d", "/?range=1h"], store: try await Self.store())
        #expect(pages.map(\.status) == [.ok, .ok, .ok, .ok])
        #expect(pages[0].body.contains("old-c2.evil.example"), "the default range is 24 hours")
        #expect(pages[1].body.contains("old-c2.evil.example"))
        #expect(pages[2].body.contains("old-c2.evil.example"))
        #expect(!pages[3].body.contains("old-c2.evil.example"))
        #expect(pages[1].body.contains("<a href=\"/?range=24h\" aria-current=\"true\" class=\"on\">24h</a>"))
        // Totals: 31 queries in the last hour (the 3-hour-old one excluded), 5 blocked.
        #expect(pages[3].body.contains("<div class=\"value\">31</div><div class=\"what\">queries in the last hour"))
        #expect(pages[3].body.contains("<div class=\"value\">5</div><div class=\"what\">blocked queries"))
    }

    @Test("The dashboard draws the time series as inline SVG, one bar group per bucket, with totals in tooltips")
    func dashboardChart() async throws {
        let page = try #require(try await Self.get(["/?range=1h"], store: try await Self.store()).first)
        let chart = try #require(Self.section("traffic", of: page.body))
        #expect(chart.contains("<svg class=\"chart timeseries\""))
        // 60 one-minute buckets from the window start, plus the partial one holding "now".
        let groups = chart.components(separatedBy: "<g><title>").count - 1
        #expect(groups == 61, "\(groups) buckets")
        #expect(chart.contains("11-29 06:59–07:00 UTC: 2 queries, 0 blocked"), "web-1 at 06:59:30, batch-7 at 06:59:50")
        #expect(chart.contains("class=\"b\""), "blocked bars are drawn")
        // The three c2 blocks (330–332 s ago) fall in the 06:54 minute together with one web query.
        #expect(chart.contains("11-29 06:54–06:55 UTC: 4 queries, 3 blocked"), "\(chart)")
    }

    @Test("Top blocked names and busiest workloads are ranked with bars")
    func dashboardTopLists() async throws {
        let page = try #require(try await Self.get(["/?range=1h"], store: try await Self.store()).first)
        let domains = try #require(Self.section("top-blocked", of: page.body))
        #expect(domains.contains("href=\"/search?name=c2.evil.example&amp;blocked=true&amp;from=-1h\""), "\(domains)")
        let c2 = try #require(domains.range(of: "c2.evil.example")?.lowerBound)
        let tracker = try #require(domains.range(of: "tracker.example.net")?.lowerBound)
        #expect(c2 < tracker, "3 blocks rank above 1")
        #expect(domains.contains("<svg class=\"bar\""))
        let workloads = try #require(Self.section("top-workloads", of: page.body))
        let web = try #require(workloads.range(of: "web-1")?.lowerBound)
        let batch = try #require(workloads.range(of: "batch-7")?.lowerBound)
        let unknown = try #require(workloads.range(of: "unknown (192.0.2.99)")?.lowerBound)
        #expect(web < batch && batch < unknown, "ordered by queries: 23, 6, 2")
    }

    @Test("Attacker-chosen names, labels and images are escaped in text and attributes")
    func escaping() async throws {
        let hostile = Workload(
            kind: .container, id: "abc\"def", name: "<img src=x onerror=alert(1)>", image: "evil\"><script>x</script>",
            labels: ["x\"><script>": "'v'"])
        let hit = PolicyHit(source: "feed<b>", rule: "\"><script>alert(2)</script>", action: "nxdomain", trigger: "qname")
        let qname = "<script>alert(\"q\")</script>.evil.example"
        let store = try await Self.store([
            Self.event(60, hostile, ip: "10.89.0.9", qname, hit: hit),
            Self.event(61, hostile, ip: "10.89.0.9", "x'\"&<>.example"),
        ])
        let key = ConsoleURL.encode("container:abc\"def")
        let pages = try await Self.get(
            ["/?range=1h", "/workloads", "/workloads/\(key)", "/search?blocked=true", "/search?name=%3Cscript%3E"],
            store: store)
        for page in pages {
            #expect(page.status == .ok, "\(page.body)")
            #expect(!page.body.contains("<script>"), "unescaped script tag:\n\(page.body)")
            #expect(!page.body.contains("<img"), "unescaped img tag")
            #expect(!page.body.contains("\"><script"), "a value broke out of an attribute")
            #expect(!page.body.contains("abc\"def"), "a quote in a key reached an attribute unescaped")
        }
        #expect(pages[0].body.contains("&lt;script&gt;alert(&quot;q&quot;)&lt;/script&gt;.evil.example"))
        #expect(pages[0].body.contains("&lt;img src=x onerror=alert(1)&gt;"))
        #expect(pages[0].body.contains("feed&lt;b&gt;"))
        #expect(pages[0].body.contains("&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;"))
        #expect(pages[1].body.contains("evil&quot;&gt;&lt;script&gt;x&lt;/script&gt;"))
        #expect(pages[1].body.contains("x&quot;&gt;&lt;script&gt;=&#39;v&#39;"))
        #expect(pages[2].body.contains("<h1>&lt;img src=x onerror=alert(1)&gt;</h1>"))
        #expect(pages[3].body.contains("&lt;script&gt;alert(&quot;q&quot;)&lt;/script&gt;.evil.example"))
        // The search form echoes the hostile value back inside an attribute, escaped.
        #expect(pages[4].body.contains("value=\"&lt;script&gt;\""))
    }

    @Test("Every page carries the Content-Security-Policy and nosniff, and loads nothing from elsewhere")
    func securityHeaders() async throws {
        let paths = ["/", "/workloads", "/workloads/static%3Aweb-1", "/search", "/feeds", "/search?limit=0",
            "/workloads/nope", "/console.css", "/console.js"]
        let pages = try await Self.get(paths, store: try await Self.store())
        for (path, page) in zip(paths, pages) {
            #expect(page.headers[.contentSecurityPolicy] == ConsoleRoutes.contentSecurityPolicy, "\(path)")
            #expect(page.headers[.xContentTypeOptions] == "nosniff", "\(path)")
            for external in ["http://", "https://", "src=\"//", "href=\"//", "@import", "url("] {
                #expect(!page.body.contains(external), "\(path) refers to \(external)")
            }
            if path.hasPrefix("/console.") { continue }
            #expect(page.headers[.contentType] == "text/html; charset=utf-8", "\(path)")
            #expect(!page.body.contains("style=\""), "\(path): inline styles are blocked by the CSP")
            #expect(!page.body.contains("<style"), "\(path)")
            #expect(!page.body.contains("<script>"), "\(path): inline script is blocked by the CSP")
        }
        #expect(ConsoleRoutes.contentSecurityPolicy.hasPrefix("default-src 'self';"))
        #expect(!ConsoleRoutes.contentSecurityPolicy.contains("unsafe-inline"))
        #expect(pages[7].headers[.contentType] == "text/css; charset=utf-8")
        #expect(pages[7].body.contains("svg .b"))
    }

    @Test("Bad parameters give a 400 page naming the parameter, never a crash", arguments: [
        ("/?range=2h", "range"),
        ("/workloads?range=forever", "range"),
        ("/workloads/static%3Aweb-1?range=x", "range"),
        ("/search?from=yesterday", "from"),
        ("/search?until=2026-02-30T00:00:00Z", "until"),
        ("/search?from=-1h&until=-2h", "until"),
        ("/search?limit=0", "limit"),
        ("/search?limit=100000", "limit"),
        ("/search?limit=ten", "limit"),
        ("/search?before=abc", "before"),
        ("/search?before=-1-2", "before"),
        ("/search?client_ip=999.1.1.1", "client_ip"),
        ("/search?qtype=A%3Cscript%3E", "qtype"),
        ("/search?rcode=NX%20DOMAIN", "rcode"),
        ("/search?blocked=maybe", "blocked"),
        ("/search?name=a%20b", "name"),
        ("/workloads/%ZZ", "key"),
    ])
    func badParameters(path: String, parameter: String) async throws {
        let page = try #require(try await Self.get([path], store: try await Self.store()).first)
        #expect(page.status == .badRequest, "\(path): \(page.status)")
        #expect(page.body.contains("<h1>Bad request</h1>"))
        #expect(page.body.contains("The parameter \u{201C}\(parameter)\u{201D}"), "\(page.body)")
        #expect(page.headers[.contentSecurityPolicy] != nil)
    }

    @Test("A bad value is echoed escaped in the error page")
    func badParameterEscaped() async throws {
        let page = try #require(try await Self.get(["/search?from=%3Cscript%3Ealert(1)"], store: try await Self.store()).first)
        #expect(page.status == .badRequest)
        #expect(page.body.contains("&quot;&lt;script&gt;alert(1)&quot;"), "\(page.body)")
        #expect(!page.body.contains("<script>"))
    }

    @Test("Search filters by blocked, name, type, workload and client, and says when nothing matches")
    func searchFilters() async throws {
        let store = try await Self.store()
        let pages = try await Self.get([
            "/search?blocked=true&from=-1h",
            "/search?name=*.evil.example",
            "/search?qtype=aaaa",
            "/search?workload=static%3Aweb-1&blocked=on",
            "/search?workload_name=batch",
            "/search?client_ip=192.0.2.99",
            "/search?name=nothing.example",
            "/search?rcode=nxdomain&from=2026-11-29T06:00:00Z&until=2026-11-29T07:00:01Z",
        ], store: store)
        #expect(pages.allSatisfy { $0.status == .ok })
        func names(_ page: Page) -> [String] {
            page.body.components(separatedBy: "<td><span class=\"qname\">").dropFirst().compactMap {
                $0.components(separatedBy: "</span>").first
            }
        }
        #expect(Set(names(pages[0])) == ["c2.evil.example", "tracker.example.net", "miner.evil.example"])
        #expect(names(pages[0]).count == 5)
        #expect(Set(names(pages[1])) == ["c2.evil.example", "miner.evil.example", "old-c2.evil.example"])
        #expect(names(pages[2]) == ["www.example.org"])
        #expect(Set(names(pages[3])) == ["c2.evil.example", "old-c2.evil.example"])
        #expect(Set(names(pages[4])) == ["api.example.org", "tracker.example.net"])
        #expect(names(pages[4]).count == 6)
        #expect(Set(names(pages[5])) == ["www.example.org", "miner.evil.example"])
        #expect(pages[6].body.contains("No queries match."))
        #expect(names(pages[7]).count == 5, "the 3-hour-old block is outside the window")
        // Blocked rows are marked and show the feed and rule.
        #expect(pages[0].body.contains("<tr class=\"blocked\">"))
        #expect(pages[0].body.contains("<span class=\"rcode-blocked\">NXDOMAIN</span>"))
        // The form keeps what was asked.
        #expect(pages[1].body.contains("name=\"name\" value=\"*.evil.example\""))
        #expect(pages[3].body.contains("name=\"blocked\" value=\"true\" checked"))
    }

    @Test("Search pages through older results with the cursor and keeps the filters")
    func searchPaging() async throws {
        var extra: [QueryEvent] = []
        for i in 0..<150 { extra.append(Self.event(1000 + Int64(i), Self.batch, ip: "10.89.0.6", "page\(i).example.org")) }
        let store = try await Self.store(extra)
        let first = try #require(try await Self.get(["/search?name=*.example.org&workload_name=batch&limit=100"],
            store: store).first)
        #expect(first.status == .ok)
        let rows = first.body.components(separatedBy: "<td><span class=\"qname\">").count - 1
        #expect(rows == 100)
        let older = try #require(Self.link(rel: "next", in: first.body), "no Older link")
        #expect(older.contains("workload_name=batch"))
        #expect(older.contains("limit=100"))
        #expect(older.contains("before="))
        let second = try #require(try await Self.get([older], store: store).first)
        #expect(second.status == .ok)
        let rows2 = second.body.components(separatedBy: "<td><span class=\"qname\">").count - 1
        // 150 paging events + 5 api.example.org queries of batch-7 = 155, of which 100 were on the first page.
        #expect(rows2 == 55)
        #expect(Self.link(rel: "next", in: second.body) == nil, "the last page has no Older link")
        #expect(second.body.contains(">Newest</a>"))
        #expect(!second.body.contains("page0.example.org"), "the first page's rows do not repeat")
        #expect(second.body.contains("page149.example.org"), "the oldest event is on the last page")
    }

    @Test("The workload page shows identity, a timeline of its own queries and blocks, and its blocked names")
    func workloadPage() async throws {
        let pages = try await Self.get(["/workloads/static%3Aweb-1?range=1h", "/workloads/static:web-1?range=24h"],
            store: try await Self.store())
        let page = pages[0]
        #expect(page.status == .ok)
        for expected in ["<h1>web-1</h1>", "<code>registry.example.org/web:1.4</code>", "env=prod", "team=payments",
            "<code>static:web-1</code>", "Quarantine",
            "<span>23 queries, 3 blocked</span>",
        ] {
            #expect(page.body.contains(expected), "lacks \(expected)")
        }
        let timeline = try #require(Self.section("timeline", of: page.body))
        #expect(timeline.contains("<svg class=\"chart timeseries\""))
        #expect(timeline.contains("06:54–06:55 UTC: 4 queries, 3 blocked"), "\(timeline)")
        let blocked = try #require(Self.section("blocked-names", of: page.body))
        #expect(blocked.contains("c2.evil.example"))
        #expect(blocked.contains("<span class=\"rule\">*.evil.example</span>"))
        // Only its own queries: nothing of batch-7 or the unknown client.
        #expect(!page.body.contains("tracker.example.net"))
        #expect(!page.body.contains("miner.evil.example"))
        #expect(pages[1].status == .ok)
        #expect(pages[1].body.contains("<span>24 queries, 4 blocked</span>"), "24 h includes the 3-hour-old block")
    }

    @Test("A log entry that folds identical queries counts as all of them")
    func foldedCounts() async throws {
        var folded = Self.event(600, Self.batch, ip: "10.89.0.6", "beacon.evil.example", hit: Self.urlhaus)
        folded.count = 40
        let pages = try await Self.get(
            ["/?range=1h", "/workloads/container%3A3f2a9c?range=1h", "/search?name=beacon.evil.example"],
            store: try await Self.store([folded]))
        #expect(pages.map(\.status) == [.ok, .ok, .ok])
        // 31 + 40 queries, 5 + 40 blocked.
        #expect(pages[0].body.contains("<div class=\"value\">71</div><div class=\"what\">queries in the last hour"))
        #expect(pages[0].body.contains("<div class=\"value\">45</div><div class=\"what\">blocked queries"))
        let blocked = try #require(Self.section("blocked", of: pages[0].body))
        #expect(blocked.contains("beacon.evil.example</span> <span class=\"count\">×40</span>"), "\(blocked)")
        // batch-7 now has the most blocked queries (41), so it is listed first.
        let batchAt = try #require(blocked.range(of: "batch-7")?.lowerBound)
        let webAt = try #require(blocked.range(of: "web-1")?.lowerBound)
        #expect(batchAt < webAt)
        #expect(pages[1].body.contains("<span>46 queries, 41 blocked</span>"), "\(pages[1].body)")
        #expect(pages[2].body.contains("×40</span>"))
    }

    @Test("A storm row is marked as one and lists its other names as the feed's, not one rule's")
    func stormRows() async throws {
        var storm = Self.event(300, Self.batch, ip: "10.89.0.6", "x1.storm.example",
            hit: PolicyHit(source: "urlhaus", rule: "x1.storm.example", action: "nxdomain", trigger: "qname"))
        storm.count = 500
        storm.otherNames = ["x2.storm.example", "x3.storm.example"]
        storm.findings = [Finding(detector: QueryEventBuffer.stormDetector, score: 1, detail: "storm")]
        var grouped = Self.event(200, Self.batch, ip: "10.89.0.6", "a.dga.example", hit: Self.urlhaus)
        grouped.otherNames = ["b.dga.example"]
        let pages = try await Self.get(["/workloads/container%3A3f2a9c?range=1h"], store: try await Self.store([storm, grouped]))
        let body = pages[0].body
        #expect(pages[0].status == .ok)
        // The timeline's row (the blocked-names table lists the name too).
        let rows = body.components(separatedBy: "<tr")
        let stormRow = try #require(rows.first { $0.contains("<span class=\"qname\">x1.storm.example</span>") })
        #expect(stormRow.contains(">block storm</span>") && stormRow.contains("×500"), "\(stormRow)")
        #expect(stormRow.contains("title=\"blocked by the same feed in this storm\">also: x2.storm.example, x3.storm.example"))
        let groupedRow = try #require(rows.first { $0.contains("<span class=\"qname\">a.dga.example</span>") })
        #expect(!groupedRow.contains("block storm") && groupedRow.contains("title=\"blocked by the same rule\">also: b.dga"))
    }

    @Test("With a quarantine source, workload pages show the state and offer quarantine or release forms")
    func quarantineForms() async throws {
        let state = ConsoleQuarantineState(
            answer: "refused", by: "ops<token>", reason: "beacons to \"c2\" <b>now</b>", sinceMicros: Self.now - 600_000_000)
        let quarantined: @Sendable (String) async -> ConsoleQuarantineState? = { key in
            key == "container:3f2a9c" ? state : nil
        }
        let pages = try await Self.get(
            ["/workloads/static%3Aweb-1", "/workloads/container%3A3f2a9c", "/workloads?range=1h", "/?range=1h"],
            store: try await Self.store(), quarantine: quarantined)
        #expect(pages.map(\.status) == [.ok, .ok, .ok, .ok])
        let free = pages[0].body
        #expect(free.contains("<dt>Quarantine</dt><dd>not quarantined</dd>"))
        #expect(free.contains("data-action=\"quarantine\" data-workload-key=\"static:web-1\""))
        #expect(free.contains("<input type=\"password\" name=\"token\""))
        #expect(free.contains("<option value=\"nxdomain\">NXDOMAIN</option>"))
        #expect(free.contains("<script src=\"/console.js\" defer></script>"))
        let held = pages[1].body
        #expect(held.contains("<span class=\"state failed\">quarantined</span> since"))
        #expect(held.contains("by <strong>ops&lt;token&gt;</strong>: beacons to &quot;c2&quot; &lt;b&gt;now&lt;/b&gt;"))
        #expect(held.contains("(queries answered REFUSED)"))
        #expect(held.contains("data-action=\"release\" data-workload-key=\"container:3f2a9c\""))
        #expect(!held.contains("data-action=\"quarantine\""))
        // Lists tag the quarantined workload only.
        #expect(pages[2].body.components(separatedBy: ">quarantined</span>").count == 2)
        let blocked = try #require(Self.section("blocked", of: pages[3].body))
        #expect(blocked.contains("batch-7</a> <span class=\"image\">localhost/batch:2</span></span> <span class=\"state failed\">quarantined</span>"), "\(blocked)")
    }

    @Test("Without a quarantine source the workload page says so and loads no script")
    func quarantineUnavailable() async throws {
        let page = try #require(try await Self.get(["/workloads/static%3Aweb-1"], store: try await Self.store()).first)
        #expect(page.body.contains("not available: this process has no quarantine API"))
        #expect(!page.body.contains("<form class=\"quarantine\""))
        #expect(!page.body.contains("<script"))
    }

    @Test("The quarantine script sends the typed token once, stores nothing and writes results as text")
    func quarantineScript() async throws {
        let script = try #require(try await Self.get(["/console.js"], store: nil).first)
        #expect(script.status == .ok)
        #expect(script.headers[.contentType] == "text/javascript; charset=utf-8")
        for expected in ["\"Authorization\": \"Bearer \" + form.elements[\"token\"].value", "/api/v1/quarantine",
            "method: release ? \"DELETE\" : \"POST\"", "encodeURIComponent(key)", "workload_key: key",
            "credentials: \"omit\"", "out.textContent"]
        {
            #expect(script.body.contains(expected), "console.js lacks \(expected)")
        }
        for forbidden in ["innerHTML", "outerHTML", "localStorage", "sessionStorage", "document.cookie", "eval(",
            "document.write", "http:", "https:"]
        {
            #expect(!script.body.contains(forbidden), "console.js uses \(forbidden)")
        }
    }

    @Test("A workload with more blocked queries than the dashboard reads shows exact or at-least counts")
    func blockedSample() async throws {
        var extra: [QueryEvent] = []
        // solo: 600 blocks of one name (more than the 500 read), so its count is exact from the summary.
        let solo = Workload(kind: .container, id: "50105010", name: "solo")
        for i in 0..<600 { extra.append(Self.event(400 + Int64(i), solo, ip: "10.89.0.7", "one.evil.example", hit: Self.urlhaus)) }
        // web-1: 520 blocks over two names, so the names' counts are lower bounds.
        for i in 0..<520 {
            extra.append(Self.event(400 + Int64(i), Self.web, ip: "10.89.0.5", i % 2 == 0 ? "a.evil.example" : "b.evil.example",
                hit: Self.urlhaus))
        }
        let page = try #require(try await Self.get(["/?range=1h"], store: try await Self.store(extra)).first)
        let blocked = try #require(Self.section("blocked", of: page.body))
        #expect(blocked.contains("one.evil.example</span> <span class=\"count\">×600</span>"), "\(blocked)")
        #expect(blocked.contains("queries\">×250+</span>") || blocked.contains("queries\">×249+</span>"), "\(blocked)")
        #expect(blocked.contains("in the query log</a>"))
    }

    @Test("A workload key with a slash, a question mark or spaces still has a working page link")
    func awkwardKeys() async throws {
        let pod = Workload(kind: .pod, id: "payments/api-7f9c? x#1", name: "payments/api", image: "registry.example.org/api:3")
        let store = try await Self.store([Self.event(50, pod, ip: "10.89.0.8", "www.example.org")])
        let list = try #require(try await Self.get(["/workloads?range=1h"], store: store).first)
        let href = "/workloads/pod%3Apayments%2Fapi-7f9c%3F%20x%231"
        #expect(list.body.contains("href=\"\(href)\""), "\(list.body)")
        let page = try #require(try await Self.get([href + "?range=1h"], store: store).first)
        #expect(page.status == .ok, "\(page.body)")
        #expect(page.body.contains("<h1>payments/api</h1>"))
        #expect(page.body.contains("<span>1 query, 0 blocked</span>"))
    }

    @Test("An unknown workload key is a 404 page")
    func unknownWorkload() async throws {
        let page = try #require(try await Self.get(["/workloads/container%3Anope"], store: try await Self.store()).first)
        #expect(page.status == .notFound)
        #expect(page.body.contains("container:nope"))
    }

    @Test("The workloads page lists identified workloads with counts and unidentified clients by address")
    func workloadsPage() async throws {
        let page = try #require(try await Self.get(["/workloads?range=1h"], store: try await Self.store()).first)
        #expect(page.status == .ok)
        #expect(page.body.contains("href=\"/workloads/static%3Aweb-1\""))
        #expect(page.body.contains("href=\"/workloads/container%3A3f2a9c\""))
        #expect(page.body.contains("localhost/batch:2"))
        #expect(page.body.contains("unknown (192.0.2.99)"))
        #expect(page.body.contains("<td class=\"num\">23</td><td class=\"num\">3</td>"), "web-1: 23 queries, 3 blocked")
    }

    @Test("The feeds page shows each policy source's state, rules and last error from the policy manager")
    func feedsPage() async throws {
        let dir = try TemporaryDirectory(prefix: "console-feeds")
        defer { dir.remove() }
        let list = try dir.write("threats.txt", "evil.example\nc2.example.net\n*.bad.example\n")
        let manager = PolicyManager(
            sources: [
                PolicySourceConfig(name: "threats", kind: .domains, location: list),
                PolicySourceConfig(name: "missing-feed", kind: .domains, location: dir.file("does-not-exist.txt")),
            ], dataDirectory: nil)
        let statuses = await manager.start()
        let page = try #require(try await Self.get(["/feeds", "/"], store: try await Self.store(), feeds: statuses).first)
        #expect(page.status == .ok)
        for expected in ["<span class=\"feed\">threats</span>", "<span class=\"state ok\">ok</span>",
            "<td class=\"num\">3</td>", "<span class=\"feed\">missing-feed</span>", "<span class=\"state failed\">failed</span>",
            "does-not-exist.txt", "Needs attention: missing-feed.",
        ] {
            #expect(page.body.contains(expected), "lacks \(expected):\n\(page.body)")
        }
    }

    @Test("The dashboard summarises feed health and says when no feed is configured")
    func dashboardFeeds() async throws {
        let dir = try TemporaryDirectory(prefix: "console-feeds")
        defer { dir.remove() }
        let list = try dir.write("threats.txt", "evil.example\n")
        let manager = PolicyManager(
            sources: [PolicySourceConfig(name: "threats", kind: .domains, location: list)], dataDirectory: nil)
        let statuses = await manager.start()
        let pages = try await Self.get(["/"], store: try await Self.store(), feeds: statuses)
            + (try await Self.get(["/"], store: try await Self.store(), feeds: []))
        let health = try #require(Self.section("feed-health", of: pages[0].body))
        #expect(health.contains("threats"))
        #expect(health.contains("<span class=\"state ok\">ok</span>"))
        #expect(pages[0].body.contains("<div class=\"value\">1/1</div>"))
        #expect(pages[1].body.contains("No policy sources are configured"))
    }

    @Test("With the query log disabled the pages say so instead of failing")
    func noStore() async throws {
        let pages = try await Self.get(["/", "/workloads", "/search", "/feeds", "/workloads/static%3Aweb-1"], store: nil)
        #expect(pages.map(\.status) == [.ok, .ok, .ok, .ok, .notFound])
        #expect(pages[0].body.contains("The query log is disabled"))
        #expect(pages[2].body.contains("The query log is disabled"))
    }

    @Test("An empty store renders every page with empty-state text")
    func emptyStore() async throws {
        let pages = try await Self.get(["/", "/workloads", "/search", "/?range=7d"], store: try QueryStore.inMemory())
        #expect(pages.map(\.status) == [.ok, .ok, .ok, .ok])
        #expect(pages[0].body.contains("No blocked queries in the last 24 hours."))
        #expect(pages[1].body.contains("No identified workload sent a query"))
        #expect(pages[2].body.contains("No queries match."))
    }

    @Test("A failing query log gives a 500 page, not a crash", .enabled(if: TestBinaries.has("sqlite3")))
    func storeFailure() async throws {
        let dir = try TemporaryDirectory(prefix: "console-store")
        defer { dir.remove() }
        let path = dir.file("querylog.sqlite")
        let store = try QueryStore(path: path)
        try await store.insert(Self.standardEvents())
        // Another process breaks the database under the running console.
        let drop = try await ExternalTool.run("sqlite3", [path, "DROP TABLE events"])
        #expect(drop.status == 0, "\(drop)")
        let pages = try await Self.get(["/", "/search"], store: store)
        #expect(pages.map(\.status) == [.internalServerError, .internalServerError])
        #expect(pages[0].body.contains("Reading the query log failed"))
        try store.close()
    }

    /// The markup of `<section … id="id">` up to its closing tag.
    static func section(_ id: String, of body: String) -> String? {
        guard let start = body.range(of: "id=\"\(id)\"") else { return nil }
        let rest = body[start.lowerBound...]
        guard let end = rest.range(of: "</section>") else { return nil }
        return String(rest[..<end.upperBound])
    }

    /// The `href` of the link with `rel`, unescaped.
    static func link(rel: String, in body: String) -> String? {
        guard let start = body.range(of: "rel=\"\(rel)\" href=\"") else { return nil }
        let rest = body[start.upperBound...]
        guard let end = rest.firstIndex(of: "\"") else { return nil }
        return String(rest[..<end]).replacingOccurrences(of: "&amp;", with: "&")
    }
}
