import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Incident webhooks end to end: the real `palisade serve` with a block list and a static identity file that
/// names 127.0.0.2 as a workload, and a real HTTP receiver (a Python `http.server` on 127.0.0.1 port 0).
@Suite("Incident webhooks end to end", .tags(.integration),
    .enabled(if: Requirements.nsdAndDig && WebhookReceiverProcess.available, "needs nsd, dig and python3"))
struct IncidentWebhookTests {
    @Test("Twenty blocked queries from one workload post exactly one incident naming it, the rule and its last queries")
    func oneIncident() async throws {
        try await withDaemons { r in
            let nsd = r.keep(try await NSDServer.start(zones: [exampleZone(["bad IN A 192.0.2.66", "evil IN A 192.0.2.67"])]))
            let receiver = r.keep(try await WebhookReceiverProcess.start())
            let dir = try r.directory(prefix: "palisade-incidents")
            let blocklist = try dir.write("threats.txt", "bad.example.org\nevil.example.org\n")
            let identity = try dir.write("identity.yaml", """
                - match: 127.0.0.2
                  name: billing-api
                  image: registry.example.org/billing:1.4
                  labels: {team: payments}
                """)
            let config = """
                incidents:
                  lastQueries: 5
                  initialBackoffMilliseconds: 50
                  webhooks:
                    - url: \(receiver.url)
                      secret: s3cret
                      headers: ["Authorization: Bearer t0ken"]
                """
            let palisade = r.keep(try await PalisadeProcess.start(config: config,
                arguments: ["--blocklist", blocklist, "--identity-file", identity], upstreams: ["127.0.0.1:\(nsd.port)"]))
            let port = palisade.dnsPort

            // Two ordinary queries, then the blocks: the incident must carry the ordinary ones in last_queries.
            for name in ["www.example.org", "mail.example.org"] {
                let a = try await DigClient.dig(name, port: port, source: "127.0.0.2")
                #expect(a.status == "NOERROR", "\(a)\n\(palisade.log)")
            }
            for i in 0..<20 {
                let a = try await DigClient.dig(i % 2 == 0 ? "bad.example.org" : "evil.example.org", port: port,
                    source: "127.0.0.2")
                #expect(a.status == "NXDOMAIN", "\(a)\n\(palisade.log)")
            }
            // Every blocked event has gone through the tracker once it counts 1 opened + 19 suppressed; only then
            // is "exactly one" a fact rather than a race.
            let httpPort = try #require(palisade.httpPort)
            let settled = await Poll.until(timeout: .seconds(10)) {
                guard let m = try? await HTTPTestClient.get("/metrics", port: httpPort).body else { return false }
                return PrometheusText.value(m, "palisade_incidents_opened_total") == 1
                    && PrometheusText.value(m, "palisade_incidents_suppressed_total") == 19
                    && PrometheusText.value(m, "palisade_incidents_sent_total") == 1
            }
            let finalMetrics = (try? await HTTPTestClient.get("/metrics", port: httpPort).body) ?? ""
            #expect(settled, "incident counters did not settle:\n\(finalMetrics)")
            let requests = try receiver.requests()
            try #require(requests.count == 1, "expected one webhook request, got \(requests.count)\n\(palisade.log)")
            let request = requests[0]
            #expect(request.headers["authorization"] == "Bearer t0ken")
            #expect(request.headers["x-palisade-signature"]?.hasPrefix("sha256=") == true)
            #expect(request.signatureVerifies(secret: "s3cret"), "the HMAC-SHA256 signature does not match the body")

            let incident = try #require(try JSONSerialization.jsonObject(with: Data(request.body.utf8)) as? [String: Any])
            #expect(incident["reason"] as? String == "blocked")
            #expect(incident["client_ip"] as? String == "127.0.0.2")
            #expect(incident["qname"] as? String == "bad.example.org")
            #expect(incident["qtype"] as? String == "A")
            let workload = try #require(incident["workload"] as? [String: Any], "\(request.body)")
            #expect(workload["name"] as? String == "billing-api")
            #expect(workload["image"] as? String == "registry.example.org/billing:1.4")
            #expect(workload["labels"] as? [String: String] == ["team": "payments"])
            let policy = try #require(incident["policy"] as? [String: Any], "\(request.body)")
            #expect(policy["source"] as? String == "threats.txt")
            #expect(policy["rule"] as? String == "bad.example.org")
            #expect(policy["action"] as? String == "nxdomain")
            // Latency: from the blocked query's arrival at Palisade to the receiver reading the POST.
            let lastTime = (incident["last_queries"] as? [[String: Any]])?.last?["time"] as? String
            if let lastTime, let arrival = ISO8601DateFormatter.withFractions.date(from: lastTime) {
                let latency = request.received - arrival.timeIntervalSince1970
                #expect(latency < 5, "incident took \(latency) s to arrive")
                print("incident latency (query arrival to webhook receipt): \(Int(latency * 1000)) ms")
            }
            let last = try #require(incident["last_queries"] as? [[String: Any]])
            #expect(last.compactMap { $0["qname"] as? String } == ["www.example.org", "mail.example.org", "bad.example.org"])
            #expect(last.last?["blocked"] as? Bool == true)

            // The per-workload counters name the workload (bounded cardinality: default 100 names).
            let metrics = try await HTTPTestClient.get("/metrics", port: httpPort).body
            #expect(metrics.contains("palisade_workload_queries_total{workload=\"billing-api\",blocked=\"true\"} 20")
                || metrics.contains("palisade_workload_queries_total{blocked=\"true\",workload=\"billing-api\"} 20"),
                "\(metrics.split(separator: "\n").filter { $0.contains("workload_queries") })")
        }
    }
}

