import DNSPipeline
import DNSPolicy
import QueryStore

/// The dashboard (`/`): who tried to reach blocked names and what they asked for, traffic over time, the
/// top blocked names and busiest workloads, and feed health.
extension ConsoleController {
    /// Subjects listed in the "who tried to reach blocked names" table.
    static let blockedSubjects = 25
    /// Blocked events read per subject to list its names and the rules that matched.
    static let blockedSample = 500
    /// Names listed per subject before "and N more".
    static let namesPerSubject = 8

    func dashboard(_ params: ConsoleParameters) async throws(ConsoleFailure) -> ConsoleHTML {
        let range = try self.parse { () throws(ConsoleParameterError) in try params.range() }
        let now = self.sources.now()
        let since = now - range.micros
        let feeds = await self.sources.feeds()
        var body: ConsoleHTML = """
            <div class="titlebar"><h1>Dashboard</h1>\(ConsoleLayout.rangePicker(path: "/", current: range))</div>
            """
        guard let store = self.sources.store else {
            body += ConsoleLayout.notice("The query log is disabled (queryLog.store: false), so there is no query "
                + "history to show. Feed health is below.", kind: "warn")
            body += Self.feedSummary(feeds)
            return ConsoleLayout.page(title: "Dashboard", section: .dashboard, body: body)
        }

        let bucketMicros = Int64(range.bucket.components.seconds) * ConsoleTime.microsPerSecond
        // The four summaries are independent reads; the on-disk store has several reader connections, so
        // running them together makes the page as slow as the slowest rather than their sum.
        let series: [TimeBucket]
        let blocked: [BlockedActivity]
        let topDomains: [DomainCount]
        let topWorkloads: [WorkloadActivity]
        do {
            async let s = store.timeSeries(sinceMicros: since, untilMicros: now + 1, bucket: range.bucket)
            async let b = store.blockedSummary(sinceMicros: since, limit: Self.blockedSubjects)
            async let d = store.topBlockedDomains(sinceMicros: since, limit: 10)
            async let w = store.topWorkloads(sinceMicros: since, limit: 10)
            (series, blocked, topDomains, topWorkloads) = try await (s, b, d, w)
        } catch let error as QueryStoreError {
            throw .store(error)
        } catch {
            throw .store(QueryStoreError(code: .readFailed, message: "reading the dashboard failed", underlying: error))
        }
        var details: [BlockedNames] = []
        for row in blocked {
            details.append(try await self.blockedNames(of: row.subject, since: since, store: store))
        }

        let queries = series.reduce(0) { $0 + $1.queries }
        let blockedQueries = series.reduce(0) { $0 + $1.blocked }
        let okFeeds = feeds.filter { $0.state == .ok }.count
        let alert: ConsoleHTML = blocked.isEmpty ? "" : " alert"
        body += """
            <div class="cards">
            <div class="stat"><div class="value">\(ConsoleLayout.number(queries))</div><div class="what">queries in \(range.phrase)</div></div>
            <div class="stat\(alert)"><div class="value">\(ConsoleLayout.number(blockedQueries))</div><div class="what">blocked queries</div></div>
            <div class="stat\(alert)"><div class="value">\(ConsoleLayout.number(blocked.count))</div><div class="what">workloads or clients blocked</div></div>
            <div class="stat"><div class="value">\(okFeeds)/\(feeds.count)</div><div class="what">feeds healthy</div></div>
            </div>
            """
        var tags: [ConsoleHTML] = []
        for row in blocked {
            if case .workload(let w) = row.subject {
                tags.append(await self.quarantineTag(w.key))
            } else {
                tags.append("")
            }
        }
        body += self.blockedTable(blocked, details: details, tags: tags, range: range, now: now)
        body += """
            <section class="card" id="traffic"><h2>Queries and blocks over \(range.phrase)</h2>
            \(ConsoleCharts.timeSeries(series, bucketMicros: bucketMicros, withDate: range == .week,
                label: "Queries and blocked queries per \(ConsoleTime.duration(seconds: bucketMicros / ConsoleTime.microsPerSecond))"))
            <div class="legend"><span><span class="swatch q"></span>queries</span>\
            <span><span class="swatch b"></span>blocked</span>\
            <span>one bar per \(ConsoleTime.duration(seconds: bucketMicros / ConsoleTime.microsPerSecond))</span></div>
            </section>
            <div class="columns">
            \(Self.topDomainsTable(topDomains, range: range, now: now))
            \(Self.topWorkloadsTable(topWorkloads, range: range))
            </div>
            \(Self.feedSummary(feeds))
            """
        return ConsoleLayout.page(title: "Dashboard", section: .dashboard, body: body)
    }

