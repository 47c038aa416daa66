import DNSPipeline
import QueryStore

/// `/workloads` (every workload active in the window) and `/workloads/{key}` (one workload's timeline).
extension ConsoleController {
    /// Events read to draw one workload's timeline (ten pages of the query log).
    static let timelineEvents = 10_000
    /// Events listed in a workload's table.
    static let timelineRows = 50

    func workloads(_ params: ConsoleParameters) async throws(ConsoleFailure) -> ConsoleHTML {
        let range = try self.parse { () throws(ConsoleParameterError) in try params.range() }
        let now = self.sources.now()
        let since = now - range.micros
        var body: ConsoleHTML = """
            <div class="titlebar"><h1>Workloads</h1>\(ConsoleLayout.rangePicker(path: "/workloads", current: range))</div>
            """
        guard let store = self.sources.store else {
            body += ConsoleLayout.notice("The query log is disabled (queryLog.store: false): workloads are learnt "
                + "from it, so there is nothing to list.", kind: "warn")
            return ConsoleLayout.page(title: "Workloads", section: .workloads, body: body)
        }
        let active = try await self.read { () async throws(QueryStoreError) in
            try await store.workloads(activeSinceMicros: since, limit: 1_000)
        }
        let activity = try await self.read { () async throws(QueryStoreError) in
            try await store.topWorkloads(sinceMicros: since, limit: 2_000)
        }
        var counts: [String: WorkloadActivity] = [:]
        var clients: [WorkloadActivity] = []
        for a in activity {
            switch a.subject {
            case .workload(let w): counts[w.key] = a
            case .client: clients.append(a)
            }
        }
        body += "<section class=\"card\"><h2>Identified workloads active in \(range.phrase)</h2>"
        if active.isEmpty {
            body += "<p class=\"muted\">No identified workload sent a query in \(range.phrase).</p>"
        } else {
            body += """
                <table><thead><tr><th>Workload</th><th>Kind</th><th class="num">Queries</th><th class="num">Blocked</th>\
                <th>First seen</th><th>Last seen</th></tr></thead><tbody>
                """
            for w in active {
                let a = counts[w.key]
                let blocked = a?.blocked ?? 0
                let rowClass: ConsoleHTML = blocked > 0 ? " class=\"blocked\"" : ""
                body += """
                    <tr\(rowClass)><td>\(ConsoleLayout.workload(key: w.key, w.workload))\(await self.quarantineTag(w.key))</td>\
                    <td>\(w.workload.kind.rawValue)</td>\
                    <td class="num">\(ConsoleLayout.number(a?.queries ?? 0))</td>\
                    <td class="num">\(ConsoleLayout.number(blocked))</td>\
                    <td>\(ConsoleLayout.time(w.firstSeenMicros))</td><td>\(ConsoleLayout.ago(w.lastSeenMicros, now: now))</td></tr>
                    """
            }
            body += "</tbody></table>"
        }
        body += "</section>"
        if !clients.isEmpty {
            body += """
                <section class="card"><h2>Unidentified clients in \(range.phrase)</h2>\
                <table><thead><tr><th>Client</th><th class="num">Queries</th><th class="num">Blocked</th></tr></thead><tbody>
                """
            for c in clients {
                let rowClass: ConsoleHTML = c.blocked > 0 ? " class=\"blocked\"" : ""
                body += """
                    <tr\(rowClass)><td>\(ConsoleLayout.subject(c.subject, range: range))</td>\
                    <td class="num">\(ConsoleLayout.number(c.queries))</td>\
                    <td class="num">\(ConsoleLayout.number(c.blocked))</td></tr>
                    """
            }
            body += "</tbody></table></section>"
        }
        return ConsoleLayout.page(title: "Workloads", section: .workloads, body: body)
    }

