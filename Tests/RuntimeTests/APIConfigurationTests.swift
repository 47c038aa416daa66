import DNSPipeline
import DNSPolicy
import DNSWire
import Foundation
@testable import Runtime
import Testing
import WebConsole

@Suite struct APIConfigurationTests {
    func withDirectory(_ body: (String) throws -> Void) throws {
        let dir = NSTemporaryDirectory() + "palisade-apiconfig-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try body(dir)
    }

    @Test("API tokens and quarantine settings load from the file; a token file's first line is the token")
    func load() throws {
        try self.withDirectory { dir in
            try "0123456789abcdef0123\nignored\n".write(toFile: dir + "/ops.token", atomically: true, encoding: .utf8)
            let yaml = """
                api:
                  tokens:
                    - name: ops
                      tokenFile: \(dir)/ops.token
                    - name: ci
                      token: ci-token-0123456789
                quarantine:
                  answer: nxdomain
                  allowlist: [registry.example.org]
                  containerAction: pause
                """
            try yaml.write(toFile: dir + "/c.yaml", atomically: true, encoding: .utf8)
            let c = try ConfigurationLoader.load(path: dir + "/c.yaml", environment: [:])
            let tokens = try c.apiTokens()
            #expect(tokens.map(\.name) == ["ops", "ci"])
            #expect(tokens.first?.secret == Array("0123456789abcdef0123".utf8))
            #expect(c.quarantine.answer == "nxdomain")
            #expect(c.quarantineAllowlist() == [try DomainName("registry.example.org.")])
            #expect(c.quarantine.containerAction == "pause")
        }
    }

    @Test("The environment can set the tokens, as containers do")
    func environment() throws {
        let c = try ConfigurationLoader.load(path: nil, environment: [
            "PALISADE_API__TOKENS": "[{name: ops, token: from-the-environment-1}]",
            "PALISADE_QUARANTINE__ANSWER": "nxdomain",
        ])
        #expect(try c.apiTokens().map(\.name) == ["ops"])
        #expect(c.quarantine.answer == "nxdomain")
        #expect(c.api.tokens.isEmpty == false)
        #expect(PalisadeConfiguration().api.tokens.isEmpty)
        #expect(PalisadeConfiguration().quarantine.containerAction == "none")
    }

    @Test("Bad API and quarantine settings are reported with their key paths")
    func validation() throws {
        var c = PalisadeConfiguration()
        c.api.tokens = [
            APITokenEntry(name: "ops", token: "short", tokenFile: nil),
            APITokenEntry(name: "ops", token: nil, tokenFile: nil),
            APITokenEntry(name: "", token: "long-enough-token-123", tokenFile: "/nonexistent/x"),
            APITokenEntry(name: "ci", token: nil, tokenFile: "/nonexistent/token"),
        ]
        c.quarantine.answer = "drop"
        c.quarantine.containerAction = "kill"
        c.quarantine.allowlist = ["ok.example", "a..b"]
        let problems = ConfigurationLoader.validate(c)
        for expected in [
            "api.tokens[0].token:", "api.tokens[1].name: 'ops' is used", "api.tokens[1]: give exactly one",
            "api.tokens[2].name:", "api.tokens[2]: give exactly one", "api.tokens[3].tokenFile: cannot read",
            "quarantine.answer:", "quarantine.containerAction:", "quarantine.allowlist[1]:",
        ] {
            #expect(problems.contains { $0.hasPrefix(expected) }, "missing \(expected) in \(problems)")
        }
    }

    @Test("A typo inside a token entry is an unknown key")
    func unknownTokenKey() throws {
        try self.withDirectory { dir in
            try "api:\n  tokens:\n    - name: ops\n      tokn: x\n".write(
                toFile: dir + "/c.yaml", atomically: true, encoding: .utf8)
            let error = #expect(throws: ConfigurationError.self) {
                try ConfigurationLoader.load(path: dir + "/c.yaml", environment: [:])
            }
            #expect(error?.problems.contains { $0.hasPrefix("api.tokens[0].tokn: unknown key") } == true)
        }
    }

    @Test("The quarantine stage sits right after the query-log and metrics wrappers that follow identify")
    func pipelineOrder() throws {
        let registry = try QuarantineRegistry(path: nil)
        let chain = PipelineBuilder.chain(.init(
            acl: [], localRecords: [], blockPrivateReverse: true, events: QueryEventBuffer(sinks: []),
            identify: IdentifyStage(directory: WorkloadDirectory()),
            quarantine: QuarantineStage(registry: registry),
            queryPolicy: nil, responsePolicy: nil, cache: PassStage(id: "cache"), upstream: PassStage(id: "upstream")))
        let ids = chain.stages.map(\.id.rawValue)
        #expect(ids == ["ingress-guard", "sanitize", "identify", "query-log", "metrics", "quarantine", "local-data",
            "cache", "upstream"])
    }
}

/// A stage that only has an id (order tests never run it).
struct PassStage: Stage {
    let id: StageID
    func resolve(_ query: Query, in context: QueryContext, next: @escaping Next) async throws -> Resolution {
        try await next(query, context)
    }
}
