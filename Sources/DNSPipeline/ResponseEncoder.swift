public import DNSWire

/// Turns a ``Resolution`` into the bytes sent to the client.
///
/// It restores the client's ID and question (with its case, RFC 1035 §7.1), answers with OPT only
/// when the query had one (RFC 6891 §7), attaches Extended DNS Errors, and truncates to the
/// client's size with TC=1 (RFC 6891 §7, RFC 2181 §9). Cached packets are patched in place.
public enum ResponseEncoder {
    /// Our advertised EDNS UDP payload size (DNS Flag Day 2020).
    public static let ednsPayloadSize: UInt16 = 1232

    /// Encodes `resolution` for `query`; nil when nothing must be sent (drop).
    public static func encode(_ resolution: Resolution, for query: Query) -> [UInt8]? {
        switch resolution.reply {
        case .drop:
            return nil
        case .cached(let packet, let age):
            if let bytes = self.patch(packet, age: age, query: query, extendedErrors: resolution.extendedErrors) {
                return bytes
            }
            // Too large for the client: fall back to the message path, which truncates.
            guard let m = resolution.message else { return nil }
            return self.encode(message: m, query: query, extendedErrors: resolution.extendedErrors, resolution: resolution)
        case .message(let m):
            return self.encode(message: m, query: query, extendedErrors: resolution.extendedErrors, resolution: resolution)
        }
    }

    /// Encodes a message response for `query`.
    public static func encode(message: DNSMessage, query: Query, extendedErrors: [EDNSOption], resolution: Resolution? = nil) -> [UInt8] {
        var m = message
        let rcode = m.rcode
        m.header.id = query.message.header.id
        m.header.isResponse = true
        m.header.opcode = query.message.header.opcode
        m.header.recursionDesired = query.message.header.recursionDesired
        m.header.checkingDisabled = query.message.header.checkingDisabled
        m.header.recursionAvailable = true
        // We are not authoritative for forwarded or cached data; only local data keeps AA.
        if case .local? = resolution?.source {} else { m.header.authoritative = false }
        m.questions = query.message.questions
        if let qEDNS = query.message.edns {
            var opts = extendedErrors
            // Keep EDE options the upstream sent only when we add none of our own.
            if opts.isEmpty, let upstream = m.edns {
                opts = upstream.options.filter { $0.code == .extendedError }
            }
            m.edns = EDNS(udpPayloadSize: self.ednsPayloadSize, dnssecOK: qEDNS.dnssecOK, options: opts)
            m.rcode = rcode
        } else {
            m.edns = nil
            // Extended rcodes cannot be expressed without OPT.
            m.header.rcodeLow = UInt8(rcode.rawValue & 0x0F)
            // No OPT means no DO bit: AD is only for clients that asked for DNSSEC (RFC 6840 §5.8).
            m.header.authenticData = false
        }
        return m.encode(maxSize: query.maxResponseSize)
    }

    static let optPlain: [UInt8] = Self.opt(dnssecOK: false)
    static let optDO: [UInt8] = Self.opt(dnssecOK: true)

    private static func opt(dnssecOK: Bool) -> [UInt8] {
        var w = WireWriter(capacity: 16, compression: false)
        EDNS(udpPayloadSize: self.ednsPayloadSize, dnssecOK: dnssecOK).encode(into: &w)
        return w.bytes
    }

    /// Patches a cached packet for this query; nil when it would exceed the client's size.
    static func patch(_ p: CachedPacket, age: UInt32, query: Query, extendedErrors: [EDNSOption]) -> [UInt8]? {
        var opt: [UInt8] = []
        if let qEDNS = query.message.edns {
            if extendedErrors.isEmpty {
                // The common case: a constant OPT record, prepared once.
                opt = qEDNS.dnssecOK ? Self.optDO : Self.optPlain
            } else {
                var w = WireWriter(capacity: 16, compression: false)
                EDNS(udpPayloadSize: self.ednsPayloadSize, dnssecOK: qEDNS.dnssecOK, options: extendedErrors)
                    .encode(into: &w)
                opt = w.bytes
            }
        }
        let n = p.count
        let total = n + opt.count
        guard total <= query.maxResponseSize, n >= 12 else { return nil }
        let qh = query.message.header
        let qname = query.question.name.wire
        let dnssecOK = query.dnssecOK
        // One allocation, written in place: copying the packet's array (copy on write) and then reserving room
        // for the OPT record allocated and copied twice.
        let out = [UInt8](unsafeUninitializedCapacity: total) { buf, initialized in
            guard let o = buf.baseAddress else { return }
            p.storage.withUnsafeBufferPointer { src in
                o.initialize(from: src.baseAddress!, count: n)
                // The offsets of the TTL fields follow the packet in the same array; the TTLs at store time are in
                // the packet.
                CachedPacket.forEachTTL(src, count: n) { off, stored in
                    CachedPacket.writeTTL(stored > age ? stored - age : 0, to: o, at: off)
                }
            }
            o[0] = UInt8(qh.id >> 8)
            o[1] = UInt8(qh.id & 0xFF)
            // Flags: keep TC/AD/RCODE from the cached answer; RD, CD and opcode come from the query; AA is cleared.
            var f = UInt16(o[2]) << 8 | UInt16(o[3])
            f = (f & ~UInt16(0x7800 | 0x0100 | 0x0010 | 0x0400)) | (qh.flags & (0x7800 | 0x0100 | 0x0010)) | 0x8080
            if !dnssecOK { f &= ~UInt16(0x0020) }
            o[2] = UInt8(f >> 8)
            o[3] = UInt8(f & 0xFF)
            // Echo the question's case: the cached question has the same length and offset.
            if n >= 12 + qname.count {
                qname.withUnsafeBufferPointer { q in (o + 12).update(from: q.baseAddress!, count: q.count) }
            }
            if !opt.isEmpty {
                let ar = (UInt16(o[10]) << 8 | UInt16(o[11])) &+ 1
                o[10] = UInt8(ar >> 8)
                o[11] = UInt8(ar & 0xFF)
                opt.withUnsafeBufferPointer { src in (o + n).initialize(from: src.baseAddress!, count: src.count) }
            }
            initialized = total
        }
        return out
    }
}