    func workload(rawKey: String, _ params: ConsoleParameters) async throws(ConsoleFailure) -> ConsoleHTML {
        guard let key = ConsoleURL.decode(rawKey), !key.isEmpty, key.utf8.count <= 1024 else {
            throw .badParameter(ConsoleParameterError(parameter: "key", message: "is not a valid workload key"))
        }
        let range = try self.parse { () throws(ConsoleParameterError) in try params.range() }
        guard let store = self.sources.store else {
            throw .notFound("The query log is disabled (queryLog.store: false), so workloads are not recorded.")
        }
        guard let stored = try await self.read({ () async throws(QueryStoreError) in try await store.workload(key: key) })
        else {
            throw .notFound("No workload with the key \u{201C}\(key)\u{201D} has sent a query that is still in the log.")
        }
        let now = self.sources.now()
        let since = now - range.micros
        let bucketMicros = Int64(range.bucket.components.seconds) * ConsoleTime.microsPerSecond

        // The store's time series counts every workload; this one is built from the workload's own events,
        // read newest first through its index, up to a bound.
        var events: [StoredEvent] = []
        var filter = EventFilter(
            workloadKey: key, fromMicros: since, untilMicros: now + 1, limit: EventFilter.maximumLimit)
        var truncated = false
        while true {
            let page = try await self.read { [filter] () async throws(QueryStoreError) in try await store.search(filter) }
            events += page.events
            guard let next = page.next else { break }
            if events.count >= Self.timelineEvents {
                truncated = true
                break
            }
            filter.before = next
        }
        let start = since / bucketMicros * bucketMicros
        let count = Int((now + 1 - start + bucketMicros - 1) / bucketMicros)
        var buckets = (0..<max(count, 1)).map {
            TimeBucket(startMicros: start + Int64($0) * bucketMicros, queries: 0, blocked: 0)
        }
        var blockedEvents: [StoredEvent] = []
        var queryTotal = 0
        var blockedTotal = 0
        for e in events {
            let index = Int((e.event.timestampMicros - start) / bucketMicros)
            guard buckets.indices.contains(index) else { continue }
            // An event stands for `count` identical queries folded by the query log.
            buckets[index].queries += e.event.count
            queryTotal += e.event.count
            if e.event.blocked {
                buckets[index].blocked += e.event.count
                blockedTotal += e.event.count
                blockedEvents.append(e)
            }
        }
        let oldestShown = events.last?.event.timestampMicros

        let w = stored.workload
        let quarantine = await self.sources.quarantine?(key)
        let image: ConsoleHTML = w.image.map { "<code>\($0)</code>" } ?? "<span class=\"muted\">unknown</span>"
        let labels: ConsoleHTML =
            w.labels.isEmpty ? "<span class=\"muted\">none</span>" : ConsoleLayout.labels(w.labels)
        var body: ConsoleHTML = """
            <div class="titlebar"><h1>\(w.name)</h1>\
            \(ConsoleLayout.rangePicker(path: ConsoleLayout.workloadPath(key), current: range))</div>
            <section class="card"><dl class="facts">
            <dt>Name</dt><dd class="wname">\(w.name)</dd>
            <dt>Image</dt><dd>\(image)</dd>
            <dt>Labels</dt><dd>\(labels)</dd>
            <dt>Kind</dt><dd>\(w.kind.rawValue)</dd>
            <dt>Id</dt><dd><code>\(w.id)</code></dd>
            <dt>Key</dt><dd><code>\(key)</code></dd>
            <dt>First seen</dt><dd>\(ConsoleLayout.time(stored.firstSeenMicros))</dd>
            <dt>Last seen</dt><dd>\(ConsoleLayout.time(stored.lastSeenMicros)) (\(ConsoleLayout.ago(stored.lastSeenMicros, now: now)))</dd>
            <dt>Quarantine</dt><dd>\(self.quarantineState(quarantine, now: now))</dd>
            </dl>\(self.quarantineForm(key: key, state: quarantine))</section>
            """
        let truncation: ConsoleHTML =
            truncated
            ? ConsoleLayout.notice(
                "The chart shows the newest \(ConsoleLayout.number(events.count)) log entries, back to "
                    + "\(ConsoleLayout.time(oldestShown ?? since)).", kind: "warn")
            : ""
        body += """
            <section class="card" id="timeline"><h2>Queries and blocks over \(range.phrase)</h2>
            \(ConsoleCharts.timeSeries(buckets, bucketMicros: bucketMicros, withDate: range == .week,
                label: "Queries and blocked queries of \(w.name)"))
            <div class="legend"><span><span class="swatch q"></span>queries</span>\
            <span><span class="swatch b"></span>blocked</span>\
            <span>\(ConsoleLayout.number(queryTotal)) \(queryTotal == 1 ? "query" : "queries"), \
            \(ConsoleLayout.number(blockedTotal)) blocked</span></div>
            \(truncation)
            </section>
            """
        if !blockedEvents.isEmpty {
            var names: [String: (count: Int, hits: [PolicyHit], last: Int64)] = [:]
            for e in blockedEvents {
                var entry = names[e.event.qname] ?? (0, [], e.event.timestampMicros)
                entry.count += e.event.count
                entry.last = max(entry.last, e.event.timestampMicros)
                if let hit = e.event.policy, !entry.hits.contains(hit) { entry.hits.append(hit) }
                names[e.event.qname] = entry
            }
            body += """
                <section class="card" id="blocked-names"><h2>Blocked names</h2><table><thead><tr><th>Name</th>\
                <th class="num">Queries</th><th>Last</th><th>Feed and rule</th></tr></thead><tbody>
                """
            for (qname, entry) in names.sorted(by: { $0.value.count != $1.value.count ? $0.value.count > $1.value.count : $0.key < $1.key }) {
                body += """
                    <tr><td class="qname">\(qname)</td><td class="num">\(entry.count)</td>\
                    <td>\(ConsoleLayout.ago(entry.last, now: now))</td>\
                    <td>\(ConsoleHTML.join(entry.hits.map(ConsoleLayout.policy), separator: "; "))</td></tr>
                    """
            }
            body += "</tbody></table></section>"
        }
        let all = ConsoleURL.make("/search", [("workload", key), ("from", "-" + range.rawValue)])
        body += """
            <section class="card" id="recent"><h2>Latest queries</h2>
            \(Self.eventTable(Array(events.prefix(Self.timelineRows)), now: now, showSender: false))
            <p><a href="\(all)">All queries of this workload in the query log</a></p>
            </section>
            """
        return ConsoleLayout.page(
            title: w.name, section: .workloads, body: body, scripted: self.sources.quarantine != nil)
    }

