import DirectIO
import NIOCore
import Testing
import TestSupport

@Suite("DeadlineHeap")
struct DeadlineHeapTests {
    @Test("values come out in deadline order, only once due, for 2,000 seeded random deadlines")
    func ordered() {
        var rng = SplitMix64(seed: 42)
        let base = NIODeadline.uptimeNanoseconds(1_000_000_000)
        var heap = DeadlineHeap<Int>()
        var deadlines: [Int64] = []
        for i in 0..<2000 {
            let offset = Int64.random(in: 0..<1_000_000, using: &rng)
            deadlines.append(offset)
            heap.insert(i, at: base + .nanoseconds(offset))
        }
        #expect(heap.count == 2000)
        #expect(heap.earliest == base + .nanoseconds(deadlines.min()!))
        // Nothing is due before the earliest deadline.
        #expect(heap.popDue(base + .nanoseconds(deadlines.min()! - 1)) == nil)
        var out: [Int64] = []
        let cutoff: Int64 = 500_000
        while let i = heap.popDue(base + .nanoseconds(cutoff)) { out.append(deadlines[i]) }
        #expect(out == deadlines.filter { $0 <= cutoff }.sorted())
        while let i = heap.popDue(base + .nanoseconds(2_000_000)) { out.append(deadlines[i]) }
        #expect(out == deadlines.sorted())
        #expect(heap.count == 0 && heap.earliest == nil)
    }

    @Test("equal deadlines all come out, and the heap empties")
    func equalDeadlines() {
        let d = NIODeadline.uptimeNanoseconds(5)
        var heap = DeadlineHeap<String>()
        for s in ["a", "b", "c"] { heap.insert(s, at: d) }
        var out: Set<String> = []
        while let s = heap.popDue(d) { out.insert(s) }
        #expect(out == ["a", "b", "c"])
        #expect(heap.popDue(d) == nil)
    }
}
