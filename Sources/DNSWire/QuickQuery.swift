/// A fast, allocation-light reading of an ordinary query, for answering cache hits without a full
/// ``DNSMessage/decode(_:)``.
///
/// ``parse(_:)-(UnsafeRawBufferPointer)`` accepts only the common shape: a standard QUERY (QR=0,
/// opcode 0, TC=0, Z=0, RCODE 0) with exactly one question, no answer or authority records, and
/// either no additional record or exactly one well-formed OPT (owner root, version 0, options framed
/// correctly, Client Subnet/Cookie/TCP keepalive well formed), with nothing after it. The question
/// must be uncompressed, class IN, and not of a meta type (OPT, TKEY, TSIG, IXFR, AXFR, MAILB,
/// MAILA, ANY; RFC 6895 §3.1 128–255). Anything else returns nil, and the caller falls back to the
/// full decoder, which produces the precise error or the special handling (BADVERS, RFC 8482, …).
///
/// The only allocation is the lowercased name. Other byte ranges point into the packet, so the
/// server can echo the question exactly as received.
public struct QuickQuery: Sendable, Hashable {
    /// "A 16 bit identifier assigned by the program that generates any kind of query."
    public var id: UInt16
    /// The flags word as received (RD and CD are the interesting bits; QR, opcode, TC, Z and RCODE
    /// are zero).
    public var flags: UInt16
    /// QDCOUNT (always 1).
    public var qdcount: UInt16
    /// ANCOUNT (always 0).
    public var ancount: UInt16
    /// NSCOUNT (always 0).
    public var nscount: UInt16
    /// ARCOUNT (0, or 1 for the OPT record).
    public var arcount: UInt16
    /// Range of the question name's wire bytes in the packet, case as received.
    public var nameRange: Range<Int>
    /// The question name's uncompressed wire bytes in ASCII lower case (a cache key).
    public var lowercasedName: [UInt8]
    /// QTYPE.
    public var type: RecordType
    /// QCLASS (always IN).
    public var dnsClass: DNSClass
    /// Offset just after the question (QNAME, QTYPE, QCLASS): the question section is
    /// `12..<questionEnd`.
    public var questionEnd: Int
    /// The OPT record's fields, when ARCOUNT is 1.
    public var edns: EDNSInfo?

    /// What a cache hit needs from the OPT record.
    public struct EDNSInfo: Sendable, Hashable {
        /// "Requestor's UDP payload size" as received (the caller applies the RFC 6891 §6.2.5 floor of 512).
        public var udpPayloadSize: UInt16
        /// DNSSEC OK (RFC 3225).
        public var dnssecOK: Bool
        /// The whole OPT record (owner, TYPE, CLASS, TTL, RDLENGTH, RDATA) in the packet.
        public var recordRange: Range<Int>
        /// OPT RDATA (the options, as `{code, length, data}` triples) in the packet; may be empty.
        public var optionsRange: Range<Int>
    }

    /// RD: recursion desired.
    public var recursionDesired: Bool { self.flags & 0x0100 != 0 }
    /// CD: checking disabled (RFC 4035 §3.2.2).
    public var checkingDisabled: Bool { self.flags & 0x0010 != 0 }
    /// AD (RFC 6840 §5.7: a query may set it to ask for the AD bit in the response).
    public var authenticData: Bool { self.flags & 0x0020 != 0 }

    /// The question name as received, from the same packet that was parsed.
    public func receivedName(in bytes: [UInt8]) -> ArraySlice<UInt8> { bytes[self.nameRange] }

