/// A response read in place, without building records: for a forwarder that passes an upstream's answer on as the
/// bytes it received (the event-loop path of a cache miss stores them in the packet cache as they are).
///
/// ``read(_:)`` accepts a subset of what ``DNSMessage/decode(_:)`` accepts, never more (the fuzz target and the
/// mutation tests check this rule), so a consumer that later decodes the bytes never meets a message the decoder
/// refuses. The subset is what a forwarder meets on the common path:
/// - one question;
/// - records of the types whose RDATA the scan checks as the decoder does (A, AAAA, NS, CNAME, DNAME, PTR, MX, SRV,
///   SOA, TXT) or of types the codec does not interpret (kept opaque, RFC 3597);
/// - at most one OPT record, last in the additional section, owned by the root, with no options and no extended
///   rcode bits: the forwarder drops it and writes its own for the client;
/// - compression pointers that lead to a label written earlier in the message, as compressors write them (the decoder
///   also follows a pointer into the header or a record's fixed fields; see `LabelStarts`).
///
/// Anything else — a malformed message, the DNSSEC and service types, EDNS options, an extended rcode — gives nil,
/// and the caller decodes the message in full (which rejects what is malformed, with the field and offset).
public struct ResponseLayout: Sendable, Hashable {
    /// The header's flags (bytes 2–3), rcode bits included.
    public let flags: UInt16
    /// The question's type.
    public let questionType: RecordType
    /// The question's class.
    public let questionClass: DNSClass
    /// Where the question's name ends: it occupies `12..<questionNameEnd`, uncompressed (nothing precedes it that a
    /// pointer could reach).
    public let questionNameEnd: Int
    /// Length of the message without its OPT record: the whole message when it has none.
    public let length: Int
    /// Whether the message ended with an OPT record (left out of ``length`` and ``additionalCount``).
    public let hasOPT: Bool
    /// Records in the answer section.
    public let answerCount: Int
    /// Records in the authority section.
    public let authorityCount: Int
    /// Records in the additional section, the OPT record left out.
    public let additionalCount: Int
    /// Whether the answer section holds a CNAME record.
    public let hasCNAMEAnswer: Bool

    /// The response code (the four header bits: a message with extended rcode bits is outside the subset).
    public var rcode: ResponseCode { ResponseCode(rawValue: self.flags & 0x000F) }

    /// Records before ``length``.
    public var recordCount: Int { self.answerCount + self.authorityCount + self.additionalCount }

    /// Reads `bytes` as a response in the subset described above; nil when it is not (malformed or not covered).
    public static func read(_ bytes: [UInt8]) -> ResponseLayout? {
        // Room for the label starts of a large answer without touching the heap; a message with more labels is left to
        // the decoder.
        withUnsafeTemporaryAllocation(of: UInt16.self, capacity: 256) { buffer in
            var labels = LabelStarts(buffer: buffer)
            return Self.read(bytes, &labels)
        }
    }

    private static func read(_ bytes: [UInt8], _ labels: inout LabelStarts) -> ResponseLayout? {
        var r = WireReader(bytes: bytes)
        guard let counts = try? r.readSectionCounts(), counts.questions == 1 else { return nil }
        // The question's name is written out: nothing before it is a label a pointer could reach.
        guard labels.name(&r), r.remaining >= 4 else { return nil }
        let questionNameEnd = r.offset
        let qtype = RecordType(be16(bytes[r.offset], bytes[r.offset + 1]))
        let qclass = DNSClass(be16(bytes[r.offset + 2], bytes[r.offset + 3]))
        r.offset += 4
        let an = counts.answers
        let ns = counts.authorities
        let total = an + ns + counts.additionals
        var optStart: Int? = nil
        var hasCNAME = false
        for i in 0..<total {
            let start = r.offset
            guard labels.name(&r), r.remaining >= 10 else { return nil }
            let o = r.offset
            let type = RecordType(be16(bytes[o], bytes[o + 1]))
            let dnsClass = DNSClass(be16(bytes[o + 2], bytes[o + 3]))
            let len = Int(be16(bytes[o + 8], bytes[o + 9]))
            r.offset += 10
            guard r.remaining >= len else { return nil }
            let end = r.offset + len
            if type == .opt {
                // The decoder takes one OPT owned by the root in the additional section; the subset also wants it last
                // (so that dropping it leaves the records before it unmoved), empty, and without extended rcode bits.
                guard i == total - 1, i >= an + ns, o == start + 1, bytes[start] == 0, len == 0, bytes[o + 4] == 0
                else { return nil }
                optStart = start
                continue
            }
            if type == .cname && i < an { hasCNAME = true }
            // RFC 2136's empty RDATA of any type under class ANY or NONE: the decoder's exception, not the subset's.
            if len == 0 && (dnsClass == .any || dnsClass == .none) { return nil }
            guard Self.checkRData(type, &r, &labels, end: end) else { return nil }
            r.offset = end
        }
        guard r.offset == bytes.count else { return nil }
        return ResponseLayout(flags: be16(bytes[2], bytes[3]), questionType: qtype, questionClass: qclass,
            questionNameEnd: questionNameEnd, length: optStart ?? bytes.count, hasOPT: optStart != nil,
            answerCount: an, authorityCount: ns, additionalCount: counts.additionals - (optStart == nil ? 0 : 1),
            hasCNAMEAnswer: hasCNAME)
    }

