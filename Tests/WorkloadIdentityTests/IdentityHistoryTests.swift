import DNSPipeline
import DNSWire
import Foundation
import Synchronization
import Testing
import WorkloadIdentity

/// A wall clock the test moves by hand.
final class TestWallClock: Sendable {
    private let value = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
    var now: Date { self.value.withLock { $0 } }
    func advance(_ seconds: TimeInterval) { self.value.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

func container(_ id: String, _ name: String, labels: [String: String] = [:]) -> Workload {
    Workload(kind: .container, id: id, name: name, image: "localhost/bb:1", labels: labels)
}

func ip(_ text: String) throws -> IPAddress { try #require(IPAddress(text)) }

@Suite struct IdentityHistoryTests {
    @Test("A published container is found by the directory the identify stage reads")
    func publishesToDirectory() throws {
        let h = IdentityHistory()
        h.apply(.docker, set: [try ip("10.89.7.5"): container("a1", "web")])
        #expect(h.directory.lookup(try ip("10.89.7.5"))?.name == "web")
        #expect(h.directory.lookup(try ip("10.89.7.6")) == nil)
    }

    @Test("After an address is reused, a lookup at an earlier time names the old holder")
    func reuseKeepsOldHolder() throws {
        let clock = TestWallClock()
        let h = IdentityHistory(now: { clock.now })
        let a = try ip("10.89.7.5")
        let t0 = clock.now
        h.apply(.docker, set: [a: container("old", "web-1")])
        clock.advance(10)
        h.apply(.docker, remove: [a])
        clock.advance(5)
        let gapTime = clock.now
        clock.advance(5)
        h.apply(.docker, set: [a: container("new", "web-2")])
        let t3 = clock.now
        #expect(h.lookup(a, at: t0.addingTimeInterval(1))?.name == "web-1")
        #expect(h.lookup(a, at: gapTime) == nil)
        #expect(h.lookup(a, at: t3.addingTimeInterval(1))?.name == "web-2")
        #expect(h.directory.lookup(a)?.name == "web-2")
        let intervals = h.intervals(of: a)
        #expect(intervals.count == 2)
        #expect(intervals[0].until == t0.addingTimeInterval(10))
        #expect(intervals[1].until == nil)
    }

    @Test("A workload's addresses list every address it held, with from and until")
    func addressesOfWorkload() throws {
        let clock = TestWallClock()
        let h = IdentityHistory(now: { clock.now })
        let w = container("c1", "web")
        h.apply(.docker, set: [try ip("10.89.7.5"): w, try ip("fd00::5"): w])
        clock.advance(60)
        h.apply(.docker, set: [try ip("10.89.8.5"): w], remove: [try ip("10.89.7.5")])
        let list = h.addresses(ofWorkload: IdentityHistory.key(for: w))
        #expect(list.map(\.address.description).sorted() == ["10.89.7.5", "10.89.8.5", "fd00::5"])
        let old = try #require(list.first { $0.address.description == "10.89.7.5" })
        #expect(old.until != nil)
        #expect(list.first { $0.address.description == "10.89.8.5" }?.until == nil)
        #expect(IdentityHistory.key(for: w) == "container:c1")
        #expect(h.addresses(ofWorkload: "container:nobody").isEmpty)
    }

    @Test("Kubernetes wins over Docker, Docker over the static file, and the loser comes back when the winner leaves")
    func precedence() throws {
        let h = IdentityHistory()
        let a = try ip("10.0.0.9")
        h.replace(.static, with: [a: Workload(kind: .static, id: "s", name: "static-entry")])
        h.apply(.docker, set: [a: container("d", "docker-one")])
        h.apply(.kubernetes, set: [a: Workload(kind: .pod, id: "uid", name: "ns/pod")])
        #expect(h.directory.lookup(a)?.name == "ns/pod")
        h.apply(.kubernetes, remove: [a])
        #expect(h.directory.lookup(a)?.name == "docker-one")
        h.apply(.docker, remove: [a])
        #expect(h.directory.lookup(a)?.name == "static-entry")
        #expect(h.intervals(of: a).map(\.workload.name) == ["static-entry", "docker-one", "ns/pod", "docker-one", "static-entry"])
    }

    @Test("Replacing a source's list ends the intervals of addresses it no longer reports")
    func replaceDiffs() throws {
        let h = IdentityHistory()
        let a = try ip("10.0.0.1")
        let b = try ip("10.0.0.2")
        h.replace(.docker, with: [a: container("1", "one"), b: container("2", "two")])
        h.replace(.docker, with: [b: container("2", "two")])
        #expect(h.directory.lookup(a) == nil)
        #expect(h.intervals(of: a).first?.until != nil)
        #expect(h.intervals(of: b).count == 1, "an unchanged mapping opens no new interval")
    }

    @Test("Static prefixes answer when no exact entry holds the address")
    func prefixes() throws {
        let h = IdentityHistory()
        let n = try #require(IPNetwork("10.89.0.0/16"))
        h.replace(.static, with: [:], prefixes: [(n, Workload(kind: .static, id: "farm", name: "build-farm"))])
        #expect(h.directory.lookup(try ip("10.89.3.3"))?.name == "build-farm")
        #expect(h.lookup(try ip("10.89.3.3"), at: Date())?.name == "build-farm")
        h.apply(.docker, set: [try ip("10.89.3.3"): container("x", "x")])
        #expect(h.directory.lookup(try ip("10.89.3.3"))?.name == "x")
    }

    @Test("IPv4-mapped IPv6 addresses are stored as IPv4")
    func unmapped() throws {
        let h = IdentityHistory()
        h.apply(.docker, set: [try ip("::ffff:10.1.2.3"): container("m", "mapped")])
        #expect(h.directory.lookup(try ip("10.1.2.3"))?.name == "mapped")
    }

    @Test("Closed intervals older than the horizon are pruned; open ones stay")
    func pruning() throws {
        let clock = TestWallClock()
        let h = IdentityHistory(horizon: .seconds(3600), now: { clock.now })
        let a = try ip("10.0.0.1")
        let b = try ip("10.0.0.2")
        h.apply(.docker, set: [a: container("1", "one"), b: container("2", "two")])
        clock.advance(10)
        h.apply(.docker, remove: [a])
        #expect(h.intervalCount == 2)
        clock.advance(3601)
        h.prune()
        #expect(h.intervalCount == 1)
        #expect(h.intervals(of: a).isEmpty)
        #expect(h.addresses(ofWorkload: "container:1").isEmpty)
        #expect(h.intervals(of: b).count == 1)
    }

    @Test("An address that churns keeps at most maxIntervalsPerAddress intervals")
    func perAddressBound() throws {
        let h = IdentityHistory(maxIntervalsPerAddress: 4)
        let a = try ip("10.0.0.1")
        for i in 0..<50 { h.apply(.docker, set: [a: container("c\(i)", "n\(i)")]) }
        #expect(h.intervals(of: a).count == 4)
        #expect(h.intervalCount == 4)
        #expect(h.intervals(of: a).last?.workload.name == "n49")
        #expect(h.addresses(ofWorkload: "container:c0").isEmpty, "dropped intervals leave the key index too")
    }
}
