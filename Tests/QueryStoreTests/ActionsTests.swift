import Foundation
import QueryStore
import Testing

@Suite struct ActionsTests {
    @Test("Recorded actions come back newest first with every field")
    func roundTrip() async throws {
        let store = try QueryStore.inMemory()
        let first = try await store.recordAction(
            ActionRecord(
                timestampMicros: baseMicros, actor: "ops", action: "quarantine", target: "container:abc",
                reason: "beaconing", detail: "answer=refused"))
        let second = try await store.recordAction(
            ActionRecord(timestampMicros: baseMicros + minuteMicros, actor: "ops", action: "release",
                target: "container:abc"))
        #expect(second > first)
        let all = try await store.actions()
        #expect(all.map(\.action) == ["release", "quarantine"])
        let q = try #require(all.last)
        #expect(q.id == first)
        #expect(q.timestampMicros == baseMicros)
        #expect(q.actor == "ops")
        #expect(q.target == "container:abc")
        #expect(q.reason == "beaconing")
        #expect(q.detail == "answer=refused")
        #expect(all.first?.reason == "")
    }

    @Test("Actions page by id and filter by target")
    func paging() async throws {
        let store = try QueryStore.inMemory()
        for i in 0..<5 {
            try await store.recordAction(
                ActionRecord(timestampMicros: baseMicros + Int64(i), actor: "a", action: "deny-add",
                    target: i % 2 == 0 ? "evil.example" : "other.example"))
        }
        let page1 = try await store.actions(limit: 2)
        #expect(page1.count == 2)
        let page2 = try await store.actions(limit: 2, beforeID: page1.last?.id)
        #expect(page2.count == 2)
        #expect(Set(page1.map(\.id)).isDisjoint(with: page2.map(\.id)))
        #expect(try #require(page2.first?.id) < (try #require(page1.last?.id)))
        let evil = try await store.actions(limit: 100, beforeID: nil, target: "evil.example")
        #expect(evil.count == 3)
        #expect(evil.allSatisfy { $0.target == "evil.example" })
        #expect(try await store.actions(limit: 0).count == 1)
    }

    @Test("Actions survive closing and reopening the database file")
    func persistence() async throws {
        try await withTemporaryDirectory { dir in
            let path = dir + "/log.sqlite"
            let store = try QueryStore(path: path)
            try await store.recordAction(
                ActionRecord(timestampMicros: baseMicros, actor: "ops", action: "allow-add", target: "ok.example"))
            try store.close()
            let reopened = try QueryStore(path: path)
            #expect(try await reopened.actions().map(\.target) == ["ok.example"])
            #expect(try await reopened.appliedMigrations() == QueryStore.migrationNames)
            try reopened.close()
        }
    }
}
