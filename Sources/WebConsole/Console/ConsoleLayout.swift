import DNSPipeline
import QueryStore

/// The page chrome and the small pieces every console page shares (workload cells, times, policy hits).
enum ConsoleLayout {
    /// The navigation entries, in order.
    enum Section: String, CaseIterable {
        case dashboard, workloads, search, feeds

        var path: String {
            switch self {
            case .dashboard: "/"
            case .workloads: "/workloads"
            case .search: "/search"
            case .feeds: "/feeds"
            }
        }

        var title: String {
            switch self {
            case .dashboard: "Dashboard"
            case .workloads: "Workloads"
            case .search: "Query log"
            case .feeds: "Feeds"
            }
        }
    }

    /// A whole page: doctype, head (stylesheet and script from this server only), navigation, `body`.
    static func page(title: String, section: Section?, body: ConsoleHTML, scripted: Bool = false) -> ConsoleHTML {
        let nav = ConsoleHTML.join(
            Section.allCases.map { s in
                let current: ConsoleHTML = s == section ? " aria-current=\"page\"" : ""
                return "<a href=\"\(s.path)\"\(current)>\(s.title)</a>"
            })
        let script: ConsoleHTML = scripted ? "<script src=\"/console.js\" defer></script>" : ""
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="referrer" content="no-referrer">
            <title>\(title) — Palisade</title>
            <link rel="stylesheet" href="/console.css">
            \(script)
            </head>
            <body>
            <header class="top"><span class="brand">Palisade</span><nav>\(nav)</nav></header>
            <main>
            \(body)
            </main>
            <footer>Palisade protective DNS · times in UTC</footer>
            </body>
            </html>

            """
    }

    /// The 1h / 24h / 7d picker: links to `path` with `range` set and the other `keep` parameters unchanged.
    static func rangePicker(path: String, current: ConsoleRange, keep: [(String, String?)] = []) -> ConsoleHTML {
        let links = ConsoleRange.allCases.map { r -> ConsoleHTML in
            let url = ConsoleURL.make(path, keep + [("range", r.rawValue)])
            let current: ConsoleHTML = r == current ? " aria-current=\"true\" class=\"on\"" : ""
            return "<a href=\"\(url)\"\(current)>\(r.rawValue)</a>"
        }
        return "<nav class=\"range\" aria-label=\"Time range\"><span>Range:</span>\(links)</nav>"
    }

    /// A workload by name, image and labels, linked to its page.
    static func workload(key: String, _ w: Workload, link: Bool = true) -> ConsoleHTML {
        let name: ConsoleHTML =
            link ? "<a class=\"wname\" href=\"\(Self.workloadPath(key))\">\(w.name)</a>" : "<span class=\"wname\">\(w.name)</span>"
        let image: ConsoleHTML = w.image.map { "<span class=\"image\">\($0)</span>" } ?? ""
        return "<span class=\"workload\">\(name) \(image)\(Self.labels(w.labels))</span>"
    }

    /// An unidentified client: "unknown (192.0.2.7)", linked to its queries since `from` (the address filter
    /// has no index, so the link bounds it in time).
    static func unknownClient(_ ip: String, from: String = "-7d") -> ConsoleHTML {
        let url = ConsoleURL.make("/search", [("client_ip", ip), ("from", from)])
        return "<span class=\"workload unknown\"><a href=\"\(url)\">unknown (\(ip))</a></span>"
    }

    /// Either of the above for a grouped row over the window `range`.
    static func subject(_ subject: EventSubject, range: ConsoleRange) -> ConsoleHTML {
        switch subject {
        case .workload(let w): Self.workload(key: w.key, w.workload)
        case .client(let ip): Self.unknownClient(ip, from: "-" + range.rawValue)
        }
    }

    /// Who sent a logged query.
    static func sender(_ event: StoredEvent) -> ConsoleHTML {
        if let key = event.workloadKey, let w = event.event.workload {
            return Self.workload(key: key, w)
        }
        return Self.unknownClient(event.event.clientIP)
    }

    /// Labels as `key=value` chips, sorted by key.
    static func labels(_ labels: [String: String]) -> ConsoleHTML {
        guard !labels.isEmpty else { return "" }
        let chips = labels.sorted { $0.key < $1.key }.map { k, v -> ConsoleHTML in
            "<span class=\"label\">\(k)=\(v)</span>"
        }
        return " <span class=\"labels\">\(chips)</span>"
    }

    /// `/workloads/<key>` with the key percent-encoded (a static entry's name may hold `/` or `?`).
    static func workloadPath(_ key: String) -> String {
        "/workloads/" + ConsoleURL.encode(key)
    }

    /// A timestamp as `<time>`.
    static func time(_ micros: Int64) -> ConsoleHTML {
        "<time datetime=\"\(ConsoleTime.rfc3339(micros))\">\(ConsoleTime.format(micros))</time>"
    }

    /// "4 min ago" with the exact time as a tooltip.
    static func ago(_ micros: Int64, now: Int64) -> ConsoleHTML {
        let seconds = (now - micros) / ConsoleTime.microsPerSecond
        return "<time datetime=\"\(ConsoleTime.rfc3339(micros))\" title=\"\(ConsoleTime.format(micros)) UTC\">"
            + "\(ConsoleTime.duration(seconds: seconds)) ago</time>"
    }

    /// The feed and rule that decided a query: `urlhaus: evil.example (nxdomain)`.
    static func policy(_ hit: PolicyHit) -> ConsoleHTML {
        // The usual triggers (a name in a list or an RPZ QNAME rule) go without saying; client-IP and
        // response-IP rules are worth naming.
        let trigger: ConsoleHTML = ["", "qname", "list"].contains(hit.trigger) ? "" : " on \(hit.trigger)"
        return "<span class=\"feed\">\(hit.source)</span>: <span class=\"rule\">\(hit.rule)</span> "
            + "<span class=\"action\">(\(hit.action)\(trigger))</span>"
    }

    /// A notice box.
    static func notice(_ text: ConsoleHTML, kind: String = "info") -> ConsoleHTML {
        "<p class=\"notice \(kind)\">\(text)</p>"
    }

    /// Numbers with thin grouping: 12 345.
    static func number(_ n: Int) -> String {
        let digits = String(abs(n))
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out += "\u{202F}" }
            out.append(c)
        }
        return n < 0 ? "-" + out : out
    }
}

extension ConsoleHTML {
    /// Concatenation (for building a fragment across lines).
    static func + (lhs: ConsoleHTML, rhs: ConsoleHTML) -> ConsoleHTML {
        var out = lhs
        out += rhs
        return out
    }
}
