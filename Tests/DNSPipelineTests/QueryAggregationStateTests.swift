import DNSWire
import TestSupport
import Testing

@testable import DNSPipeline

/// The open-group index of the query-log buffer, where a full hash collision must not fold different queries.
@Suite struct QueryAggregationStateTests {
    private func logged(_ name: String, hash: Int, check: UInt64? = nil, at micros: Int64, client: UInt8 = 1,
        blocked: Bool = false) throws -> LoggedQuery
    {
        let q = Query(message: try TestMessages.query(name),
            client: ClientInfo(address: .v4(IPv4Address(10, 0, 0, client)), transport: .udp))
        let hit = PolicyHit(source: "list", rule: name, action: "nxdomain", trigger: "qname")
        let r = blocked
            ? Resolution.rcode(.nxDomain, for: q, source: .policy(hit)) : Resolution.rcode(.noError, for: q, source: .cache)
        return LoggedQuery(key: GroupKey(query: q, workload: nil, resolution: r, forcedHash: hash, forcedCheck: check),
            timestampMicros: micros, latencyMicros: 1, workload: nil, resolution: r, findings: [])
    }

    @Test("Keys whose hashes collide stay separate groups, and closing some leaves the others findable")
    func collisions() throws {
        var s = AggregationState()
        // a, b and c collide; a and c are client 1's, b is client 2's.
        let a = try self.logged("a.example.", hash: 42, at: 0, client: 1)
        let b = try self.logged("b.example.", hash: 42, at: 1, client: 2)
        let c = try self.logged("c.example.", hash: 42, at: 2, client: 1)
        let d = try self.logged("d.example.", hash: 7, at: 3, client: 2)
        for q in [a, b, c, d] {
            #expect(s.find(q.key) == nil)
            s.openGroup(q, blocked: false, window: 10)
        }
        #expect(s.open == 4)
        #expect(s.find(a.key) == 0 && s.find(b.key) == 1 && s.find(c.key) == 2 && s.find(d.key) == 3)
        // Client 1's first block closes its open groups, the chain's head (c) and tail (a), and hands them over.
        let block = try self.logged("evil.example.", hash: 9, at: 4, client: 1, blocked: true)
        s.openGroup(block, blocked: true, window: 10)
        #expect(s.due.map(\.query.key.name.description) == ["a.example.", "c.example.", "evil.example."])
        #expect(s.find(a.key) == nil && s.find(c.key) == nil)
        #expect(s.find(b.key) == 1 && s.find(d.key) == 3 && s.find(block.key) == 4)
        let again = try self.logged("a.example.", hash: 42, at: 5, client: 1)
        s.openGroup(again, blocked: false, window: 10)
        #expect(s.find(again.key) == 5 && s.find(b.key) == 1)
        #expect(s.open == 4)
    }

    @Test("A lookup matches a group by hash and check together; a hash collision alone never folds")
    func hashAndCheck() throws {
        var s = AggregationState()
        let a = try self.logged("a.example.", hash: 42, check: 1, at: 0)
        let b = try self.logged("b.example.", hash: 42, check: 2, at: 1)
        s.openGroup(a, blocked: false, window: 10)
        #expect(s.find(b.key) == nil, "same hash, another check")
        s.openGroup(b, blocked: false, window: 10)
        #expect(s.find(a.key) == 0 && s.find(b.key) == 1)
        // The documented limit: a key equal in both 64-bit values is taken for the group's key.
        let twin = try self.logged("c.example.", hash: 42, check: 1, at: 2)
        #expect(s.find(twin.key) == 0)
        // Computed checks: equal for names that differ only in case, different for different names.
        let upper = try self.logged("A.EXAMPLE.", hash: 5, at: 3)
        let lower = try self.logged("a.example.", hash: 5, at: 3)
        let other = try self.logged("a.example.org.", hash: 5, at: 3)
        #expect(upper.key.check == lower.key.check && lower.key.check != other.key.check)
    }

    @Test("A generation is taken whole once its window has passed since its first query, leaving an empty one")
    func generations() throws {
        var s = AggregationState()
        let none = s.takeGeneration(nowMicros: 100, window: 10, all: false)
        #expect(none == nil, "nothing open, nothing to take")
        let a = try self.logged("a.example.", hash: 1, at: 50)
        let b = try self.logged("b.example.", hash: 2, at: 58)
        s.openGroup(a, blocked: false, window: 10)
        s.openGroup(b, blocked: false, window: 10)
        let early = s.takeGeneration(nowMicros: 59, window: 10, all: false)
        #expect(early == nil)
        let due = s.takeGeneration(nowMicros: 60, window: 10, all: false)
        let taken = try #require(due)
        #expect(taken.groups.compactMap { $0.row?.query.key.name.description } == ["a.example.", "b.example."])
        #expect(s.open == 0 && s.current.groups.isEmpty && s.current.index.isEmpty && s.current.subjects.isEmpty)
        #expect(s.find(a.key) == nil)
        // The next generation starts with its own first query.
        let c = try self.logged("c.example.", hash: 3, at: 70)
        s.openGroup(c, blocked: false, window: 10)
        #expect(s.find(c.key) == 0 && s.current.start == 70)
        let forced = s.takeGeneration(nowMicros: 71, window: 10, all: true)
        #expect(forced?.groups.count == 1, "all: whatever its age")
    }
}
