import DNSWire
import Testing

@testable import DNSZoneTransfer

/// Known-answer vectors produced by dnspython 2.9 (an independent implementation): key `xfr.key.`,
/// HMAC-SHA256, signed at 1700000000 with fudge 300; a query for `rpz.test. AXFR` with ID 0x1234 and a
/// two-message reply, the second covered by the running MAC (RFC 8945 §5.3.1).
enum TSIGVectors {
    static let time: UInt64 = 1_700_000_000
    static let query = Build.hex(
        "1234000000010000000000010372707a04746573740000fc000103786672036b65790000fa00ff00000000003d0b686d61632d"
            + "7368613235360000006553f100012c00204f4e7c3080c00b4fc65dd1d19635751c20347304d994a1eaa2f616d138ee67c6"
            + "123400000000")
    static let queryMAC = Build.hex("4f4e7c3080c00b4fc65dd1d19635751c20347304d994a1eaa2f616d138ee67c6")
    static let reply1 = Build.hex(
        "1234840000010002000000010372707a04746573740000fc0001c00c000600010000012c0021026e73c00c0561646d696ec00c"
            + "0000000100000e1000000258000151800000012c046576696c076578616d706c65c00c000500010000012c00010003786672"
            + "036b65790000fa00ff00000000003d0b686d61632d7368613235360000006553f100012c0020fc1c48f9fd752119ddf0a780"
            + "e52b5dc4a09e5dceda5ccb80876f8742d5f68b00123400000000")
    static let reply2 = Build.hex(
        "12348400000000020000000103626164076578616d706c650372707a047465737400000500010000012c000a0872707a2d64"
            + "726f7000c018000600010000012c0021026e73c0180561646d696ec0180000000100000e1000000258000151800000012c03"
            + "786672036b65790000fa00ff00000000003d0b686d61632d7368613235360000006553f100012c002014339a9aa738441368"
            + "32867c2b9b9f1e4e7526778510acd41a9ba47203b49fac123400000000")
}

@Suite struct TSIGTests {
    static let now: @Sendable () -> UInt64 = { TSIGVectors.time }

    @Test("Signing a query gives the MAC an independent implementation computes")
    func signMatchesDnspython() throws {
        let split = try SignedMessage.split(TSIGVectors.query)
        let signed = TSIGSigner(key: Build.key).sign(split.stripped, time: TSIGVectors.time)
        #expect(signed.mac == TSIGVectors.queryMAC)
        #expect(signed.message == TSIGVectors.query)
    }

    @Test("A two-message reply signed by dnspython verifies, the second with the running MAC")
    func verifyDnspythonReplies() throws {
        var v = TSIGVerifier(key: Build.key, requestMAC: TSIGVectors.queryMAC, now: Self.now)
        try v.verify(try SignedMessage.split(TSIGVectors.reply1), received: TSIGVectors.reply1)
        try v.verify(try SignedMessage.split(TSIGVectors.reply2), received: TSIGVectors.reply2)
        try v.finish()
    }

    @Test("Any altered byte of a signed reply fails with BADSIG or a decode error, never a crash")
    func alteredReply() throws {
        // Every byte of the message part after the ID (the MAC covers the original ID from the TSIG
        // record instead; the reply checker compares the header ID). The TSIG record is the last 80 bytes.
        let tsigStart = TSIGVectors.reply1.count - 80
        for i in 2..<tsigStart {
            var bytes = TSIGVectors.reply1
            bytes[i] ^= 0x01
            var v = TSIGVerifier(key: Build.key, requestMAC: TSIGVectors.queryMAC, now: Self.now)
            do {
                try v.verify(try SignedMessage.split(bytes), received: bytes)
                Issue.record("flipping byte \(i) went unnoticed")
            } catch {
                #expect([ZoneTransferError.Code.tsigBadSig, .badResponse].contains(error.code), "byte \(i): \(error)")
            }
        }
    }

