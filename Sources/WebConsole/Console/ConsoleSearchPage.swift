import QueryStore

/// `/search`: the query log, filtered, newest first, one page at a time.
extension ConsoleController {
    /// The filter fields, in the order the form shows them and links carry them.
    static let searchFields = [
        "workload", "workload_name", "client_ip", "name", "qtype", "rcode", "blocked", "from", "until", "limit",
    ]

    func search(_ params: ConsoleParameters) async throws(ConsoleFailure) -> ConsoleHTML {
        let now = self.sources.now()
        let filter = try self.parse { () throws(ConsoleParameterError) -> EventFilter in
            var f = EventFilter()
            f.workloadKey = try params.text("workload", limit: 1024)
            f.workloadName = try params.text("workload_name", limit: 256)
            f.clientIP = try params.address("client_ip")
            f.qname = try params.namePattern("name")
            f.qtype = try params.mnemonic("qtype", what: "record type")
            f.rcode = try params.mnemonic("rcode", what: "response code")
            f.blockedOnly = try params.flag("blocked") ?? false
            f.fromMicros = try params.time("from", now: now)
            f.untilMicros = try params.time("until", now: now)
            if let from = f.fromMicros, let until = f.untilMicros, until <= from {
                throw ConsoleParameterError(parameter: "until", message: "must be later than \u{201C}from\u{201D}")
            }
            f.limit = try params.integer("limit", in: 1...EventFilter.maximumLimit) ?? 100
            f.before = try params.cursor("before")
            return f
        }
        var body: ConsoleHTML = "<h1>Query log</h1>" + Self.searchForm(params)
        guard let store = self.sources.store else {
            body += ConsoleLayout.notice("The query log is disabled (queryLog.store: false).", kind: "warn")
            return ConsoleLayout.page(title: "Query log", section: .search, body: body)
        }
        let page = try await self.read { () async throws(QueryStoreError) in try await store.search(filter) }
        let kept = Self.searchFields.map { ($0, params.get($0)) }
        var pager: [ConsoleHTML] = []
        if filter.before != nil {
            pager.append("<a href=\"\(ConsoleURL.make("/search", kept))\">Newest</a>")
        }
        if let next = page.next {
            pager.append("<a rel=\"next\" href=\"\(ConsoleURL.make("/search", kept + [("before", next.description)]))\">Older</a>")
        }
        let position: ConsoleHTML = filter.before == nil ? "newest first" : "older page, newest first"
        body += """
            <section class="card" id="results"><h2>\(ConsoleLayout.number(page.events.count)) \
            \(page.events.count == 1 ? "query" : "queries") <span class="count">\(position)</span></h2>
            \(Self.eventTable(page.events, now: now))
            <div class="pager">\(pager)</div>
            </section>
            """
        return ConsoleLayout.page(title: "Query log", section: .search, body: body)
    }

    /// The filter form, filled in with the current values (a GET form, so results are linkable).
    private static func searchForm(_ params: ConsoleParameters) -> ConsoleHTML {
        func field(_ name: String, _ label: String, placeholder: String) -> ConsoleHTML {
            """
            <label>\(label)<input type="text" name="\(name)" value="\(params.get(name))" placeholder="\(placeholder)"></label>
            """
        }
        let checked: ConsoleHTML = ["true", "1", "on", "yes"].contains(params.get("blocked")?.lowercased() ?? "")
            ? " checked" : ""
        let limit = params.get("limit") ?? "100"
        let limits = ConsoleHTML.join(["50", "100", "500", "1000"].map { v in
            let selected: ConsoleHTML = v == limit ? " selected" : ""
            return "<option value=\"\(v)\"\(selected)>\(v)</option>"
        })
        let quick = ConsoleHTML.join(ConsoleRange.allCases.map { r in
            "<a href=\"\(ConsoleURL.make("/search", [("from", "-" + r.rawValue)]))\">last \(r.rawValue)</a>"
        }, separator: " · ")
        return """
            <section class="card"><form class="filters" method="get" action="/search">
            \(field("workload_name", "Workload name contains", placeholder: "web"))
            \(field("workload", "Workload key", placeholder: "container:3f2a…"))
            \(field("client_ip", "Client address", placeholder: "10.89.0.5"))
            \(field("name", "Name", placeholder: "example.org or *.example.org"))
            \(field("qtype", "Type", placeholder: "A, AAAA, TXT…"))
            \(field("rcode", "Response code", placeholder: "NXDOMAIN"))
            \(field("from", "From", placeholder: "-1h or 2026-11-29T07:00:00Z"))
            \(field("until", "Until", placeholder: "now"))
            <label>Rows<select name="limit">\(limits)</select></label>
            <label class="check"><input type="checkbox" name="blocked" value="true"\(checked)> blocked only</label>
            <div><button type="submit">Search</button> <a href="/search">clear</a></div>
            </form>
            <p class="count">Quick ranges: \(quick)</p></section>
            """
    }
}
