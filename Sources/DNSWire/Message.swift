/// A whole DNS message (RFC 1035 §4.1) with its OPT record lifted into ``edns``.
public struct DNSMessage: Sendable, Hashable {
    /// Header fields (the counts are derived from the sections).
    public var header: Header
    /// Question section.
    public var questions: [Question]
    /// Answer section.
    public var answers: [ResourceRecord]
    /// Authority section.
    public var authorities: [ResourceRecord]
    /// Additional section, without the OPT record.
    public var additionals: [ResourceRecord]
    /// The OPT record, when present (RFC 6891).
    public var edns: EDNS?

    /// Creates a message.
    public init(header: Header = Header(), questions: [Question] = [], answers: [ResourceRecord] = [],
        authorities: [ResourceRecord] = [], additionals: [ResourceRecord] = [], edns: EDNS? = nil)
    {
        self.header = header
        self.questions = questions
        self.answers = answers
        self.authorities = authorities
        self.additionals = additionals
        self.edns = edns
    }

    /// A query for one question.
    public static func query(id: UInt16, name: DomainName, type: RecordType, recursionDesired: Bool = true,
        edns: EDNS? = EDNS()) -> DNSMessage
    {
        DNSMessage(header: Header(id: id, recursionDesired: recursionDesired),
            questions: [Question(name: name, type: type)], edns: edns)
    }

    /// The full response code: header low bits plus the OPT's high bits.
    public var rcode: ResponseCode {
        get { ResponseCode(rawValue: UInt16(self.edns?.extendedRCodeHigh ?? 0) << 4 | UInt16(self.header.rcodeLow)) }
        set {
            self.header.rcodeLow = UInt8(newValue.rawValue & 0x0F)
            if newValue.rawValue > 0x0F {
                if self.edns == nil { self.edns = EDNS() }
                self.edns?.extendedRCodeHigh = UInt8((newValue.rawValue >> 4) & 0xFF)
            } else {
                self.edns?.extendedRCodeHigh = 0
            }
        }
    }

    /// A response skeleton for this query: same ID, opcode, RD, CD and question; QR and RA set.
    public func makeResponse(rcode: ResponseCode = .noError) -> DNSMessage {
        var h = Header(id: self.header.id, isResponse: true, opcode: self.header.opcode,
            recursionDesired: self.header.recursionDesired, recursionAvailable: true,
            checkingDisabled: self.header.checkingDisabled)
        h.rcodeLow = UInt8(rcode.rawValue & 0x0F)
        var m = DNSMessage(header: h, questions: self.questions)
        if let q = self.edns {
            m.edns = EDNS(udpPayloadSize: 1232, dnssecOK: q.dnssecOK)
        }
        m.rcode = rcode
        return m
    }

    /// Decodes a message from untrusted bytes.
    ///
    /// Section counts are checked against the bytes remaining before anything is allocated, every
    /// RDATA is read within RDLENGTH, OPT must be a single record owned by the root in the additional
    /// section (RFC 6891 §6.1.1), and the sections must use the message exactly (no trailing bytes).
    /// Empty RDATA is accepted for any type when the CLASS is ANY or NONE, as RFC 2136 §2.4 uses it.
    /// - Throws: ``DecodeError`` naming the section, record index, field and byte offset.
    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> DNSMessage {
        var r = WireReader(bytes: bytes)
        let counts = try r.readSectionCounts()
        let (qd, an, ns, ar) = (counts.questions, counts.answers, counts.authorities, counts.additionals)
        let id = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
        let flags = UInt16(bytes[2]) << 8 | UInt16(bytes[3])
        var m = DNSMessage(header: Header(id: id, flags: flags))
        m.questions.reserveCapacity(qd)
        for i in 0..<qd {
            r.position = .question(i)
            let name = try r.readName("qname")
            let t = try r.readUInt16("qtype")
            let c = try r.readUInt16("qclass")
            m.questions.append(Question(name: name, type: RecordType(t), dnsClass: DNSClass(c)))
        }
        m.answers = try Self.decodeSection(&r, count: an, section: .answer, edns: &m.edns)
        m.authorities = try Self.decodeSection(&r, count: ns, section: .authority, edns: &m.edns)
        m.additionals = try Self.decodeSection(&r, count: ar, section: .additional, edns: &m.edns)
        guard r.offset == bytes.count else {
            throw DecodeError(.trailingBytes, field: "message", offset: r.offset,
                detail: "\(bytes.count - r.offset) byte(s) after the last record")
        }
        return m
    }