    @Test("A reply signed with a different secret fails with BADSIG naming the key")
    func wrongSecret() throws {
        var v = TSIGVerifier(key: Build.wrongKey, requestMAC: TSIGVectors.queryMAC, now: Self.now)
        let error = #expect(throws: ZoneTransferError.self) {
            try v.verify(try SignedMessage.split(TSIGVectors.reply1), received: TSIGVectors.reply1)
        }
        #expect(error?.code == .tsigBadSig)
        #expect(error?.message.contains("xfr.key.") == true)
    }

    @Test("A reply signed outside the fudge window fails with BADTIME")
    func badTime() throws {
        var v = TSIGVerifier(key: Build.key, requestMAC: TSIGVectors.queryMAC, now: { TSIGVectors.time + 301 })
        let error = #expect(throws: ZoneTransferError.self) {
            try v.verify(try SignedMessage.split(TSIGVectors.reply1), received: TSIGVectors.reply1)
        }
        #expect(error?.code == .tsigBadTime)
        var ok = TSIGVerifier(key: Build.key, requestMAC: TSIGVectors.queryMAC, now: { TSIGVectors.time - 300 })
        try ok.verify(try SignedMessage.split(TSIGVectors.reply1), received: TSIGVectors.reply1)
    }

    @Test("An unsigned first reply to a signed request is refused")
    func unsignedFirst() throws {
        let bytes = Build.reply(id: 0x1234, question: Question(name: Build.zone, type: .axfr), answers: [Build.soa(1)])
        var v = TSIGVerifier(key: Build.key, requestMAC: TSIGVectors.queryMAC, now: Self.now)
        let error = #expect(throws: ZoneTransferError.self) { try v.verify(try SignedMessage.split(bytes), received: bytes) }
        #expect(error?.code == .tsigMissing)
    }

    /// A stream of `count` messages where only those at `signedAt` carry a TSIG.
    static func stream(count: Int, signedAt: Set<Int>) -> [[UInt8]] {
        var signer = StreamSigner(key: Build.key, requestMAC: TSIGVectors.queryMAC, time: TSIGVectors.time)
        return (0..<count).map { i in
            let m = Build.reply(id: 0x1234, question: i == 0 ? Question(name: Build.zone, type: .axfr) : nil,
                answers: [Build.rr("r\(i).example 300 IN CNAME .")])
            return signedAt.contains(i) ? signer.sign(m) : signer.unsigned(m)
        }
    }

    static func verifyAll(_ messages: [[UInt8]]) throws {
        var v = TSIGVerifier(key: Build.key, requestMAC: TSIGVectors.queryMAC, now: Self.now)
        for m in messages { try v.verify(try SignedMessage.split(m), received: m) }
        try v.finish()
    }

    @Test("Up to 99 unsigned messages between signed ones are covered by the next signature")
    func unsignedRun() throws {
        try Self.verifyAll(Self.stream(count: 101, signedAt: [0, 100]))
        try Self.verifyAll(Self.stream(count: 10, signedAt: [0, 3, 4, 9]))
    }

    @Test("A run of 100 unsigned messages is refused")
    func tooManyUnsigned() {
        let error = #expect(throws: ZoneTransferError.self) { try Self.verifyAll(Self.stream(count: 102, signedAt: [0, 101])) }
        #expect(error?.code == .tsigMissing)
    }

    @Test("An unsigned last message is refused")
    func unsignedLast() {
        let error = #expect(throws: ZoneTransferError.self) { try Self.verifyAll(Self.stream(count: 3, signedAt: [0])) }
        #expect(error?.code == .tsigMissing)
    }

    @Test("An unsigned message altered in transit breaks the next signature")
    func alteredUnsigned() {
        var messages = Self.stream(count: 3, signedAt: [0, 2])
        messages[1][messages[1].count - 1] ^= 0xFF
        let error = #expect(throws: ZoneTransferError.self) { try Self.verifyAll(messages) }
        #expect(error?.code == .tsigBadSig)
    }

    @Test("Error replies from the primary map to BADSIG, BADKEY and BADTRUNC", arguments: [
        (TSIGErrorCode.badSig, ZoneTransferError.Code.tsigBadSig),
        (.badKey, .tsigBadKey),
        (.badTrunc, .tsigBadTrunc),
    ])
    func primaryErrors(tsigError: TSIGErrorCode, code: ZoneTransferError.Code) throws {
        let base = Build.reply(id: 0x1234, question: Question(name: Build.zone, type: .axfr), answers: [], rcode: .notAuth)
        let bytes = TSIGSigner.appendUnsignedError(tsigError, keyName: Build.key.name, algorithm: Build.key.algorithm.name,
            to: base, time: TSIGVectors.time, fudge: 300)
        var v = TSIGVerifier(key: Build.key, requestMAC: TSIGVectors.queryMAC, now: Self.now)
        let error = #expect(throws: ZoneTransferError.self) { try v.verify(try SignedMessage.split(bytes), received: bytes) }
        #expect(error?.code == code)
    }

    @Test("A truncated MAC is refused with BADTRUNC")
    func truncatedMAC() throws {
        var split = try SignedMessage.split(TSIGVectors.reply1)
        var tsig = try #require(split.tsig)
        tsig.mac = Array(tsig.mac.prefix(16))
        split = SignedMessage(stripped: split.stripped, tsig: tsig)
        var v = TSIGVerifier(key: Build.key, requestMAC: TSIGVectors.queryMAC, now: Self.now)
        let error = #expect(throws: ZoneTransferError.self) { try v.verify(split, received: TSIGVectors.reply1) }
        #expect(error?.code == .tsigBadTrunc)
    }

    @Test("A TSIG record that is not the last record is a malformed message")
    func tsigNotLast() throws {
        // Append an A record after the TSIG and bump ARCOUNT.
        var bytes = TSIGVectors.reply1
        var w = WireWriter(compression: false)
        _ = DNSMessage.encode(Build.rr("x 300 IN A 192.0.2.1"), into: &w)
        bytes += w.bytes
        bytes[11] += 1
        let error = #expect(throws: ZoneTransferError.self) { try SignedMessage.split(bytes) }
        #expect(error?.code == .badResponse)
        #expect(error?.message.contains("last record") == true)
    }

    @Test("Each algorithm signs and verifies its own request, and refuses another key's signature",
        arguments: TSIGAlgorithm.all)
    func algorithms(algorithm: TSIGAlgorithm) throws {
        let key = try TSIGKey(name: Build.name("k."), algorithm: algorithm, secret: Array("0123456789abcdef".utf8))
        let other = try TSIGKey(name: Build.name("k."), algorithm: algorithm, secret: Array("fedcba9876543210".utf8))
        let notify = DNSMessage(header: Header(id: 9, opcode: .notify), questions: [Question(name: Build.zone, type: .soa)])
        let signed = TSIGSigner(key: key).sign(notify.encode(), time: 1000)
        #expect(signed.mac.count == algorithm.macLength)
        let split = try SignedMessage.split(signed.message)
        guard case .verified = TSIGRequestCheck.check(split, key: key, now: 1000) else {
            Issue.record("own signature did not verify")
            return
        }
        guard case .badSig = TSIGRequestCheck.check(split, key: other, now: 1000) else {
            Issue.record("another secret verified")
            return
        }
    }

    // MARK: Keys

    @Test("BIND key files parse, with comments, several keys and any field order")
    func bindKeyFile() throws {
        let text = """
            # generated by tsig-keygen
            key "xfr.key" {
                algorithm hmac-sha256;
                secret "\(Build.secret)";
            };
            /* a second
               key */
            key other.key { secret "c2VjcmV0"; algorithm HMAC-SHA512; }; // trailing
            """
        let keys = try TSIGKeyRegistry.parseBIND(text, file: "tsig.key")
        #expect(keys.count == 2)
        #expect(keys[0] == Build.key)
        #expect(keys[1].name == Build.name("other.key."))
        #expect(keys[1].algorithm == .hmacSHA512)
        #expect(keys[1].secret == Array("secret".utf8))
        let registry = TSIGKeyRegistry(keys)
        #expect(registry.key(named: "xfr.key") == Build.key)
        #expect(registry[Build.name("OTHER.key.")] != nil)
    }

    @Test("Bad BIND key files fail with the file, line and problem", arguments: [
        ("key \"a\" {\n  algorithm hmac-sha256;\n  secret \"!!notbase64\";\n};\n", "tsig.key:1", "base64"),
        ("key \"a\" {\n  algorithm hmac-md5;\n  secret \"c2VjcmV0\";\n};\n", "tsig.key:1", "not supported"),
        ("key \"a\" {\n  algorithm hmac-sha256;\n};\n", "tsig.key:1", "no `secret`"),
        ("options {\n};\n", "tsig.key:1", "expected a `key` statement"),
        ("key \"a\" {\n  algorithm hmac-sha256\n  secret \"c2VjcmV0\";\n};\n", "tsig.key:3", "expected `;`"),
        ("key \"a\" {\n  colour blue;\n};\n", "tsig.key:2", "unknown field"),
        ("key \"a\" {\n  secret \"c2VjcmV0", "tsig.key:2", "unterminated"),
    ])
    func badKeyFiles(text: String, location: String, problem: String) {
        let error = #expect(throws: ZoneTransferError.self) { try TSIGKeyRegistry.parseBIND(text, file: "tsig.key") }
        #expect(error?.code == .badKey)
        #expect(error?.message.contains(location) == true, "\(String(describing: error))")
        #expect(error?.message.contains(problem) == true, "\(String(describing: error))")
    }

    @Test("The dig -y form parses, and the secret never appears in descriptions")
    func compactKey() throws {
        let key = try TSIGKey(compact: "hmac-sha256:xfr.key:\(Build.secret)")
        #expect(key == Build.key)
        #expect(try TSIGKey(compact: "xfr.key:\(Build.secret)") == Build.key)
        #expect(!key.description.contains(Build.secret))
        #expect(throws: ZoneTransferError.self) { try TSIGKey(compact: "only-one-field") }
    }
}
