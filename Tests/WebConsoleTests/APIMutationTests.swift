import DNSPipeline
import DNSPolicy
import DNSWire
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import QueryStore
import Testing
import TestSupport
@testable import WebConsole

@Suite struct APIMutationTests {
    @Test("Changes need the right bearer token: 401 without or with a wrong one, 403 when none is configured")
    func auth() async throws {
        let f = try await APIFixture()
        defer { f.cleanUp() }
        let body = #"{"domain": "evil.example", "reason": "test"}"#
        try await withAPI(f.dependencies(tokens: [])) { client in
            let (status, error) = try await send(client, .post, "/api/v1/rules/deny", body)
            #expect(status == .forbidden)
            #expect((error["error"] as? String)?.contains("api.tokens") == true)
        }
        try await withAPI(f.dependencies()) { client in
            let cases: [(HTTPFields, String)] = [
                ([.contentType: "application/json"], "missing"),
                ([.authorization: "Bearer wrong-token"], "wrong"),
                ([.authorization: "Bearer s3cret-toke"], "prefix"),
                ([.authorization: "Bearer s3cret-token-and-more"], "longer"),
                ([.authorization: "Basic czNjcmV0LXRva2Vu"], "basic"),
                ([.authorization: "Bearer"], "empty"),
            ]
            for (headers, label) in cases {
                let r = try await client.execute(uri: "/api/v1/rules/deny", method: .post, headers: headers,
                    body: ByteBuffer(string: body))
                #expect(r.status == .unauthorized, "\(label)")
                #expect(r.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true, "\(label)")
                #expect(try json(r)["error"] is String, "\(label)")
            }
            let r = try await client.execute(uri: "/api/v1/quarantine/container:c0ffee", method: .delete)
            #expect(r.status == .unauthorized)
            #expect(f.rules.rules(.deny).isEmpty)
            let (ok, _) = try await send(client, .post, "/api/v1/rules/deny", body)
            #expect(ok == .created)
            // Reads stay open.
            let (read, _) = try await get(client, "/api/v1/rules")
            #expect(read == .ok)
        }
        #expect(APIToken(name: "a", secret: "abc").matches(Array("abc".utf8)))
        #expect(!APIToken(name: "a", secret: "abc").matches(Array("abcabc".utf8)))
        #expect(!APIToken(name: "a", secret: "").matches([]))
    }