    /// The first `limit` records of the answer section, for a reader that needs nothing else (the query log's answer
    /// text): the header is checked and the questions are skipped as ``decode(_:)`` checks them, and nothing after
    /// those records is read. An OPT record in the answer section is an error, as in ``decode(_:)``.
    /// - Throws: ``DecodeError`` naming the section, record index, field and byte offset.
    public static func decodeAnswers(_ bytes: [UInt8], limit: Int) throws(DecodeError) -> [ResourceRecord] {
        var r = WireReader(bytes: bytes)
        let counts = try r.readSectionCounts()
        for i in 0..<counts.questions {
            r.position = .question(i)
            try r.skipName("qname")
            _ = try r.readUInt16("qtype")
            _ = try r.readUInt16("qclass")
        }
        var edns: EDNS? = nil
        return try Self.decodeSection(&r, count: min(counts.answers, max(0, limit)), section: .answer, edns: &edns)
    }

    private enum Section { case answer, authority, additional }

    private static func decodeSection(_ r: inout WireReader, count: Int, section: Section, edns: inout EDNS?)
        throws(DecodeError) -> [ResourceRecord]
    {
        guard count > 0 else { return [] }
        var out: [ResourceRecord] = []
        // An additional section of one record is usually the OPT record alone, which `edns` takes: reserving for it
        // would allocate an array that stays empty (once per reply from upstream).
        if section != .additional || count > 1 { out.reserveCapacity(count) }
        for i in 0..<count {
            switch section {
            case .answer: r.position = .answer(i)
            case .authority: r.position = .authority(i)
            case .additional: r.position = .additional(i)
            }
            let start = r.offset
            let name = try r.readName("name")
            let t = RecordType(try r.readUInt16("type"))
            let c = DNSClass(try r.readUInt16("class"))
            let ttl = try r.readUInt32("ttl")
            let len = Int(try r.readUInt16("rdlength"))
            if t == .opt {
                guard section == .additional else {
                    throw r.fail(.badValue, "type", at: start, detail: "OPT outside the additional section")
                }
                guard edns == nil else { throw r.fail(.duplicateOPT, "", at: start, detail: "second OPT record") }
                guard name.isRoot else { throw r.fail(.badValue, "name", at: start, detail: "OPT owner must be root") }
                edns = try EDNS.decode(ttl: ttl, udpSize: c.rawValue, from: &r, length: len)
                continue
            }
            let rdata: RData
            if len == 0 && (c == .any || c == .none) {
                // RFC 2136 §2.4/§2.5: prerequisites and deletions carry empty RDATA of any type.
                rdata = .unknown(RData.Unknown(type: t, bytes: []))
            } else {
                rdata = try RData.decode(type: t, from: &r, length: len)
            }
            out.append(ResourceRecord(name: name, dnsClass: c, ttl: ttl, rdata: rdata))
        }
        return out
    }

    /// Encodes the message with name compression.
    ///
    /// When `maxSize` is given and the message does not fit, the answer, authority and additional
    /// sections are dropped, TC is set and the OPT record is kept (RFC 6891 §7, RFC 2181 §9), so the
    /// client retries over TCP.
    ///
    /// Encoding never traps: a record whose RDATA would exceed 65535 octets, and records beyond
    /// 65535 in a section, are left out (and counted correctly).
    public func encode(maxSize: Int? = nil) -> [UInt8] {
        let full = self.encodeSections(answers: self.answers, authorities: self.authorities, additionals: self.additionals,
            truncated: self.header.truncated)
        guard let max = maxSize, full.count > max else { return full }
        return self.encodeSections(answers: [], authorities: [], additionals: [], truncated: true)
    }

    private func encodeSections(answers: [ResourceRecord], authorities: [ResourceRecord],
        additionals: [ResourceRecord], truncated: Bool) -> [UInt8]
    {
        // A message of one question and no records (a query, an empty NXDOMAIN or NODATA) has no name a pointer
        // could shorten; without compression the writer keeps no table of suffixes (one allocation per query sent
        // upstream, and per policy answer).
        let compress = self.questions.count > 1 || !answers.isEmpty || !authorities.isEmpty || !additionals.isEmpty
        var w = WireWriter(capacity: 512, compression: compress)
        var h = self.header
        h.truncated = truncated
        w.writeUInt16(h.id)
        w.writeUInt16(h.flags)
        // Counts are patched once the sections are written, so that skipped records stay consistent.
        w.writeUInt16(0)
        w.writeUInt16(0)
        w.writeUInt16(0)
        w.writeUInt16(0)
        var qd = 0
        for q in self.questions where qd < 0xFFFF {
            w.writeName(q.name, compress: true)
            w.writeUInt16(q.type.rawValue)
            w.writeUInt16(q.dnsClass.rawValue)
            qd += 1
        }
        w.patchUInt16(UInt16(qd), at: 4)
        let ednsSlot = self.edns == nil ? 0 : 1
        func write(_ section: [ResourceRecord], index: Int) {
            var n = 0
            let cap = index == 2 ? 0xFFFF - ednsSlot : 0xFFFF
            for rr in section where n < cap {
                if Self.encode(rr, into: &w) { n += 1 }
            }
            w.patchUInt16(UInt16(n + (index == 2 ? ednsSlot : 0)), at: 6 + 2 * index)
        }
        write(answers, index: 0)
        write(authorities, index: 1)
        write(additionals, index: 2)
        self.edns?.encode(into: &w)
        return w.bytes
    }

