package import DNSWire
import CPrefetch

#if canImport(Glibc)
import Glibc
#endif

/// A compact hash index of lower-cased wire-format names, each with an "exact" and a "below" rule code.
///
/// Feeds of a million names are normal and ten million exist, so the index avoids a `Dictionary` of
/// `String`s (tens of bytes of overhead and an allocation per name). Instead:
/// - every name lives once in one byte arena as `[length][tail][wire labels without the root byte][exact][below]`,
///   where a last label that many names share (`com`, `net`, …: up to 255 of them, 7 bytes each at most) is kept
///   once in a table and the entry holds its number (`tail`, 0 for none) instead of its bytes. At 1M names that
///   saves about 3 bytes a name (2.8 MiB on the harness's feed, 13 % of the arena);
/// - an open-addressing table of `UInt64` slots holds `hash32 << 32 | (arena offset + 1)` (0 = empty),
///   so most mismatches are rejected without touching the arena;
/// - a lookup hashes every suffix of the query name in one backward pass over its bytes, so checking the
///   name and all its ancestors (for `*.` rules) costs one pass plus one probe per label, with no
///   allocation.
///
/// Code 0 means "no rule"; the meaning of other codes belongs to the owner (``CompiledPolicySource``).
/// The hash is seeded per index, so query names cannot be chosen to collide (PowerDNS's rule on hash
/// collisions in untrusted data).
package struct NameIndex: Sendable {
    /// Where a rule sits on a name: on the name itself, or strictly below it (`*.name`, RPZ semantics).
    package enum Slot: Sendable, Hashable {
        case exact
        case below
    }

    /// A match: the rule code, where it sits, and the arena offset of the matched name.
    package struct Match: Sendable, Hashable {
        /// The rule code (never 0).
        package var code: UInt8
        /// `.exact` when the query name itself matched, `.below` when an ancestor's wildcard did.
        package var slot: Slot
        /// Arena offset of the matched name; pass it to ``text(at:prefix:)`` to print the rule.
        package var offset: UInt32
        /// True when the match comes from an overlay (``match(wire:overlay:)``): `offset` is then an offset
        /// in the overlay's arena.
        package var inOverlay: Bool = false
    }

    private var arena: [UInt8] = []
    private var slots: [UInt64]
    /// Shared last labels by number (index 0 unused): a label's wire bytes (length byte first, lower case) packed
    /// little-endian into a word, and their count in the top byte.
    private var tails: [UInt64] = [0]
    /// Number of each shared last label (the word of ``tails`` without its count byte), for building.
    private var tailNumbers: [UInt64: UInt8] = [:]
    /// Number of distinct names stored.
    package private(set) var count = 0
    /// Bit n set: some name with n labels (capped at 63) has an exact rule. Lets lookups skip probes.
    private var exactDepths: UInt64 = 0
    /// Bit n set: some name with n labels (capped at 63) has a below rule.
    private var belowDepths: UInt64 = 0
    private let seed: UInt64
    private let multiplier: UInt64

    /// The arena may not grow beyond what a 32-bit offset addresses.
    package static let maxArenaBytes = Int(UInt32.max) - 512

    /// Creates an empty index sized for about `expectedCount` names.
    package init(expectedCount: Int = 0, expectedBytes: Int = 0) {
        var g = SystemRandomNumberGenerator()
        self.seed = g.next()
        self.multiplier = 0x0000_0100_0000_01B3 | (g.next() & 0x00FF_FF00_0000_0000) | 1
        let capacity = Swift.max(16, expectedCount + expectedCount / 3 + 1)
        self.slots = Self.emptySlots(capacity)
        if expectedBytes > 0 { self.arena.reserveCapacity(expectedBytes) }
    }

    /// An empty index hashing exactly as `other` does (same seed and multiplier), so one backward pass over
    /// a query name serves both in ``match(wire:overlay:)``.
    package init(sharingHashWith other: NameIndex) {
        self.seed = other.seed
        self.multiplier = other.multiplier
        self.slots = Array(repeating: 0, count: 16)
    }

    /// True when no name is stored.
    package var isEmpty: Bool { self.count == 0 }

    /// Bytes held by the arena and the slot table (capacity, not just use).
    package var memoryBytes: Int { self.arena.capacity + self.slots.capacity * 8 }

    /// Arena bytes used and reserved, and slots, for benchmarks and status.
    package var layout: (arenaUsed: Int, arenaCapacity: Int, slots: Int) {
        (self.arena.count, self.arena.capacity, self.slots.count)
    }

    // MARK: Hashing

    @inline(__always)
    private static func lower(_ b: UInt8) -> UInt8 { (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b }

    @inline(__always)
    private func step(_ h: UInt64, _ b: UInt8) -> UInt64 { Self.step(h, b, self.multiplier) }

    @inline(__always)
    fileprivate static func step(_ h: UInt64, _ b: UInt8, _ multiplier: UInt64) -> UInt64 {
        (h ^ UInt64(Self.lower(b))) &* multiplier
    }

    @inline(__always)
    private static func finish(_ h: UInt64, _ length: Int) -> UInt32 {
        var x = h &+ UInt64(length)
        x ^= x >> 33
        x &*= 0xFF51_AFD7_ED55_8CCD
        x ^= x >> 33
        x &*= 0xC4CE_B9FE_1A85_EC53
        x ^= x >> 33
        return UInt32(truncatingIfNeeded: x)
    }

    /// Hash of a key (wire labels without the root byte), computed back to front like lookups do.
    private func hash(_ key: UnsafeBufferPointer<UInt8>) -> UInt32 {
        var h = self.seed
        var i = key.count
        while i > 0 {
            i -= 1
            h = self.step(h, key[i])
        }
        return Self.finish(h, key.count)
    }

    // MARK: Building

    /// Finds or adds `key` and returns its arena offset.
    /// - Parameter key: wire labels without the terminating root byte (empty for the root), any case.
    /// - Returns: nil when the arena is full (more than 4 GiB of names).
    package mutating func entry(for key: UnsafeBufferPointer<UInt8>) -> UInt32? {
        let h = self.hash(key)
        if let found = self.find(h, key, 0, key.count) { return found }
        guard self.arena.count + key.count + 4 <= Self.maxArenaBytes, key.count <= 255 else { return nil }
        if (self.count + 1) * 4 > self.slots.count * 3 { self.grow() }
        let (tail, tailLength) = self.tailNumber(forLastLabelOf: key)
        let stored = key.count - tailLength
        let offset = UInt32(self.arena.count)
        // [length][tail][key before its tail, lower-cased][exact][below], built on the stack and appended as one
        // buffer: appending `repeatElement(0, count:)` first and filling it in went element by element, 6 % of loading
        // a 1M-rule zone (perf).
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: stored + 4) { entry in
            entry[0] = UInt8(stored)
            entry[1] = tail
            for k in 0..<stored { entry[2 + k] = Self.lower(key[k]) }
            entry[stored + 2] = 0
            entry[stored + 3] = 0
            self.arena.append(contentsOf: UnsafeBufferPointer(entry))
        }
        self.place(UInt64(h) << 32 | UInt64(offset + 1), in: &self.slots)
        self.count += 1
        return offset
    }

    /// The shared-label number for the last label of `key` and that label's length in bytes, numbering it when it is
    /// new and the table has room; (0, 0) when the label is kept in the entry (too long, table full, no label).
    private mutating func tailNumber(forLastLabelOf key: UnsafeBufferPointer<UInt8>) -> (UInt8, Int) {
        var p = 0
        var last = -1
        while p < key.count {
            last = p
            p += Int(key[p]) + 1
        }
        guard last >= 0, p == key.count, key.count - last <= 7 else { return (0, 0) }
        let length = key.count - last
        var word: UInt64 = 0
        for k in 0..<length { word |= UInt64(Self.lower(key[last + k])) << UInt64(8 * k) }
        if let n = self.tailNumbers[word] { return (n, length) }
        guard self.tails.count < 256 else { return (0, 0) }
        let n = UInt8(self.tails.count)
        self.tails.append(word | UInt64(length) << 56)
        self.tailNumbers[word] = n
        return (n, length)
    }

    /// The bytes of the key stored at `offset` (before its tail, then the tail), lower case, handed to `body` as one
    /// buffer on the stack.
    private func withKey<R>(at offset: UInt32, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        let o = Int(offset)
        return self.arena.withUnsafeBufferPointer { a in
            let stored = Int(a[o])
            let tail = self.tails[Int(a[o + 1])]
            let tailLength = Int(tail >> 56)
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: stored + tailLength + 1) { buffer in
                for k in 0..<stored { buffer[k] = a[o + 2 + k] }
                for k in 0..<tailLength { buffer[stored + k] = UInt8(truncatingIfNeeded: tail >> UInt64(8 * k)) }
                return body(UnsafeBufferPointer(rebasing: buffer[0..<(stored + tailLength)]))
            }
        }
    }

    /// Convenience for a `DomainName`: finds or adds the name.
    package mutating func entry(for name: DomainName) -> UInt32? {
        name.wire.withUnsafeBufferPointer { w in
            self.entry(for: UnsafeBufferPointer(rebasing: w[0..<(w.count - 1)]))
        }
    }

    /// The arena offset of `key` (wire labels without the root byte, any case) when it is stored.
    package func offset(of key: UnsafeBufferPointer<UInt8>) -> UInt32? {
        guard self.count > 0 else { return nil }
        return self.find(self.hash(key), key, 0, key.count)
    }

    /// The code stored at `offset` for `slot` (0 when none).
    package func code(at offset: UInt32, _ slot: Slot) -> UInt8 {
        let o = Int(offset)
        return self.arena[o + 2 + Int(self.arena[o]) + (slot == .exact ? 0 : 1)]
    }

    /// Sets the code at `offset` for `slot`.
    package mutating func setCode(_ code: UInt8, at offset: UInt32, _ slot: Slot, labelCount: Int) {
        let o = Int(offset)
        self.arena[o + 2 + Int(self.arena[o]) + (slot == .exact ? 0 : 1)] = code
        let bit = UInt64(1) << UInt64(Swift.min(labelCount, 63))
        if slot == .exact { self.exactDepths |= bit } else { self.belowDepths |= bit }
    }

    /// Shrinks the slot table when it ended up much larger than needed (the expected count was a guess).
    package mutating func compact() {
        let wanted = Swift.max(16, self.count + self.count / 3 + 1)
        guard self.slots.count > wanted * 2 else { return }
        var fresh = Self.emptySlots(wanted)
        for s in self.slots where s != 0 { self.place(s, in: &fresh) }
        self.slots = fresh
    }

    private mutating func grow() {
        var fresh = Self.emptySlots(self.slots.count * 2)
        for s in self.slots where s != 0 { self.place(s, in: &fresh) }
        self.slots = fresh
    }

    /// A zeroed slot table. A large one is backed by transparent huge pages where the system allows it
    /// (Linux, `madvise` mode): every insert and every lookup lands on a random slot, and with 4 KiB pages
    /// nearly each one also missed the TLB (most of the cost of building a 1M-name index). The advice is
    /// given before the pages are first touched, so they are faulted in huge rather than collapsed later.
    private static func emptySlots(_ count: Int) -> [UInt64] {
        [UInt64](unsafeUninitializedCapacity: count) { buffer, initialized in
            #if canImport(Glibc)
            if count * 8 >= 4 << 20, let base = buffer.baseAddress {
                let page = 4096
                let start = (Int(bitPattern: base) + page - 1) & ~(page - 1)
                let end = (Int(bitPattern: base) + count * 8) & ~(page - 1)
                if end > start, let p = UnsafeMutableRawPointer(bitPattern: start) {
                    // Advice only: on failure the table simply uses ordinary pages.
                    _ = madvise(p, end - start, MADV_HUGEPAGE)
                }
            }
            #endif
            buffer.initialize(repeating: 0)
            initialized = count
        }
    }

    private func place(_ slot: UInt64, in table: inout [UInt64]) {
        let n = table.count
        var i = Int((UInt64(UInt32(truncatingIfNeeded: slot >> 32)) &* UInt64(n)) >> 32)
        while table[i] != 0 {
            i += 1
            if i == n { i = 0 }
        }
        table[i] = slot
    }

    /// Probes for the key `bytes[start..<start+length]` (any case) with hash `h`.
    @inline(__always)
    private func find(_ h: UInt32, _ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ length: Int) -> UInt32? {
        self.slots.withUnsafeBufferPointer { slots in
            self.arena.withUnsafeBufferPointer { arena in
                let n = slots.count
                var i = Int((UInt64(h) &* UInt64(n)) >> 32)
                while true {
                    let s = slots[i]
                    if s == 0 { return nil }
                    if UInt32(truncatingIfNeeded: s >> 32) == h {
                        let off = Int(UInt32(truncatingIfNeeded: s)) - 1
                        let stored = Int(arena[off])
                        let tail = self.tails[Int(arena[off + 1])]
                        if stored + Int(tail >> 56) == length {
                            var k = 0
                            while k < stored && arena[off + 2 + k] == Self.lower(bytes[start + k]) { k += 1 }
                            if k == stored {
                                var t = tail
                                while k < length && UInt8(truncatingIfNeeded: t) == Self.lower(bytes[start + k]) {
                                    k += 1
                                    t >>= 8
                                }
                                if k == length { return UInt32(off) }
                            }
                        }
                    }
                    i += 1
                    if i == n { i = 0 }
                }
            }
        }
    }

    // MARK: Lookup

    /// The best rule for `name`: an exact rule on the name itself wins; otherwise the `below` rule of the
    /// nearest (longest) ancestor. Allocation-free.
    package func match(_ name: DomainName) -> Match? {
        guard self.count > 0 else { return nil }
        return name.wire.withUnsafeBufferPointer { self.match(wire: $0) }
    }

    /// ``match(_:)`` on raw wire bytes (uncompressed, ending with the root byte).
    package func match(wire w: UnsafeBufferPointer<UInt8>) -> Match? {
        guard self.count > 0 else { return nil }
        return self.walk(w, overlay: nil)
    }

    /// The one walk behind both ``match(wire:)`` and ``match(wire:overlay:)``: label starts are mapped in a
    /// forward pass, then one backward pass hashes every suffix and probes the levels that can hold a rule.
    /// Inlined into both callers, so the base-only lookup carries no overlay test at run time.
    @inline(__always)
    private func walk(_ w: UnsafeBufferPointer<UInt8>, overlay: NameIndex?) -> Match? {
        // Label starts, so the backward pass knows where suffixes begin (nil for a malformed name).
        guard let starts = LabelStarts(w) else { return nil }
        let end = w.count - 1
        let labels = starts.count
        var best: Match? = nil
        // The root itself (`*.` at the apex: everything).
        if labels == 0 { return self.level(w, self.seed, end, end, 0, .exact, overlay) }
        if let m = self.level(w, self.seed, end, end, 0, .below, overlay) { best = m }
        var suffixes = LabelSuffixes(w, starts, seed: self.seed, multiplier: self.multiplier)
        while let i = suffixes.next() {
            if suffixes.depth == labels {
                if let m = self.level(w, suffixes.hash, i, end, labels, .exact, overlay) { return m }
            } else if let m = self.level(w, suffixes.hash, i, end, suffixes.depth, .below, overlay) {
                best = m
            }
        }
        return best
    }

    /// The rule at one level (the suffix `w[start..<end]`, `depth` labels, running hash `h`): the overlay's
    /// code first when there is an overlay, then the base; nil when neither has one (or it was removed).
    /// The depth bitmaps skip levels that hold no rule before anything is hashed or probed.
    @inline(__always)
    private func level(_ w: UnsafeBufferPointer<UInt8>, _ h: UInt64, _ start: Int, _ end: Int, _ depth: Int,
        _ slot: Slot, _ overlay: NameIndex?) -> Match?
    {
        let length = end - start
        let bit = UInt64(1) << UInt64(Swift.min(depth, 63))
        if let overlay {
            let overlayBits = slot == .exact ? overlay.exactDepths : overlay.belowDepths
            if overlayBits & bit != 0, let off = overlay.find(Self.finish(h, length), w, start, length) {
                let c = overlay.code(at: off, slot)
                if c == Self.overlayRemoved { return nil }
                if c != Self.overlayUnchanged { return Match(code: c, slot: slot, offset: off, inOverlay: true) }
            }
        }
        let baseBits = slot == .exact ? self.exactDepths : self.belowDepths
        guard baseBits & bit != 0, let off = self.find(Self.finish(h, length), w, start, length) else { return nil }
        let c = self.code(at: off, slot)
        return c == 0 ? nil : Match(code: c, slot: slot, offset: off)
    }

    // MARK: Prefetch

    /// True when the slot table is larger than a core's own cache (1 MiB, about 100,000 names): then nearly every
    /// lookup misses the cache, and ``prefetch(wire:_:)`` pays for itself.
    package var outgrowsCache: Bool { self.slots.count >= 1 << 17 }

    /// How far ``prefetch(wire:_:)`` goes for one name.
    package enum PrefetchStep: Sendable {
        /// Hint the slot of every level of the name that can hold a rule.
        case slots
        /// Read those slots (in cache after `.slots`) and hint the arena entry each level's hash points to.
        case entries
    }

    /// Hints the memory a later ``match(wire:)`` of `w` reads, so that the lookups of a whole read burst wait for
    /// memory together instead of one after another: at a million rules nearly every probe misses the cache (the
    /// slot, then the entry it points to), and a lookup waits for each miss in turn. Call it with `.slots` for every
    /// name of a burst, then with `.entries` for every name, then match them. Reads only what the match will read
    /// (the overlay and the exceptions, which are small, are left alone); changes nothing; a malformed name is ignored.
    package func prefetch(wire w: UnsafeBufferPointer<UInt8>, _ step: PrefetchStep) {
        // The root (no labels) is one slot, always the same one: nothing to overlap.
        guard self.count > 0, let starts = LabelStarts(w), starts.count > 0 else { return }
        let end = w.count - 1
        let labels = starts.count
        self.slots.withUnsafeBufferPointer { slots in
            self.arena.withUnsafeBufferPointer { arena in
                guard let slotBase = slots.baseAddress, let arenaBase = arena.baseAddress else { return }
                let n = slots.count
                var suffixes = LabelSuffixes(w, starts, seed: self.seed, multiplier: self.multiplier)
                while let i = suffixes.next() {
                    let depth = suffixes.depth
                    let bits = depth == labels ? self.exactDepths : self.belowDepths
                    guard bits & (UInt64(1) << UInt64(Swift.min(depth, 63))) != 0 else { continue }
                    let hash = Self.finish(suffixes.hash, end - i)
                    var j = Int((UInt64(hash) &* UInt64(n)) >> 32)
                    switch step {
                    case .slots:
                        palisade_prefetch(slotBase + j)
                    case .entries:
                        while true {
                            let s = slots[j]
                            if s == 0 { break }
                            if UInt32(truncatingIfNeeded: s >> 32) == hash {
                                let off = Int(UInt32(truncatingIfNeeded: s)) - 1
                                if off < arena.count { palisade_prefetch(arenaBase + off) }
                                break
                            }
                            j += 1
                            if j == n { j = 0 }
                        }
                    }
                }
            }
        }
    }

    // MARK: Overlay

    /// Overlay code: the slot is unchanged, the base index decides.
    package static let overlayUnchanged: UInt8 = 0
    /// Overlay code: the rule the base holds at this slot was removed.
    package static let overlayRemoved: UInt8 = 1
    /// Overlay code: the overlay holds a new rule at this slot (its owner keeps the rule itself). Codes above
    /// this are also new rules, whose meaning the owner encodes in the code (no table entry needed).
    package static let overlaySet: UInt8 = 2

    /// ``match(_:)`` over this index with `overlay` (built with ``init(sharingHashWith:)``) laid on top:
    /// at every level the overlay's code decides when it is not ``overlayUnchanged``; ``overlayRemoved``
    /// hides the base's rule at that slot. Same precedence as ``match(_:)``: an exact rule on the name, else
    /// the `below` rule of the nearest ancestor. Allocation-free, one pass over the name.
    package func match(_ name: DomainName, overlay: NameIndex) -> Match? {
        name.wire.withUnsafeBufferPointer { self.match(wire: $0, overlay: overlay) }
    }

    /// ``match(_:overlay:)`` on raw wire bytes (uncompressed, ending with the root byte).
    package func match(wire w: UnsafeBufferPointer<UInt8>, overlay: NameIndex) -> Match? {
        guard overlay.count > 0 else { return self.match(wire: w) }
        return self.walk(w, overlay: overlay)
    }

    /// The presentation text (no trailing dot; empty for the root) of the name stored at `offset`, after `prefix`, read
    /// from the arena (and the shared last label) through a stack buffer: one string allocation, where materializing
    /// the name first copied its bytes into an array of their own. For printing the rule that matched.
    package func text(at offset: UInt32, prefix: StaticString) -> String {
        self.withKey(at: offset) { DomainName.presentation(ofLabels: $0, prefix: prefix, trailingDot: false) }
    }

    /// The stored name at `offset` (lower case).
    package func name(at offset: UInt32) -> DomainName {
        self.withKey(at: offset) { key in
            var w = [UInt8](key)
            w.append(0)
            return DomainName(uncheckedWire: w)
        }
    }
}

