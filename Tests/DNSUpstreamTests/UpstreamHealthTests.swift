import DNSUpstream
import Testing

@Suite struct UpstreamHealthTests {
    func health() -> UpstreamHealth {
        UpstreamHealth(failureThreshold: 3, downBackoff: .seconds(5), maxDownBackoff: .seconds(20))
    }

    @Test("An upstream is marked down only after the threshold of consecutive failures")
    func threshold() {
        var h = self.health()
        #expect(h.recordFailure(at: .zero) == false)
        #expect(h.recordFailure(at: .zero) == false)
        #expect(h.state(at: .zero) == .healthy)
        #expect(h.recordFailure(at: .seconds(1)) == true)
        #expect(h.state(at: .seconds(1)) == .down)
        #expect(!h.isAvailable(at: .seconds(2)))
    }

    @Test("A success resets the failure count")
    func successResets() {
        var h = self.health()
        h.recordFailure(at: .zero)
        h.recordFailure(at: .zero)
        h.recordSuccess()
        h.recordFailure(at: .zero)
        h.recordFailure(at: .zero)
        #expect(h.state(at: .zero) == .healthy)
        #expect(h.consecutiveFailures == 2)
    }

    @Test("After the backoff the upstream is probing; one success makes it healthy")
    func probingRecovers() {
        var h = self.health()
        for _ in 0..<3 { h.recordFailure(at: .zero) }
        #expect(h.state(at: .milliseconds(4999)) == .down)
        #expect(h.state(at: .seconds(5)) == .probing)
        #expect(h.isAvailable(at: .seconds(5)))
        h.recordSuccess()
        #expect(h.state(at: .seconds(5)) == .healthy)
    }

    @Test("A failed probe doubles the backoff up to the maximum")
    func backoffDoubles() {
        var h = self.health()
        for _ in 0..<3 { h.recordFailure(at: .zero) }
        // Probe at 5 s fails: down for 10 s.
        #expect(h.recordFailure(at: .seconds(5)) == true)
        #expect(h.state(at: .seconds(14)) == .down)
        #expect(h.state(at: .seconds(15)) == .probing)
        // Probe at 15 s fails: down for 20 s (the maximum), not 40.
        h.recordFailure(at: .seconds(15))
        #expect(h.state(at: .seconds(34)) == .down)
        #expect(h.state(at: .seconds(35)) == .probing)
        h.recordFailure(at: .seconds(35))
        #expect(h.state(at: .seconds(55)) == .probing)
        // Recovery resets the backoff to the first step.
        h.recordSuccess()
        for _ in 0..<3 { h.recordFailure(at: .seconds(60)) }
        #expect(h.state(at: .seconds(65)) == .probing)
    }

    @Test("Failures while already down do not extend the down period")
    func failuresWhileDown() {
        var h = self.health()
        for _ in 0..<3 { h.recordFailure(at: .zero) }
        #expect(h.recordFailure(at: .seconds(4)) == false)
        #expect(h.state(at: .seconds(5)) == .probing)
    }
}

@Suite struct UpstreamSelectionTests {
    struct FixedGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            self.state = self.state &* 6364136223846793005 &+ 1442695040888963407
            return self.state
        }
    }

    @Test("Sequential always starts with the first available upstream")
    func sequential() {
        var g = FixedGenerator(state: 1)
        for turn in 0..<5 {
            #expect(UpstreamSelection.order(strategy: .sequential, count: 3, turn: turn, isAvailable: { _ in true },
                using: &g) == [0, 1, 2])
        }
    }

    @Test("Round-robin starts one further along each turn")
    func roundRobin() {
        var g = FixedGenerator(state: 1)
        let orders = (0..<4).map {
            UpstreamSelection.order(strategy: .roundRobin, count: 3, turn: $0, isAvailable: { _ in true }, using: &g)
        }
        #expect(orders == [[0, 1, 2], [1, 2, 0], [2, 0, 1], [0, 1, 2]])
    }

    @Test("Random yields a permutation and varies between queries")
    func random() {
        var g = FixedGenerator(state: 7)
        var firsts = Set<Int>()
        for turn in 0..<50 {
            let o = UpstreamSelection.order(strategy: .random, count: 4, turn: turn, isAvailable: { _ in true }, using: &g)
            #expect(o.sorted() == [0, 1, 2, 3])
            firsts.insert(o[0])
        }
        #expect(firsts.count > 1)
    }

    @Test("Down upstreams move to the end but stay as a last resort", arguments: SelectionStrategy.allCases)
    func downLast(strategy: SelectionStrategy) {
        var g = FixedGenerator(state: 3)
        for turn in 0..<6 {
            let o = UpstreamSelection.order(strategy: strategy, count: 3, turn: turn, isAvailable: { $0 != 0 }, using: &g)
            #expect(o.count == 3)
            #expect(o.last == 0)
        }
    }

    @Test("An empty pool yields no order")
    func empty() {
        var g = FixedGenerator(state: 3)
        #expect(UpstreamSelection.order(strategy: .random, count: 0, turn: 0, isAvailable: { _ in true }, using: &g).isEmpty)
    }
}
