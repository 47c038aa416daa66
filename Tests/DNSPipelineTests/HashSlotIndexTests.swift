import DNSPipeline
import Testing

@Suite struct HashSlotIndexTests {
    /// A deterministic generator (xorshift64*), so a failure reproduces.
    struct Seeded: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            self.state ^= self.state >> 12
            self.state ^= self.state << 25
            self.state ^= self.state >> 27
            return self.state &* 2_685_821_657_736_338_717
        }
    }

    @Test("Keys whose hashes share their low bits all stay reachable, through inserts, updates and removals")
    func collidingRuns() {
        var index = HashSlotIndex()
        // Same low 16 bits: one probe run, wrapping round the end of the table as it grows.
        let hashes = (1...40).map { $0 << 16 | 0xFFFF }
        for (slot, h) in hashes.enumerated() { index.set(h, slot: slot) }
        #expect(index.count == 40)
        for (slot, h) in hashes.enumerated() { #expect(index.slot(for: h) == slot) }
        // Remove from the middle and the start of the run: the keys after each hole must still be found.
        for h in hashes where (h >> 16) % 3 == 0 || h == hashes[0] { index.remove(h) }
        for (slot, h) in hashes.enumerated() {
            let removed = (h >> 16) % 3 == 0 || h == hashes[0]
            #expect(index.slot(for: h) == (removed ? nil : slot), "hash \(h)")
        }
        index.set(hashes[5], slot: 99)
        #expect(index.slot(for: hashes[5]) == 99)
        #expect(index.slot(for: 0x7_0000_FFFF) == nil)
    }

    @Test("A random sequence of sets and removals agrees with a dictionary at every step")
    func agreesWithDictionary() {
        var rng = Seeded(state: 0x9E37_79B9_7F4A_7C15)
        var index = HashSlotIndex()
        var model: [Int: Int] = [:]
        // Hashes from a small range so that runs collide and removals shift buckets back often.
        for step in 0..<20_000 {
            let h = Int(rng.next() % 600) &* 0x1_0000_0001
            if rng.next() % 3 == 0 {
                index.remove(h)
                model[h] = nil
            } else {
                index.set(h, slot: step)
                model[h] = step
            }
            if step % 500 == 0 || step > 19_900 {
                #expect(index.count == model.count)
                for probe in 0..<600 {
                    let p = probe &* 0x1_0000_0001
                    #expect(index.slot(for: p) == model[p], "step \(step), hash \(p)")
                }
            }
        }
    }
}
