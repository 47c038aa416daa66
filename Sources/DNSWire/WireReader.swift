/// A bounds-checked cursor over untrusted DNS wire bytes.
///
/// Every read checks the bytes remaining and throws a ``DecodeError`` naming the field and offset.
/// The reader never reads at or past ``limit``: RDATA decoding narrows it to the end of RDLENGTH, so a
/// field (or a name, even through compression pointers) can never read into the next record.
public struct WireReader: Sendable {
    /// The whole message (needed to follow compression pointers).
    public let bytes: [UInt8]
    /// Current read position.
    public var offset: Int
    /// End of the readable window (RDATA decoding narrows it to RDLENGTH). Compression pointers may
    /// only point before the name that holds them, so they never reach past it either.
    public var limit: Int
    /// The section and record index being decoded, kept as numbers so that the hot path never
    /// builds a string; the dotted path is only formatted when an error is thrown.
    var position: FieldPosition = .none

    /// Where in the message the reader is, for error paths (`answer[2]`).
    enum FieldPosition: Sendable {
        case none
        case custom(String)
        case question(Int)
        case answer(Int)
        case authority(Int)
        case additional(Int)
        case option(record: Int, index: Int)
    }

    /// Most pointers one name may follow. Real compressors use one per name; RFC 1035 sets no
    /// bound, and without one a chain of pointers would cost work proportional to the message.
    public static let maxPointerHops = 64

    /// Creates a reader positioned at `offset`.
    public init(bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
        self.limit = bytes.count
    }

    /// Field path prefix used in errors (e.g. `"answer[2]"`); empty when none was set.
    public var field: String {
        get {
            switch self.position {
            case .none: ""
            case .custom(let s): s
            case .question(let i): "question[\(i)]"
            case .answer(let i): "answer[\(i)]"
            case .authority(let i): "authority[\(i)]"
            case .additional(let i): "additional[\(i)]"
            case .option(let record, let i): "additional[\(record)].OPT.option[\(i)]"
            }
        }
        set { self.position = newValue.isEmpty ? .none : .custom(newValue) }
    }

    /// Bytes left to read before ``limit``.
    public var remaining: Int { self.limit - self.offset }

    /// An error at the current offset for `field`, qualified with the section path.
    @inline(never)
    public func fail(_ reason: DecodeError.Reason, _ field: String, detail: String? = nil) -> DecodeError {
        DecodeError(reason, field: self.qualified(field), offset: self.offset, detail: detail)
    }

    /// An error at `offset` for `field`, qualified with the section path.
    @inline(never)
    public func fail(_ reason: DecodeError.Reason, _ field: String, at offset: Int, detail: String? = nil)
        -> DecodeError
    {
        DecodeError(reason, field: self.qualified(field), offset: offset, detail: detail)
    }

    /// `field` prefixed with the section path.
    public func qualified(_ field: String) -> String {
        let prefix = self.field
        if prefix.isEmpty { return field }
        if field.isEmpty { return prefix }
        return "\(prefix).\(field)"
    }

    /// Reads one byte.
    @inline(__always)
    public mutating func readUInt8(_ field: String) throws(DecodeError) -> UInt8 {
        guard self.offset < self.limit else { throw self.fail(.truncated, field) }
        let v = self.bytes[self.offset]
        self.offset += 1
        return v
    }

    /// Reads a big-endian 16-bit integer.
    @inline(__always)
    public mutating func readUInt16(_ field: String) throws(DecodeError) -> UInt16 {
        guard self.remaining >= 2 else { throw self.fail(.truncated, field) }
        let v = UInt16(self.bytes[self.offset]) << 8 | UInt16(self.bytes[self.offset + 1])
        self.offset += 2
        return v
    }

    /// Reads a big-endian 32-bit integer.
    @inline(__always)
    public mutating func readUInt32(_ field: String) throws(DecodeError) -> UInt32 {
        guard self.remaining >= 4 else { throw self.fail(.truncated, field) }
        let o = self.offset
        let v = UInt32(self.bytes[o]) << 24 | UInt32(self.bytes[o + 1]) << 16 | UInt32(self.bytes[o + 2]) << 8
            | UInt32(self.bytes[o + 3])
        self.offset += 4
        return v
    }

    /// Reads `count` raw bytes.
    public mutating func readBytes(_ count: Int, _ field: String) throws(DecodeError) -> [UInt8] {
        guard count >= 0, self.remaining >= count else {
            throw self.fail(.truncated, field, detail: "needs \(count) byte(s), \(self.remaining) left")
        }
        let v = Array(self.bytes[self.offset..<(self.offset + count)])
        self.offset += count
        return v
    }

    /// Reads everything up to ``limit``.
    public mutating func readRemaining(_ field: String) throws(DecodeError) -> [UInt8] {
        try self.readBytes(self.remaining, field)
    }

    /// Reads a one-byte-length-prefixed character string (RFC 1035 §3.3).
    public mutating func readCharacterString(_ field: String) throws(DecodeError) -> [UInt8] {
        let start = self.offset
        let n = try self.readUInt8(field)
        guard self.remaining >= Int(n) else {
            throw self.fail(.truncated, field, at: start, detail: "length \(n), \(self.remaining) byte(s) left")
        }
        return try self.readBytes(Int(n), field)
    }

