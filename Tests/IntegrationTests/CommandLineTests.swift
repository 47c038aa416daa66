import Foundation
import Testing
import TestSupport

/// The one-shot subcommands of the built `palisade` executable, run as an operator would run them.
@Suite("palisade subcommands", .tags(.integration))
struct CommandLineTests {
    @Test("check-config on a bad file exits non-zero and names the key and the file")
    func checkConfigRejectsBadFile() async throws {
        try await TestResources.with { r in
            let dir = try r.directory(prefix: "palisade-cli")
            let bad = try dir.write("bad.yaml", """
                upstreams:
                  strategy: fastest
                tcp:
                  idleTimeoutMs: 0
                """)
            let out = try await PalisadeProcess.run(["check-config", "--config", bad])
            #expect(out.status != 0, "\(out)")
            let text = out.output + out.errorOutput
            #expect(text.contains("upstreams.strategy"), "\(out)")
            #expect(text.contains("tcp.idleTimeoutMs"), "every problem is listed, not just the first:\n\(out)")
            #expect(text.contains("bad.yaml"), "\(out)")

            let typo = try dir.write("typo.yaml", "listne: [\"127.0.0.1:53\"]\n")
            let typoOut = try await PalisadeProcess.run(["check-config", "--config", typo])
            #expect(typoOut.status != 0, "\(typoOut)")
            #expect((typoOut.output + typoOut.errorOutput).contains("listne"), "\(typoOut)")

            let good = try dir.write("good.yaml", "listen: [\"127.0.0.1:5399\"]\n")
            let goodOut = try await PalisadeProcess.run(["check-config", "--config", good, "--no-default-feeds"])
            #expect(goodOut.status == 0, "\(goodOut)")
        }
    }

    @Test(
        "check-config rejects a misspelt key inside a section, not only at the top level")
    func checkConfigRejectsNestedTypo() async throws {
        try await TestResources.with { r in
            let dir = try r.directory(prefix: "palisade-cli")
            for (file, text, key) in [
                ("cache.yaml", "cache:\n  maxEntriez: 5\n", "maxEntriez"),
                ("upstreams.yaml", "upstreams:\n  timeoutMS: 5\n", "timeoutMS"),
                ("tcp.yaml", "tcp:\n  idleTimeout: 5\n", "idleTimeout"),
            ] {
                let path = try dir.write(file, text)
                let out = try await PalisadeProcess.run(["check-config", "--config", path])
                #expect(out.status != 0, "\(out)")
                #expect((out.output + out.errorOutput).contains(key), "\(out)")
            }
        }
    }

    @Test("serve runs with glibc's malloc cache raised, and keeps an operator's own setting")
    func serveRaisesMallocCache() async throws {
        try await TestResources.with { r in
            // The variable the running process was started with, after its one re-execution.
            func tunables(_ p: PalisadeProcess) throws -> String? {
                let environ = try String(contentsOfFile: "/proc/\(p.pid)/environ", encoding: .utf8)
                return environ.split(separator: "\0").first { $0.hasPrefix("GLIBC_TUNABLES=") }
                    .map { String($0.dropFirst("GLIBC_TUNABLES=".count)) }
            }
            let plain = r.keep(try await PalisadeProcess.start(upstreams: ["127.0.0.1:9"]))
            #expect(try tunables(plain) == "glibc.malloc.tcache_count=1000", "\(plain.log)")
            #expect(plain.log.contains("glibc malloc tcache_count=1000"), "\(plain.log)")
            // The process the harness started is the one serving (exec keeps the PID), and it answers.
            let reply = try await DigClient.dig("localhost", port: plain.dnsPort)
            #expect(reply.status == "NOERROR", "\(reply)")
            #expect(reply.answerSet == ["localhost. IN A 127.0.0.1"], "\(reply)")

            let mixed = r.keep(try await PalisadeProcess.start(upstreams: ["127.0.0.1:9"],
                environment: ["GLIBC_TUNABLES": "glibc.malloc.mxfast=0"]))
            // ld.so cuts the variable's original bytes at each ':' as it parses them, so /proc shows the first
            // tunable only; the process's own environment (which the log line reads) has both.
            #expect(mixed.log.contains("glibc malloc tcache_count=1000"), "\(mixed.log)")

            let own = r.keep(try await PalisadeProcess.start(upstreams: ["127.0.0.1:9"],
                environment: ["GLIBC_TUNABLES": "glibc.malloc.tcache_count=7"]))
            #expect(try tunables(own) == "glibc.malloc.tcache_count=7")
            #expect(own.log.contains("glibc malloc tcache_count=7"), "\(own.log)")

            // A re-executed process whose loader dropped the tunable (secure mode) runs on and says so: it never
            // re-executes a second time.
            let dropped = r.keep(try await PalisadeProcess.start(upstreams: ["127.0.0.1:9"],
                environment: ["_PALISADE_MALLOC_REEXEC": "1"]))
            #expect(try tunables(dropped) == nil, "\(dropped.log)")
            #expect(dropped.log.contains("glibc did not keep glibc.malloc.tcache_count"), "\(dropped.log)")
        }
    }

