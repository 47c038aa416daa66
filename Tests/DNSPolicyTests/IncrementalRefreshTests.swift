import DNSPipeline
@testable import DNSPolicy
import DNSWire
import Foundation
import Synchronization
import Testing

/// A fetcher that answers like a zone-transfer source: scripted updates for `fetchUpdate`, a scripted whole
/// text for `heldText` (the zone it keeps: the fallback, the merge and the data directory's copy) and `fetch`.
final class ScriptedIncrementalFetcher: IncrementalFeedFetcher, Sendable {
    private struct State {
        var updates: [Result<FeedUpdate, FeedFetchError>] = []
        var text: Result<[UInt8], FeedFetchError> = .failure(FeedFetchError("no text"))
        var asked: [UInt32?] = []
        var fetches = 0
        var heldTexts = 0
    }

    private let state = Mutex(State())

    func queue(_ update: FeedUpdate) { self.state.withLock { $0.updates.append(.success(update)) } }
    func setText(_ text: String) { self.state.withLock { $0.text = .success(Array(text.utf8)) } }
    func failText(_ why: String) { self.state.withLock { $0.text = .failure(FeedFetchError(why)) } }
    /// The serials `fetchUpdate` was asked for, in order.
    var asked: [UInt32?] { self.state.withLock { $0.asked } }
    /// How many times the whole text was fetched (asked of the source again).
    var fetches: Int { self.state.withLock { $0.fetches } }
    /// How many times the text held was read.
    var heldTexts: Int { self.state.withLock { $0.heldTexts } }

    func heldText(_ location: String) async throws -> [UInt8] {
        let r = self.state.withLock { s in
            s.heldTexts += 1
            return s.text
        }
        return try r.get()
    }

    func fetchUpdate(_ location: String, since serial: UInt32?) async throws -> FeedUpdate {
        let next: Result<FeedUpdate, FeedFetchError>? = self.state.withLock { s in
            s.asked.append(serial)
            return s.updates.isEmpty ? nil : s.updates.removeFirst()
        }
        guard let next else { throw FeedFetchError("nothing scripted") }
        return try next.get()
    }

    func fetch(_ location: String) async throws -> [UInt8] {
        let r = self.state.withLock { s in
            s.fetches += 1
            return s.text
        }
        return try r.get()
    }
}

@Suite struct IncrementalRefreshTests {
    static let location = "ixfr://192.0.2.53/rpz.test"

    static func zone(_ serial: UInt32, _ lines: [String]) -> String { RPZUpdateTests.zone(lines, serial: serial) }

    static func records(_ lines: [String]) throws -> [ResourceRecord] { try RPZUpdateTests.records(lines) }

    private func decision(_ manager: PolicyManager, _ q: String) -> String {
        manager.engine.current.evaluateQuery(name: name(q), type: .a, client: ordinaryClient)?.action.label ?? "-"
    }

    private func started(_ fetcher: ScriptedIncrementalFetcher, dir: String? = nil, clock: ManualWallClock = ManualWallClock())
        async throws -> PolicyManager
    {
        fetcher.queue(.full(Array(Self.zone(1, ["a.example CNAME ."]).utf8)))
        let manager = PolicyManager(sources: [PolicySourceConfig(name: "rpz", kind: .rpz, location: Self.location)],
            dataDirectory: dir, fetcher: fetcher, now: { clock.now })
        let status = await manager.start()
        #expect(status.first?.serial == 1)
        return manager
    }

    @Test("IXFR changes are applied to the compiled copy without fetching the whole text")
    func appliesChanges() async throws {
        let fetcher = ScriptedIncrementalFetcher()
        let manager = try await self.started(fetcher)
        #expect(self.decision(manager, "a.example.") == "nxdomain")
        fetcher.queue(.changes(fromSerial: 1, toSerial: 2, changes: try Self.records(["a.example CNAME ."]).map { .deleted($0) }
            + Self.records(["b.example CNAME rpz-drop."]).map { .added($0) }))
        let status = await manager.refresh("rpz")
        #expect(status?.serial == 2)
        #expect(status?.state == .ok)
        #expect(status?.ruleCount == 1)
        #expect(self.decision(manager, "a.example.") == "-")
        #expect(self.decision(manager, "b.example.") == "drop")
        #expect(fetcher.asked == [nil, 1])
        #expect(fetcher.fetches == 0, "no data directory: the whole text is never needed")
    }

    @Test("nothing new keeps the engine and records the fetch")
    func unchanged() async throws {
        let fetcher = ScriptedIncrementalFetcher()
        let manager = try await self.started(fetcher)
        let engine = manager.engine.current
        fetcher.queue(.unchanged)
        let status = await manager.refresh("rpz")
        #expect(status?.lastError == nil)
        #expect(manager.engine.current === engine)
    }

