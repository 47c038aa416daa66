import DNSPipeline
import DNSWire
import Foundation
import Testing
import TestSupport
import WorkloadIdentity

/// What a real engine never sends: broken lines, hostile ids, events for unknown containers. A small
/// engine on a unix socket (`Fixtures/podman/fake-engine.py`) sends them to the real Docker source.
@Suite(.tags(.integration), .enabled(if: TestBinaries.has("python3"), "needs python3"))
struct FakeEngineTests {
    @Test("Bad event lines and hostile ids are counted and skipped; the events after them still apply")
    func hostileEvents() async throws {
        try await TestResources.with { r in
            let dir = try r.directory(prefix: "palisade-fake-engine")
            let list = try dir.write("list.json", """
                [{"Id": "aaa", "Names": ["/a"], "Image": "img:1", "Labels": {}, "State": "running",
                  "NetworkSettings": {"Networks": {"n": {"IPAddress": "10.9.0.2", "GlobalIPv6Address": ""}}}}]
                """)
            let inspect = try dir.write("inspect.json", """
                {"bbb": {"Id": "bbb", "Name": "/b", "State": {"Status": "running", "Running": true},
                  "Config": {"Image": "img:2", "Labels": {"x": "y"}},
                  "NetworkSettings": {"Networks": {"n": {"IPAddress": "10.9.0.3", "GlobalIPv6Address": "fd00::3"}}}}}
                """)
            let events = try dir.write("events.jsonl", [
                #"{"Type":"container","Action":"start","Actor":{"ID":"bbb""#,
                "not json at all",
                #"{"Type":"container","Action":"start","Actor":{"ID":"../../v1.41/containers/aaa"}}"#,
                #"{"Type":"container","Action":"rename","Actor":{"ID":"ccc"}}"#,
                #"{"Type":"container","Action":"start","Actor":{"ID":"bbb","Attributes":{"name":"b"}}}"#,
                #"{"Type":"container","Action":"die","Actor":{"ID":"aaa"}}"#,
            ].joined(separator: "\n") + "\n")
            let socket = dir.file("engine.sock")
            let engine = r.keep(try TestDaemon(name: "fake-engine", executable: "python3",
                arguments: [try Fixtures.path("podman/fake-engine.py"), "--socket", socket, "--list", list,
                    "--inspect", inspect, "--events", events], directory: try r.directory(prefix: "palisade-fake-engine-run")))
            #expect(await Poll.until(timeout: .seconds(20)) { PodmanService.canConnect(socket) }, "\(engine.log)")

            let history = IdentityHistory()
            let changes = ChangeLog()
            try await withDockerSource(socket: socket, history: history, changes: changes) {
                let b = try #require(IPAddress("10.9.0.3"))
                let a = try #require(IPAddress("10.9.0.2"))
                #expect(await Poll.until(timeout: .seconds(20)) {
                    history.directory.lookup(b)?.name == "b" && history.directory.lookup(a) == nil
                }, "\(engine.log)")
                #expect(history.directory.lookup(try #require(IPAddress("fd00::3")))?.labels == ["x": "y"])
                #expect(changes.skipped == 2, "two broken lines")
                #expect(changes.failures == 0, "nothing forced a reconnect")
                #expect(changes.lists == 1)
                #expect(!engine.log.contains("../"), "the hostile id never reached the engine:\n\(engine.log)")
                #expect(history.intervals(of: a).first?.workload.image == "img:1", "the listed container was known first")
            }
        }
    }
}
