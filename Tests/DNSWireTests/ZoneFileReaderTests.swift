import DNSWire
import Testing

@Suite struct ZoneFileReaderTests {
    private func parse(_ text: String, origin: DomainName = .root) throws -> [ResourceRecord] {
        try ZoneFileReader.records(in: text, options: .init(origin: origin, fileName: "test.zone"))
    }

    private func parseError(_ text: String) -> ZoneFileError? {
        do {
            _ = try ZoneFileReader.records(in: text, options: .init(fileName: "test.zone"))
            return nil
        } catch {
            return error
        }
    }

    private func name(_ s: String) throws -> DomainName { try DomainName(s) }

    @Test("an absolute record with TTL and class reads into one resource record")
    func absoluteRecord() throws {
        let rrs = try self.parse("www.example.org. 300 IN A 192.0.2.1\n")
        #expect(rrs == [ResourceRecord(name: try self.name("www.example.org."), ttl: 300,
            rdata: .a(.init(address: IPv4Address(192, 0, 2, 1))))])
    }

    @Test("$ORIGIN makes names relative and @ stands for the origin")
    func originAndAt() throws {
        let rrs = try self.parse("""
            $ORIGIN example.org.
            @ 60 IN NS ns1
            www 60 IN CNAME @
            mail.example.net. 60 IN MX 10 mx
            """)
        #expect(rrs.count == 3)
        #expect(rrs[0].name == (try self.name("example.org.")))
        #expect(rrs[0].rdata == .ns(.init(target: try self.name("ns1.example.org."))))
        #expect(rrs[1].name == (try self.name("www.example.org.")))
        #expect(rrs[1].rdata == .cname(.init(target: try self.name("example.org."))))
        #expect(rrs[2].rdata == .mx(.init(preference: 10, exchange: try self.name("mx.example.org."))))
    }

    @Test("a relative $ORIGIN is taken relative to the previous origin")
    func relativeOrigin() throws {
        let rrs = try self.parse("$ORIGIN example.org.\n$ORIGIN sub\nx 1 A 192.0.2.1\n")
        #expect(rrs.first?.name == (try self.name("x.sub.example.org.")))
    }

    @Test("the initial origin from the options applies to relative names")
    func optionOrigin() throws {
        let rrs = try self.parse("evil 60 CNAME .\n", origin: try self.name("rpz.example."))
        #expect(rrs.first?.name == (try self.name("evil.rpz.example.")))
        #expect(rrs.first?.rdata == .cname(.init(target: .root)))
    }

    @Test("a blank owner repeats the previous owner")
    func blankOwner() throws {
        let rrs = try self.parse("a.example. 60 A 192.0.2.1\n    60 AAAA 2001:db8::1\n\tTXT \"x\"\n")
        #expect(rrs.count == 3)
        #expect(rrs.allSatisfy { $0.name == (try? self.name("a.example.")) })
    }

    @Test("TTL and class may come in either order or be left out")
    func ttlAndClassOrder() throws {
        let rrs = try self.parse("""
            a.example. 60 IN A 192.0.2.1
            b.example. IN 70 A 192.0.2.2
            c.example. CH 80 TXT "chaos"
            d.example. A 192.0.2.4
            """)
        #expect(rrs.map(\.ttl) == [60, 70, 80, 80])
        #expect(rrs.map(\.dnsClass) == [.in, .in, .chaos, .chaos])
    }

    @Test("$TTL sets the TTL of records without one and BIND units are understood")
    func ttlDirective() throws {
        let rrs = try self.parse("$TTL 1h30m\na.example. A 192.0.2.1\nb.example. 2d A 192.0.2.2\nc.example. A 192.0.2.3\n")
        #expect(rrs.map(\.ttl) == [5400, 172_800, 5400])
    }

    @Test("without $TTL a record inherits the last explicit TTL, and the first falls back to the default")
    func ttlInheritance() throws {
        let rrs = try ZoneFileReader.records(
            in: "a.example. A 192.0.2.1\nb.example. 99 A 192.0.2.2\nc.example. A 192.0.2.3\n",
            options: .init(defaultTTL: 42))
        #expect(rrs.map(\.ttl) == [42, 99, 99])
    }

    @Test("parentheses join lines and comments inside them are ignored")
    func parentheses() throws {
        let rrs = try self.parse("""
            $ORIGIN example.org.
            @ 3600 IN SOA ns1 hostmaster ( ; start
                    2024010101 ; serial
                    1h         ; refresh
                    15m 1w
                    5m )       ; minimum
            www 60 A 192.0.2.1
            """)
        #expect(rrs.count == 2)
        guard case .soa(let soa) = rrs[0].rdata else {
            Issue.record("expected SOA, got \(rrs[0].rdata)")
            return
        }
        #expect(soa.serial == 2_024_010_101)
        #expect(soa.refresh == 3600)
        #expect(soa.retry == 900)
        #expect(soa.expire == 604_800)
        #expect(soa.minimum == 300)
        #expect(soa.rname == (try self.name("hostmaster.example.org.")))
    }

    @Test("comments, blank lines and CRLF line ends are skipped")
    func commentsAndCRLF() throws {
        let rrs = try self.parse("; header\r\n\r\n   ; indented comment\r\na.example. 60 A 192.0.2.1 ; trailing\r\n")
        #expect(rrs.count == 1)
        #expect(rrs[0].rdata == .a(.init(address: IPv4Address(192, 0, 2, 1))))
    }

    @Test("quoted strings keep spaces, semicolons, parentheses and escaped quotes")
    func quotedStrings() throws {
        let rrs = try self.parse(#"t.example. 60 TXT "a b; (c)" "say \"hi\"" plain"# + "\n")
        #expect(rrs.first?.rdata == .txt(.init(strings: [Array("a b; (c)".utf8), Array(#"say "hi""#.utf8), Array("plain".utf8)])))
    }

    @Test("\\DDD and \\X escapes work in names and strings")
    func escapes() throws {
        let rrs = try self.parse(#"a\.b\065.example. 60 TXT "\065\\z""# + "\n")
        #expect(rrs.first?.name.labels.first.map(Array.init) == Array("a.bA".utf8))
        #expect(rrs.first?.rdata == .txt(.init(strings: [Array(#"A\z"#.utf8)])))
    }

    @Test("TYPEnnn with generic RDATA reads an unknown type, and \\# for a known type equals its typed form")
    func genericRData() throws {
        let rrs = try self.parse("""
            a.example. 60 TYPE65280 \\# 3 abcdef
            b.example. 60 CLASS1 A \\# 4 c0000201
            c.example. 60 TYPE1 192.0.2.1
            """)
        #expect(rrs[0].rdata == .unknown(.init(type: RecordType(65280), bytes: [0xab, 0xcd, 0xef])))
        #expect(rrs[1].rdata == .a(.init(address: IPv4Address(192, 0, 2, 1))))
        #expect(rrs[1].dnsClass == .in)
        #expect(rrs[2].type == .a)
    }

    @Test("types without a mnemonic shortcut still parse through RData")
    func otherTypes() throws {
        let rrs = try self.parse("""
            s.example. 60 SRV 1 2 443 target.example.
            p.example. 60 ptr host.example.
            m.example. 60 mx 5 mail.example.
            """)
        #expect(rrs.map(\.type) == [.srv, .ptr, .mx])
    }

    // MARK: errors

    @Test("$INCLUDE is refused with an error naming the line")
    func includeRefused() throws {
        let e = try #require(self.parseError("a.example. 60 A 192.0.2.1\n$INCLUDE other.zone\n"))
        #expect(e.code == .unsupportedDirective)
        #expect(e.line == 2)
        #expect(e.file == "test.zone")
        #expect(e.message.contains("$INCLUDE"))
        #expect(e.description.hasPrefix("test.zone:2:1:"))
    }

    @Test("every error names its line and reason", arguments: [
        ("$GENERATE 1-3 x A 192.0.2.$\n", ZoneFileError.Code.unsupportedDirective, 1),
        ("ok.example. 1 A 192.0.2.1\n$FOO bar\n", .badDirective, 2),
        ("$ORIGIN\n", .badDirective, 1),
        ("\n\nx.example. 60 BOGUS 1\n", .unknownType, 3),
        ("x.example. 60 ANY 1\n", .unknownType, 1),
        ("x.example. 60 A 192.0.2.300\n", .badRData, 1),
        ("x.example. 60 A 192.0.2.1 192.0.2.2\n", .badRData, 1),
        ("x.example. 60 MX ten mail.example.\n", .badRData, 1),
        ("x.example. 60 TYPE99 1 2\n", .badRData, 1),
        ("x.example. 99999999999 A 192.0.2.1\n", .badTTL, 1),
        ("x.example. 1x A 192.0.2.1\n", .badTTL, 1),
        ("x..example. 60 A 192.0.2.1\n", .badName, 1),
        ("x\\300.example. 60 A 192.0.2.1\n", .badName, 1),
        ("x.example. 60 IN\n", .missingType, 1),
        ("   60 A 192.0.2.1\n", .missingOwner, 1),
        ("x.example. 60 A 192.0.2.1 )\n", .syntax, 1),
        ("a.example. 1 A 192.0.2.1\nx.example. 60 TXT \"open\n", .unterminated, 2),
        ("a.example. 1 A 192.0.2.1\nx.example. 60 SOA a. b. ( 1 2\n 3 4\n", .unterminated, 2),
    ])
    func errorsNameLine(text: String, code: ZoneFileError.Code, line: Int) throws {
        let e = try #require(self.parseError(text))
        #expect(e.code == code, "\(e)")
        #expect(e.line == line, "\(e)")
        #expect(!e.message.isEmpty)
    }

    @Test("a label longer than 63 octets and a name longer than 255 octets are rejected")
    func nameLimits() throws {
        let long = String(repeating: "a", count: 64)
        #expect(self.parseError("\(long).example. 60 A 192.0.2.1\n")?.code == .badName)
        let many = Array(repeating: String(repeating: "b", count: 60), count: 5).joined(separator: ".")
        #expect(self.parseError("\(many). 60 A 192.0.2.1\n")?.code == .badName)
    }

    @Test("an error column points at the offending field")
    func errorColumn() throws {
        let e = try #require(self.parseError("x.example. 60 A 999.0.0.1\n"))
        #expect(e.column == 17)
    }

    @Test("collect mode keeps the good records and reports each bad line")
    func collectMode() {
        let (rrs, errors) = ZoneFileReader.recordsCollectingErrors(in: """
            a.example. 60 A 192.0.2.1
            b.example. 60 A nope
            c.example. 60 A 192.0.2.3
            $INCLUDE x
            d.example. 60 WHAT 1
            e.example. 60 TXT "e"
            """, options: .init(fileName: "feed.rpz"))
        #expect(rrs.map { $0.name.description } == ["a.example.", "c.example.", "e.example."])
        #expect(errors.map(\.line) == [2, 4, 5])
        #expect(errors.allSatisfy { $0.file == "feed.rpz" })
    }

    @Test("collect mode stores at most maxStoredErrors but counts them all")
    func errorCap() throws {
        var reader = ZoneFileReader(options: .init(errorMode: .collect, maxStoredErrors: 2))
        try reader.read(Array(String(repeating: "x 1 A bad\n", count: 5).utf8)) { _, _ in }
        #expect(reader.errors.count == 2)
        #expect(reader.errorCount == 5)
    }

    @Test("a record refused by the consumer becomes an error on its line")
    func consumerRejects() throws {
        var reader = ZoneFileReader(options: .init(fileName: "z", errorMode: .collect))
        var kept: [Int] = []
        try reader.read(Array("a. 1 A 192.0.2.1\nb. 1 A 192.0.2.2\n".utf8)) { (rr, line) throws(ZoneFileError) in
            if rr.name.description == "b." { throw ZoneFileError(.rejected, "no b", file: "z", line: line) }
            kept.append(line)
        }
        #expect(kept == [1])
        #expect(reader.errors.map(\.line) == [2])
        #expect(reader.recordCount == 2)
    }

    // MARK: streaming

    @Test("feeding the input in chunks of any size gives the same records and line numbers")
    func chunkedReading() throws {
        let text = """
            $ORIGIN example.org.
            $TTL 300
            @ SOA ns1 host ( 1 2 3 4
              5 ) ; soa
            www A 192.0.2.1
                TXT "a;b" "c d"
            bad A x
            mail MX 10 mx ; the end
            """
        let bytes = Array(text.utf8)
        var whole = ZoneFileReader(options: .init(errorMode: .collect))
        var expected: [(ResourceRecord, Int)] = []
        try whole.read(bytes) { rr, line in expected.append((rr, line)) }
        #expect(expected.count == 4)
        #expect(whole.errors.map(\.line) == [7])
        for size in 1...bytes.count {
            var reader = ZoneFileReader(options: .init(errorMode: .collect))
            var got: [(ResourceRecord, Int)] = []
            var pending: [UInt8] = []
            var offset = 0
            while offset < bytes.count {
                let end = min(offset + size, bytes.count)
                pending += bytes[offset..<end]
                offset = end
                let isFinal = offset == bytes.count
                let used = try pending.withUnsafeBufferPointer { buf in
                    try reader.read(buf, isFinal: isFinal) { rr, line in got.append((rr, line)) }
                }
                pending.removeFirst(used)
            }
            #expect(pending.isEmpty)
            #expect(got.map(\.0) == expected.map(\.0), "chunk size \(size)")
            #expect(got.map(\.1) == expected.map(\.1), "chunk size \(size)")
            #expect(reader.errors.map(\.line) == [7], "chunk size \(size)")
        }
    }

    @Test("an absurdly long unit TTL is refused instead of overflowing")
    func longTTL() throws {
        let ttl = String(repeating: "4294967295w", count: 10_000)
        let e = try #require(self.parseError("x.example. \(ttl) A 192.0.2.1\n"))
        #expect(e.code == .badTTL)
        #expect(e.message.count < 200)
    }

    @Test("random and mutated input never crashes the reader, and what it accepts round-trips", arguments: 0..<4)
    func hostileInput(seed: Int) throws {
        var state = UInt64(seed + 1) &* 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
        let seedText = Array("""
            $ORIGIN example.org.
            $TTL 1h
            @ SOA ns host ( 1 2 3 4 5 )
            www 60 IN A 192.0.2.1
              TXT "a \\"b\\" ;c" \\# x
            x TYPE9 \\# 2 abcd
            """.utf8)
        let alphabet = Array("$@;()\"\\#. \t\n0123456789aAzZ*-_".utf8) + [0, 0xFF, 0xC3, 0x80]
        for round in 0..<300 {
            var bytes = seedText
            for _ in 0..<(1 + Int(next() % 12)) {
                let at = Int(next() % UInt64(bytes.count + 1))
                switch next() % 3 {
                case 0: bytes.insert(alphabet[Int(next() % UInt64(alphabet.count))], at: at)
                case 1: if at < bytes.count { bytes.remove(at: at) }
                default: if at < bytes.count { bytes[at] = UInt8(truncatingIfNeeded: next()) }
                }
            }
            if round % 50 == 0 { bytes = (0..<200).map { _ in UInt8(truncatingIfNeeded: next()) } }
            var reader = ZoneFileReader(options: .init(errorMode: .collect))
            var records: [ResourceRecord] = []
            try reader.read(bytes) { rr, _ in records.append(rr) }
            // Whatever was accepted is a well-formed record: it survives a write and a re-read unchanged.
            let text = ZoneFileWriter().write(records)
            #expect(try ZoneFileReader.records(in: text) == records, "round \(round)")
        }
    }

    @Test("a file without a final newline still yields its last record")
    func noFinalNewline() throws {
        #expect(try self.parse("a.example. 60 A 192.0.2.1").count == 1)
    }
}
