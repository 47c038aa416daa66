import DNSWire
import Foundation
import Testing
import TestSupport

/// RFC 7766 behaviour of the plain TCP listener: pipelined queries on one connection, the idle timeout,
/// and garbage on one connection not hurting anyone else.
@Suite("TCP listener", .tags(.integration), .enabled(if: TestBinaries.has("nsd"), "needs nsd (Debian: nsd)"))
struct TCPListenerTests {
    /// A short idle timeout for the test that waits for it. The other tests keep the default (10 s): on a
    /// loaded machine the gap between connecting and writing can exceed half a second, and the server is
    /// right to close a connection that stays silent that long.
    static let shortIdle = """
        tcp:
          idleTimeoutMs: 500
        """

    @Test("queries sent back to back on one connection are all answered, matched by ID")
    func pipelinedQueries() async throws {
        try await withNSDAndPalisade { _, palisade in
            let questions: [(String, RecordType, String)] = [
                ("www.example.org", .a, "192.0.2.1"), ("www.example.org", .aaaa, "2001:db8::1"),
                ("mail.example.org", .mx, "10 www.example.org."), ("alias.example.org", .cname, "www.example.org."),
                ("nope.example.org", .a, ""), ("example.org", .ns, "ns.example.org."),
            ]
            var queries: [UInt16: (String, RecordType, String)] = [:]
            var wire: [UInt8] = []
            for (i, q) in questions.enumerated() {
                let id = UInt16(0x1000 + i)
                var m = try DNSTestClient.makeQuery(q.0, q.1)
                m.header.id = id
                queries[id] = q
                let bytes = m.encode()
                wire += [UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes
            }
            let connection = try await TCPTestConnection.connect(port: palisade.dnsPort)
            defer { connection.close() }
            // One write: every query is in flight before the first answer is read.
            try await connection.sendRaw(wire)
            var seen: Set<UInt16> = []
            for _ in questions {
                let reply = try await connection.receive(timeout: .seconds(10))
                let q = try #require(queries[reply.header.id], "reply with an ID nobody asked for: \(reply)")
                #expect(seen.insert(reply.header.id).inserted, "two replies for ID \(reply.header.id)")
                #expect(reply.questions.first?.name == (try DomainName(q.0)))
                #expect(reply.questions.first?.type == q.1)
                if q.2.isEmpty {
                    #expect(reply.rcode == .nxDomain, "\(reply)")
                } else {
                    #expect(reply.answers.contains { $0.type == q.1 && $0.rdata.presentation == q.2 }, "\(reply)")
                }
            }
            #expect(seen.count == questions.count)
        }
    }

    @Test("an idle connection is closed by the server after tcp.idleTimeoutMs, never before")
    func idleConnectionIsClosed() async throws {
        try await withNSDAndPalisade(config: Self.shortIdle) { _, palisade in
            // Measured from before the connect: the server's timer starts at accept, later, so the time seen
            // here can only be longer than the timeout, however loaded the machine is.
            let clock = ContinuousClock()
            let start = clock.now
            let connection = try await TCPTestConnection.connect(port: palisade.dnsPort)
            defer { connection.close() }
            let next = await connection.receiveFrame(timeout: .seconds(15))
            let elapsed = start.duration(to: clock.now)
            #expect(next == .closed, "the idle connection was not closed")
            #expect(elapsed >= .milliseconds(500), "closed after only \(elapsed)")

            // The listener still accepts and answers after closing idle connections.
            let fresh = try await TCPTestConnection.connect(port: palisade.dnsPort)
            defer { fresh.close() }
            try await fresh.send(try DNSTestClient.makeQuery("www.example.org", .a))
            switch await fresh.receiveFrame(timeout: .seconds(10)) {
            case .message(let bytes):
                #expect(try DNSTestClient.decode(bytes).answers.first?.rdata.presentation == "192.0.2.1")
            case .closed:
                // Only possible when this machine stalled for longer than the idle timeout before the write.
                break
            case .timeout:
                Issue.record("no answer on a fresh connection")
            }
        }
    }

    @Test("garbage on one connection gets FORMERR or a close, and the listener keeps serving")
    func garbageFrames() async throws {
        try await withNSDAndPalisade { _, palisade in
            // A frame whose 12-byte header is readable but whose question is junk: FORMERR (STYLE §7).
            let readable = try await TCPTestConnection.connect(port: palisade.dnsPort)
            defer { readable.close() }
            let header: [UInt8] = [0xAB, 0xCD, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]
            try await readable.sendFramed(header + [0xFF, 0xFE, 0xFD, 0x00, 0x01])
            switch await readable.receiveFrame(timeout: .seconds(10)) {
            case .message(let bytes):
                let reply = try DNSTestClient.decode(bytes)
                #expect(reply.header.id == 0xABCD)
                #expect(reply.rcode == .formErr, "\(reply)")
            case .closed:
                break
            case .timeout:
                Issue.record("no FORMERR and no close for a frame with a readable header")
            }

            // Pure garbage: a length prefix followed by fewer bytes than a header, then text.
            let garbage = try await TCPTestConnection.connect(port: palisade.dnsPort)
            defer { garbage.close() }
            try await garbage.sendRaw([0x00, 0x05] + Array("garbage that is not DNS at all".utf8))
            let answer = await garbage.receiveFrame(timeout: .seconds(10))
            if case .message(let bytes) = answer {
                #expect((try? DNSMessage.decode(bytes))?.rcode == .formErr, "\(bytes)")
            } else {
                #expect(answer == .closed, "garbage neither answered nor closed")
            }

            // Other clients are served afterwards, over TCP and UDP.
            let fresh = try await TCPTestConnection.connect(port: palisade.dnsPort)
            defer { fresh.close() }
            try await fresh.send(try DNSTestClient.makeQuery("www.example.org", .a))
            let reply = try await fresh.receive(timeout: .seconds(10))
            #expect(reply.answers.first?.rdata.presentation == "192.0.2.1", "\(reply)")
            let udp = try await DNSTestClient.query("www.example.org", .aaaa, port: palisade.dnsPort)
            #expect(udp.answers.first?.rdata.presentation == "2001:db8::1", "\(udp)")
            #expect(palisade.isRunning)
        }
    }
}
