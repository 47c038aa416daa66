import DNSPipeline
import DNSWire
import Foundation
import NIOCore
import Testing
import TestSupport
@testable import WorkloadIdentity

/// Decodes JSON captured from a real `podman system service` (v4.3, Docker API v1.41).
@Suite struct DockerModelsTests {
    @Test("A container list from Podman decodes to a workload with its name, image, labels and both addresses")
    func list() throws {
        let list = try JSONDecoder().decode([DockerContainerSummary].self, from: Fixtures.data("podman/containers-list.json"))
        let c = try #require(list.first)
        #expect(c.workload == Workload(kind: .container, id: "e1195381404cf39ab38aae3b483cf1da863cf0cd30e7c97f428b34124a6ca044",
            name: "idcap-web", image: "localhost/bb:1", labels: ["app": "web", "tier": "front"]))
        #expect(c.networkSettings?.addresses.map(\.description) == ["10.89.201.2", "fd00:89:201::2"])
    }

    @Test("An inspected container on two networks yields every address; a stopped one is not running")
    func inspect() throws {
        let c = try JSONDecoder().decode(DockerContainer.self, from: Fixtures.data("podman/container-inspect-two-networks.json"))
        #expect(c.isRunning)
        #expect(c.workload.name == "idcap-web")
        #expect(c.workload.image == "localhost/bb:1")
        #expect(c.workload.labels == ["app": "web", "tier": "front"])
        #expect(c.networkSettings?.addresses.map(\.description) == ["10.89.201.2", "10.89.202.2", "fd00:89:201::2"])
        let stopped = try JSONDecoder().decode(DockerContainer.self, from: Fixtures.data("podman/container-inspect-stopped.json"))
        #expect(!stopped.isRunning)
        #expect(stopped.networkSettings?.addresses.isEmpty == true)
    }

    @Test("Podman's event stream decodes; each action maps to the right effect")
    func events() throws {
        let text = String(decoding: try Fixtures.data("podman/events.jsonl"), as: UTF8.self)
        let events = try text.split(separator: "\n").map { try JSONDecoder().decode(DockerEvent.self, from: Data($0.utf8)) }
        #expect(events.map { $0.action ?? "" } == ["create", "init", "start", "connect", "disconnect", "rename", "pause",
            "unpause", "die", "cleanup", "cleanup"])
        #expect(events.map(\.effect) == [.ignore, .ignore, .reinspect, .reinspect, .reinspect, .reinspect, .ignore,
            .reinspect, .remove, .ignore, .ignore])
        #expect(events.allSatisfy { $0.containerID == "e1195381404cf39ab38aae3b483cf1da863cf0cd30e7c97f428b34124a6ca044" })
    }

    @Test("Docker's network events name the container in Actor.Attributes.container")
    func dockerNetworkEvent() throws {
        let line = #"{"Type":"network","Action":"connect","Actor":{"ID":"net123","Attributes":{"container":"c0ffee","name":"bridge"}}}"#
        let e = try JSONDecoder().decode(DockerEvent.self, from: Data(line.utf8))
        #expect(e.containerID == "c0ffee")
        #expect(e.effect == .reinspect)
    }

    @Test("Container ids with path characters are refused before any request", arguments: ["../x", "a/b", "", "a b", "%2e"])
    func checkedID(id: String) {
        #expect(throws: WorkloadIdentityError.self) { try DockerEngineClient.checkedID(id) }
    }

    @Test("A late die of an old container does not remove the address a new container took over")
    func ownership() throws {
        var t = WorkloadTable()
        let a = try ip("10.89.7.5")
        _ = t.set(container("old", "old"), addresses: [a])
        let (set, removed) = t.set(container("new", "new"), addresses: [a])
        #expect(set[a]?.id == "new")
        #expect(removed.isEmpty)
        #expect(t.remove("old").isEmpty)
        #expect(t.mapping[a]?.id == "new")
        #expect(t.remove("new") == [a])
    }
}

/// Newline-delimited JSON streams with hostile input.
@Suite struct JSONLineStreamTests {
    struct Item: Decodable, Equatable { var n: Int }

    func stream(_ chunks: [String], maxLineLength: Int = 1 << 20) -> JSONLineStream<AsyncStream<ByteBuffer>> {
        let (s, c) = AsyncStream<ByteBuffer>.makeStream()
        for chunk in chunks { c.yield(ByteBuffer(string: chunk)) }
        c.finish()
        return JSONLineStream(body: s, source: "test stream", maxLineLength: maxLineLength)
    }

    func collect(_ s: JSONLineStream<AsyncStream<ByteBuffer>>) async throws -> [Result<Item, WorkloadIdentityError>] {
        var out: [Result<Item, WorkloadIdentityError>] = []
        for try await line in s { out.append(line.decode(Item.self)) }
        return out
    }

    @Test("Objects split across chunks, CRLF and a last line without a newline all decode")
    func chunking() async throws {
        let out = try await self.collect(self.stream([#"{"n":"#, #"1}"#, "\r\n\n", #"{"n":2}"#, "\n{\"n\"", ":3}"]))
        #expect(out.compactMap { try? $0.get().n } == [1, 2, 3])
    }

    @Test("A bad JSON line is reported with its line number and the stream goes on")
    func badLine() async throws {
        let out = try await self.collect(self.stream(["{\"n\":1}\n", "{not json\n", "\u{0}\u{1}\u{ff}\n", "{\"n\":4}\n"]))
        #expect(out.count == 4)
        #expect(try out[0].get().n == 1)
        #expect(try out[3].get().n == 4)
        guard case .failure(let e) = out[1] else { Issue.record("line 2 decoded"); return }
        #expect(e.code == .decode)
        #expect(e.message.contains("test stream line 2"))
    }

    @Test("An over-long line is dropped and reported once; the next line still decodes")
    func longLine() async throws {
        let long = "{\"n\":" + String(repeating: "9", count: 5000) + "}"
        let out = try await self.collect(self.stream([long, "\n{\"n\":7}\n"], maxLineLength: 1000))
        #expect(out.count == 2)
        guard case .failure(let e) = out[0] else { Issue.record("the long line decoded"); return }
        #expect(e.code == .lineTooLong)
        #expect(try out[1].get().n == 7)
    }

    @Test("The splitter never buffers more than its limit")
    func splitterBound() {
        var s = LineSplitter(maxLineLength: 10)
        let out = s.feed(Array(repeating: UInt8(ascii: "x"), count: 100_000))
        #expect(out.isEmpty)
        #expect(s.finish() == [.tooLong(length: 100_000)])
    }
}