    /// The names one subject was blocked from, with the feed and rule that matched each.
    struct BlockedNames {
        struct Name {
            var qname: String
            var count: Int
            var last: Int64
            var hits: [PolicyHit]
        }

        var names: [Name]
        /// True when the subject had more blocked events than were read.
        var truncated: Bool
    }

    /// Reads the newest ``blockedSample`` blocked events of `subject` since `since` and groups them by name.
    func blockedNames(of subject: EventSubject, since: Int64, store: any EventStore) async throws(ConsoleFailure)
        -> BlockedNames
    {
        var filter = EventFilter(blockedOnly: true, fromMicros: since, limit: Self.blockedSample)
        switch subject {
        case .workload(let w): filter.workloadKey = w.key
        case .client(let ip): filter.clientIP = ip
        }
        let page = try await self.read { () async throws(QueryStoreError) in try await store.search(filter) }
        var order: [String] = []
        var byName: [String: BlockedNames.Name] = [:]
        for stored in page.events {
            // A client-address filter also matches identified workloads that had that address.
            if case .client = subject, stored.workloadKey != nil { continue }
            let e = stored.event
            var entry = byName[e.qname] ?? BlockedNames.Name(qname: e.qname, count: 0, last: e.timestampMicros, hits: [])
            if entry.count == 0 { order.append(e.qname) }
            // One event can stand for several identical queries folded by the query log.
            entry.count += e.count
            entry.last = max(entry.last, e.timestampMicros)
            if let hit = e.policy, !entry.hits.contains(hit) { entry.hits.append(hit) }
            byName[e.qname] = entry
        }
        let names = order.compactMap { byName[$0] }.sorted { a, b in
            a.count != b.count ? a.count > b.count : a.last > b.last
        }
        return BlockedNames(names: names, truncated: page.next != nil)
    }

    private func blockedTable(
        _ rows: [BlockedActivity], details: [BlockedNames], tags: [ConsoleHTML], range: ConsoleRange, now: Int64
    ) -> ConsoleHTML {
        var out: ConsoleHTML = """
            <section class="card" id="blocked"><h2>Who tried to reach blocked names in \(range.phrase)</h2>
            """
        guard !rows.isEmpty else {
            return out + "<p class=\"muted\">No blocked queries in \(range.phrase).</p></section>"
        }
        out += """
            <table><thead><tr><th>Workload</th><th class="num">Blocked</th><th>Last</th>\
            <th>Names asked for, and the feed and rule that blocked them</th></tr></thead><tbody>
            """
        let from = "-" + range.rawValue
        for ((row, detail), tag) in zip(zip(rows, details), tags) {
            var items: [ConsoleHTML] = []
            for name in detail.names.prefix(Self.namesPerSubject) {
                let hits = ConsoleHTML.join(name.hits.map(ConsoleLayout.policy), separator: "; ")
                let times: ConsoleHTML
                if detail.truncated && row.distinctNames == 1 {
                    // One name: the subject's total is that name's count.
                    times = " <span class=\"count\">×\(ConsoleLayout.number(row.blockedQueries))</span>"
                } else if detail.truncated {
                    // Counted in a sample of the newest blocked queries: a lower bound.
                    times = """
                         <span class="count" title="at least: counted in the newest \(Self.blockedSample) blocked \
                        queries">×\(ConsoleLayout.number(name.count))+</span>
                        """
                } else {
                    times = name.count > 1 ? " <span class=\"count\">×\(ConsoleLayout.number(name.count))</span>" : ""
                }
                items.append("<li><span class=\"qname\">\(name.qname)</span>\(times) — \(hits)</li>")
            }
            let searchLink: String
            switch row.subject {
            case .workload(let w):
                searchLink = ConsoleURL.make("/search", [("workload", w.key), ("blocked", "true"), ("from", from)])
            case .client(let ip):
                searchLink = ConsoleURL.make("/search", [("client_ip", ip), ("blocked", "true"), ("from", from)])
            }
            let hidden = row.distinctNames - min(detail.names.count, Self.namesPerSubject)
            if hidden > 0 || detail.truncated {
                let more: ConsoleHTML = hidden > 0 ? "and \(hidden) more" : "all of them"
                items.append("<li><a href=\"\(searchLink)\">\(more) in the query log</a></li>")
            }
            out += """
                <tr><td>\(ConsoleLayout.subject(row.subject, range: range))\(tag)</td>\
                <td class="num"><a href="\(searchLink)">\(ConsoleLayout.number(row.blockedQueries))</a></td>\
                <td>\(ConsoleLayout.ago(row.lastBlockedMicros, now: now))</td>\
                <td><ul class="domains">\(items)</ul></td></tr>
                """
        }
        return out + "</tbody></table></section>"
    }

