@testable import DNSPolicy
import DNSWire
import Foundation
import Testing

/// A source loaded for the first time has its copy written and synced while it compiles; the copy goes in
/// place only once the text has compiled, so a bad text never replaces anything and leaves nothing behind.
@Suite struct FeedCopyPreparationTests {
    private let feedURL = "https://feeds.example/threats.txt"

    private func leftovers(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter {
            $0.hasSuffix(".prepared") || $0.hasSuffix(".tmp")
        }
    }

    @Test("a prepared copy replaces the stored one only on commit, and a discarded one leaves no file")
    func prepareCommitDiscard() throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanUp() }
        let store = FeedStore(directory: dir.path)
        func meta(_ rules: Int, _ hash: String) -> FeedStore.Metadata {
            FeedStore.Metadata(name: "feed", location: self.feedURL, format: "domains", contentHash: hash, serial: nil,
                ruleCount: rules, loadedAt: 1, fetchedAt: 1)
        }
        let old = Array("old.example\n".utf8)
        try store.save(old, metadata: meta(1, FeedStore.contentHash(old)))

        let new = Array("new.example\nnewer.example\n".utf8)
        let prepared = try store.prepare(new, source: "feed")
        #expect(prepared.contentHash == FeedStore.contentHash(new))
        #expect(FileManager.default.contents(atPath: store.feedPath(for: "feed")) == Data(old))
        #expect(store.metadata(for: "feed")?.ruleCount == 1)
        try store.commit(prepared, metadata: meta(2, prepared.contentHash))
        #expect(FileManager.default.contents(atPath: store.feedPath(for: "feed")) == Data(new))
        #expect(store.metadata(for: "feed")?.ruleCount == 2)
        #expect(store.metadata(for: "feed")?.contentHash == FeedStore.contentHash(new))

        let dropped = try store.prepare(Array("never.example\n".utf8), source: "feed")
        #expect(self.leftovers(dir.path).count == 1)
        store.discard(dropped)
        #expect(self.leftovers(dir.path).isEmpty)
        #expect(FileManager.default.contents(atPath: store.feedPath(for: "feed")) == Data(new))
    }

    @Test("a first load that fails to compile stores nothing and leaves no prepared file")
    func failedFirstLoadStoresNothing() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanUp() }
        let fetcher = ScriptedFetcher()
        fetcher.set(self.feedURL, "$ORIGIN t.rpz.\n@ SOA ns h 1 1 1 1 1\nok.example CNAME .\nbad..example CNAME .\n")
        let manager = PolicyManager(sources: [PolicySourceConfig(name: "feed", location: self.feedURL, badLines: .reject)],
            dataDirectory: dir.path, fetcher: fetcher)
        let status = await manager.start()
        #expect(status.first?.lastError?.contains("bad line") == true)
        #expect(status.first?.ruleCount == 0)
        let store = FeedStore(directory: dir.path)
        #expect(store.metadata(for: "feed") == nil)
        #expect(!FileManager.default.fileExists(atPath: store.feedPath(for: "feed")))
        #expect(self.leftovers(dir.path).isEmpty)
    }

    @Test("a first load that compiles stores exactly the fetched text with its hash, and the engine serves it")
    func firstLoadStoresCopy() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanUp() }
        let fetcher = ScriptedFetcher()
        let text = "$ORIGIN t.rpz.\n@ SOA ns h 7 1 1 1 1\nevil.example CNAME .\n*.wild.example CNAME .\n"
        fetcher.set(self.feedURL, text)
        let manager = PolicyManager(sources: [PolicySourceConfig(name: "feed", location: self.feedURL)],
            dataDirectory: dir.path, fetcher: fetcher)
        let status = await manager.start()
        #expect(status.first?.state == .ok)
        #expect(status.first?.contentHash == FeedStore.contentHash(Array(text.utf8)))
        let store = FeedStore(directory: dir.path)
        #expect(store.metadata(for: "feed")?.serial == 7)
        #expect(store.metadata(for: "feed")?.contentHash == FeedStore.contentHash(Array(text.utf8)))
        #expect(FileManager.default.contents(atPath: store.feedPath(for: "feed")) == Data(text.utf8))
        #expect(self.leftovers(dir.path).isEmpty)
        let hit = manager.engine.current.evaluateQuery(name: name("a.wild.example."), type: .a, client: ordinaryClient)
        #expect(hit?.action.rewrites == true)
    }
}
