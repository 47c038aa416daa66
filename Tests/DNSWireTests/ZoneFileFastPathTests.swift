import DNSWire
import Testing

/// The fast path for `name CNAME target` lines must be invisible: the same records (byte for byte, case kept),
/// the same reader state for the lines after it, and the same errors with the same file:line:column.
@Suite struct ZoneFileFastPathTests {
    /// What one read produced: records with their lines, the errors collected, the final state.
    struct Outcome: Equatable {
        var records: [ResourceRecord]
        var wires: [[UInt8]]
        var lines: [Int]
        var errors: [ZoneFileError]
        var errorCount: Int
        var endLine: Int
        var origin: DomainName
    }

    /// Reads `text` in chunks of `chunk` bytes (the whole text when 0), feeding back what each call leaves.
    static func read(_ text: String, fastPath: Bool, chunk: Int = 0, mode: ZoneFileReader.ErrorMode = .collect)
        -> (Outcome, ZoneFileError?)
    {
        var options = ZoneFileReader.Options(fileName: "tricky.rpz", errorMode: mode)
        options.fastPath = fastPath
        var reader = ZoneFileReader(options: options)
        var out = Outcome(records: [], wires: [], lines: [], errors: [], errorCount: 0, endLine: 0, origin: .root)
        let bytes = Array(text.utf8)
        var pending: [UInt8] = []
        var offset = 0
        var thrown: ZoneFileError? = nil
        do throws(ZoneFileError) {
            repeat {
                let size = chunk == 0 ? bytes.count : min(chunk, bytes.count - offset)
                pending += bytes[offset..<(offset + size)]
                offset += size
                let isFinal = offset == bytes.count
                let input = pending
                let used = try input.withUnsafeBufferPointer { (b) throws(ZoneFileError) -> Int in
                    try reader.read(b, isFinal: isFinal) { (rr, line) throws(ZoneFileError) in
                        // A callback may refuse a record; it is then reported like a syntax error.
                        if rr.name.description.hasPrefix("refused.") {
                            throw ZoneFileError(.rejected, "refused by the caller", file: "tricky.rpz", line: line)
                        }
                        out.records.append(rr)
                        out.wires.append(rr.name.wire)
                        out.lines.append(line)
                    }
                }
                pending = Array(input[used...])
            } while offset < bytes.count
        } catch {
            thrown = error
        }
        out.errors = reader.errors
        out.errorCount = reader.errorCount
        out.endLine = reader.line
        out.origin = reader.origin
        return (out, thrown)
    }

    static let tricky: [String] = [
        "plain.example CNAME .\n",
        "*.wild.example CNAME .\n",
        "UPPER.Example cname .\n",
        "Mixed.Case.EXAMPLE CnAmE *.\n",
        "pass.example CNAME rpz-passthru.\n",
        "garden.example CNAME walled.garden.example.\n",
        "relative.example CNAME relative-target\n",
        "at.example CNAME @\n",
        "@ CNAME .\n",
        "tabs.example\tCNAME\t.\t\n",
        "crlf.example CNAME .\r\n",
        "spaces.example    CNAME    .   \n",
        "under_score.example CNAME .\n",
        "star*in.middle CNAME .\n",
        "a@b.example CNAME .\n",
        "absolute.example. CNAME .\n",
        "comment.example CNAME . ; a trailing comment\n",
        "nocomment.example CNAME .;tight comment\n",
        "; a comment line\n",
        "\n",
        "   \n",
        "ttl.example 300 CNAME .\n",
        "class.example IN CNAME .\n",
        "both.example 60 IN CNAME .\n",
        "$ORIGIN sub.rpz.example.\n",
        "after-origin CNAME .\n",
        "$TTL 120\n",
        "after-ttl CNAME .\n",
        "explicit-ttl 45 CNAME .\n",
        "inherits-ttl CNAME .\n",
        "\tA 192.0.2.1\n",
        " TXT \"blank owner repeats the fast-path owner\"\n",
        "paren.example ( CNAME\n . )\n",
        "quoted.example CNAME \"quoted.target.\"\n",
        "esc\\.aped.example CNAME .\n",
        "esc\\065.example CNAME .\n",
        "target.example CNAME esc\\.aped.\n",
        "local.example A 192.0.2.7\n",
        "local.example AAAA 2001:db8::7\n",
        "txt.example TXT \"hello\"\n",
        "empty..label CNAME .\n",
        "target-empty..label.example CNAME a..b\n",
        "\(String(repeating: "x", count: 64)).example CNAME .\n",
        "\(String(repeating: "abcdefghi.", count: 26))example CNAME .\n",
        "toomany.example CNAME . extra\n",
        "missing-target.example CNAME\n",
        "missing-target2.example CNAME \n",
        "unknown.example BOGUS .\n",
        "refused.example CNAME .\n",
        "$BOGUS directive\n",
        ") stray.example CNAME .\n",
        "cname-as-owner CNAME CNAME\n",
        "digits-target.example CNAME 300\n",
        "CNAME CNAME .\n",
        "nonascii.exämple CNAME .\n",
        "slash/name.example CNAME .\n",
        "last.example CNAME .",
    ]

    @Test("each tricky line alone reads the same with and without the fast path", arguments: Self.tricky)
    func eachLine(_ line: String) {
        let text = "$ORIGIN rpz.example.\n" + line
        let (fast, fastThrown) = Self.read(text, fastPath: true)
        let (general, generalThrown) = Self.read(text, fastPath: false)
        #expect(fast == general)
        #expect(fastThrown == generalThrown)
    }

    @Test("a whole zone of tricky lines reads the same, whole or in chunks of any size, collecting errors")
    func wholeZoneCollect() {
        let text = "$ORIGIN rpz.example.\n@ SOA ns. admin. 1 3600 600 86400 300\n" + Self.tricky.joined()
        let (general, _) = Self.read(text, fastPath: false)
        #expect(general.records.count > 30)
        #expect(general.errorCount > 8)
        for chunk in [0, 1, 2, 3, 7, 16, 64, 1000] {
            let (fast, _) = Self.read(text, fastPath: true, chunk: chunk)
            #expect(fast == general, "chunk size \(chunk)")
        }
    }

    @Test("in stop mode the first bad line throws the same error, at the same file:line:column")
    func stopMode() throws {
        let text = "$ORIGIN rpz.example.\nok.example CNAME .\nfine CNAME .\nempty..label CNAME .\nnever CNAME .\n"
        let (fast, fastThrown) = Self.read(text, fastPath: true, mode: .stop)
        let (general, generalThrown) = Self.read(text, fastPath: false, mode: .stop)
        #expect(fast == general)
        let error = try #require(fastThrown)
        #expect(error == generalThrown)
        #expect(error.file == "tricky.rpz")
        #expect(error.line == 4)
        #expect(fast.records.count == 2)
    }

    @Test("fast-path records carry the $TTL, the last explicit TTL or the default, and the last class")
    func ttlAndClass() throws {
        let text = "a CNAME .\nb 77 CH CNAME .\nc CNAME .\n$TTL 5\nd CNAME .\n"
        let (fast, _) = Self.read(text, fastPath: true)
        #expect(fast.records.map(\.ttl) == [3600, 77, 77, 5])
        #expect(fast.records.map(\.dnsClass) == [.in, .chaos, .chaos, .chaos])
        #expect(fast.lines == [1, 2, 3, 5])
        #expect(fast.records[0].rdata == .cname(RData.NameTarget(target: .root)))
    }
}
