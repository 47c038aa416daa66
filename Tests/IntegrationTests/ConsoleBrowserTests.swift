import DNSWire
import Foundation
import Testing
import TestSupport

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The console in a real browser: `palisade serve` with a static identity file and a block list, real queries
/// from several loopback addresses, then headless Chromium renders the pages from 127.0.0.1 only.
@Suite(
    "Console in a browser", .tags(.integration),
    .enabled(if: Requirements.nsdAndDig && Requirements.chromium,
        "needs nsd, dig and chromium (Debian: nsd, bind9-dnsutils, chromium; scripts/test.sh installs them)"))
struct ConsoleBrowserTests {
    /// Workloads behind loopback addresses: 127.0.0.2 and 127.0.0.3 are named, 127.0.0.4 is not.
    static let identities = """
        - match: 127.0.0.2
          name: web-frontend
          image: registry.example.org/web:1.4
          labels: {team: payments, env: prod}
        - match: 127.0.0.3
          name: batch-worker
          image: localhost/batch:2
          labels: {team: data}
        """

    /// The block list (its file name is the feed's name in EDE texts, the log and the console).
    static let blocklist = "c2.evil-example.org\ntracker.example.net\n"

    /// A label a hostile client could send: markup and a quote (characters DNS presentation format leaves
    /// unescaped), which the console must show as text.
    static let hostileLabel = "<img/src=x/onerror=alert'1'>"

    @Test("The dashboard, workload, search and feeds pages show the logged workloads, blocks and feed in Chromium")
    func consoleInChromium() async throws {
        try await withDaemons { r in
            let nsd = r.keep(try await NSDServer.start(zones: [exampleZone()]))
            let dir = try r.directory(prefix: "palisade-console")
            let list = try dir.write("c2-feed.txt", Self.blocklist)
            let identity = try dir.write("identity.yaml", Self.identities)
            let palisade = r.keep(
                try await PalisadeProcess.start(
                    arguments: ["--blocklist", list, "--identity-file", identity], upstreams: ["127.0.0.1:\(nsd.port)"]))
            let http = try #require(palisade.httpPort, "no HTTP port:\n\(palisade.log)")
            let port = palisade.dnsPort

            // web-frontend asks for a clean name and, three times, for the C&C name; batch-worker for the
            // tracker; the unnamed client for a clean name and a hostile one.
            let clean = try await DNSTestClient.query("www.example.org", .a, port: port, source: "127.0.0.2")
            #expect(clean.rcode == .noError, "\(clean)")
            for _ in 0..<3 {
                let blocked = try await DNSTestClient.query("c2.evil-example.org", .a, port: port, source: "127.0.0.2")
                #expect(blocked.rcode == .nxDomain, "\(blocked)")
            }
            _ = try await DNSTestClient.query("tracker.example.net", .aaaa, port: port, source: "127.0.0.3")
            _ = try await DNSTestClient.query("mail.example.org", .mx, port: port, source: "127.0.0.3")
            _ = try await DNSTestClient.query("www.example.org", .aaaa, port: port, source: "127.0.0.4")
            let hostile = DNSMessage.query(
                id: 4242, name: try DomainName(labels: [Array(Self.hostileLabel.utf8), Array("example".utf8), Array("org".utf8)]),
                type: .a, recursionDesired: true, edns: EDNS())
            _ = try await DNSTestClient.udpQuery(hostile, port: port, source: "127.0.0.4")

            // Repeats are folded for the aggregation window (2 s) and the writer flushes every 200 ms: wait
            // until the dashboard counts all eight queries.
            let flushed = await Poll.until(timeout: .seconds(20), every: .milliseconds(100)) {
                let page = try? await HTTPTestClient.get("/?range=1h", port: http)
                return page?.body.contains("<div class=\"value\">8</div><div class=\"what\">queries in") == true
            }
            #expect(flushed, "the queries never reached the query log:\n\(palisade.log)")

            let browser = try r.directory(prefix: "palisade-chromium")
            let dashboard = try await Self.dumpDOM("http://127.0.0.1:\(http)/?range=1h", profile: browser)
            for expected in [
                "web-frontend", "registry.example.org/web:1.4", "team=payments", "env=prod", "batch-worker",
                "c2.evil-example.org", "tracker.example.net", "c2-feed.txt", "unknown (127.0.0.4)", "×3",
            ] {
                #expect(dashboard.contains(expected), "the dashboard DOM lacks \(expected):\n\(dashboard)")
            }
            #expect(dashboard.contains("<svg class=\"chart timeseries\""), "no chart in the DOM")

            let workload = try await Self.dumpDOM("http://127.0.0.1:\(http)/workloads/static%3Aweb-frontend?range=1h",
                profile: browser)
            #expect(workload.contains("<h1>web-frontend</h1>"), "\(workload)")
            #expect(workload.contains("4 queries, 3 blocked"), "\(workload)")
            #expect(workload.contains("c2.evil-example.org"))

            // Whatever the browser parsed from the hostile name is text: no element was created from it.
            let search = try await Self.dumpDOM("http://127.0.0.1:\(http)/search?client_ip=127.0.0.4", profile: browser)
            #expect(search.contains("&lt;img/src=x/onerror=alert'1'&gt;.example.org"), "\(search)")
            #expect(!search.contains("<img"), "the hostile name became an element:\n\(search)")

            let feeds = try await Self.dumpDOM("http://127.0.0.1:\(http)/feeds", profile: browser)
            #expect(feeds.contains("c2-feed.txt"))
            #expect(feeds.contains("<span class=\"state ok\">ok</span>"), "\(feeds)")

            let screenshot = dir.file("console-dashboard.png")
            try await Self.screenshot("http://127.0.0.1:\(http)/?range=1h", to: screenshot, profile: browser)
            let png = try #require(FileManager.default.contents(atPath: screenshot), "chromium wrote no screenshot")
            #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]), "not a PNG")
            #expect(png.count > 20_000, "a \(png.count)-byte screenshot is too small to show the page")
            // PALISADE_CONSOLE_SCREENSHOT=path keeps a copy (how docs/console-dashboard.png was made).
            if let keep = ProcessInfo.processInfo.environment["PALISADE_CONSOLE_SCREENSHOT"] {
                try? FileManager.default.removeItem(atPath: keep)
                try FileManager.default.copyItem(atPath: screenshot, toPath: keep)
            }
        }
    }

