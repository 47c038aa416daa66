import DNSWire
import Synchronization
import Testing

@testable import DNSZoneTransfer
import TestSupport

@Suite struct NotifyResponderTests {
    static let primary = Build.ip("192.0.2.53")
    static let now: @Sendable () -> UInt64 = { 1_700_000_000 }

    final class Recorder: Sendable {
        let calls = Mutex<[(DomainName, UInt32?)]>([])
        var count: Int { self.calls.withLock { $0.count } }
    }

    static func responder(key: TSIGKey? = nil, recorder: Recorder = Recorder()) -> NotifyResponder {
        let auth = StaticNotifyAuthorizer(zones: [.init(name: Build.zone, primaries: [Self.primary], key: key)]) { z, s in
            recorder.calls.withLock { $0.append((z, s)) }
        }
        return NotifyResponder(authorizer: auth, now: Self.now)
    }

    static func notify(id: UInt16 = 77, zone: DomainName = Build.zone, serial: UInt32? = 5) -> [UInt8] {
        DNSMessage(header: Header(id: id, opcode: .notify, authoritative: true, recursionDesired: false),
            questions: [Question(name: zone, type: .soa)], answers: serial.map { [Build.soa($0)] } ?? []).encode()
    }

    @Test("An unsigned NOTIFY from the primary is answered QR AA NOTIFY with the question, and reported")
    func accepted() throws {
        let outcome = Self.responder().respond(to: Self.notify(), from: Self.primary)
        let reply = try DNSMessage.decode(try #require(outcome.reply))
        #expect(reply.header.id == 77)
        #expect(reply.header.isResponse && reply.header.authoritative)
        #expect(reply.header.opcode == .notify)
        #expect(reply.rcode == .noError)
        #expect(reply.questions == [Question(name: Build.zone, type: .soa)])
        #expect(outcome.notified?.zone == Build.zone)
        #expect(outcome.notified?.serial == 5)
    }

    @Test("Unknown zones, other sources, other opcodes and bad questions get the right RCODE and no callback",
        arguments: [
            (Self.notify(zone: Build.name("other.test.")), "192.0.2.53", ResponseCode.notAuth),
            (Self.notify(), "192.0.2.54", .refused),
            (Self.notify(), "::ffff:192.0.2.54", .refused),
            (DNSMessage(header: Header(id: 1, opcode: .update), questions: [Question(name: Build.zone, type: .soa)]).encode(),
             "192.0.2.53", .notImp),
            (DNSMessage(header: Header(id: 1, opcode: .notify), questions: [Question(name: Build.zone, type: .a)]).encode(),
             "192.0.2.53", .formErr),
            (DNSMessage(header: Header(id: 1, opcode: .notify)).encode(), "192.0.2.53", .formErr),
        ])
    func refused(bytes: [UInt8], source: String, rcode: ResponseCode) throws {
        let recorder = Recorder()
        let outcome = Self.responder(recorder: recorder).respond(to: bytes, from: try #require(IPAddress(source)))
        let reply = try DNSMessage.decode(try #require(outcome.reply))
        #expect(reply.rcode == rcode)
        #expect(reply.header.isResponse)
        #expect(!reply.header.authoritative)
        #expect(outcome.notified == nil)
        #expect(recorder.count == 0)
    }

    @Test("An IPv4-mapped source address matches its IPv4 primary")
    func mappedSource() throws {
        let outcome = Self.responder().respond(to: Self.notify(), from: try #require(IPAddress("::ffff:192.0.2.53")))
        #expect(outcome.notified != nil)
    }

    @Test("A signed NOTIFY verifies and the reply is signed with the request MAC")
    func signed() throws {
        let signed = TSIGSigner(key: Build.key).sign(Self.notify(), time: Self.now())
        let outcome = Self.responder(key: Build.key).respond(to: signed.message, from: Self.primary)
        let raw = try #require(outcome.reply)
        #expect(outcome.notified != nil)
        var v = TSIGVerifier(key: Build.key, requestMAC: signed.mac, now: Self.now)
        try v.verify(try SignedMessage.split(raw), received: raw)
    }

    @Test("TSIG failures are answered NOTAUTH with the TSIG error and never reported", arguments: [
        ("unsigned", ResponseCode.refused, TSIGErrorCode?.none),
        ("wrong secret", .notAuth, .badSig),
        ("other key", .notAuth, .badKey),
        ("late", .notAuth, .badTime),
    ])
    func tsigFailures(kind: String, rcode: ResponseCode, tsigError: TSIGErrorCode?) throws {
        let request: [UInt8]
        switch kind {
        case "unsigned": request = Self.notify()
        case "wrong secret": request = TSIGSigner(key: Build.wrongKey).sign(Self.notify(), time: Self.now()).message
        case "other key":
            let k = try TSIGKey(name: Build.name("other.key."), algorithm: .hmacSHA256, secret: Build.key.secret)
            request = TSIGSigner(key: k).sign(Self.notify(), time: Self.now()).message
        default: request = TSIGSigner(key: Build.key).sign(Self.notify(), time: Self.now() - 1000).message
        }
        let recorder = Recorder()
        let outcome = Self.responder(key: Build.key, recorder: recorder).respond(to: request, from: Self.primary)
        let raw = try #require(outcome.reply)
        let split = try SignedMessage.split(raw)
        let reply = try DNSMessage.decode(split.stripped)
        #expect(reply.rcode == rcode)
        #expect(split.tsig?.error == tsigError)
        #expect(outcome.notified == nil)
        #expect(recorder.count == 0)
    }

    @Test("A signed NOTIFY for a zone without a key is answered BADKEY")
    func signedWithoutKey() throws {
        let request = TSIGSigner(key: Build.key).sign(Self.notify(), time: Self.now()).message
        let outcome = Self.responder().respond(to: request, from: Self.primary)
        let split = try SignedMessage.split(try #require(outcome.reply))
        #expect(split.tsig?.error == .badKey)
        #expect(outcome.notified == nil)
    }

    @Test("Short packets and responses are dropped; garbage gets FORMERR; nothing traps")
    func hostileBytes() throws {
        let r = Self.responder()
        #expect(r.respond(to: [1, 2, 3], from: Self.primary).reply == nil)
        var response = Self.notify()
        response[2] |= 0x80
        #expect(r.respond(to: response, from: Self.primary).reply == nil)
        let garbage: [UInt8] = [0, 1, 0x20, 0, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 1, 2, 3]
        let reply = try DNSMessage.decode(try #require(r.respond(to: garbage, from: Self.primary).reply))
        #expect(reply.rcode == .formErr)
        // Deterministic mutations of a valid signed NOTIFY: any outcome but a crash or a false accept.
        let signed = TSIGSigner(key: Build.key).sign(Self.notify(), time: Self.now()).message
        let keyed = Self.responder(key: Build.key)
        var generator = SplitMix64(seed: 42)
        var accepted = 0
        for _ in 0..<3000 {
            var bytes = signed
            for _ in 0..<Int(generator.next() % 4 + 1) {
                bytes[Int(generator.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: generator.next())
            }
            if generator.next() % 5 == 0 { bytes = Array(bytes.prefix(Int(generator.next() % UInt64(bytes.count)))) }
            if keyed.respond(to: bytes, from: Self.primary).notified != nil { accepted += 1 }
        }
        // Only mutations of the ID or of unauthenticated-but-ignored bytes may still verify; the MAC makes
        // every other change fail, so nearly nothing is accepted.
        #expect(accepted < 150)
    }
}