/// `export.json` through the real server: one Event line per query, reopened on SIGHUP.
@Suite("JSON export end to end", .tags(.integration), .enabled(if: Requirements.nsdAndDig, Requirements.nsdAndDigMessage))
struct JSONExportTests {
    static func lines(_ path: String) -> [[String: Any]] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    @Test("export.json writes one API Event line per query to a file, and SIGHUP reopens it after rotation")
    func exportAndRotate() async throws {
        try await withDaemons { r in
            let nsd = r.keep(try await NSDServer.start(zones: [exampleZone()]))
            let dir = try r.directory(prefix: "palisade-export")
            let path = dir.file("events.jsonl")
            // A short aggregation window: the default (10 s) would hold the unblocked queries that long.
            let palisade = r.keep(try await PalisadeProcess.start(config: """
                queryLog:
                  aggregateWindowMs: 200
                export:
                  json: {path: "\(path)", flushIntervalMilliseconds: 20}
                """, upstreams: ["127.0.0.1:\(nsd.port)"]))
            for (name, type) in [("www.example.org", "A"), ("mail.example.org", "MX"), ("nope.example.org", "A")] {
                _ = try await DigClient.dig(name, type, port: palisade.dnsPort)
            }
            #expect(await Poll.until { Self.lines(path).count == 3 }, "\(Self.lines(path))\n\(palisade.log)")
            let first = Self.lines(path)
            #expect(first.compactMap { $0["qname"] as? String } == ["www.example.org", "mail.example.org", "nope.example.org"])
            #expect(first.compactMap { $0["rcode"] as? String } == ["NOERROR", "NOERROR", "NXDOMAIN"])
            #expect(first.compactMap { $0["qtype"] as? String } == ["A", "MX", "A"])
            #expect(first.allSatisfy { $0["client_ip"] as? String == DigClient.defaultSource })
            #expect(first.compactMap { $0["id"] as? Int } == [1, 2, 3])
            #expect(first.first?["source"] as? String == "upstream")

            // Rotate: move the file away, SIGHUP, and the exporter creates a new one at the same path.
            try FileManager.default.moveItem(atPath: path, toPath: path + ".1")
            palisade.signal(SIGHUP)
            #expect(await Poll.until { FileManager.default.fileExists(atPath: path) }, "not reopened:\n\(palisade.log)")
            _ = try await DigClient.dig("www.example.org", "AAAA", port: palisade.dnsPort)
            #expect(await Poll.until { Self.lines(path).count == 1 }, "\(palisade.log)")
            #expect(Self.lines(path).first?["qtype"] as? String == "AAAA")
            #expect(Self.lines(path + ".1").count == 3)
        }
    }
}