    /// Where the question's name is in a message: the plain labels after the 12-byte header, root byte included
    /// (a query has nothing earlier for a compression pointer to point to). Nil when the bytes are shorter than a
    /// header and the smallest question, when a label is longer than 63 or runs past the end, or when the name is
    /// longer than 255 bytes. The header itself is not checked.
    public static func questionName(in bytes: UnsafeRawBufferPointer) -> Range<Int>? {
        let n = bytes.count
        guard n >= 17 else { return nil }
        var pos = 12
        while true {
            guard pos < n else { return nil }
            let len = Int(bytes[pos])
            if len == 0 { break }
            guard len <= 63, pos + len + 1 < n else { return nil }
            pos += len + 1
            guard pos - 12 < DomainName.maxWireLength else { return nil }
        }
        return 12..<(pos + 1)
    }

    /// Parses `bytes`; nil for anything but the common query shape described on ``QuickQuery``.
    public static func parse(_ bytes: [UInt8]) -> QuickQuery? {
        bytes.withUnsafeBytes { Self.parse($0) }
    }

    /// Parses `bytes`; nil for anything but the common query shape described on ``QuickQuery``.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> QuickQuery? {
        let n = bytes.count
        // Header plus the smallest question (root name, type, class).
        guard n >= 17, n <= 65535 else { return nil }
        @inline(__always) func u16(_ at: Int) -> UInt16 { UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1]) }
        let flags = u16(2)
        // QR, opcode, AA, TC, Z and RCODE must all be zero; RD, RA (ignored), AD and CD may be set.
        guard flags & 0xFE40 == 0, flags & 0x000F == 0 else { return nil }
        guard u16(4) == 1, u16(6) == 0, u16(8) == 0 else { return nil }
        let ar = u16(10)
        guard ar <= 1 else { return nil }

        guard let name = Self.questionName(in: bytes) else { return nil }
        let nameEnd = name.upperBound
        guard nameEnd + 4 <= n else { return nil }
        let type = u16(nameEnd)
        let qclass = u16(nameEnd + 2)
        // Meta and question-only types go to the full path (RFC 6895 §3.1: 128–255; OPT is 41).
        guard qclass == 1, type != 41, type < 128 || type > 255, type != 0 else { return nil }
        let questionEnd = nameEnd + 4

        var edns: EDNSInfo?
        if ar == 1 {
            // Root owner, TYPE OPT, CLASS, TTL, RDLENGTH.
            guard questionEnd + 11 <= n, bytes[questionEnd] == 0, u16(questionEnd + 1) == 41 else { return nil }
            let udp = u16(questionEnd + 3)
            let extendedRCode = bytes[questionEnd + 5]
            let version = bytes[questionEnd + 6]
            let doFlags = u16(questionEnd + 7)
            let rdlength = Int(u16(questionEnd + 9))
            let optStart = questionEnd + 11
            guard extendedRCode == 0, version == 0, optStart + rdlength == n else { return nil }
            // Options must fill RDATA exactly, and the ones with FORMERR rules must be well formed.
            var o = optStart
            while o < n {
                guard o + 4 <= n else { return nil }
                let code = u16(o)
                let len = Int(u16(o + 2))
                guard o + 4 + len <= n else { return nil }
                let data = UnsafeRawBufferPointer(rebasing: bytes[(o + 4)..<(o + 4 + len)])
                guard EDNSOption.problem(code: EDNSOptionCode(rawValue: code), data: data) == nil else { return nil }
                o += 4 + len
            }
            edns = EDNSInfo(udpPayloadSize: udp, dnssecOK: doFlags & 0x8000 != 0, recordRange: questionEnd..<n,
                optionsRange: optStart..<n)
        } else {
            guard questionEnd == n else { return nil }
        }

        let lowered = [UInt8](unsafeUninitializedCapacity: nameEnd - 12) { buf, count in
            for i in 12..<nameEnd {
                let b = bytes[i]
                buf[i - 12] = (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b
            }
            count = nameEnd - 12
        }
        return QuickQuery(id: u16(0), flags: flags, qdcount: 1, ancount: 0, nscount: 0, arcount: ar,
            nameRange: 12..<nameEnd, lowercasedName: lowered, type: RecordType(type), dnsClass: .in,
            questionEnd: questionEnd, edns: edns)
    }
}