    @Test("changes that do not fit fall back to compiling the whole text")
    func fallsBackToWholeText() async throws {
        let fetcher = ScriptedIncrementalFetcher()
        let manager = try await self.started(fetcher)
        // Deletes a record the copy does not hold: as if the primary's history and ours differ.
        fetcher.queue(.changes(fromSerial: 1, toSerial: 2, changes: try Self.records(["zzz.example CNAME ."]).map { .deleted($0) }))
        fetcher.setText(Self.zone(2, ["c.example CNAME ."]))
        let status = await manager.refresh("rpz")
        #expect(fetcher.heldTexts == 1 && fetcher.fetches == 0, "the text the update left, not a second request")
        #expect(status?.serial == 2)
        #expect(status?.lastError == nil)
        #expect(self.decision(manager, "a.example.") == "-")
        #expect(self.decision(manager, "c.example.") == "nxdomain")
    }

    @Test("a broken IXFR whose fallback also fails keeps the last good copy")
    func brokenKeepsLastGood() async throws {
        let fetcher = ScriptedIncrementalFetcher()
        let manager = try await self.started(fetcher)
        fetcher.queue(.changes(fromSerial: 1, toSerial: 2, changes: try Self.records(["a.example CNAME rpz-drop."]).map { .added($0) }))
        fetcher.failText("AXFR refused")
        let status = await manager.refresh("rpz")
        #expect(status?.state == .stale)
        #expect(status?.serial == 1)
        #expect(status?.lastError?.contains("AXFR refused") == true)
        #expect(self.decision(manager, "a.example.") == "nxdomain")
    }

    @Test("changes from another serial than the one held are not applied")
    func serialMismatch() async throws {
        let fetcher = ScriptedIncrementalFetcher()
        let manager = try await self.started(fetcher)
        fetcher.queue(.changes(fromSerial: 7, toSerial: 8, changes: try Self.records(["b.example CNAME ."]).map { .added($0) }))
        fetcher.setText(Self.zone(8, ["a.example CNAME .", "b.example CNAME ."]))
        let status = await manager.refresh("rpz")
        #expect(status?.serial == 8)
        #expect(fetcher.heldTexts == 1 && fetcher.fetches == 0)
        #expect(self.decision(manager, "b.example.") == "nxdomain")
    }

    @Test("an overlay grown past the merge threshold is replaced by a full compile of the text")
    func mergesLargeOverlay() async throws {
        let fetcher = ScriptedIncrementalFetcher()
        let manager = try await self.started(fetcher)
        let lines = (0..<RPZUpdate.mergeThreshold(baseCount: 1)).map { "m\($0).example CNAME ." }
        fetcher.queue(.changes(fromSerial: 1, toSerial: 2, changes: try Self.records(lines).map { .added($0) }))
        fetcher.setText(Self.zone(2, ["a.example CNAME ."] + lines))
        let status = await manager.refresh("rpz")
        #expect(fetcher.heldTexts == 1, "the merge compiles the whole text once")
        #expect(fetcher.fetches == 0, "the text is the one the update left: the primary is not asked again")
        #expect(status?.serial == 2)
        #expect(status?.ruleCount == lines.count + 1)
        let source = try #require(manager.engine.current.sources.first)
        #expect(source.overlay.isEmpty, "after the merge the rules are in the base index")
        #expect(self.decision(manager, "m17.example.") == "nxdomain")
        #expect(self.decision(manager, "a.example.") == "nxdomain")
    }

    @Test("an incrementally updated copy is written to the data directory at most every save interval")
    func savesWhenDue() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanUp() }
        let clock = ManualWallClock()
        let fetcher = ScriptedIncrementalFetcher()
        let manager = try await self.started(fetcher, dir: dir.path, clock: clock)
        let store = FeedStore(directory: dir.path)
        #expect(store.metadata(for: "rpz")?.serial == 1)

        fetcher.queue(.changes(fromSerial: 1, toSerial: 2, changes: try Self.records(["b.example CNAME ."]).map { .added($0) }))
        fetcher.setText(Self.zone(2, ["a.example CNAME .", "b.example CNAME ."]))
        await manager.refresh("rpz")
        #expect(fetcher.heldTexts == 0, "saved at start-up: the next save is not due yet")
        #expect(store.metadata(for: "rpz")?.serial == 1)

        clock.advance(PolicyManager.incrementalSaveInterval + 1)
        fetcher.queue(.unchanged)
        await manager.refresh("rpz")
        #expect(fetcher.heldTexts == 1 && fetcher.fetches == 0)
        #expect(store.metadata(for: "rpz")?.serial == 2)
        let saved = try String(contentsOfFile: store.feedPath(for: "rpz"), encoding: .utf8)
        #expect(saved.contains("b.example CNAME ."))
    }
}
