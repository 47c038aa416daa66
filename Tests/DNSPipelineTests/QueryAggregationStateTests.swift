import DNSWire
import TestSupport
import Testing

@testable import DNSPipeline

/// The open-group index of the query-log buffer, where a full hash collision must not fold different queries.
@Suite struct QueryAggregationStateTests {
    private func logged(_ name: String, hash: Int, at micros: Int64) throws -> LoggedQuery {
        let q = Query(message: try TestMessages.query(name),
            client: ClientInfo(address: .v4(IPv4Address(10, 0, 0, 1)), transport: .udp))
        let r = Resolution.rcode(.noError, for: q, source: .cache)
        return LoggedQuery(key: GroupKey(query: q, workload: nil, resolution: r, forcedHash: hash),
            timestampMicros: micros, latencyMicros: 1, workload: nil, resolution: r, findings: [])
    }

    @Test("Keys whose hashes collide stay separate groups, and closing one leaves the others findable")
    func collisions() throws {
        var s = AggregationState()
        let a = try self.logged("a.example.", hash: 42, at: 0)
        let b = try self.logged("b.example.", hash: 42, at: 1)
        let c = try self.logged("c.example.", hash: 42, at: 2)
        let d = try self.logged("d.example.", hash: 7, at: 3)
        for q in [a, b, c, d] {
            #expect(s.find(q.key) == nil)
            s.openGroup(q, blocked: false, window: 10)
        }
        #expect(s.open == 4)
        #expect(s.find(a.key) == 0 && s.find(b.key) == 1 && s.find(c.key) == 2 && s.find(d.key) == 3)
        // Close the chain's tail (a) and middle (b), then its head (c); the rest stays findable.
        var out: [Due] = []
        s.closeGroups(nowMicros: 11, window: 10, all: false, into: &out)
        #expect(out.map(\.query.key.name.description) == ["a.example.", "b.example."])
        #expect(s.find(a.key) == nil && s.find(b.key) == nil)
        #expect(s.find(c.key) != nil && s.find(d.key) != nil)
        let again = try self.logged("a.example.", hash: 42, at: 12)
        s.openGroup(again, blocked: false, window: 10)
        #expect(s.find(again.key) != nil && s.find(c.key) != nil)
        s.closeGroups(nowMicros: 12, window: 10, all: false, into: &out)
        #expect(s.find(c.key) == nil && s.find(again.key) != nil && s.find(d.key) != nil)
        s.closeGroups(nowMicros: 12, window: 10, all: true, into: &out)
        #expect(s.open == 0 && s.index.isEmpty)
        #expect(out.count == 5)
    }
}