    @Test("Allow and deny entries are added, listed, refused when contradictory, removed and audited")
    func rules() async throws {
        let f = try await APIFixture()
        defer { f.cleanUp() }
        try await withAPI(f.dependencies()) { client in
            var (status, body) = try await send(client, .post, "/api/v1/rules/deny",
                #"{"domain": "Tracker.Example.", "reason": "exfiltration"}"#)
            #expect(status == .created)
            #expect((body["rule"] as? [String: Any])?["domain"] as? String == "tracker.example")
            (status, body) = try await send(client, .post, "/api/v1/rules/deny",
                #"{"domain": "tracker.example", "reason": "still exfiltration"}"#)
            #expect(status == .ok)
            (status, body) = try await send(client, .post, "/api/v1/rules/allow", #"{"domain": "tracker.example"}"#)
            #expect(status == .conflict)
            #expect((body["error"] as? String)?.hasPrefix("domain:") == true)
            (status, body) = try await send(client, .post, "/api/v1/rules/allow", #"{"domain": "a..b"}"#)
            #expect(status == .unprocessableContent)
            (status, body) = try await send(client, .post, "/api/v1/rules/allow", #"{"reason": "x"}"#)
            #expect(status == .badRequest)
            #expect((body["error"] as? String)?.hasPrefix("domain:") == true)
            (status, body) = try await send(client, .post, "/api/v1/rules/allow", #"{"domain": 5}"#)
            #expect(status == .badRequest)
            (status, body) = try await send(client, .post, "/api/v1/rules/allow", #"{"domain": "ok.example", "why": 1}"#)
            #expect(status == .badRequest)
            #expect((body["error"] as? String)?.hasPrefix("why:") == true)
            (status, body) = try await send(client, .post, "/api/v1/rules/allow", "not json")
            #expect(status == .badRequest)
            (status, body) = try await send(client, .post, "/api/v1/rules/allow", "[1]")
            #expect(status == .badRequest)
            (status, _) = try await send(client, .post, "/api/v1/rules/allow",
                #"{"domain": "cdn.example", "reason": "needed"}"#)
            #expect(status == .created)

            (status, body) = try await get(client, "/api/v1/rules")
            let deny = try #require(body["deny"] as? [[String: Any]])
            #expect(deny.map { $0["domain"] as? String } == ["tracker.example"])
            #expect(deny.first?["added_by"] as? String == "ops")
            #expect(deny.first?["reason"] as? String == "still exfiltration")
            #expect(deny.first?["time"] as? String == APITime.format(nowMicros))
            #expect((body["allow"] as? [[String: Any]])?.map { $0["domain"] as? String } == ["cdn.example"])

            (status, body) = try await send(client, .delete, "/api/v1/rules/deny/tracker.example?reason=resolved", nil)
            #expect(status == .ok)
            #expect((body["removed"] as? [String: Any])?["domain"] as? String == "tracker.example")
            (status, _) = try await send(client, .delete, "/api/v1/rules/deny/tracker.example", nil)
            #expect(status == .notFound)

            (status, body) = try await get(client, "/api/v1/actions")
            let actions = try #require(body["actions"] as? [[String: Any]])
            #expect(actions.map { $0["action"] as? String } == ["deny-remove", "allow-add", "deny-add", "deny-add"])
            #expect(actions.allSatisfy { $0["actor"] as? String == "ops" })
            #expect(actions.first?["reason"] as? String == "resolved")
            #expect(actions.first?["target"] as? String == "tracker.example")
            (status, body) = try await get(client, "/api/v1/actions?limit=2")
            let next = try #require(body["next"] as? String)
            (status, body) = try await get(client, "/api/v1/actions?limit=2&before=\(next)")
            #expect((body["actions"] as? [[String: Any]])?.map { $0["action"] as? String } == ["deny-add", "deny-add"])
            (status, body) = try await get(client, "/api/v1/actions?target=cdn.example")
            #expect((body["actions"] as? [Any])?.count == 1)
        }
    }

    @Test("An operator deny applies to queries at once, and an allow then beats the feed")
    func denyThenAllow() async throws {
        let f = try await APIFixture()
        defer { f.cleanUp() }
        let listPath = f.directory.file("feed.txt")
        try "evil.example\n".write(toFile: listPath, atomically: true, encoding: .utf8)
        let manager = PolicyManager(sources: [PolicySourceConfig(name: "feed", kind: .domains, location: listPath)],
            dataDirectory: nil, operatorRules: f.rules)
        await manager.start()
        f.rules.addListener { await manager.operatorRulesChanged() }
        let chain = Chain(stages: [manager.makeQueryStage(), Answerer()])
        @Sendable func ask(_ name: String) throws -> Resolution? {
            let q = Query(message: .query(id: 1, name: try DomainName(name), type: .a),
                client: ClientInfo(address: .v4(IPv4Address(192, 0, 2, 20)), transport: .udp))
            return chain.resolveNow(q, in: QueryContext())
        }
        #expect(try ask("tracker.example")?.source == .upstream("answerer"))
        try await withAPI(f.dependencies()) { client in
            let (status, _) = try await send(client, .post, "/api/v1/rules/deny",
                #"{"domain": "tracker.example", "reason": "exfiltration"}"#)
            #expect(status == .created)
            let denied = try #require(try ask("www.tracker.example"))
            #expect(denied.rcode == .nxDomain)
            #expect(denied.policy?.source == "operator")
            #expect(denied.extendedErrors.first?.extendedErrorValue?.text.contains("operator rule tracker.example") == true)

            #expect(try ask("evil.example")?.policy?.source == "feed")
            let (allowed, _) = try await send(client, .post, "/api/v1/rules/allow",
                #"{"domain": "evil.example", "reason": "false positive"}"#)
            #expect(allowed == .created)
            #expect(try ask("evil.example")?.source == .upstream("answerer"))
        }
    }

    @Test("Quarantine cuts a workload off through the real stage, is listed and audited, and release restores it")
    func quarantine() async throws {
        let f = try await APIFixture()
        defer { f.cleanUp() }
        let directory = WorkloadDirectory()
        directory.publish(.init(exact: [.v4(IPv4Address(192, 0, 2, 20)): web]))
        let chain = Chain(stages: [IdentifyStage(directory: directory), QuarantineStage(registry: f.quarantine),
            Answerer()])
        let q = Query(message: .query(id: 1, name: try DomainName("www.example.org"), type: .a),
            client: ClientInfo(address: .v4(IPv4Address(192, 0, 2, 20)), transport: .udp))
        try await withAPI(f.dependencies()) { client in
            var (status, body) = try await send(client, .post, "/api/v1/quarantine",
                #"{"workload_key": "container:c0ffee", "reason": "beaconing", "answer": "nxdomain"}"#)
            #expect(status == .created)
            let entry = try #require(body["quarantine"] as? [String: Any])
            #expect(entry["by"] as? String == "ops")
            #expect(entry["answer"] as? String == "nxdomain")
            #expect((entry["workload"] as? [String: Any])?["name"] as? String == "web-1")
            #expect(body["container_action_error"] is NSNull)

            let cut = try #require(chain.resolveNow(q, in: QueryContext()))
            #expect(cut.rcode == .nxDomain)
            #expect(cut.extendedErrors.first?.extendedErrorValue?.text == "quarantined by ops: beaconing")

            (status, body) = try await get(client, "/api/v1/quarantine")
            #expect((body["quarantined"] as? [[String: Any]])?.map { $0["workload_key"] as? String }
                == ["container:c0ffee"])
            (status, body) = try await get(client, "/api/v1/workloads/container:c0ffee")
            #expect((body["quarantine"] as? [String: Any])?["reason"] as? String == "beaconing")

            (status, body) = try await send(client, .post, "/api/v1/quarantine",
                #"{"workload_key": "container:c0ffee", "reason": "still beaconing"}"#)
            #expect(status == .ok)
            #expect((body["quarantine"] as? [String: Any])?["answer"] as? String == "refused")

            (status, body) = try await send(client, .delete, "/api/v1/quarantine/container%3Ac0ffee?reason=fixed", nil)
            #expect(status == .ok)
            #expect((body["released"] as? [String: Any])?["reason"] as? String == "still beaconing")
            #expect(try #require(chain.resolveNow(q, in: QueryContext())).source == .upstream("answerer"))
            (status, _) = try await send(client, .delete, "/api/v1/quarantine/container:c0ffee", nil)
            #expect(status == .notFound)

            (status, body) = try await get(client, "/api/v1/actions")
            let actions = try #require(body["actions"] as? [[String: Any]])
            #expect(actions.map { $0["action"] as? String } == ["release", "quarantine", "quarantine"])
            #expect(actions.first?["reason"] as? String == "fixed")
            #expect((actions.last?["detail"] as? String)?.contains("answer=nxdomain") == true)
        }
    }

    @Test("Bad quarantine requests are refused with the field named", arguments: [
        (#"{"reason": "x"}"#, "workload_key", 400),
        (#"{"workload_key": "container:c0ffee"}"#, "reason", 400),
        (#"{"workload_key": "vm:1", "reason": "x"}"#, "workload_key", 422),
        (#"{"workload_key": "container:c0ffee", "reason": "x", "answer": null}"#, "answer", 400),
        (#"{"workload_key": "container:c0ffee", "reason": "x", "answer": "drop"}"#, "answer", 422),
        (#"{"workload_key": "container:c0ffee", "reason": "x", "action": "kill"}"#, "action", 422),
        (#"{"workload_key": "container:c0ffee", "reason": "x", "action": "pause"}"#, "action", 403),
    ])
    func badQuarantine(body: String, field: String, code: Int) async throws {
        let f = try await APIFixture()
        defer { f.cleanUp() }
        try await withAPI(f.dependencies()) { client in
            let (status, error) = try await send(client, .post, "/api/v1/quarantine", body)
            #expect(status.code == code)
            #expect((error["error"] as? String)?.hasPrefix(field + ":") == true, "\(error)")
        }
        #expect(f.quarantine.isEmpty)
    }

    @Test("Container actions run through the actuator when allowed, and release unpauses")
    func containerActions() async throws {
        let f = try await APIFixture()
        defer { f.cleanUp() }
        let actuator = RecordingActuator()
        try await withAPI(f.dependencies(actuator: actuator, containerActionLimit: .pause)) { client in
            var (status, _) = try await send(client, .post, "/api/v1/quarantine",
                #"{"workload_key": "container:c0ffee", "reason": "x", "action": "stop"}"#)
            #expect(status == .forbidden)
            (status, _) = try await send(client, .post, "/api/v1/quarantine",
                #"{"workload_key": "container:c0ffee", "reason": "x", "action": "pause"}"#)
            #expect(status == .created)
            (status, _) = try await send(client, .delete, "/api/v1/quarantine/container:c0ffee", nil)
            #expect(status == .ok)
        }
        #expect(actuator.log == ["pause container:c0ffee", "unpause container:c0ffee"])
    }

    @Test("Quarantine and rules persist: a new server on the same data directory serves them")
    func persistence() async throws {
        let f = try await APIFixture()
        defer { f.cleanUp() }
        try await withAPI(f.dependencies()) { client in
            _ = try await send(client, .post, "/api/v1/quarantine", #"{"workload_key": "pod:42", "reason": "x"}"#)
            _ = try await send(client, .post, "/api/v1/rules/deny", #"{"domain": "evil.example"}"#)
        }
        let quarantine = try QuarantineRegistry(path: f.directory.file("quarantine.json"))
        let rules = try OperatorRules(path: f.directory.file("operator-rules.json"))
        let deps = APIDependencies(store: f.store, quarantine: quarantine, operatorRules: rules, now: { nowMicros })
        try await withAPI(deps) { client in
            let (_, q) = try await get(client, "/api/v1/quarantine")
            #expect((q["quarantined"] as? [[String: Any]])?.first?["workload_key"] as? String == "pod:42")
            let (_, r) = try await get(client, "/api/v1/rules")
            #expect((r["deny"] as? [[String: Any]])?.first?["domain"] as? String == "evil.example")
        }
    }
}

/// A terminal stage that answers every query itself.
struct Answerer: Stage {
    let id: StageID = "upstream"
    func resolve(_ query: Query, in context: QueryContext, next: @escaping Next) async throws -> Resolution {
        Resolution(reply: .message(query.message.makeResponse()), source: .upstream("answerer"))
    }
    func resolveNow(_ query: Query, in context: QueryContext, next: NextNow) throws -> Resolution? {
        Resolution(reply: .message(query.message.makeResponse()), source: .upstream("answerer"))
    }
}