    /// Appends one resource record.
    /// - Returns: false when its RDATA would exceed 65535 octets; nothing is written then.
    @discardableResult
    public static func encode(_ rr: ResourceRecord, into w: inout WireWriter) -> Bool {
        let mark = w.mark()
        w.writeName(rr.name, compress: true)
        w.writeUInt16(rr.type.rawValue)
        w.writeUInt16(rr.dnsClass.rawValue)
        w.writeUInt32(rr.ttl)
        let lenAt = w.bytes.count
        w.writeUInt16(0)
        rr.rdata.encode(into: &w)
        let length = w.bytes.count - lenAt - 2
        guard length <= 0xFFFF else {
            w.rollBack(to: mark)
            return false
        }
        w.patchUInt16(UInt16(length), at: lenAt)
        return true
    }
}

extension DNSMessage: CustomStringConvertible {
    /// A dig-like multi-line rendering (for `palisade query`, test failures and golden files).
    ///
    /// ```
    /// ;; opcode: QUERY, status: NOERROR, id: 4660
    /// ;; flags: qr aa rd
    /// ;; EDNS: version 0, udp 1232, do
    /// ;; COOKIE: 0102030405060708
    /// ;; QUESTION
    /// ;example.org. IN A
    /// ;; ANSWER
    /// example.org. 3600 IN A 192.0.2.1
    /// ```
    public var description: String {
        var s = ";; opcode: \(self.header.opcode), status: \(self.rcode), id: \(self.header.id)\n"
        var flags: [String] = []
        if self.header.isResponse { flags.append("qr") }
        if self.header.authoritative { flags.append("aa") }
        if self.header.truncated { flags.append("tc") }
        if self.header.recursionDesired { flags.append("rd") }
        if self.header.recursionAvailable { flags.append("ra") }
        if self.header.authenticData { flags.append("ad") }
        if self.header.checkingDisabled { flags.append("cd") }
        s += ";; flags:" + flags.map { " " + $0 }.joined() + "\n"
        if let e = self.edns {
            s += ";; EDNS: version \(e.version), udp \(e.udpPayloadSize)\(e.dnssecOK ? ", do" : "")\n"
            for o in e.options { s += ";; \(o.summary)\n" }
        }
        s += ";; QUESTION\n"
        for q in self.questions { s += ";\(q)\n" }
        for (title, sec) in [("ANSWER", self.answers), ("AUTHORITY", self.authorities), ("ADDITIONAL", self.additionals)]
        where !sec.isEmpty {
            s += ";; \(title)\n"
            for rr in sec { s += "\(rr)\n" }
        }
        return s
    }
}

extension EDNSOption {
    /// One line for ``DNSMessage/description``: `ECS: 192.0.2.0/24/0`, `COOKIE: <client> <server>`,
    /// `PADDING: 12 octets`, `EDE: 15 (blocked)`, or `OPTnnn: <hex>` for other codes.
    public var summary: String {
        func hex(_ b: [UInt8]) -> String { b.isEmpty ? "" : " " + Presentation.hex(b) }
        switch self.code {
        case .clientSubnet:
            if let ecs = try? ClientSubnet(option: self) { return "ECS: \(ecs)" }
        case .cookie:
            if let c = try? Cookie(option: self) { return "COOKIE:\(hex(c.client))\(hex(c.server ?? []))" }
        case .tcpKeepalive:
            if let k = try? TCPKeepalive(option: self) { return "TCP-KEEPALIVE:" + (k.timeout.map { " \($0)" } ?? "") }
        case .padding:
            return "PADDING: \(self.data.count) octets"
        case .extendedError:
            if let ede = self.extendedErrorValue { return "EDE: \(ede.code.rawValue) (\(ede.text))" }
        default:
            break
        }
        return "\(self.code):\(hex(self.data))"
    }
}
