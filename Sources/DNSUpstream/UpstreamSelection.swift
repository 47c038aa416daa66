/// Orders a pool's upstreams for one query.
package enum UpstreamSelection {
    /// The order in which to try `count` upstreams.
    ///
    /// The strategy gives the base order; a stable partition then moves upstreams that are down to the
    /// end. They stay in the list as a last resort: when everything is down, trying a server that may
    /// have recovered beats answering SERVFAIL for a whole backoff period.
    /// - Parameters:
    ///   - strategy: the pool's strategy.
    ///   - count: number of upstreams.
    ///   - turn: a per-query counter (round-robin start).
    ///   - isAvailable: whether upstream `i` is healthy or probing.
    ///   - generator: randomness for ``SelectionStrategy/random``.
    package static func order<G: RandomNumberGenerator>(strategy: SelectionStrategy, count: Int, turn: Int,
        isAvailable: (Int) -> Bool, using generator: inout G) -> [Int]
    {
        guard count > 0 else { return [] }
        var base: [Int]
        switch strategy {
        case .sequential:
            base = Array(0..<count)
        case .roundRobin:
            let start = ((turn % count) + count) % count
            base = Array(start..<count) + Array(0..<start)
        case .random:
            base = Array(0..<count)
            base.shuffle(using: &generator)
        }
        var available: [Int] = []
        available.reserveCapacity(count)
        var down: [Int] = []
        for i in base {
            if isAvailable(i) { available.append(i) } else { down.append(i) }
        }
        return down.isEmpty ? available : available + down
    }
}
