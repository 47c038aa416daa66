/// A bounds-checked cursor over untrusted DNS wire bytes.
///
/// Every read checks the bytes remaining and throws a ``DecodeError`` naming the field and offset.
public struct WireReader: Sendable {
    /// The whole message (needed to follow compression pointers).
    public let bytes: [UInt8]
    /// Current read position.
    public var offset: Int
    /// Field path used in errors.
    public var field: String = ""
    /// End of the readable window (RDATA decoding narrows it to RDLENGTH); pointer targets may lie
    /// anywhere before it.
    public var limit: Int

    /// Creates a reader positioned at `offset`.
    public init(bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
        self.limit = bytes.count
    }

    /// Bytes left to read.
    public var remaining: Int { self.limit - self.offset }

    @inline(__always)
    func fail(_ reason: DecodeError.Reason, _ field: String, detail: String? = nil) -> DecodeError {
        DecodeError(reason, field: self.field.isEmpty ? field : "\(self.field).\(field)", offset: self.offset, detail: detail)
    }

    /// Reads one byte.
    public mutating func readUInt8(_ field: String) throws(DecodeError) -> UInt8 {
        guard self.offset < self.limit else { throw self.fail(.truncated, field) }
        let v = self.bytes[self.offset]
        self.offset += 1
        return v
    }

    /// Reads a big-endian 16-bit integer.
    public mutating func readUInt16(_ field: String) throws(DecodeError) -> UInt16 {
        guard self.remaining >= 2 else { throw self.fail(.truncated, field) }
        let v = UInt16(self.bytes[self.offset]) << 8 | UInt16(self.bytes[self.offset + 1])
        self.offset += 2
        return v
    }

    /// Reads a big-endian 32-bit integer.
    public mutating func readUInt32(_ field: String) throws(DecodeError) -> UInt32 {
        guard self.remaining >= 4 else { throw self.fail(.truncated, field) }
        var v: UInt32 = 0
        for i in 0..<4 { v = v << 8 | UInt32(self.bytes[self.offset + i]) }
        self.offset += 4
        return v
    }

    /// Reads `count` raw bytes.
    public mutating func readBytes(_ count: Int, _ field: String) throws(DecodeError) -> [UInt8] {
        guard count >= 0, self.remaining >= count else { throw self.fail(.truncated, field) }
        let v = Array(self.bytes[self.offset..<(self.offset + count)])
        self.offset += count
        return v
    }

    /// Reads a one-byte-length-prefixed character string (RFC 1035 §3.3).
    public mutating func readCharacterString(_ field: String) throws(DecodeError) -> [UInt8] {
        let n = try self.readUInt8(field)
        return try self.readBytes(Int(n), field)
    }

    /// Reads a possibly compressed domain name (RFC 1035 §4.1.4).
    ///
    /// Pointers are followed in a loop, never by recursion. Each pointer must point strictly before
    /// the start of the label sequence that contains it, and at most 64 hops are allowed, so a
    /// pointer loop or a forward pointer is rejected.
    public mutating func readName(_ field: String) throws(DecodeError) -> DomainName {
        var out: [UInt8] = []
        out.reserveCapacity(32)
        var pos = self.offset
        var jumped = false
        var hops = 0
        var segmentStart = pos
        while true {
            guard pos < (jumped ? self.bytes.count : self.limit) else {
                throw DecodeError(.truncated, field: self.qualified(field), offset: pos)
            }
            let len = self.bytes[pos]
            switch len & 0xC0 {
            case 0x00:
                if len == 0 {
                    out.append(0)
                    if !jumped { self.offset = pos + 1 }
                    guard out.count <= DomainName.maxWireLength else {
                        throw DecodeError(.nameTooLong, field: self.qualified(field), offset: pos)
                    }
                    return DomainName(uncheckedWire: out)
                }
                let l = Int(len)
                guard pos + 1 + l <= (jumped ? self.bytes.count : self.limit) else {
                    throw DecodeError(.truncated, field: self.qualified(field), offset: pos)
                }
                out.append(len)
                out.append(contentsOf: self.bytes[(pos + 1)...(pos + l)])
                guard out.count < DomainName.maxWireLength else {
                    throw DecodeError(.nameTooLong, field: self.qualified(field), offset: pos)
                }
                pos += 1 + l
            case 0xC0:
                guard pos + 1 < (jumped ? self.bytes.count : self.limit) else {
                    throw DecodeError(.truncated, field: self.qualified(field), offset: pos)
                }
                let target = Int(len & 0x3F) << 8 | Int(self.bytes[pos + 1])
                guard target < segmentStart else {
                    throw DecodeError(
                        target == segmentStart ? .pointerLoop : .forwardPointer,
                        field: self.qualified(field), offset: pos
                    )
                }
                hops += 1
                guard hops <= 64 else {
                    throw DecodeError(.tooManyPointers, field: self.qualified(field), offset: pos)
                }
                if !jumped {
                    self.offset = pos + 2
                    jumped = true
                }
                pos = target
                segmentStart = target
            default:
                // 0x40 / 0x80: extended label types (RFC 6891 §5) are obsolete and unsupported.
                throw DecodeError(.badLabelType, field: self.qualified(field), offset: pos)
            }
        }
    }

    private func qualified(_ field: String) -> String {
        self.field.isEmpty ? field : "\(self.field).\(field)"
    }
}