/// Where the labels of a wire name (at most 256 bytes, ending with the root byte) start, as a 256-bit map: a lookup
/// maps them in one forward pass, then hashes the suffixes back to front and stops at each start.
private struct LabelStarts {
    private var m0: UInt64 = 0
    private var m1: UInt64 = 0
    private var m2: UInt64 = 0
    private var m3: UInt64 = 0
    /// The number of labels (0 for the root).
    private(set) var count = 0

    /// nil when `w` is not a well-formed uncompressed name: a zero-length label before the end, or a label that runs
    /// past the root byte.
    @inline(__always)
    init?(_ w: UnsafeBufferPointer<UInt8>) {
        guard w.count >= 1, w.count <= 256 else { return nil }
        let end = w.count - 1
        var p = 0
        while p < end {
            let bit = UInt64(1) << UInt64(p & 63)
            switch p >> 6 {
            case 0: self.m0 |= bit
            case 1: self.m1 |= bit
            case 2: self.m2 |= bit
            default: self.m3 |= bit
            }
            self.count += 1
            let l = Int(w[p])
            guard l > 0 else { return nil }
            p += l + 1
        }
        guard p == end else { return nil }
    }

    /// Whether a label starts at byte `i`.
    @inline(__always)
    func contains(_ i: Int) -> Bool {
        let word: UInt64
        switch i >> 6 {
        case 0: word = self.m0
        case 1: word = self.m1
        case 2: word = self.m2
        default: word = self.m3
        }
        return word & (UInt64(1) << UInt64(i & 63)) != 0
    }
}

/// The backward pass a lookup and its prefetch share: hashes a wire name from its last byte to its first and stops
/// at every suffix that starts at a label, the last label first and the whole name last.
private struct LabelSuffixes {
    private let w: UnsafeBufferPointer<UInt8>
    private let starts: LabelStarts
    private let multiplier: UInt64
    private var i: Int
    /// The running hash of the suffix ``next()`` returned (the root byte left out).
    private(set) var hash: UInt64
    /// The number of labels in that suffix.
    private(set) var depth = 0

    @inline(__always)
    init(_ w: UnsafeBufferPointer<UInt8>, _ starts: LabelStarts, seed: UInt64, multiplier: UInt64) {
        self.w = w
        self.starts = starts
        self.multiplier = multiplier
        self.i = w.count - 1
        self.hash = seed
    }

    /// Where the next suffix starts, or nil after the whole name.
    @inline(__always)
    mutating func next() -> Int? {
        while self.i > 0 {
            self.i -= 1
            self.hash = NameIndex.step(self.hash, self.w[self.i], self.multiplier)
            if self.starts.contains(self.i) {
                self.depth += 1
                return self.i
            }
        }
        return nil
    }
}
