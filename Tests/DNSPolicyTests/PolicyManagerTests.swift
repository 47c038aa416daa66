import DNSPipeline
@testable import DNSPolicy
import DNSWire
import Foundation
import Testing

@Suite struct PolicyManagerTests {
    private let feedURL = "https://feeds.example/threats.txt"

    private func blocked(_ manager: PolicyManager, _ q: String) -> Bool {
        manager.engine.current.evaluateQuery(name: name(q), type: .a, client: ordinaryClient)?.action.rewrites == true
    }

    @Test("a successful refresh installs the rules and saves the last good copy in the data directory")
    func refreshSaves() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanUp() }
        let fetcher = ScriptedFetcher()
        fetcher.set(self.feedURL, "evil.example\nbad.example\n")
        let clock = ManualWallClock()
        let manager = PolicyManager(sources: [PolicySourceConfig(name: "feed", location: self.feedURL)],
            dataDirectory: dir.path, fetcher: fetcher, now: { clock.now })
        let status = await manager.start()
        #expect(status.first?.state == .ok)
        #expect(status.first?.ruleCount == 2)
        #expect(status.first?.format == .domains)
        #expect(status.first?.contentHash?.hasPrefix("fnv1a64:") == true)
        #expect(status.first?.loadedAt == clock.now)
        #expect(self.blocked(manager, "evil.example."))
        let store = FeedStore(directory: dir.path)
        #expect(store.metadata(for: "feed")?.ruleCount == 2)
        #expect(FileManager.default.contents(atPath: store.feedPath(for: "feed")) == Data("evil.example\nbad.example\n".utf8))
    }

    @Test("at start-up the last good copy is served before any refresh, even when the feed is down")
    func servesStoredCopy() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanUp() }
        let clock = ManualWallClock()
        let good = ScriptedFetcher()
        good.set(self.feedURL, "$ORIGIN t.rpz.\n@ SOA ns h 42 1 1 1 1\nevil.example CNAME .\n")
        let config = PolicySourceConfig(name: "feed", location: self.feedURL, refreshInterval: .seconds(3600))
        _ = await PolicyManager(sources: [config], dataDirectory: dir.path, fetcher: good, now: { clock.now }).start()

        clock.advance(600)
        let down = ScriptedFetcher()
        down.fail(self.feedURL, "connection refused")
        let restarted = PolicyManager(sources: [config], dataDirectory: dir.path, fetcher: down, now: { clock.now })
        let status = await restarted.start()
        #expect(down.fetchCount == 0)
        #expect(status.first?.state == .ok)
        #expect(status.first?.serial == 42)
        #expect(status.first?.age == .seconds(600))
        #expect(self.blocked(restarted, "evil.example."))

        // The scheduled refresh is due at once for a copy loaded from disk; it fails and the copy stays.
        let after = await restarted.refreshDue()
        #expect(down.fetchCount == 1)
        #expect(after.first?.state == .stale)
        #expect(after.first?.lastError?.contains("connection refused") == true)
        #expect(after.first?.ruleCount == 1)
        #expect(self.blocked(restarted, "evil.example."))
    }

    @Test("a failing refresh keeps the last good copy and records the error; success clears it")
    func failedRefreshKeepsCopy() async throws {
        let fetcher = ScriptedFetcher()
        fetcher.set(self.feedURL, "evil.example\n")
        let clock = ManualWallClock()
        let manager = PolicyManager(sources: [PolicySourceConfig(name: "feed", location: self.feedURL)],
            dataDirectory: nil, fetcher: fetcher, now: { clock.now })
        await manager.start()
        fetcher.fail(self.feedURL, "HTTP 503")
        clock.advance(30)
        let failed = await manager.refresh("feed")
        #expect(failed?.state == .stale)
        #expect(failed?.lastError?.contains("HTTP 503") == true)
        #expect(failed?.lastAttempt == clock.now)
        #expect(self.blocked(manager, "evil.example."))
        fetcher.set(self.feedURL, "evil.example\nnew.example\n")
        let recovered = await manager.refresh("feed")
        #expect(recovered?.state == .ok)
        #expect(recovered?.lastError == nil)
        #expect(self.blocked(manager, "new.example."))
    }

    @Test("an update with a bad line in reject mode is refused and the last good copy stays")
    func rejectKeepsCopy() async throws {
        let fetcher = ScriptedFetcher()
        fetcher.set(self.feedURL, "evil.example\n")
        let manager = PolicyManager(sources: [
            PolicySourceConfig(name: "feed", kind: .domains, location: self.feedURL, badLines: .reject)
        ], dataDirectory: nil, fetcher: fetcher)
        await manager.start()
        fetcher.set(self.feedURL, "evil.example\nnew.example\nnot a domain\n")
        let status = await manager.refresh("feed")
        #expect(status?.state == .stale)
        #expect(status?.lastError?.contains("line 3") == true || status?.lastError?.contains(":3") == true)
        #expect(status?.issues.first?.line == 3)
        #expect(status?.ruleCount == 1)
        #expect(!self.blocked(manager, "new.example."))
    }

    @Test("an empty update does not replace a non-empty copy")
    func emptyUpdateRefused() async throws {
        let fetcher = ScriptedFetcher()
        fetcher.set(self.feedURL, "evil.example\n")
        let manager = PolicyManager(sources: [PolicySourceConfig(name: "feed", location: self.feedURL)],
            dataDirectory: nil, fetcher: fetcher)
        await manager.start()
        fetcher.set(self.feedURL, "# nothing today\n")
        let status = await manager.refresh("feed")
        #expect(status?.lastError?.contains("no rules") == true)
        #expect(self.blocked(manager, "evil.example."))
    }

    @Test("a never-loaded fail-open source lets queries through and says so")
    func failOpen() async throws {
        let fetcher = ScriptedFetcher()
        fetcher.fail(self.feedURL, "DNS failure")
        let manager = PolicyManager(sources: [PolicySourceConfig(name: "feed", location: self.feedURL, failMode: .open)],
            dataDirectory: nil, fetcher: fetcher)
        let status = await manager.start()
        #expect(status.first?.state == .failed)
        #expect(status.first?.failingClosed == false)
        #expect(manager.engine.current.evaluateQuery(name: name("any.example."), type: .a, client: ordinaryClient) == nil)
    }

    @Test("a never-loaded fail-closed source answers SERVFAIL with EDE 14 until it loads")
    func failClosed() async throws {
        let fetcher = ScriptedFetcher()
        fetcher.fail(self.feedURL, "DNS failure")
        let manager = PolicyManager(sources: [
            PolicySourceConfig(name: "feed", location: self.feedURL, failMode: .closed)
        ], dataDirectory: nil, fetcher: fetcher)
        let status = await manager.start()
        #expect(status.first?.state == .failed)
        #expect(status.first?.failingClosed == true)
        let chain = Chain(stages: [manager.makeQueryStage(), RecordingUpstream()])
        let r = await chain.resolve(query("any.example."), in: QueryContext())
        #expect(r.rcode == .servFail)
        #expect(r.ede?.code == .notReady)
        fetcher.set(self.feedURL, "evil.example\n")
        let loaded = await manager.refresh("feed")
        #expect(loaded?.state == .ok)
        #expect(loaded?.failingClosed == false)
        #expect(await chain.resolve(query("any.example."), in: QueryContext()).source == .upstream("recorder"))
    }

    @Test("refreshDue follows each source's interval and retries failures sooner")
    func schedule() async throws {
        let fetcher = ScriptedFetcher()
        fetcher.set(self.feedURL, "evil.example\n")
        let clock = ManualWallClock()
        let manager = PolicyManager(sources: [
            PolicySourceConfig(name: "feed", location: self.feedURL, refreshInterval: .seconds(3600))
        ], dataDirectory: nil, fetcher: fetcher, now: { clock.now })
        await manager.start()
        #expect(fetcher.fetchCount == 1)
        #expect(await manager.nextRefreshDelay() == .seconds(3600))
        clock.advance(1800)
        await manager.refreshDue()
        #expect(fetcher.fetchCount == 1)
        clock.advance(1800)
        await manager.refreshDue()
        #expect(fetcher.fetchCount == 2)
        fetcher.fail(self.feedURL, "timeout")
        clock.advance(3600)
        await manager.refreshDue()
        #expect(fetcher.fetchCount == 3)
        #expect(await manager.nextRefreshDelay() == PolicyManager.retryAfterFailure)
    }

    @Test("an unchanged feed is not recompiled; its fetch time moves on")
    func unchanged() async throws {
        let fetcher = ScriptedFetcher()
        fetcher.set(self.feedURL, "evil.example\n")
        let clock = ManualWallClock()
        let manager = PolicyManager(sources: [PolicySourceConfig(name: "feed", location: self.feedURL)],
            dataDirectory: nil, fetcher: fetcher, now: { clock.now })
        let first = await manager.start().first
        let engine = manager.engine.current
        clock.advance(60)
        let second = await manager.refresh("feed")
        #expect(manager.engine.current === engine)
        #expect(second?.loadedAt == first?.loadedAt)
        #expect(second?.fetchedAt == clock.now)
    }

    @Test("reconfiguring relabels unchanged sources, drops removed ones and loads new ones")
    func reconfigure() async throws {
        let fetcher = ScriptedFetcher()
        fetcher.set(self.feedURL, "evil.example\n")
        fetcher.set("allow.txt", "evil.example\n")
        let manager = PolicyManager(sources: [PolicySourceConfig(name: "feed", location: self.feedURL)],
            dataDirectory: nil, fetcher: fetcher)
        await manager.start()
        #expect(fetcher.fetchCount == 1)
        var watched = PolicySourceConfig(name: "feed", location: self.feedURL)
        watched.override = .log
        await manager.reconfigure([watched])
        #expect(fetcher.fetchCount == 1)
        #expect(manager.engine.current.evaluateQuery(name: name("evil.example."), type: .a, client: ordinaryClient)?
            .action == .log)
        let status = await manager.reconfigure([
            PolicySourceConfig(name: "allow", location: "allow.txt", role: .allow), watched,
        ])
        #expect(status.map(\.name) == ["allow", "feed"])
        #expect(manager.engine.current.evaluateQuery(name: name("evil.example."), type: .a, client: ordinaryClient)?
            .action == .allow)
        await manager.reconfigure([])
        #expect(await manager.status().isEmpty)
        #expect(manager.engine.current.sourceNames.isEmpty)
    }

    @Test("a disabled source is reported and not loaded")
    func disabledSource() async throws {
        let fetcher = ScriptedFetcher()
        let manager = PolicyManager(sources: [
            PolicySourceConfig(name: "feed", location: self.feedURL, enabled: false)
        ], dataDirectory: nil, fetcher: fetcher)
        let status = await manager.start()
        #expect(status.first?.state == .disabled)
        #expect(fetcher.fetchCount == 0)
    }

    @Test("configuration validation names each problem")
    func validation() {
        let problems = PolicySourceConfig.validate([
            PolicySourceConfig(name: "a", location: "x"),
            PolicySourceConfig(name: "a", location: "y"),
            PolicySourceConfig(name: "b", location: "", answer: .sinkhole([])),
        ])
        #expect(problems.count == 3)
        #expect(problems[0].contains("'a'"))
    }

    @Test("the file fetcher reads paths and file URLs, and refuses other schemes")
    func fileFetcher() async throws {
        let fetcher = FileFeedFetcher()
        let bytes = try await fetcher.fetch(Fixture.list("allow.txt"))
        #expect(String(decoding: bytes, as: UTF8.self).contains("safe.example"))
        #expect(try await fetcher.fetch("file://" + Fixture.list("allow.txt")) == bytes)
        await #expect(throws: FeedFetchError.self) { try await fetcher.fetch("https://feeds.example/x") }
        await #expect(throws: FeedFetchError.self) { try await fetcher.fetch("/nonexistent/palisade/feed.txt") }
    }

    @Test("the routing fetcher sends HTTP(S) to the remote fetcher and paths to the file fetcher")
    func routing() async throws {
        let remote = ScriptedFetcher()
        remote.set("https://feeds.example/a.txt", "a.example\n")
        let fetcher = RoutingFeedFetcher(remote: remote)
        #expect(try await fetcher.fetch("https://feeds.example/a.txt") == Array("a.example\n".utf8))
        #expect(String(decoding: try await fetcher.fetch(Fixture.list("allow.txt")), as: UTF8.self).contains("safe.example"))
        #expect(remote.fetchCount == 1)
    }

    @Test("stored file names are safe for any source name")
    func fileStems() {
        #expect(FeedStore.fileStem("urlhaus") == "urlhaus")
        #expect(FeedStore.fileStem("../etc/passwd").hasPrefix("__"))
        #expect(!FeedStore.fileStem("a/b").contains("/"))
        #expect(FeedStore.fileStem("a/b") != FeedStore.fileStem("a?b"))
    }
}
