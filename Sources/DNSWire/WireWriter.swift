/// Builds DNS wire bytes, compressing names (RFC 1035 §4.1.4) when asked to.
public struct WireWriter: Sendable {
    /// The bytes written so far.
    public var bytes: [UInt8]
    /// Whether names written with `compress: true` may use pointers.
    public var compressionEnabled: Bool
    /// Compression targets: the hash of a lowercased name suffix and the offset of its first
    /// occurrence in ``bytes``, in the order they were added (so ``rollBack(to:)`` can forget them).
    ///
    /// Keyed by a hash rather than the suffix itself so that writing a name allocates nothing; a
    /// candidate is always compared byte for byte before a pointer is written, so a collision can
    /// only cost a missed compression, never a wrong name. Most messages have a few dozen suffixes,
    /// which a linear scan finds faster than a hashed lookup; ``compressionIndex`` takes over
    /// beyond ``linearLimit``.
    private var compressionLog: [(hash: Int, offset: Int)] = []
    /// Hash → offset, built once the log outgrows ``linearLimit``.
    private var compressionIndex: [Int: Int]? = nil
    private static let linearLimit = 48

    /// A position to return to with ``rollBack(to:)``.
    public struct Mark: Sendable {
        let byteCount: Int
        let logCount: Int
    }

    /// Creates an empty writer.
    public init(capacity: Int = 512, compression: Bool = true) {
        self.bytes = []
        self.bytes.reserveCapacity(capacity)
        self.compressionEnabled = compression
        if compression { self.compressionLog.reserveCapacity(16) }
    }

    /// Appends one byte.
    @inline(__always)
    public mutating func writeUInt8(_ v: UInt8) { self.bytes.append(v) }

    /// Appends a big-endian 16-bit integer.
    @inline(__always)
    public mutating func writeUInt16(_ v: UInt16) {
        self.bytes.append(UInt8(v >> 8))
        self.bytes.append(UInt8(v & 0xFF))
    }

    /// Appends a big-endian 32-bit integer.
    @inline(__always)
    public mutating func writeUInt32(_ v: UInt32) {
        self.bytes.append(UInt8(v >> 24))
        self.bytes.append(UInt8((v >> 16) & 0xFF))
        self.bytes.append(UInt8((v >> 8) & 0xFF))
        self.bytes.append(UInt8(v & 0xFF))
    }

    /// Appends raw bytes.
    public mutating func writeBytes(_ v: some Sequence<UInt8>) { self.bytes.append(contentsOf: v) }

    /// Appends a character string (at most 255 bytes; longer input is cut, callers validate first).
    public mutating func writeCharacterString(_ v: [UInt8]) {
        let n = min(v.count, 255)
        self.bytes.append(UInt8(n))
        self.bytes.append(contentsOf: v[0..<n])
    }

    /// Overwrites a 16-bit value at `offset` (used for RDLENGTH and section counts).
    public mutating func patchUInt16(_ v: UInt16, at offset: Int) {
        self.bytes[offset] = UInt8(v >> 8)
        self.bytes[offset + 1] = UInt8(v & 0xFF)
    }

    /// The current position, to undo a partly written record.
    public func mark() -> Mark { Mark(byteCount: self.bytes.count, logCount: self.compressionLog.count) }

    /// Drops everything written since `mark`, including compression targets it added.
    public mutating func rollBack(to mark: Mark) {
        guard mark.byteCount <= self.bytes.count, mark.logCount <= self.compressionLog.count else { return }
        if self.compressionIndex != nil {
            for entry in self.compressionLog[mark.logCount...] where self.compressionIndex?[entry.hash] == entry.offset {
                self.compressionIndex?[entry.hash] = nil
            }
        }
        self.compressionLog.removeSubrange(mark.logCount...)
        self.bytes.removeSubrange(mark.byteCount...)
    }

    /// The first offset recorded for `hash`.
    private func compressionTarget(_ hash: Int) -> Int? {
        if let index = self.compressionIndex { return index[hash] }
        for entry in self.compressionLog where entry.hash == hash { return entry.offset }
        return nil
    }