/// The incidents and export keys through `palisade check-config`: every problem named by its key path.
@Suite("Incident and export configuration", .tags(.integration))
struct IncidentConfigurationTests {
    @Test("check-config names each bad incidents/export key, and accepts a good configuration")
    func validation() async throws {
        let dir = try TemporaryDirectory(prefix: "palisade-incidents-config")
        defer { dir.remove() }
        let bad = try dir.write("bad.yaml", """
            export:
              json: {path: "", queueCapacity: 0}
              prometheus: {maxWorkloads: -1}
            incidents:
              windowSeconds: -5
              webhooks:
                - url: ftp://hooks.example.org/x
                  headers: ["no colon here"]
                - url: https://hooks.example.org/y
                  secret: ""
                  colour: blue
            """)
        let out = try await PalisadeProcess.run(["check-config", "--config", bad])
        let text = out.output + out.errorOutput
        #expect(out.status != 0, "\(text)")
        #expect(text.contains("incidents.webhooks[1].colour: unknown key"), "\(text)")
        let good = try dir.write("good.yaml", """
            export:
              json: {path: "-"}
              prometheus: {maxWorkloads: 10}
            incidents:
              windowSeconds: 60
              webhooks:
                - url: https://hooks.example.org/palisade
                  secret: s3cret
                  headers: ["Authorization: Bearer x"]
            """)
        let ok = try await PalisadeProcess.run(["check-config", "--config", good])
        #expect(ok.status == 0, "\(ok.output)\(ok.errorOutput)")
        // From the environment: `-` is standard output (not a YAML sequence), webhooks as a YAML list.
        let env = try await PalisadeProcess.run(["print-config"], environment: [
            "PALISADE_EXPORT__JSON__PATH": "-",
            "PALISADE_INCIDENTS__WEBHOOKS": #"[{url: "https://hooks.example.org/p", secret: "abc"}]"#,
        ])
        #expect(env.status == 0, "\(env)")
        #expect(env.output.contains("path: '-'") || env.output.contains("path: \"-\""), "\(env)")
        #expect(env.output.contains("url: https://hooks.example.org/p"), "\(env)")
        // Without the unknown key, the value problems are all reported, each with its path.
        let values = try dir.write("values.yaml", String(try String(contentsOfFile: bad, encoding: .utf8)
            .replacingOccurrences(of: "      colour: blue", with: "")))
        let v = try await PalisadeProcess.run(["check-config", "--config", values])
        let vt = v.output + v.errorOutput
        for problem in ["export.json.path", "export.json.queueCapacity", "export.prometheus.maxWorkloads",
            "incidents.windowSeconds", "incidents.webhooks[0].url", "incidents.webhooks[0].headers",
            "incidents.webhooks[1].secret"]
        {
            #expect(vt.contains(problem), "\(problem) not reported:\n\(vt)")
        }
    }
}

extension ISO8601DateFormatter {
    /// RFC 3339 with fractional seconds, as the API writes times.
    nonisolated(unsafe) static let withFractions: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }()
}

/// Reads single values from Prometheus text exposition.
enum PrometheusText {
    /// The sum of every sample of `name` (all label sets), or nil when there is none.
    static func value(_ text: String, _ name: String) -> Double? {
        var total: Double?
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let metric = line.prefix { $0 != " " && $0 != "{" }
            guard metric == name, let v = line.split(separator: " ").last.flatMap({ Double($0) }) else { continue }
            total = (total ?? 0) + v
        }
        return total
    }
}

