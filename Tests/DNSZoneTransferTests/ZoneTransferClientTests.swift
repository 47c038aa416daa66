import DNSWire
import NIOCore
import Testing

@testable import DNSZoneTransfer

/// The client against a scripted primary on loopback: the protocol paths and every way a broken or
/// hostile primary can fail a transfer.
@Suite(.tags(.integration)) struct ZoneTransferClientTests {
    static let a = Build.rr("evil.example 300 IN CNAME .")
    static let b = Build.rr("bad.example 300 IN CNAME rpz-drop.")
    static let c = Build.rr("new.example 300 IN CNAME .")
    static let time: UInt64 = 1_700_000_000

    /// The query a script received: its ID, question, authority and TSIG MAC.
    struct Query {
        var id: UInt16
        var question: Question
        var authority: [ResourceRecord]
        var mac: [UInt8]?

        init(_ bytes: [UInt8]) {
            let split = try? SignedMessage.split(bytes)
            let m = split.flatMap { try? DNSMessage.decode($0.stripped) }
            self.id = m?.header.id ?? 0
            self.question = m?.questions.first ?? Question(name: .root, type: .a)
            self.authority = m?.authorities ?? []
            self.mac = split?.tsig?.mac
        }

        func reply(_ answers: [ResourceRecord], rcode: ResponseCode = .noError, withQuestion: Bool = true) -> [UInt8] {
            Build.reply(id: self.id, question: withQuestion ? self.question : nil, answers: answers, rcode: rcode)
        }
    }

    static func client(port: Int, key: TSIGKey? = nil, options: ZoneTransferOptions = .init(soaQueryAttempts: 0))
        throws -> ZoneTransferClient
    {
        ZoneTransferClient(server: try SocketAddress(ipAddress: "127.0.0.1", port: port), zone: Build.zone, key: key,
            options: options, now: { Self.time })
    }

    static func full(_ r: TransferResult) -> ZoneRecordSet? {
        if case .full(let set) = r.content { return set }
        return nil
    }

    @Test("An AXFR over several messages returns the SOA and every record")
    func axfr() async throws {
        let primary = try await ScriptedPrimary.start { raw in
            let q = Query(raw)
            return [.message(q.reply([Build.soa(7), Self.a])), .message(q.reply([Self.b], withQuestion: false)),
                .message(q.reply([Build.soa(7)], withQuestion: false))]
        }
        defer { primary.stop() }
        let result = try await Self.client(port: primary.port).axfr()
        let set = try #require(Self.full(result))
        #expect(set.serial == SerialNumber(7))
        #expect(set.records == [Self.a, Self.b])
        #expect(result.messages == 3)
        #expect(result.records == 4)
        let query = try DNSMessage.decode(try #require(primary.received.first))
        #expect(query.questions == [Question(name: Build.zone, type: .axfr)])
        #expect(!query.header.recursionDesired)
    }

    @Test("Two transfers use different query IDs")
    func freshIDs() async throws {
        let primary = try await ScriptedPrimary.start { raw in
            let q = Query(raw)
            return [.message(q.reply([Build.soa(7), Build.soa(7)]))]
        }
        defer { primary.stop() }
        let client = try Self.client(port: primary.port)
        var ids: Set<UInt16> = []
        for _ in 0..<4 {
            _ = try await client.axfr()
            ids.insert(Query(primary.received.last ?? []).id)
        }
        #expect(ids.count > 1)
    }

    /// Runs an AXFR against `script` and returns the error it must fail with.
    static func failure(_ options: ZoneTransferOptions = .init(soaQueryAttempts: 0), key: TSIGKey? = nil,
        _ script: @escaping ScriptedPrimary.Script) async throws -> ZoneTransferError?
    {
        let primary = try await ScriptedPrimary.start(script)
        defer { primary.stop() }
        let client = try Self.client(port: primary.port, key: key, options: options)
        do {
            _ = try await client.axfr()
            Issue.record("the transfer succeeded")
            return nil
        } catch {
            #expect(error.message.contains("AXFR of rpz.test. from 127.0.0.1:\(primary.port)"))
            return error
        }
    }

    @Test("A reply with another ID is refused")
    func wrongID() async throws {
        let error = try await Self.failure { raw in
            var q = Query(raw)
            q.id &+= 1
            return [.message(q.reply([Build.soa(1), Build.soa(1)]))]
        }
        #expect(error?.code == .badResponse)
        #expect(error?.message.contains("has ID") == true)
    }

    @Test("A reply for another question is refused")
    func wrongQuestion() async throws {
        let error = try await Self.failure { raw in
            var q = Query(raw)
            q.question = Question(name: Build.name("other.test."), type: .axfr)
            return [.message(q.reply([Build.soa(1), Build.soa(1)]))]
        }
        #expect(error?.code == .badResponse)
        #expect(error?.message.contains("question") == true)
    }

    @Test("REFUSED is reported as a server error carrying the RCODE")
    func refused() async throws {
        let error = try await Self.failure { raw in [.message(Query(raw).reply([], rcode: .refused))] }
        #expect(error?.code == .serverError)
        #expect(error?.rcode == .refused)
        #expect(error?.message.contains("REFUSED") == true)
    }

    @Test("A primary that closes mid-transfer gives connection_closed")
    func closedMidTransfer() async throws {
        let error = try await Self.failure { raw in [.message(Query(raw).reply([Build.soa(1), Self.a])), .close] }
        #expect(error?.code == .connectionClosed)
        #expect(error?.message.contains("before the reply was complete") == true)
    }

    @Test("A primary that closes inside a message gives connection_closed")
    func closedMidMessage() async throws {
        let error = try await Self.failure { raw in
            let m = Query(raw).reply([Build.soa(1), Self.a])
            return [.raw([UInt8(m.count >> 8), UInt8(m.count & 0xFF)] + m.prefix(20)), .close]
        }
        #expect(error?.code == .connectionClosed)
    }

    @Test("Garbage in a frame is a bad response")
    func garbage() async throws {
        let error = try await Self.failure { _ in [.message([0xde, 0xad, 0xbe, 0xef])] }
        #expect(error?.code == .badResponse)
    }

    @Test("A stalled primary trips the idle timeout")
    func stalled() async throws {
        let clock = ContinuousClock()
        let start = clock.now
        let error = try await Self.failure(.init(idleTimeout: .milliseconds(300), soaQueryAttempts: 0)) { raw in
            [.message(Query(raw).reply([Build.soa(1)]))]
        }
        #expect(error?.code == .timeout)
        #expect(error?.message.contains("idleTimeout") == true)
        // Far below the 900 s default deadline; generous because the machine may be loaded.
        #expect(clock.now - start < .seconds(20))
    }

    @Test("An idle timeout that fires before the request is even written is still a timeout")
    func idleBeforeWrite() async throws {
        // With a 1 ns idle timeout the event loop closes the channel before the task writes the
        // request; the write then fails on a closed channel. That used to surface as connection_closed (the
        // rare "stalled primary" flake on a loaded machine); the recorded timeout must win.
        for _ in 0..<5 {
            let error = try await Self.failure(.init(idleTimeout: .nanoseconds(1), soaQueryAttempts: 0)) { _ in [] }
            #expect(error?.code == .timeout, "\(error.map { "\($0)" } ?? "no error")")
        }
    }

    @Test("A trickling primary trips the total deadline")
    func trickle() async throws {
        let error = try await Self.failure(.init(idleTimeout: .seconds(5), transferTimeout: .milliseconds(700),
            soaQueryAttempts: 0)) { raw in
            let q = Query(raw)
            return [.message(q.reply([Build.soa(1)])),
                .trickle(every: .milliseconds(50)) { i in q.reply([Build.rr("t\(i) 300 IN CNAME .")], withQuestion: false) }]
        }
        #expect(error?.code == .timeout)
        #expect(error?.message.contains("transferTimeout") == true)
    }

    @Test("An endless stream stops at the byte limit")
    func byteLimit() async throws {
        let error = try await Self.failure(.init(maxTransferBytes: 200_000, soaQueryAttempts: 0)) { raw in
            let q = Query(raw)
            let filler = q.reply([Build.rr("e 300 IN TXT \"\(String(repeating: "x", count: 200))\"")], withQuestion: false)
            return [.message(q.reply([Build.soa(1)])), .endless(count: 1_000_000) { _ in filler }]
        }
        #expect(error?.code == .limitExceeded)
        #expect(error?.message.contains("maxTransferBytes") == true)
    }

    @Test("An endless stream stops at the record limit")
    func recordLimit() async throws {
        let error = try await Self.failure(.init(maxRecords: 5000, soaQueryAttempts: 0)) { raw in
            let q = Query(raw)
            let filler = q.reply((0..<50).map { Build.rr("e\($0) 300 IN CNAME .") }, withQuestion: false)
            return [.message(q.reply([Build.soa(1)])), .endless(count: 1_000_000) { _ in filler }]
        }
        #expect(error?.code == .limitExceeded)
        #expect(error?.message.contains("maxRecords") == true)
    }

    @Test("A stream of empty messages stops at the message limit")
    func messageLimit() async throws {
        let error = try await Self.failure(.init(maxMessages: 1000, soaQueryAttempts: 0)) { raw in
            let empty = Query(raw).reply([], withQuestion: true)
            return [.endless(count: 1_000_000) { _ in empty }]
        }
        #expect(error?.code == .limitExceeded)
        #expect(error?.message.contains("maxMessages") == true)
    }

    @Test("Nothing listening gives connection_failed")
    func nothingListening() async throws {
        let port = try await TestNetwork.freePort()
        let error = await #expect(throws: ZoneTransferError.self) { try await Self.client(port: port).axfr() }
        #expect(error?.code == .connectionFailed)
    }

    // MARK: TSIG

    static func signedScript(_ replyKey: TSIGKey, signedAt: Set<Int>, count: Int) -> ScriptedPrimary.Script {
        { raw in
            let q = Query(raw)
            var signer = StreamSigner(key: replyKey, requestMAC: q.mac ?? [], time: Self.time)
            var steps: [ScriptedPrimary.Step] = []
            for i in 0..<count {
                var answers = [Build.rr("r\(i) 300 IN CNAME .")]
                if i == 0 { answers.insert(Build.soa(3), at: 0) }
                if i == count - 1 { answers.append(Build.soa(3)) }
                let m = q.reply(answers, withQuestion: i == 0)
                steps.append(.message(signedAt.contains(i) ? signer.sign(m) : signer.unsigned(m)))
            }
            return steps
        }
    }

    @Test("A signed AXFR verifies every message, with unsigned ones in between")
    func signedAXFR() async throws {
        let primary = try await ScriptedPrimary.start(Self.signedScript(Build.key, signedAt: [0, 4, 9], count: 10))
        defer { primary.stop() }
        let result = try await Self.client(port: primary.port, key: Build.key).axfr()
        #expect(Self.full(result)?.count == 10)
        #expect(Query(try #require(primary.received.first)).mac?.count == 32)
    }

    @Test("A signed AXFR whose replies use another secret fails with BADSIG")
    func signedAXFRWrongSecret() async throws {
        let error = try await Self.failure(key: Build.key, Self.signedScript(Build.wrongKey, signedAt: [0, 1], count: 2))
        #expect(error?.code == .tsigBadSig)
    }

    @Test("A signed AXFR whose last message is unsigned fails")
    func signedAXFRUnsignedEnd() async throws {
        let error = try await Self.failure(key: Build.key, Self.signedScript(Build.key, signedAt: [0], count: 3))
        #expect(error?.code == .tsigMissing)
    }

    @Test("An unsigned REFUSED to a signed request names the RCODE and says it is unauthenticated")
    func unsignedRefusal() async throws {
        let error = try await Self.failure(key: Build.key) { raw in [.message(Query(raw).reply([], rcode: .refused))] }
        #expect(error?.code == .serverError)
        #expect(error?.message.contains("unsigned") == true)
    }

    // MARK: IXFR and SOA

    @Test("An IXFR request carries our SOA and returns the diffs")
    func ixfr() async throws {
        let primary = try await ScriptedPrimary.start { raw in
            let q = Query(raw)
            return [.message(q.reply([Build.soa(2), Build.soa(1), Self.a, Build.soa(2), Self.c, Build.soa(2)]))]
        }
        defer { primary.stop() }
        let result = try await Self.client(port: primary.port).ixfr(from: Build.soa(1))
        guard case .incremental(_, let diffs) = result.content else {
            Issue.record("not incremental: \(result.content)")
            return
        }
        #expect(diffs == [IXFRDiff(from: Build.soa(1), to: Build.soa(2), deleted: [Self.a], added: [Self.c])])
        let q = Query(try #require(primary.received.first))
        #expect(q.question.type == .ixfr)
        #expect(q.authority == [Build.soa(1)])
    }

    @Test("With no UDP attempts the SOA query uses TCP")
    func soaOverTCP() async throws {
        let primary = try await ScriptedPrimary.start { raw in [.message(Query(raw).reply([Build.soa(12)]))] }
        defer { primary.stop() }
        let soa = try await Self.client(port: primary.port).querySOA()
        #expect(soa == Build.soa(12))
        #expect(Query(try #require(primary.received.first)).question.type == .soa)
    }

    @Test("The SOA query uses UDP and ignores datagrams with another ID")
    func soaOverUDP() async throws {
        let udp = try await ScriptedUDP.start { raw in
            var q = Query(raw)
            let good = q.reply([Build.soa(21)])
            q.id &+= 1
            // A stale reply with another ID first: it must be skipped, not fail the query.
            return [q.reply([Build.soa(99)]), good]
        }
        defer { udp.stop() }
        let soa = try await Self.client(port: udp.port, options: .init(soaQueryTimeout: .seconds(10), soaQueryAttempts: 1))
            .querySOA()
        #expect(soa == Build.soa(21))
    }

    @Test("A truncated UDP answer makes the SOA query retry over TCP")
    func soaTruncated() async throws {
        let primary = try await ScriptedPrimary.start { raw in [.message(Query(raw).reply([Build.soa(12)]))] }
        defer { primary.stop() }
        let udp = try await ScriptedUDP.start(port: primary.port) { raw in
            var reply = Query(raw).reply([])
            reply[2] |= 0x02
            return [reply]
        }
        defer { udp.stop() }
        let soa = try await Self.client(port: primary.port, options: .init(soaQueryTimeout: .seconds(10), soaQueryAttempts: 2))
            .querySOA()
        #expect(soa == Build.soa(12))
        #expect(primary.received.count == 1)
    }

    @Test("A non-authoritative SOA answer is refused")
    func soaNotAuthoritative() async throws {
        let udp = try await ScriptedUDP.start { raw in
            var reply = Query(raw).reply([Build.soa(3)])
            reply[2] &= ~0x04
            return [reply]
        }
        defer { udp.stop() }
        let error = await #expect(throws: ZoneTransferError.self) {
            try await Self.client(port: udp.port, options: .init(soaQueryTimeout: .seconds(10), soaQueryAttempts: 1)).querySOA()
        }
        #expect(error?.code == .badResponse)
        #expect(error?.message.contains("AA=0") == true)
    }
}
