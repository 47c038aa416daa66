import DNSPipeline
import DNSUpstream
import DNSWire
import NIOCore
import Testing

@Suite struct ReplyMatcherTests {
    let server = try! SocketAddress(ipAddress: "127.0.0.1", port: 5353)  // Invariant: a valid literal.
    let name = try! DomainName("www.example.org.")  // Invariant: a valid literal.

    func matcher() -> ReplyMatcher {
        ReplyMatcher(server: self.server, id: 0x1234, question: Question(name: self.name, type: .a))
    }

    func reply(id: UInt16 = 0x1234, name: String = "www.example.org.", type: RecordType = .a,
        dnsClass: DNSClass = .in) throws -> ByteBuffer
    {
        var q = DNSMessage.query(id: id, name: try DomainName(name), type: type)
        q.questions[0].dnsClass = dnsClass
        return ByteBuffer(bytes: q.makeResponse().encode())
    }

    @Test("A reply with our ID and question from the server is accepted")
    func acceptsMatchingReply() throws {
        guard case .accept(let m) = self.matcher().match(try self.reply(), from: self.server) else {
            Issue.record("rejected")
            return
        }
        #expect(m.header.id == 0x1234)
    }

    @Test("The question name is compared without case")
    func nameCaseInsensitive() throws {
        guard case .accept = self.matcher().match(try self.reply(name: "WwW.ExAmPlE.oRg."), from: self.server) else {
            Issue.record("rejected")
            return
        }
    }

    @Test("Replies that differ in one respect are rejected with that reason", arguments: [
        ("id", MismatchReason.id),
        ("name", .question),
        ("type", .question),
        ("class", .question),
        ("source address", .source),
        ("source port", .source),
        ("garbage", .malformed),
        ("short", .malformed),
        ("query", .notResponse),
    ])
    func rejects(what: String, reason: MismatchReason) throws {
        var bytes = try self.reply()
        var from: SocketAddress? = self.server
        switch what {
        case "id": bytes = try self.reply(id: 0x4321)
        case "name": bytes = try self.reply(name: "mail.example.org.")
        case "type": bytes = try self.reply(type: .aaaa)
        case "class": bytes = try self.reply(dnsClass: .chaos)
        case "source address": from = try SocketAddress(ipAddress: "127.0.0.2", port: 5353)
        case "source port": from = try SocketAddress(ipAddress: "127.0.0.1", port: 5354)
        case "garbage": bytes = ByteBuffer(bytes: [0x12, 0x34, 0xFF, 0xFF, 0, 9])
        case "short": bytes = ByteBuffer(bytes: [0x12])
        case "query": bytes = ByteBuffer(bytes: DNSMessage.query(id: 0x1234, name: self.name, type: .a).encode())
        default: Issue.record("unknown case")
        }
        guard case .reject(let got) = self.matcher().match(bytes, from: from) else {
            Issue.record("\(what): accepted")
            return
        }
        #expect(got == reason)
        // The event-loop path's matcher, which takes most replies without decoding them, rejects for the same reason.
        guard case .reject(let again) = self.matcher().matchReply(bytes, from: from) else {
            Issue.record("\(what): accepted by matchReply")
            return
        }
        #expect(again == reason)
    }

    @Test("The event-loop matcher takes a plain reply as a packet: ID 0, no OPT, the question as the server wrote it")
    func packetPath() throws {
        var q = DNSMessage.query(id: 0x1234, name: try DomainName("WwW.ExAmPlE.oRg."), type: .a)
        q.edns = EDNS(udpPayloadSize: 1232)
        var r = q.makeResponse()
        let address = IPv4Address(192, 0, 2, 1)
        r.answers = [ResourceRecord(name: r.questions[0].name, ttl: 60, rdata: .a(.init(address: address)))]
        let bytes = ByteBuffer(bytes: r.encode())
        guard case .accept(.packet(let p)) = self.matcher().matchReply(bytes, from: self.server) else {
            Issue.record("not taken as a packet")
            return
        }
        #expect(p.bytes[0] == 0 && p.bytes[1] == 0)
        #expect(p.message.edns == nil)
        #expect(p.message.questions.first?.name.description == "WwW.ExAmPlE.oRg.")
        #expect(p.message.answers == r.answers)
        #expect(p.ttlOffsets.count == 1)
    }

    @Test("A reply outside the packet subset is decoded and matched as before", arguments: ["RRSIG", "EDNS option"])
    func messagePath(what: String) throws {
        var q = DNSMessage.query(id: 0x1234, name: self.name, type: .a)
        q.edns = EDNS(udpPayloadSize: 1232)
        var r = q.makeResponse()
        switch what {
        case "RRSIG":
            r.answers = [ResourceRecord(name: self.name, ttl: 60, rdata: .rrsig(.init(typeCovered: .a, algorithm: 13,
                labels: 3, originalTTL: 60, signatureExpiration: 2, signatureInception: 1, keyTag: 7,
                signerName: self.name, signature: [1, 2, 3])))]
        default:
            r.edns?.options = [EDNSOption(code: .nsid, data: [0x61])]
        }
        let bytes = ByteBuffer(bytes: r.encode())
        guard case .accept(.message(let m)) = self.matcher().matchReply(bytes, from: self.server) else {
            Issue.record("\(what): not decoded")
            return
        }
        #expect(m == (try DNSMessage.decode(r.encode())))
    }

    @Test("A reply without a question section is not ours")
    func noQuestion() throws {
        var m = DNSMessage.query(id: 0x1234, name: self.name, type: .a).makeResponse(rcode: .formErr)
        m.questions = []
        guard case .reject(.question) = self.matcher().match(ByteBuffer(bytes: m.encode()), from: self.server) else {
            Issue.record("accepted")
            return
        }
    }

    @Test("An IPv4-mapped source counts as the same server")
    func mappedSource() throws {
        let mapped = try SocketAddress(ipAddress: "::ffff:127.0.0.1", port: 5353)
        guard case .accept = self.matcher().match(try self.reply(), from: mapped) else {
            Issue.record("rejected")
            return
        }
    }

    @Test("An IPv6 server's reply is accepted only from its own address and port", arguments: [
        ("::1", 5353, true), ("::1", 5354, false), ("::2", 5353, false), ("2001:db8::1", 5353, false),
    ])
    func ipv6Source(address: String, port: Int, accepted: Bool) throws {
        let server = try SocketAddress(ipAddress: "::1", port: 5353)
        let matcher = ReplyMatcher(server: server, id: 0x1234, question: Question(name: self.name, type: .a))
        let result = matcher.match(try self.reply(), from: try SocketAddress(ipAddress: address, port: port))
        switch result {
        case .accept: #expect(accepted)
        case .reject(let reason):
            #expect(!accepted)
            #expect(reason == .source)
        }
    }
}
