import DNSWire
import Foundation
import Testing
import TestSupport

/// The README's first command, `palisade serve` with no configuration file, must work as described:
/// block a host of the bundled URLhaus snapshot, resolve everything else, and serve health and metrics.
/// Only the ports (port 0), the data directory and the upstream (NSD, from the environment as a container
/// would set it) differ; `PALISADE_POLICY__FETCH=false` keeps the feed offline on its bundled copy.
@Suite("README quick start", .tags(.integration), .enabled(if: TestBinaries.has("nsd"), "needs nsd (Debian: nsd)"))
struct QuickstartTests {
    /// The first bare host name in the bundled snapshot (not an address, not a comment).
    static func bundledHost() throws -> String {
        let path = packageRoot.appendingPathComponent("Sources/Runtime/Resources/feeds/urlhaus.txt").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let host = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.first { line in
            !line.isEmpty && !line.hasPrefix("!") && !line.hasPrefix("#") && !line.contains("/")
                && !line.contains(":") && line.contains(where: \.isLetter) && line.contains(".")
        }
        return try #require(host, "no host name in \(path)")
    }

    @Test("serve with no file blocks a bundled URLhaus host, resolves NSD names, and answers /healthz, /readyz, /metrics")
    func serveWithoutConfigFile() async throws {
        let host = try Self.bundledHost()
        try await withDaemons { r in
            let nsd = r.keep(try await NSDServer.start(zones: [exampleZone()]))
            let palisade = r.keep(try await PalisadeProcess.start(
                environment: ["PALISADE_UPSTREAMS__SERVERS": "127.0.0.1:\(nsd.port)"], defaultFeeds: true))
            let port = palisade.dnsPort

            let blocked = try await DNSTestClient.query(host, .a, port: port)
            #expect(blocked.rcode == .nxDomain, "\(host) is not blocked:\n\(blocked)\n\(palisade.log)")
            let ede = blocked.extendedError
            #expect(ede?.code == .blocked, "\(blocked)")
            #expect(ede?.text.contains("urlhaus") == true, "\(ede.map { $0.text } ?? "no EDE")")

            let resolved = try await DNSTestClient.query("www.example.org", .a, port: port)
            #expect(resolved.rcode == .noError, "\(resolved)\n\(palisade.log)")
            #expect(resolved.answers.map(\.rdata.presentation) == ["192.0.2.1"], "\(resolved)")

            let http = try #require(palisade.httpPort, "HTTP is on by default")
            let health = try await HTTPTestClient.get("/healthz", port: http)
            #expect(health.status == 200, "\(health.body)")
            let ready = try await HTTPTestClient.get("/readyz", port: http)
            #expect(ready.status == 200, "\(ready.body)")
            let metrics = try await HTTPTestClient.get("/metrics", port: http)
            #expect(metrics.status == 200)
            #expect(metrics.headers["content-type"]?.contains("text/plain") == true, "\(metrics.headers)")
            // Prometheus text format, with the query counters the README's `curl | grep` looks for.
            #expect(metrics.body.contains("# TYPE palisade_queries_total counter"), "\(metrics.body.prefix(2000))")
            let counted = metrics.body.split(separator: "\n").filter { $0.hasPrefix("palisade_queries_total{") }
                .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
            #expect(counted >= 2, "two queries were answered, the counters say \(counted)")
        }
    }
}