    private static func topDomainsTable(_ rows: [DomainCount], range: ConsoleRange, now: Int64) -> ConsoleHTML {
        var out: ConsoleHTML = "<section class=\"card\" id=\"top-blocked\"><h2>Top blocked names</h2>"
        guard !rows.isEmpty else { return out + "<p class=\"muted\">Nothing blocked in \(range.phrase).</p></section>" }
        let peak = rows.map(\.queries).max() ?? 1
        out += """
            <table><thead><tr><th>Name</th><th>Blocked queries</th><th class="num">Workloads</th><th>Last</th></tr>\
            </thead><tbody>
            """
        for r in rows {
            let link = ConsoleURL.make("/search", [("name", r.qname), ("blocked", "true"), ("from", "-" + range.rawValue)])
            out += """
                <tr><td><a class="qname" href="\(link)">\(r.qname)</a></td>\
                <td class="bars">\(ConsoleCharts.bar(r.queries, of: peak, blocked: r.queries))\(ConsoleLayout.number(r.queries))</td>\
                <td class="num">\(r.workloads)</td><td>\(ConsoleLayout.ago(r.lastSeenMicros, now: now))</td></tr>
                """
        }
        return out + "</tbody></table></section>"
    }

    private static func topWorkloadsTable(_ rows: [WorkloadActivity], range: ConsoleRange) -> ConsoleHTML {
        var out: ConsoleHTML = "<section class=\"card\" id=\"top-workloads\"><h2>Busiest workloads</h2>"
        guard !rows.isEmpty else { return out + "<p class=\"muted\">No queries in this range.</p></section>" }
        let peak = rows.map(\.queries).max() ?? 1
        out += """
            <table><thead><tr><th>Workload</th><th>Queries</th><th class="num">Blocked</th></tr></thead><tbody>
            """
        for r in rows {
            out += """
                <tr><td>\(ConsoleLayout.subject(r.subject, range: range))</td>\
                <td class="bars">\(ConsoleCharts.bar(r.queries, of: peak, blocked: r.blocked))\(ConsoleLayout.number(r.queries))</td>\
                <td class="num">\(ConsoleLayout.number(r.blocked))</td></tr>
                """
        }
        return out + "</tbody></table></section>"
    }

    /// Feed health in brief: every source's state, rules and age, with its last error.
    static func feedSummary(_ feeds: [PolicySourceStatus]) -> ConsoleHTML {
        var out: ConsoleHTML = """
            <section class="card" id="feed-health"><h2>Feed health <a class="count" href="/feeds">details</a></h2>
            """
        guard !feeds.isEmpty else {
            return out + "<p class=\"muted\">No policy sources are configured: nothing is blocked.</p></section>"
        }
        out += """
            <table><thead><tr><th>Feed</th><th>State</th><th class="num">Rules</th><th>Age</th><th>Last error</th>\
            </tr></thead><tbody>
            """
        for f in feeds {
            out += """
                <tr><td class="feed">\(f.name)</td><td>\(Self.stateBadge(f))</td>\
                <td class="num">\(ConsoleLayout.number(f.ruleCount))</td><td>\(Self.age(f))</td>\
                <td>\(f.lastError ?? "")</td></tr>
                """
        }
        return out + "</tbody></table></section>"
    }

    static func stateBadge(_ f: PolicySourceStatus) -> ConsoleHTML {
        let closed: ConsoleHTML = f.failingClosed ? " <span class=\"state failed\">failing closed</span>" : ""
        return "<span class=\"state \(f.state.rawValue)\">\(f.state.rawValue)</span>\(closed)"
    }

    static func age(_ f: PolicySourceStatus) -> ConsoleHTML {
        guard let age = f.age else { return "<span class=\"muted\">never fetched</span>" }
        return "\(ConsoleTime.duration(seconds: age.components.seconds))"
    }
}