    /// The workload's quarantine state, or why there is none to show.
    private func quarantineState(_ state: ConsoleQuarantineState?, now: Int64) -> ConsoleHTML {
        guard self.sources.quarantine != nil else {
            return "<span class=\"muted\">not available: this process has no quarantine API</span>"
        }
        guard let state else { return "not quarantined" }
        return """
            <span class="state failed">quarantined</span> since \(ConsoleLayout.time(state.sinceMicros)) \
            (\(ConsoleLayout.ago(state.sinceMicros, now: now))) by <strong>\(state.by)</strong>: \(state.reason) \
            <span class="muted">(queries answered \(state.answer.uppercased()))</span>
            """
    }

    /// Quarantine or release, through the token-protected API: `/console.js` sends the request with the
    /// token typed here (never stored), so no credential lives in the page or a cookie.
    private func quarantineForm(key: String, state: ConsoleQuarantineState?) -> ConsoleHTML {
        guard self.sources.quarantine != nil else { return "" }
        let token: ConsoleHTML = """
            <label>API token<input type="password" name="token" required autocomplete="off" spellcheck="false"></label>
            """
        let form: ConsoleHTML
        if state == nil {
            form = """
                <form class="quarantine" method="post" action="/api/v1/quarantine" data-action="quarantine" \
                data-workload-key="\(key)">
                <label>Reason<input type="text" name="reason" required maxlength="500" placeholder="talks to C&amp;C"></label>
                <label>Answer its queries with<select name="answer"><option value="refused">REFUSED</option>\
                <option value="nxdomain">NXDOMAIN</option></select></label>
                \(token)<button class="danger" type="submit">Quarantine</button>
                </form>
                """
        } else {
            form = """
                <form class="quarantine" method="post" action="/api/v1/quarantine" data-action="release" \
                data-workload-key="\(key)">
                <label>Reason<input type="text" name="reason" required maxlength="500" placeholder="cleaned up"></label>
                \(token)<button type="submit">Release</button>
                </form>
                """
        }
        return form + "<p id=\"quarantine-result\" role=\"status\"></p>"
    }

