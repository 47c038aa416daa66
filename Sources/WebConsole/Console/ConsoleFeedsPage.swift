import Foundation
import DNSPolicy

/// `/feeds`: every policy source with its state, rules, serial, age and last error (what `palisade lists
/// status` prints, from the running policy manager).
extension ConsoleController {
    func feeds(_ params: ConsoleParameters) async throws(ConsoleFailure) -> ConsoleHTML {
        let feeds = await self.sources.feeds()
        let now = self.sources.now()
        var body: ConsoleHTML = "<h1>Feeds</h1>"
        guard !feeds.isEmpty else {
            body += ConsoleLayout.notice("No policy sources are configured: nothing is blocked. Add --rpz, "
                + "--blocklist or policy.sources in the configuration.", kind: "warn")
            return ConsoleLayout.page(title: "Feeds", section: .feeds, body: body)
        }
        let failing = feeds.filter { $0.state == .failed || $0.failingClosed || $0.lastError != nil }
        if !failing.isEmpty {
            let names = failing.map(\.name).joined(separator: ", ")
            body += ConsoleLayout.notice("Needs attention: \(names).", kind: "error")
        }
        body += """
            <section class="card"><table><thead><tr><th>Feed</th><th>State</th><th>Role</th><th>Format</th>\
            <th class="num">Rules</th><th class="num">Serial</th><th>Age</th><th>Loaded</th><th>Last attempt</th>\
            <th>Last error</th></tr></thead><tbody>
            """
        for f in feeds {
            let format = f.format.map { $0 == f.kind ? $0.rawValue : "\($0.rawValue) (configured \(f.kind.rawValue))" }
                ?? f.kind.rawValue
            var problems: [ConsoleHTML] = []
            if let e = f.lastError { problems.append("\(e)") }
            if let e = f.storeError { problems.append("last good copy not saved: \(e)") }
            if f.badLines > 0 {
                let first: ConsoleHTML = f.issues.first.map { " (first: \(String(describing: $0)))" } ?? ""
                problems.append("\(ConsoleLayout.number(f.badLines)) bad lines skipped\(first)")
            }
            let loaded = f.loadedAt.map { ConsoleLayout.ago(Self.micros($0.timeIntervalSince1970), now: now) } ?? "—"
            let attempt = f.lastAttempt.map { ConsoleLayout.ago(Self.micros($0.timeIntervalSince1970), now: now) } ?? "—"
            body += """
                <tr><td><span class="feed">\(f.name)</span><br><code class="muted">\(f.location)</code></td>\
                <td>\(Self.stateBadge(f))</td><td>\(f.role.rawValue)</td><td>\(format)</td>\
                <td class="num">\(ConsoleLayout.number(f.ruleCount))</td>\
                <td class="num">\(f.serial.map { String($0) } ?? "—")</td>\
                <td>\(Self.age(f))</td><td>\(loaded)</td><td>\(attempt)</td>\
                <td>\(ConsoleHTML.join(problems, separator: "<br>"))</td></tr>
                """
        }
        body += "</tbody></table></section>"
        return ConsoleLayout.page(title: "Feeds", section: .feeds, body: body)
    }

    private static func micros(_ seconds: Double) -> Int64 {
        guard seconds.isFinite, abs(seconds) < 1e11 else { return 0 }
        return Int64((seconds * 1_000_000).rounded())
    }
}
