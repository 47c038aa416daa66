/// A map from a precomputed, randomly seeded hash to a slot (a position in an array the owner keeps): open addressing
/// with linear probing, each bucket holding the hash and the slot side by side.
///
/// Used where a `[Int: Int]` was: the message cache's shards, the query log's open groups. The standard dictionary
/// keeps keys and values in separate regions of its storage and hashes its key again with SipHash, so a lookup read
/// two cold cache lines and paid a second hash for a key that is already a hash. The keys here come from `Hasher`,
/// seeded per process, so their low bits are safe to probe with: a client cannot aim names at one bucket. A lookup
/// reads one bucket line. perf on the cached-hit mix showed the cache lookup at about 10 % of the event loop's samples,
/// almost all of it stalls on the first read of each object on the way (BENCHMARKS.md, session 8).
///
/// Removal shifts the following buckets of the run back (no tombstones), so a long-lived map never degrades.
package struct HashSlotIndex: Sendable {
    /// A bucket; `slot` is -1 when empty.
    struct Bucket: Sendable {
        var hash: Int
        var slot: Int32
    }

    private var buckets: [Bucket]
    private var mask: Int
    /// Number of keys.
    package private(set) var count = 0
    /// Whether no key is mapped.
    package var isEmpty: Bool { self.count == 0 }

    package init() {
        self.buckets = Array(repeating: Bucket(hash: 0, slot: -1), count: 16)
        self.mask = 15
    }

    /// The slot for `hash`, or nil.
    package func slot(for hash: Int) -> Int? {
        self.buckets.withUnsafeBufferPointer { b in
            var i = hash & self.mask
            while true {
                let s = b[i].slot
                if s < 0 { return nil }
                if b[i].hash == hash { return Int(s) }
                i = (i + 1) & self.mask
            }
        }
    }

    /// Maps `hash` to `slot`, replacing any earlier slot for it; returns that earlier slot, if any.
    @discardableResult
    package mutating func set(_ hash: Int, slot: Int) -> Int? {
        if (self.count + 1) * 2 > self.buckets.count { self.grow() }
        let mask = self.mask
        let previous = self.buckets.withUnsafeMutableBufferPointer { b -> Int? in
            var i = hash & mask
            while b[i].slot >= 0 {
                if b[i].hash == hash {
                    defer { b[i].slot = Int32(truncatingIfNeeded: slot) }
                    return Int(b[i].slot)
                }
                i = (i + 1) & mask
            }
            b[i] = Bucket(hash: hash, slot: Int32(truncatingIfNeeded: slot))
            return nil
        }
        if previous == nil { self.count += 1 }
        return previous
    }

    /// Removes `hash` if present.
    package mutating func remove(_ hash: Int) {
        let mask = self.mask
        let removed = self.buckets.withUnsafeMutableBufferPointer { b -> Bool in
            var i = hash & mask
            while true {
                if b[i].slot < 0 { return false }
                if b[i].hash == hash { break }
                i = (i + 1) & mask
            }
            // Backward shift: move each later bucket of the run into the hole when the hole lies on its probe path
            // (between its home bucket and where it sits, cyclically), so every key stays reachable from its home.
            var hole = i
            var j = i
            while true {
                j = (j + 1) & mask
                if b[j].slot < 0 { break }
                let home = b[j].hash & mask
                let distanceToJ = (j - home) & mask
                let distanceToHole = (hole - home) & mask
                if distanceToHole < distanceToJ {
                    b[hole] = b[j]
                    hole = j
                }
            }
            b[hole] = Bucket(hash: 0, slot: -1)
            return true
        }
        if removed { self.count -= 1 }
    }

    /// Removes every key; the table keeps its size when `keepingCapacity`.
    package mutating func removeAll(keepingCapacity: Bool) {
        let size = keepingCapacity ? self.buckets.count : 16
        self.buckets = Array(repeating: Bucket(hash: 0, slot: -1), count: size)
        self.mask = size - 1
        self.count = 0
    }

    private mutating func grow() {
        let old = self.buckets
        self.buckets = Array(repeating: Bucket(hash: 0, slot: -1), count: old.count * 2)
        self.mask = self.buckets.count - 1
        self.count = 0
        for b in old where b.slot >= 0 { self.set(b.hash, slot: Int(b.slot)) }
    }
}
