import DNSPipeline
import DNSPolicy
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import QueryStore
import Testing
import TestSupport
@testable import WebConsole

@Suite struct APIReadTests {
    @Test("GET /events lists every event newest first with the contract's fields")
    func events() async throws {
        let f = try await APIFixture()
        defer { f.cleanUp() }
        try await withAPI(f.dependencies()) { client in
            let (status, body) = try await get(client, "/api/v1/events")
            #expect(status == .ok)
            let events = try #require(body["events"] as? [[String: Any]])
            #expect(events.count == timeline.count)
            #expect(body["next"] is NSNull)
            #expect(events.first?["qname"] as? String == "www.example.org")
            #expect(events.first?["workload"] is NSNull)
            let blocked = try #require(events.first { $0["qname"] as? String == "b.evil.example" })
            #expect(Set(blocked.keys) == [
                "id", "time", "client_ip", "transport", "workload", "qname", "qtype", "rcode", "answers", "source",
                "upstream", "policy", "blocked", "findings", "latency_us", "count", "other_names",
            ])
            #expect(blocked["time"] as? String == "2023-11-14T22:20:00.000000Z")
            #expect(blocked["blocked"] as? Bool == true)
            #expect(blocked["upstream"] is NSNull)
            #expect(blocked["latency_us"] as? Int == 1_200)
            let policy = try #require(blocked["policy"] as? [String: Any])
            #expect(policy["source"] as? String == "urlhaus")
            #expect(policy["trigger"] as? String == "qname")
            let workload = try #require(blocked["workload"] as? [String: Any])
            #expect(workload["key"] as? String == "container:c0ffee")
            #expect(workload["name"] as? String == "web-1")
            #expect((workload["labels"] as? [String: String]) == ["app": "shop", "tier": "front"])
            let dga = try #require(events.first { $0["qname"] as? String == "x7q2k9.example.net" })
            let findings = try #require(dga["findings"] as? [[String: Any]])
            #expect(findings.first?["detector"] as? String == "dga")
        }
    }

    @Test("Event filters narrow the result", arguments: [
        ("workload=container:beef", 3),
        ("workload_name=WEB", 6),
        ("client_ip=198.51.100.7", 1),
        ("name=www.example.org", 3),
        ("name=*.evil.example", 3),
        ("qtype=aaaa", 1),
        ("rcode=nxdomain", 3),
        ("blocked=true", 3),
        ("source=cache", 2),
        ("from=2023-11-14T22:30:00Z&until=2023-11-14T23:00:00Z", 3),
        ("from=-60m", 3),
        ("from=2023-11-14T23:30:00%2B01:00", 6),
        ("workload=container:c0ffee&blocked=true", 2),
        ("workload=container:nobody", 0),
    ])
    func filters(query: String, count: Int) async throws {
        let f = try await APIFixture()
        defer { f.cleanUp() }
        try await withAPI(f.dependencies()) { client in
            let (status, body) = try await get(client, "/api/v1/events?\(query)")
            #expect(status == .ok)
            #expect((body["events"] as? [Any])?.count == count)
        }
    }

    @Test("Paging with limit and the next cursor visits every event once")
    func paging() async throws {
        let f = try await APIFixture()
        defer { f.cleanUp() }
        try await withAPI(f.dependencies()) { client in
            var seen: [Int] = []
            var cursor: String?
            var pages = 0
            repeat {
                let uri = "/api/v1/events?limit=3" + (cursor.map { "&before=\($0)" } ?? "")
                let (status, body) = try await get(client, uri)
                #expect(status == .ok)
                let events = try #require(body["events"] as? [[String: Any]])
                #expect(events.count <= 3)
                seen += events.compactMap { $0["id"] as? Int }
                cursor = body["next"] as? String
                pages += 1
            } while cursor != nil && pages < 10
            #expect(pages == 4)
            #expect(seen.count == timeline.count)
            #expect(Set(seen).count == timeline.count)
        }
    }

    @Test("Every bad parameter is a 400 naming it", arguments: [
        ("/api/v1/events?limit=0", "limit"),
        ("/api/v1/events?limit=1001", "limit"),
        ("/api/v1/events?limit=ten", "limit"),
        ("/api/v1/events?before=yesterday", "before"),
        ("/api/v1/events?from=yesterday", "from"),
        ("/api/v1/events?until=-5x", "until"),
        ("/api/v1/events?from=2023-02-30T00:00:00Z", "from"),
        ("/api/v1/events?from=-1h&until=-2h", "until"),
        ("/api/v1/events?blocked=maybe", "blocked"),
        ("/api/v1/events?qtype=NOPE", "qtype"),
        ("/api/v1/events?rcode=FINE", "rcode"),
        ("/api/v1/events?source=magic", "source"),
        ("/api/v1/events?client_ip=999.1.1.1", "client_ip"),
        ("/api/v1/events?name=a..b", "name"),
        ("/api/v1/events?workload=nocolon", "workload"),
        ("/api/v1/events?colour=red", "colour"),
        ("/api/v1/events?limit=5&limit=6", "limit"),
        ("/api/v1/events?before=", "before"),
        ("/api/v1/workloads?since=soon", "since"),
        ("/api/v1/workloads?limit=-1", "limit"),
        ("/api/v1/workloads/nocolon", "key"),
        ("/api/v1/blocks?limit=201", "limit"),
        ("/api/v1/stats/timeseries?bucket=0m", "bucket"),
        ("/api/v1/stats/timeseries?bucket=1s&since=-7d", "bucket"),
        ("/api/v1/stats/timeseries?bucket=5", "bucket"),
        ("/api/v1/stats/top-blocked?limit=x", "limit"),
        ("/api/v1/stats/top-workloads?since=1700000000", "since"),
        ("/api/v1/actions?before=-3", "before"),
        ("/api/v1/feeds?x=1", "x"),
        ("/api/v1/rules?x=1", "x"),
        ("/api/v1/quarantine?x=1", "x"),
    ])
    func badParameters(uri: String, parameter: String) async throws {
        let f = try await APIFixture()
        defer { f.cleanUp() }
        try await withAPI(f.dependencies()) { client in
            let (status, body) = try await get(client, uri)
            #expect(status == .badRequest)
            let message = try #require(body["error"] as? String)
            #expect(message.hasPrefix(parameter + ":"), "\(message)")
        }
    }

    @Test("GET /workloads counts queries and blocks per workload and lists unidentified clients by address")
    func workloads() async throws {
        let f = try await APIFixture()
        defer { f.cleanUp() }
        try f.quarantine.quarantine(QuarantineEntry(workloadKey: "container:beef", answer: .refused, by: "ops",
            reason: "test", sinceMicros: nowMicros))
        try await withAPI(f.dependencies()) { client in
            let (status, body) = try await get(client, "/api/v1/workloads")
            #expect(status == .ok)
            let rows = try #require(body["workloads"] as? [[String: Any]])
            #expect(rows.map { $0["key"] as? String } == ["container:c0ffee", "container:beef", "client:198.51.100.7"])
            #expect(rows.map { $0["queries"] as? Int } == [6, 3, 1])
            #expect(rows.map { $0["blocked"] as? Int } == [2, 1, 0])
            #expect(rows.map { $0["quarantined"] as? Bool } == [false, true, false])
            #expect(rows[0]["first_seen"] as? String == "2023-11-14T22:00:00.000000Z")
            #expect(rows[2]["workload"] is NSNull)
            #expect(rows[2]["client_ip"] as? String == "198.51.100.7")
            let (_, recent) = try await get(client, "/api/v1/workloads?since=-55m")
            #expect((recent["workloads"] as? [[String: Any]])?.map { $0["key"] as? String }
                == ["container:beef", "client:198.51.100.7"])
        }
    }

    @Test("GET /workloads/{key} returns one workload, 404 for an unknown one")
    func workloadDetail() async throws {
        let f = try await APIFixture()
        defer { f.cleanUp() }
        try await withAPI(f.dependencies()) { client in
            let (status, body) = try await get(client, "/api/v1/workloads/container%3Ac0ffee")
            #expect(status == .ok)
            #expect((body["workload"] as? [String: Any])?["image"] as? String == "registry.example.org/web:1")
            #expect(body["last_seen"] as? String == "2023-11-14T22:40:00.000000Z")
            #expect(body["quarantine"] is NSNull)
            #expect((body["addresses"] as? [Any])?.isEmpty == true)
            let (plain, _) = try await get(client, "/api/v1/workloads/container:beef")
            #expect(plain == .ok)
            let (missing, error) = try await get(client, "/api/v1/workloads/container:nobody")
            #expect(missing == .notFound)
            #expect((error["error"] as? String)?.contains("container:nobody") == true)
        }
    }

    @Test("GET /blocks lists who tried to reach blocked names, with the names")
    func blocks() async throws {
        let f = try await APIFixture()
        defer { f.cleanUp() }
        try await withAPI(f.dependencies()) { client in
            let (status, body) = try await get(client, "/api/v1/blocks?since=-3h")
            #expect(status == .ok)
            let rows = try #require(body["workloads"] as? [[String: Any]])
            #expect(rows.map { $0["key"] as? String } == ["container:c0ffee", "container:beef"])
            #expect(rows[0]["blocked"] as? Int == 2)
            #expect(rows[0]["distinct_domains"] as? Int == 2)
            #expect(rows[0]["domains"] as? [String] == ["b.evil.example", "a.evil.example"])
            #expect(rows[0]["last_blocked"] as? String == "2023-11-14T22:20:00.000000Z")
            let (_, lastHour) = try await get(client, "/api/v1/blocks?since=-59m")
            #expect((lastHour["workloads"] as? [Any])?.isEmpty == true)
        }
    }

    @Test("Stats endpoints return the time series and the rankings")
    func stats() async throws {
        let f = try await APIFixture()
        defer { f.cleanUp() }
        try await withAPI(f.dependencies()) { client in
            let (status, series) = try await get(
                client, "/api/v1/stats/timeseries?since=2023-11-14T22:00:00Z&until=2023-11-14T23:30:00Z&bucket=30m")
            #expect(status == .ok)
            #expect(series["bucket_seconds"] as? Int == 1800)
            let buckets = try #require(series["buckets"] as? [[String: Any]])
            #expect(buckets.map { $0["queries"] as? Int } == [4, 3, 3])
            #expect(buckets.map { $0["blocked"] as? Int } == [2, 0, 1])
            #expect(buckets.first?["start"] as? String == "2023-11-14T22:00:00.000000Z")

            let (_, top) = try await get(client, "/api/v1/stats/top-blocked?since=-3h")
            let domains = try #require(top["domains"] as? [[String: Any]])
            #expect(domains.first?["domain"] as? String == "a.evil.example")
            #expect(domains.first?["queries"] as? Int == 2)
            #expect(domains.first?["workloads"] as? Int == 2)

            let (_, topW) = try await get(client, "/api/v1/stats/top-workloads?since=-3h&limit=1")
            #expect((topW["workloads"] as? [[String: Any]])?.map { $0["key"] as? String } == ["container:c0ffee"])
        }
    }

    @Test("GET /feeds reports each policy source as lists status does")
    func feeds() async throws {
        let f = try await APIFixture()
        defer { f.cleanUp() }
        let listPath = f.directory.file("block.txt")
        try "evil.example\nads.example\n".write(toFile: listPath, atomically: true, encoding: .utf8)
        let manager = PolicyManager(sources: [
            PolicySourceConfig(name: "local-block", kind: .domains, location: listPath),
            PolicySourceConfig(name: "missing", kind: .domains, location: f.directory.file("nope.txt")),
        ], dataDirectory: nil)
        await manager.start()
        try await withAPI(f.dependencies(feeds: { await manager.status() })) { client in
            let (status, body) = try await get(client, "/api/v1/feeds")
            #expect(status == .ok)
            let feeds = try #require(body["feeds"] as? [[String: Any]])
            #expect(feeds.map { $0["name"] as? String } == ["local-block", "missing"])
            #expect(feeds[0]["state"] as? String == "ok")
            #expect(feeds[0]["rules"] as? Int == 2)
            #expect(feeds[0]["last_error"] is NSNull)
            #expect(feeds[1]["state"] as? String == "failed")
            #expect((feeds[1]["last_error"] as? String)?.isEmpty == false)
        }
    }

    @Test("Unknown API paths are a JSON 404 and known paths with another method a 405 listing the methods")
    func unknownRoutes() async throws {
        let f = try await APIFixture()
        defer { f.cleanUp() }
        try await withAPI(f.dependencies()) { client in
            let put = try await client.execute(uri: "/api/v1/workloads", method: .put)
            #expect(put.status == .methodNotAllowed)
            #expect(put.headers[.allow] == "GET")
            #expect((try json(put)["error"] as? String)?.hasPrefix("method:") == true)
            let patch = try await client.execute(uri: "/api/v1/quarantine/container:x", method: .patch)
            #expect(patch.status == .methodNotAllowed)
            #expect(patch.headers[.allow] == "DELETE")
            let both = try await client.execute(uri: "/api/v1/rules/deny", method: .get)
            #expect(both.status == .methodNotAllowed)
            #expect(both.headers[.allow] == "POST")
            let missing = try await client.execute(uri: "/api/v1/nothing/here", method: .get)
            #expect(missing.status == .notFound)
            #expect((try json(missing)["error"] as? String)?.hasPrefix("path:") == true)
        }
    }

    @Test("Reads answer 503 when the query log is disabled")
    func noStore() async throws {
        let f = try await APIFixture()
        defer { f.cleanUp() }
        try await withAPI(f.dependencies(store: false)) { client in
            for uri in ["/api/v1/events", "/api/v1/workloads", "/api/v1/blocks", "/api/v1/stats/timeseries",
                "/api/v1/actions"]
            {
                let (status, body) = try await get(client, uri)
                #expect(status == .serviceUnavailable, "\(uri)")
                #expect((body["error"] as? String)?.contains("queryLog.store") == true)
            }
        }
    }

    @Test("Times are formatted and parsed as RFC 3339 with microseconds", arguments: [
        ("2023-11-14T22:13:20Z", Int64(1_700_000_000_000_000)),
        ("2023-11-14T22:13:20.5Z", Int64(1_700_000_000_500_000)),
        ("2023-11-14T23:13:20.000001+01:00", Int64(1_700_000_000_000_001)),
        ("1970-01-01T00:00:00Z", Int64(0)),
        ("2024-02-29T12:00:00z", Int64(1_709_208_000_000_000)),
    ])
    func times(text: String, micros: Int64) {
        #expect(APITime.parse(text, nowMicros: 0) == micros)
        #expect(APITime.parse(APITime.format(micros), nowMicros: 0) == micros)
    }

    @Test("Malformed times are refused", arguments: [
        "2023-11-14", "2023-13-01T00:00:00Z", "2023-11-14T25:00:00Z", "2023-11-14T22:13:20", "-0h", "-1w", "-",
        "2023-11-14T22:13:20+1:00", "2023-11-14T22:13:20.Z", "-99999999d",
    ])
    func badTimes(text: String) {
        #expect(APITime.parse(text, nowMicros: nowMicros) == nil)
    }
}