    @Test("A workload quarantined through the API shows as quarantined, with a release form, in Chromium")
    func quarantineInChromium() async throws {
        let token = "console-test-token-0123456789abcdef"
        let config = """
            api:
              tokens:
                - name: ops
                  token: \(token)
            """
        try await withDaemons { r in
            let nsd = r.keep(try await NSDServer.start(zones: [exampleZone()]))
            let dir = try r.directory(prefix: "palisade-console")
            let list = try dir.write("c2-feed.txt", Self.blocklist)
            let identity = try dir.write("identity.yaml", Self.identities)
            let palisade = r.keep(
                try await PalisadeProcess.start(
                    config: config, arguments: ["--blocklist", list, "--identity-file", identity],
                    upstreams: ["127.0.0.1:\(nsd.port)"]))
            let http = try #require(palisade.httpPort, "no HTTP port:\n\(palisade.log)")
            let before = try await DNSTestClient.query("www.example.org", .a, port: palisade.dnsPort, source: "127.0.0.2")
            #expect(before.rcode == .noError, "\(before)")
            let page = "/workloads/static%3Aweb-frontend"
            let logged = await Poll.until(timeout: .seconds(20), every: .milliseconds(100)) {
                (try? await HTTPTestClient.get(page, port: http))?.status == 200
            }
            #expect(logged, "web-frontend never reached the query log:\n\(palisade.log)")

            let browser = try r.directory(prefix: "palisade-chromium")
            let free = try await Self.dumpDOM("http://127.0.0.1:\(http)\(page)", profile: browser)
            #expect(free.contains("<dt>Quarantine</dt><dd>not quarantined</dd>"), "\(free)")
            #expect(free.contains("data-action=\"quarantine\" data-workload-key=\"static:web-frontend\""), "\(free)")

            // What the page's form sends (console.js): the API call with the operator's token.
            let (status, body) = try await Self.post(
                "http://127.0.0.1:\(http)/api/v1/quarantine", token: token,
                json: #"{"workload_key": "static:web-frontend", "reason": "beacons to <c2>", "answer": "nxdomain"}"#)
            #expect((200..<300).contains(status), "quarantine answered \(status): \(body)")
            let after = try await DNSTestClient.query("www.example.org", .a, port: palisade.dnsPort, source: "127.0.0.2")
            #expect(after.rcode == .nxDomain, "a quarantined workload still resolves:\n\(after)")

            let held = try await Self.dumpDOM("http://127.0.0.1:\(http)\(page)", profile: browser)
            #expect(held.contains("<span class=\"state failed\">quarantined</span> since"), "\(held)")
            #expect(held.contains("by <strong>ops</strong>: beacons to &lt;c2&gt;"), "\(held)")
            #expect(held.contains("(queries answered NXDOMAIN)"), "\(held)")
            #expect(held.contains("data-action=\"release\""), "\(held)")
            let workloads = try await Self.dumpDOM("http://127.0.0.1:\(http)/workloads", profile: browser)
            #expect(workloads.contains("web-frontend</a> <span class=\"image\">registry.example.org/web:1.4</span>"))
            #expect(workloads.contains(">quarantined</span>"), "\(workloads)")
        }
    }

    @Test("console.js sends the form's request with the typed token and shows the API's error as text",
        arguments: ["quarantine", "release"])
    func quarantineScript(action: String) async throws {
        try await withDaemons { r in
            let palisade = r.keep(try await PalisadeProcess.start(upstreams: ["127.0.0.1:9"]))
            let http = try #require(palisade.httpPort)
            let script = try await HTTPTestClient.get("/console.js", port: http)
            #expect(script.status == 200)
            // A page with the console's form markup, the served script, and a stand-in for fetch that records
            // the request and answers 401 with a hostile error text; the form is submitted on load.
            let dir = try r.directory(prefix: "palisade-console-js")
            _ = try dir.write("console.js", script.body)
            _ = try dir.write("driver.js", """
                window.fetch = async function (url, init) {
                  document.body.setAttribute("data-request",
                    [url, init.method, init.headers["Authorization"], init.headers["Content-Type"], init.body,
                     init.credentials].join(" | "));
                  return { ok: false, status: 401, statusText: "Unauthorized",
                    json: async () => ({ error: "bad <b>token</b>" }) };
                };
                document.addEventListener("DOMContentLoaded", function () {
                  document.querySelector("form").requestSubmit();
                });
                """)
            let page = try dir.write("page.html", """
                <!DOCTYPE html><html><head><script src="console.js" defer></script>\
                <script src="driver.js" defer></script></head><body>
                <form class="quarantine" data-action="\(action)" data-workload-key="pod:ns/api 1">
                <input name="reason" value="r &amp; d"><select name="answer"><option value="nxdomain">N</option></select>
                <input type="password" name="token" value="s3cret"><button type="submit">Go</button></form>
                <p id="quarantine-result"></p></body></html>
                """)
            let profile = try r.directory(prefix: "palisade-chromium")
            let out = try await ExternalTool.run(
                "chromium",
                Self.chromiumArguments(profile: profile) + [
                    "--allow-file-access-from-files", "--virtual-time-budget=3000", "--dump-dom", "file://\(page)",
                ], environment: Self.environment(profile), timeout: .seconds(90))
            #expect(out.status == 0, "\(out)")
            let dom = out.output
            if action == "quarantine" {
                #expect(dom.contains(
                    "data-request=\"/api/v1/quarantine | POST | Bearer s3cret | application/json | "
                        + "{&quot;workload_key&quot;:&quot;pod:ns/api 1&quot;,&quot;reason&quot;:&quot;r &amp; d&quot;,"
                        + "&quot;answer&quot;:&quot;nxdomain&quot;} | omit\""), "\(dom)")
            } else {
                #expect(dom.contains(
                    "data-request=\"/api/v1/quarantine/pod%3Ans%2Fapi%201?reason=r%20%26%20d | DELETE | Bearer s3cret |  |  | omit\""),
                    "\(dom)")
            }
            #expect(dom.contains("<p id=\"quarantine-result\">Failed: 401 Unauthorized: bad &lt;b&gt;token&lt;/b&gt;</p>"),
                "\(dom)")
        }
    }

    /// POSTs `json` with a bearer token to a 127.0.0.1 URL, with proxies off; returns status and body.
    static func post(_ url: String, token: String, json: String) async throws -> (Int, String) {
        #expect(url.hasPrefix("http://127.0.0.1:"))
        let configuration = URLSessionConfiguration.ephemeral
        configuration.connectionProxyDictionary = [:]
        let session = URLSession(configuration: configuration)
        defer { session.finishTasksAndInvalidate() }
        var request = URLRequest(url: try #require(URL(string: url)), timeoutInterval: 10)
        request.httpMethod = "POST"
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(json.utf8)
        let (data, response) = try await session.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    /// Flags that keep Chromium off the network and quiet: no background services, no component or
    /// safe-browsing updates, every host name but 127.0.0.1 unresolvable, a throwaway profile.
    static func chromiumArguments(profile: TemporaryDirectory) -> [String] {
        [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--user-data-dir=\(profile.path)", "--no-first-run", "--no-default-browser-check",
            "--disable-background-networking", "--disable-component-update", "--disable-default-apps",
            "--disable-extensions", "--disable-sync", "--disable-domain-reliability",
            "--disable-client-side-phishing-detection", "--disable-breakpad", "--metrics-recording-only",
            "--safebrowsing-disable-auto-update", "--no-pings", "--disable-features=MediaRouter,OptimizationHints,Translate",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--proxy-server=direct://",
            "--hide-scrollbars", "--force-device-scale-factor=1",
        ]
    }

    /// The DOM Chromium builds from `url`, serialised.
    static func dumpDOM(_ url: String, profile: TemporaryDirectory) async throws -> String {
        #expect(url.hasPrefix("http://127.0.0.1:"), "the browser may only visit this machine")
        let out = try await ExternalTool.run(
            "chromium", Self.chromiumArguments(profile: profile) + ["--enable-logging=stderr", "--v=0", "--dump-dom", url],
            environment: Self.environment(profile), timeout: .seconds(90))
        #expect(out.status == 0, "\(out)")
        // The page's console: a Content-Security-Policy violation (an inline style or script the policy
        // blocked, so something would not render) or a script error is logged as a CONSOLE line.
        let console = out.errorOutput.split(separator: "\n").filter { $0.contains(":CONSOLE") }
        #expect(console.isEmpty, "\(url) logged to the browser console:\n\(console.joined(separator: "\n"))")
        return out.output
    }

    /// A 1280×1600 screenshot of `url`.
    static func screenshot(_ url: String, to path: String, profile: TemporaryDirectory) async throws {
        #expect(url.hasPrefix("http://127.0.0.1:"), "the browser may only visit this machine")
        let out = try await ExternalTool.run(
            "chromium", Self.chromiumArguments(profile: profile) + ["--screenshot=\(path)", "--window-size=1280,1600", url],
            environment: Self.environment(profile), timeout: .seconds(90))
        #expect(out.status == 0, "\(out)")
    }

    /// The test's environment with HOME in the throwaway profile (Chromium writes caches there).
    static func environment(_ profile: TemporaryDirectory) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["HOME"] = profile.path
        return env
    }
}

extension Requirements {
    /// Debian's `chromium`, run headless for the console's browser test.
    static let chromium = TestBinaries.has("chromium")
}
