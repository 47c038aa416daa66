/// Builds DNS wire bytes, compressing names (RFC 1035 §4.1.4) when asked to.
public struct WireWriter: Sendable {
    /// The bytes written so far.
    public var bytes: [UInt8]
    /// Whether names written with `compress: true` may use pointers.
    public var compressionEnabled: Bool
    /// Lowercased name suffix (wire form) → offset of its first occurrence.
    private var compressionTable: [[UInt8]: Int] = [:]

    /// Creates an empty writer.
    public init(capacity: Int = 512, compression: Bool = true) {
        self.bytes = []
        self.bytes.reserveCapacity(capacity)
        self.compressionEnabled = compression
    }

    /// Appends one byte.
    public mutating func writeUInt8(_ v: UInt8) { self.bytes.append(v) }

    /// Appends a big-endian 16-bit integer.
    public mutating func writeUInt16(_ v: UInt16) {
        self.bytes.append(UInt8(v >> 8))
        self.bytes.append(UInt8(v & 0xFF))
    }

    /// Appends a big-endian 32-bit integer.
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

    /// Appends a domain name, pointing at an earlier copy of a suffix when `compress` is true.
    ///
    /// RFC 3597 §4: names inside RDATA of unknown or newer types must not be compressed, so
    /// callers pass `compress: false` for those.
    public mutating func writeName(_ name: DomainName, compress: Bool) {
        let wire = name.wire
        var pos = 0
        while pos < wire.count {
            let len = Int(wire[pos])
            if len == 0 {
                self.bytes.append(0)
                return
            }
            let suffix = Array(wire[pos...])
            let key = DomainName.lowercase(suffix)
            if compress && self.compressionEnabled, let target = self.compressionTable[key] {
                self.writeUInt16(0xC000 | UInt16(target))
                return
            }
            if self.compressionEnabled && self.bytes.count < 0x3FFF && self.compressionTable[key] == nil {
                self.compressionTable[key] = self.bytes.count
            }
            self.bytes.append(contentsOf: wire[pos...(pos + len)])
            pos += len + 1
        }
    }
}