    /// Records `offset` for `hash` unless the hash is already known (the first occurrence wins).
    private mutating func addCompressionTarget(_ hash: Int, at offset: Int) {
        guard self.compressionTarget(hash) == nil else { return }
        self.compressionLog.append((hash, offset))
        if self.compressionIndex != nil {
            self.compressionIndex?[hash] = offset
        } else if self.compressionLog.count > Self.linearLimit {
            var index: [Int: Int] = [:]
            index.reserveCapacity(self.compressionLog.count * 2)
            for entry in self.compressionLog where index[entry.hash] == nil { index[entry.hash] = entry.offset }
            self.compressionIndex = index
        }
    }

    /// Appends a domain name, pointing at an earlier copy of a suffix when `compress` is true.
    ///
    /// RFC 3597 §4: names inside RDATA of unknown or newer types must not be compressed, so
    /// callers pass `compress: false` for those. Uncompressed names still become pointer targets.
    public mutating func writeName(_ name: DomainName, compress: Bool) {
        guard self.compressionEnabled else {
            self.bytes.append(contentsOf: name.wire)
            return
        }
        name.wire.withUnsafeBufferPointer { wire in
            // A name has at most 127 labels (255 octets), and each label takes two octets at least; (offset in name,
            // suffix hash) per label. Sized to the name, the scratch stays on the stack for every name under about
            // 128 octets (a 128-label table, 2 KiB, went to the heap on every call).
            withUnsafeTemporaryAllocation(of: (Int, Int).self, capacity: min(128, wire.count / 2 + 1)) { labels in
                var n = 0
                var pos = 0
                while pos < wire.count, wire[pos] != 0, n < labels.count {
                    labels[n] = (pos, 0)
                    n += 1
                    pos += Int(wire[pos]) + 1
                }
                // Hash each suffix from the root up, so the hash of `www.example.org` covers
                // `example.org`'s.
                var h: UInt64 = 0xCBF2_9CE4_8422_2325
                for k in stride(from: n - 1, through: 0, by: -1) {
                    let p = labels[k].0
                    let len = Int(wire[p])
                    for i in p...(p + len) where i < wire.count {
                        h = (h ^ UInt64(DomainName.lower(wire[i]))) &* 0x0000_0100_0000_01B3
                    }
                    labels[k].1 = Int(truncatingIfNeeded: h)
                }
                for k in 0..<n {
                    let (p, hash) = labels[k]
                    if compress, let target = self.compressionTarget(hash), self.suffixMatches(wire, from: p, at: target) {
                        self.writeUInt16(0xC000 | UInt16(target))
                        return
                    }
                    if self.bytes.count < 0x3FFF { self.addCompressionTarget(hash, at: self.bytes.count) }
                    let len = Int(wire[p])
                    self.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: wire[p..<min(p + len + 1, wire.count)]))
                }
                self.bytes.append(0)
            }
        }
    }

    /// True when the name written at `target` (following our own pointers) equals the suffix of
    /// `wire` from `from`, ignoring ASCII case.
    private func suffixMatches(_ wire: UnsafeBufferPointer<UInt8>, from: Int, at target: Int) -> Bool {
        var i = from
        var o = target
        var hops = 0
        while i < wire.count, o < self.bytes.count {
            var len = Int(self.bytes[o])
            while len & 0xC0 == 0xC0 {
                guard o + 1 < self.bytes.count, hops < WireReader.maxPointerHops else { return false }
                o = (len & 0x3F) << 8 | Int(self.bytes[o + 1])
                hops += 1
                guard o < self.bytes.count else { return false }
                len = Int(self.bytes[o])
            }
            guard Int(wire[i]) == len else { return false }
            if len == 0 { return true }
            guard i + len < wire.count, o + len < self.bytes.count else { return false }
            for k in 1...len where DomainName.lower(wire[i + k]) != DomainName.lower(self.bytes[o + k]) {
                return false
            }
            i += len + 1
            o += len + 1
        }
        return false
    }
}