    @Test("print-config --defaults prints YAML with the listen addresses")
    func printDefaults() async throws {
        let out = try await PalisadeProcess.run(["print-config", "--defaults"])
        #expect(out.status == 0, "\(out)")
        let top = Self.topLevelKeys(out.output)
        #expect(top.contains("listen"), "\(out)")
        for key in ["http", "acl", "upstreams", "cache", "policy", "tcp"] {
            #expect(top.contains(key), "\(key) missing:\n\(out.output)")
        }
        // The listen list holds the documented default.
        #expect(out.output.contains("- 127.0.0.1:5353"), "\(out.output)")

        // It round-trips: the printed defaults are a valid configuration file.
        try await TestResources.with { r in
            let dir = try r.directory(prefix: "palisade-cli")
            let path = try dir.write("defaults.yaml", out.output)
            let check = try await PalisadeProcess.run(["check-config", "--config", path])
            #expect(check.status == 0, "the printed defaults do not load:\n\(check)")
        }
    }

    @Test("query NAME A --trace prints each stage's decision and the answer",
        .enabled(if: TestBinaries.has("nsd"), "needs nsd (Debian: nsd)"))
    func queryTrace() async throws {
        try await withDaemons { r in
            let nsd = r.keep(try await NSDServer.start(zones: [exampleZone()]))
            let out = try await PalisadeProcess.run(["query", "www.example.org", "A", "--trace",
                "--upstream", "127.0.0.1:\(nsd.port)", "--no-default-feeds"])
            #expect(out.status == 0, "\(out)")
            let lines = out.output.split(separator: "\n").map(String.init)
            #expect(lines.contains { $0.hasPrefix(";; ingress-guard:") }, "\(out)")
            #expect(lines.contains { $0.hasPrefix(";; cache:") && $0.contains("miss") }, "\(out)")
            #expect(lines.contains { $0.hasPrefix(";; upstream:") && $0.contains("127.0.0.1:\(nsd.port)") }, "\(out)")
            #expect(lines.contains { $0.contains("answer source: upstream") }, "\(out)")
            #expect(lines.contains { $0.hasPrefix("www.example.org.") && $0.hasSuffix("A 192.0.2.1") }, "\(out)")
            // The stages appear in pipeline order.
            let order = [";; ingress-guard:", ";; cache:", ";; upstream:"].compactMap { p in lines.firstIndex { $0.hasPrefix(p) } }
            #expect(order == order.sorted() && order.count == 3, "\(out)")
        }
    }

    @Test("query --trace shows a policy hit with its source and rule",
        .enabled(if: TestBinaries.has("nsd"), "needs nsd (Debian: nsd)"))
    func queryTraceBlocked() async throws {
        try await withDaemons { r in
            let nsd = r.keep(try await NSDServer.start(zones: [exampleZone()]))
            let dir = try r.directory(prefix: "palisade-cli")
            let rpz = try dir.write("cli.rpz", rpzZone(["www.example.org CNAME ."]))
            let out = try await PalisadeProcess.run(["query", "www.example.org", "A", "--trace",
                "--upstream", "127.0.0.1:\(nsd.port)", "--no-default-feeds", "--rpz", rpz])
            #expect(out.status == 0, "\(out)")
            #expect(out.output.contains("cli.rpz"), "\(out)")
            #expect(out.output.contains("NXDOMAIN"), "\(out)")
            #expect(!out.output.contains(";; upstream:"), "a blocked name must never reach upstream:\n\(out)")
        }
    }

    @Test("lists update loads a source into the data directory, lists status then shows it, a missing file fails")
    func listsUpdateAndStatus() async throws {
        try await TestResources.with { r in
            let dir = try r.directory(prefix: "palisade-cli")
            let rpz = try dir.write("feed.rpz", rpzZone(["a.example.org CNAME .", "*.b.example.org CNAME ."]))
            let common = ["--rpz", rpz, "--no-default-feeds", "--data-dir", dir.file("data")]
            let update = try await PalisadeProcess.run(["lists", "update"] + common)
            #expect(update.status == 0, "\(update)")
            let status = try await PalisadeProcess.run(["lists", "status"] + common)
            #expect(status.status == 0, "\(status)")
            let row = status.output.split(separator: "\n").first { $0.hasPrefix("feed.rpz\t") }
                .map { $0.split(separator: "\t").map(String.init) }
            #expect(row?[1] == "ok", "\(status)")
            #expect(row?[3] == "2", "two rules:\n\(status)")

            let missing = dir.file("missing.rpz")
            let failed = try await PalisadeProcess.run(["lists", "update", "--rpz", missing, "--no-default-feeds",
                "--data-dir", dir.file("data")])
            #expect(failed.status != 0, "\(failed)")
            #expect(failed.output.contains("failed") && failed.output.contains(missing), "\(failed)")
        }
    }

    /// Keys at column 0 of a block-style YAML mapping.
    static func topLevelKeys(_ yaml: String) -> Set<String> {
        Set(yaml.split(separator: "\n").compactMap { line -> String? in
            guard let first = line.first, first.isLetter, let colon = line.firstIndex(of: ":") else { return nil }
            return String(line[..<colon])
        })
    }
}