/// A webhook receiver: Python's `http.server` on 127.0.0.1 port 0, recording each POST as a JSON line.
struct WebhookReceiverProcess: StoppableTestResource {
    /// One request as received.
    struct Request: Sendable {
        var path: String
        var headers: [String: String]
        var body: String
        /// When the receiver read it, seconds since the epoch.
        var received: Double

        /// Checks `X-Palisade-Signature` against the HMAC-SHA256 that Python's `hmac` module computed on receipt.
        func signatureVerifies(secret: String) -> Bool {
            guard let header = self.headers["x-palisade-signature"], header.hasPrefix("sha256=") else { return false }
            guard let expected = WebhookReceiverProcess.hmac(self.body, secret: secret) else { return false }
            return header.dropFirst(7) == expected
        }
    }

    static let python: String? = ["/usr/bin/python3", "/usr/local/bin/python3"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    } ?? TestBinaries.path("python3")

    /// Whether python3 is installed.
    static let available = python != nil

    static let script = #"""
        import hashlib, hmac, http.server, json, os, sys, time
        out = sys.argv[1]
        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with open(out, "a") as f:
                    f.write(json.dumps({"received": time.time(), "path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body.decode("utf-8"),
                        "hmac": hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()}) + "\n")
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
            def log_message(self, *a):
                pass
        s = http.server.HTTPServer(("127.0.0.1", 0), H)
        tmp = sys.argv[2] + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(s.server_address[1]))
        os.rename(tmp, sys.argv[2])
        s.serve_forever()
        """#

    let daemon: TestDaemon
    let port: Int

    /// The webhook URL.
    var url: String { "http://127.0.0.1:\(self.port)/hook" }

    /// Starts the receiver and waits for its port file.
    static func start() async throws -> WebhookReceiverProcess {
        guard let python = Self.python else { throw TestDaemonError("python3 is not installed") }
        let dir = try TemporaryDirectory(prefix: "palisade-webhook")
        let script = try dir.write("receiver.py", Self.script)
        let daemon = try TestDaemon(name: "webhook receiver", executable: python,
            arguments: [script, dir.file("requests.jsonl"), dir.file("port")], directory: dir)
        let port = await Poll.value(timeout: .seconds(10)) { () -> Int? in
            (try? String(contentsOfFile: dir.file("port"), encoding: .utf8)).flatMap { Int($0) }
        }
        guard let port else {
            let log = daemon.log
            await daemon.stop()
            throw TestDaemonError("the webhook receiver did not start:\n\(log)")
        }
        return WebhookReceiverProcess(daemon: daemon, port: port)
    }

    /// Every request received so far.
    func requests() throws -> [Request] {
        let path = self.daemon.directory.file("requests.jsonl")
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return try text.split(separator: "\n").map { line in
            let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            Self.hmacs.set(o["body"] as? String ?? "", o["hmac"] as? String ?? "")
            return Request(path: o["path"] as? String ?? "", headers: o["headers"] as? [String: String] ?? [:],
                body: o["body"] as? String ?? "", received: o["received"] as? Double ?? 0)
        }
    }

    /// HMACs Python computed (with the key "s3cret"), by body.
    static let hmacs = HMACTable()

    static func hmac(_ body: String, secret: String) -> String? {
        secret == "s3cret" ? Self.hmacs.get(body) : nil
    }

    func stop() async { await self.daemon.stop() }
}

/// Bodies and the HMAC Python's `hmac` module computed for each.
final class HMACTable: @unchecked Sendable {
    // @unchecked: guarded by `lock`.
    private let lock = NSLock()
    private var table: [String: String] = [:]
    func set(_ body: String, _ mac: String) { self.lock.withLock { self.table[body] = mac } }
    func get(_ body: String) -> String? { self.lock.withLock { self.table[body] } }
}