    /// Reads a possibly compressed domain name (RFC 1035 §4.1.4).
    ///
    /// Pointers are followed in a loop, never by recursion, under three rules that together make
    /// every name terminate and stay inside what was already seen:
    /// - a pointer must point strictly before the start of the label sequence that holds it (so a
    ///   self pointer or a forward pointer is rejected, and each hop moves backwards);
    /// - the label sequence a pointer leads to must end before that start (it may not run into the
    ///   name that points at it);
    /// - at most ``maxPointerHops`` pointers per name.
    /// Labels longer than 63 octets are not representable (their top bits mark other label types,
    /// rejected as `.badLabelType`), and the name may not exceed 255 octets.
    ///
    /// The name is scanned once to validate it and learn its length, then copied in one allocation.
    /// - Throws: ``DecodeError`` with the offset of the offending length octet or pointer.
    public mutating func readName(_ field: String) throws(DecodeError) -> DomainName {
        let (length, next) = try self.scanName(field)
        let start = self.offset
        let wire = self.bytes.withUnsafeBufferPointer { src in
            [UInt8](unsafeUninitializedCapacity: length) { dst, count in
                // The scan above validated this exact walk, so it stays in bounds and ends at the
                // root label after writing `length` bytes.
                var pos = start
                var out = 0
                while true {
                    let len = Int(src[pos])
                    if len == 0 {
                        dst[out] = 0
                        out += 1
                        break
                    }
                    if len >= 0xC0 {
                        pos = (len & 0x3F) << 8 | Int(src[pos + 1])
                        continue
                    }
                    for i in 0...len { dst[out + i] = src[pos + i] }
                    out += len + 1
                    pos += len + 1
                }
                count = out
            }
        }
        self.offset = next
        return DomainName(uncheckedWire: wire)
    }

    /// Skips a possibly compressed name with the same checks as ``readName(_:)``, without copying it.
    public mutating func skipName(_ field: String) throws(DecodeError) {
        self.offset = try self.scanName(field).next
    }

    /// Validates the name at ``offset`` and returns its uncompressed wire length (including the
    /// root label) and the offset just after it in the message.
    func scanName(_ field: String) throws(DecodeError) -> (length: Int, next: Int) {
        var pos = self.offset
        // Reads of the current label sequence must stay below `bound`: the window's end for the
        // name itself, then the start of the sequence that jumped for each pointed-to sequence.
        var bound = self.limit
        var segmentStart = pos
        var length = 0
        var hops = 0
        var next = -1
        while true {
            guard pos < bound else {
                throw self.nameError(hops == 0 ? .truncated : .forwardPointer, field, pos,
                    hops == 0 ? "name runs past the end of its data" : "pointed-to name runs into the name that points to it")
            }
            let len = Int(self.bytes[pos])
            if len == 0 {
                return (length + 1, next < 0 ? pos + 1 : next)
            }
            switch len & 0xC0 {
            case 0x00:
                guard pos + 1 + len < bound else {
                    throw self.nameError(hops == 0 ? .truncated : .forwardPointer, field, pos,
                        hops == 0
                            ? "label of \(len) octets runs past the end of its data"
                            : "pointed-to name runs into the name that points to it")
                }
                length += len + 1
                // The root label still has to fit.
                guard length < DomainName.maxWireLength else {
                    throw self.nameError(.nameTooLong, field, pos, "name exceeds 255 octets")
                }
                pos += len + 1
            case 0xC0:
                guard pos + 1 < bound else {
                    throw self.nameError(hops == 0 ? .truncated : .forwardPointer, field, pos,
                        "compression pointer cut short")
                }
                let target = (len & 0x3F) << 8 | Int(self.bytes[pos + 1])
                guard target < segmentStart else {
                    throw self.nameError(target == segmentStart ? .pointerLoop : .forwardPointer, field, pos,
                        "pointer to \(target) from a name starting at \(segmentStart)")
                }
                hops += 1
                guard hops <= Self.maxPointerHops else {
                    throw self.nameError(.tooManyPointers, field, pos, "more than \(Self.maxPointerHops) pointers")
                }
                if next < 0 { next = pos + 2 }
                bound = segmentStart
                segmentStart = target
                pos = target
            default:
                // 0x40 / 0x80: extended label types (RFC 6891 §5) are obsolete; a 64..191 "length"
                // is not a label either.
                throw self.nameError(.badLabelType, field, pos, "label type 0x\(String(len & 0xC0, radix: 16))")
            }
        }
    }

    @inline(never)
    private func nameError(_ reason: DecodeError.Reason, _ field: String, _ offset: Int, _ detail: String)
        -> DecodeError
    {
        DecodeError(reason, field: self.qualified(field), offset: offset, detail: detail)
    }
}

/// The section counts of a message header, checked against the bytes that follow them.
public struct SectionCounts: Sendable, Hashable {
    /// QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT.
    public let questions, answers, authorities, additionals: Int
}

extension WireReader {
    /// Reads the header's four section counts (bytes 4–11) and leaves the reader at offset 12, the first question.
    ///
    /// Each question needs at least 5 bytes and each record at least 11, so the counts bound what the message can
    /// hold: they are checked here, before a caller reserves anything for them.
    /// - Throws: ``DecodeError`` `.truncated` for a message shorter than a header, `.countExceedsMessage` at offset 4.
    public mutating func readSectionCounts() throws(DecodeError) -> SectionCounts {
        guard self.limit >= 12 else {
            throw DecodeError(.truncated, field: "header", offset: self.limit,
                detail: "header needs 12 bytes, got \(self.limit)")
        }
        self.offset = 4
        let qd = Int(try self.readUInt16("header.qdcount"))
        let an = Int(try self.readUInt16("header.ancount"))
        let ns = Int(try self.readUInt16("header.nscount"))
        let ar = Int(try self.readUInt16("header.arcount"))
        guard qd * 5 + (an + ns + ar) * 11 <= self.remaining else {
            throw DecodeError(.countExceedsMessage, field: "header", offset: 4,
                detail: "qd=\(qd) an=\(an) ns=\(ns) ar=\(ar) but \(self.remaining) bytes follow")
        }
        return SectionCounts(questions: qd, answers: an, authorities: ns, additionals: ar)
    }
}