    /// A "quarantined" tag after a workload, when quarantine is available and it is quarantined.
    func quarantineTag(_ key: String) async -> ConsoleHTML {
        guard let lookup = self.sources.quarantine, await lookup(key) != nil else { return "" }
        return " <span class=\"state failed\">quarantined</span>"
    }

    /// A table of logged queries, newest first.
    static func eventTable(_ events: [StoredEvent], now: Int64, showSender: Bool = true) -> ConsoleHTML {
        guard !events.isEmpty else { return "<p class=\"muted\">No queries match.</p>" }
        let senderHead: ConsoleHTML = showSender ? "<th>Workload</th>" : ""
        var out: ConsoleHTML = """
            <table class="events"><thead><tr><th>Time</th>\(senderHead)<th>Name</th><th>Type</th><th>Result</th>\
            <th>Policy</th><th class="num">Latency</th></tr></thead><tbody>
            """
        for stored in events {
            let e = stored.event
            let blocked = e.blocked
            let rowClass: ConsoleHTML = blocked ? " class=\"blocked\"" : ""
            let sender: ConsoleHTML = showSender ? "<td>\(ConsoleLayout.sender(stored))</td>" : ""
            let result: ConsoleHTML =
                blocked
                ? "<span class=\"rcode-blocked\">\(e.rcode)</span> <span class=\"muted\">blocked</span>"
                : "\(e.rcode) <span class=\"muted\">\(e.source)</span>"
            let policy: ConsoleHTML = e.policy.map(ConsoleLayout.policy) ?? ""
            let repeated: ConsoleHTML =
                e.count > 1 ? " <span class=\"count\" title=\"identical queries folded into one log entry\">×\(e.count)</span>" : ""
            let answers: ConsoleHTML =
                e.answers.isEmpty ? "" : "<br><span class=\"muted qname\">\(e.answers.prefix(3).joined(separator: ", "))</span>"
            // A row grouped by the rule that blocked it stands for several names: show them, they are the evidence
            // (a DGA's guesses, a tunnel's payload). A storm row groups by the feed instead, and says so.
            let storm = e.findings.contains { $0.detector == QueryEventBuffer.stormDetector }
            var others: ConsoleHTML = ""
            if storm {
                let title = "more distinct names blocked in one window than queryLog.blockStormThreshold: this entry counts "
                    + "the queries for the names past them"
                others = " <span class=\"storm\" title=\"\(title)\">block storm</span>"
            }
            if !e.otherNames.isEmpty {
                let names = e.otherNames.joined(separator: ", ")
                let title = storm ? "blocked by the same feed in this storm" : "blocked by the same rule"
                others += "<br><span class=\"muted qname other-names\" title=\"\(title)\">also: \(names)</span>"
            }
            out += """
                <tr\(rowClass)><td>\(ConsoleLayout.time(e.timestampMicros))</td>\(sender)\
                <td><span class="qname">\(e.qname)</span>\(repeated)\(answers)\(others)</td><td>\(e.qtype)</td><td>\(result)</td>\
                <td>\(policy)</td><td class="num">\(Self.latency(e.latencyMicros))</td></tr>
                """
        }
        return out + "</tbody></table>"
    }

    private static func latency(_ micros: Int64) -> String {
        micros < 1_000 ? "\(micros) µs" : "\(micros / 1_000).\(micros % 1_000 / 100) ms"
    }
}
