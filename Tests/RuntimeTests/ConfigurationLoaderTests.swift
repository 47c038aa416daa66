import DNSCache
import DNSPolicy
import Foundation
@testable import Runtime
import Testing

@Suite struct ConfigurationLoaderTests {
    func withFile(_ text: String, _ body: (String) throws -> Void) throws {
        let path = NSTemporaryDirectory() + "palisade-config-\(UUID().uuidString).yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        try body(path)
    }

    /// Loading `yaml` fails with an error that names `key` and the rejected `value`.
    func expectRejected(_ yaml: String, naming key: String, _ value: String) throws {
        try self.withFile(yaml) { path in
            #expect {
                try ConfigurationLoader.load(path: path, environment: [:])
            } throws: { error in
                "\(error)".contains(key) && "\(error)".contains(value)
            }
        }
    }

    @Test("No file gives the embedded default: 127.0.0.1:5353, private ACL, bundled feed, SQLite log")
    func defaults() throws {
        let c = try ConfigurationLoader.load(path: nil, environment: [:])
        #expect(c.listen == ["127.0.0.1:5353"])
        #expect(c.acl.allow.contains("10.0.0.0/8"))
        #expect(!c.acl.allow.contains("0.0.0.0/0"))
        #expect(c.policy.defaultFeeds)
        #expect(c.queryLog.store)
    }

    @Test("The query log's aggregation window defaults to 10 s, can be turned off, and rejects a negative value")
    func aggregationWindow() throws {
        #expect(try ConfigurationLoader.load(path: nil, environment: [:]).queryLog.aggregateWindowMs == 10_000)
        let off = try ConfigurationLoader.load(path: nil, environment: ["PALISADE_QUERY_LOG__AGGREGATE_WINDOW_MS": "0"])
        #expect(off.queryLog.aggregateWindowMs == 0)
        try self.expectRejected("queryLog:\n  aggregateWindowMs: -5\n", naming: "aggregateWindowMs", "-5")
    }

    @Test("The block-storm threshold defaults to 1000 names, 0 lifts it, and a negative value names the key and value")
    func blockStormThreshold() throws {
        #expect(try ConfigurationLoader.load(path: nil, environment: [:]).queryLog.blockStormThreshold == 1_000)
        let off = try ConfigurationLoader.load(path: nil,
            environment: ["PALISADE_QUERY_LOG__BLOCK_STORM_THRESHOLD": "0"])
        #expect(off.queryLog.blockStormThreshold == 0)
        try self.expectRejected("queryLog:\n  blockStormThreshold: -1\n", naming: "blockStormThreshold", "-1")
    }

    @Test("A file sets values; environment variables override it by key path")
    func environmentOverrides() throws {
        try self.withFile("listen: ['127.0.0.1:1053']\ncache:\n  maxEntries: 10\n") { path in
            let c = try ConfigurationLoader.load(path: path, environment: [
                "PALISADE_CACHE__MAX_ENTRIES": "5000",
                "PALISADE_UPSTREAMS__SERVERS": "127.0.0.1:5300, 127.0.0.2:5300",
                "PALISADE_POLICY__FETCH": "false",
            ])
            #expect(c.listen == ["127.0.0.1:1053"])
            #expect(c.cache.maxEntries == 5000)
            #expect(c.upstreams.servers == ["127.0.0.1:5300", "127.0.0.2:5300"])
            #expect(c.policy.fetch == false)
        }
    }

    @Test("Every problem is reported with its key path")
    func validationCollectsEverything() throws {
        try self.withFile("""
            listen: ['nonsense']
            threads: -1
            acl:
              allow: ['10.0.0.0/99']
            upstreams:
              strategy: fastest
            policy:
              sources:
                - name: x
                  location: /nope
                  answer: explode
            """) { path in
            do {
                _ = try ConfigurationLoader.load(path: path, environment: [:])
                Issue.record("expected an error")
            } catch let e as ConfigurationError {
                let text = e.description
                #expect(text.contains(path))
                for needle in ["listen[0]", "threads", "acl.allow[0]", "upstreams.strategy", "policy.sources[0].answer"] {
                    #expect(text.contains(needle), "missing \(needle) in:\n\(text)")
                }
            }
        }
    }

    @Test("ipEntries: response-ip reaches the source; a bad value, an allowlist or an RPZ zone is an error")
    func ipEntries() throws {
        try self.withFile("""
            policy:
              defaultFeeds: false
              sources:
                - name: feed
                  kind: adblock
                  location: /tmp/feed.txt
                  ipEntries: response-ip
            """) { path in
            let c = try ConfigurationLoader.load(path: path, environment: [:])
            let (sources, problems) = c.policySources()
            #expect(problems.isEmpty, "\(problems)")
            #expect(sources.first?.ipEntries == .responseIP)
        }
        try self.withFile("""
            policy:
              sources:
                - name: a
                  location: /tmp/a.txt
                  ipEntries: sometimes
                - name: b
                  location: /tmp/b.txt
                  role: allow
                  ipEntries: response-ip
                - name: c
                  kind: rpz
                  location: /tmp/c.rpz
                  ipEntries: response-ip
            """) { path in
            do {
                _ = try ConfigurationLoader.load(path: path, environment: [:])
                Issue.record("expected an error")
            } catch let e as ConfigurationError {
                let text = e.description
                for needle in ["policy.sources[0].ipEntries: must be ignore or response-ip",
                    "policy.sources[1].ipEntries: response-ip blocks answers",
                    "policy.sources[2].ipEntries: applies to"]
                {
                    #expect(text.contains(needle), "missing \(needle) in:\n\(text)")
                }
            }
        }
    }

    @Test("Unknown keys and YAML syntax errors are errors, not silently ignored")
    func unknownKeys() throws {
        try self.withFile("lisen: ['127.0.0.1:53']\n") { path in
            #expect(throws: ConfigurationError.self) { try ConfigurationLoader.load(path: path, environment: [:]) }
        }
        try self.withFile("listen: [unclosed\n") { path in
            #expect(throws: ConfigurationError.self) { try ConfigurationLoader.load(path: path, environment: [:]) }
        }
    }

    @Test("Command-line sources keep their order and get unique names")
    func policyFlags() throws {
        var c = PalisadeConfiguration()
        c.applyPolicyFlags(rpz: ["/a/feed.rpz", "/b/feed.rpz"], blocklists: ["/c/hosts"], allowlists: ["/d/ok.txt"],
            noDefaultFeeds: true)
        #expect(c.policy.defaultFeeds == false)
        #expect(c.policy.sources.map(\.name) == ["feed.rpz", "feed.rpz-2", "hosts", "ok.txt"])
        #expect(c.policy.sources.map(\.kind) == ["rpz", "rpz", nil, nil])
        #expect(c.policy.sources.last?.role == "allow")
    }

    @Test("The snapshot compiled into the binary is the committed URLhaus file, byte for byte")
    func bundledSnapshot() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let file = try Data(contentsOf: root.appendingPathComponent("Sources/Runtime/Resources/feeds/urlhaus.txt"))
        let body = try #require(BundledFeeds.body(BundledFeeds.urlhausName))
        // The embedding drops only trailing newlines.
        let trimmed = Array(file).reversed().drop(while: { $0 == 0x0A }).reversed()
        #expect(body == Array(trimmed))
    }
}