    /// Whether the RDATA at the reader's offset, ending at `end`, is what ``RData/decode(type:from:length:)`` accepts
    /// for `type`, for the types the subset covers; false for the other interpreted types.
    private static func checkRData(_ type: RecordType, _ r: inout WireReader, _ labels: inout LabelStarts, end: Int)
        -> Bool
    {
        let saved = r.limit
        // The decoder's window: names in RDATA, even through pointers, may not read past RDLENGTH.
        r.limit = end
        defer { r.limit = saved }
        let len = end - r.offset
        switch type {
        case .a: return len == 4
        case .aaaa: return len == 16
        case .ns, .cname, .dname, .ptr:
            return labels.name(&r) && r.offset == end
        case .mx:
            guard len >= 2 else { return false }
            r.offset += 2
            return labels.name(&r) && r.offset == end
        case .srv:
            guard len >= 6 else { return false }
            r.offset += 6
            return labels.name(&r) && r.offset == end
        case .soa:
            guard labels.name(&r), labels.name(&r) else { return false }
            return end - r.offset == 20
        case .txt:
            guard len > 0 else { return false }
            var p = r.offset
            while p < end {
                p += 1 + Int(r.bytes[p])
            }
            return p == end
        default:
            // Opaque RDATA (RFC 3597) takes any bytes; the other interpreted types are left to the decoder.
            return !RData.isInterpreted(type)
        }
    }

    /// Appends to `table` the offset of each record's TTL field before ``length``, two bytes big-endian each, in
    /// order: ``length`` bytes of `bytes` followed by this table is the packet cache's layout. `bytes` must be the
    /// message this layout was read from. Offsets past 65535 (no UDP message has them) are left out.
    public func appendTTLOffsets(of bytes: [UInt8], to table: inout [UInt8]) {
        var r = WireReader(bytes: bytes, offset: self.questionNameEnd + 4)
        for _ in 0..<self.recordCount {
            // Read already: the walk cannot fail.
            guard (try? r.skipName("name")) != nil, r.offset + 10 <= self.length else { return }
            let ttl = r.offset + 4
            let len = Int(be16(bytes[r.offset + 8], bytes[r.offset + 9]))
            if ttl <= 0xFFFF {
                table.append(UInt8(ttl >> 8))
                table.append(UInt8(ttl & 0xFF))
            }
            r.offset += 10 + len
        }
    }
}

/// The offsets of the labels written out in a message so far, ascending: where a compression pointer of the subset may
/// lead.
///
/// The decoder lets a pointer lead to any earlier byte, the header and a record's TTL included. Those are the bytes a
/// forwarder rewrites (the ID, the counts, the TTLs as they age), so a name read through them would change from one
/// copy of the packet to the next, and could stop decoding. A compressor only ever points at a label it wrote; the
/// subset allows nothing else, so every name reads the same in every copy of the packet.
private struct LabelStarts {
    let buffer: UnsafeMutableBufferPointer<UInt16>
    var count = 0

    /// Skips the name at the reader's offset, checked as the decoder checks it, and records its labels; false when the
    /// decoder would reject it, its pointer leads anywhere but a recorded label, or there is no room left to record.
    mutating func name(_ r: inout WireReader) -> Bool {
        var p = r.offset
        guard (try? r.skipName("name")) != nil else { return false }
        // The walk the decoder just checked: in bounds, ending at the root label or at the first pointer.
        let bytes = r.bytes
        while true {
            let len = Int(bytes[p])
            if len == 0 { return true }
            if len >= 0xC0 {
                // The name it leads to was recorded, and its own pointer checked, when it was read.
                return self.contains((len & 0x3F) << 8 | Int(bytes[p + 1]))
            }
            guard self.count < self.buffer.count, p <= 0xFFFF else { return false }
            self.buffer[self.count] = UInt16(p)
            self.count += 1
            p += len + 1
        }
    }

    /// Whether `offset` is a recorded label start (binary search: labels are recorded in message order).
    func contains(_ offset: Int) -> Bool {
        var low = 0
        var high = self.count
        while low < high {
            let mid = (low + high) / 2
            let v = Int(self.buffer[mid])
            if v == offset { return true }
            if v < offset { low = mid + 1 } else { high = mid }
        }
        return false
    }
}

/// Two bytes as a big-endian 16-bit value.
@inline(__always)
private func be16(_ high: UInt8, _ low: UInt8) -> UInt16 { UInt16(high) << 8 | UInt16(low) }
