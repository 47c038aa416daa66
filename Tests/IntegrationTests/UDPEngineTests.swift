import DNSWire
import Foundation
import Testing
import TestSupport

/// The two UDP engines of a plain DNS listener (`udpEngine`): `direct` (a thread per socket with recvmmsg/sendmmsg,
/// the default) and `nio` (SwiftNIO datagram channels). They must be interchangeable to a client: the same answers,
/// the same refusals, the same silence; and the direct engine's own edges (oversized datagrams, several sockets, IPv6,
/// the async path, shutdown) must hold.
@Suite("UDP engines", .tags(.integration), .enabled(if: Requirements.nsdAndDig, Requirements.nsdAndDigMessage))
struct UDPEngineTests {
    /// What a client can tell apart in a reply: everything but the ID and the TTLs (which count down).
    static func shape(_ bytes: [UInt8]?) -> String {
        guard let bytes else { return "no reply" }
        guard let m = try? DNSMessage.decode(bytes) else { return "undecodable: \(bytes.prefix(16))" }
        func records(_ rrs: [ResourceRecord]) -> [String] {
            rrs.map { "\($0.name) \($0.rdata.type) \($0.rdata.presentation)" }.sorted()
        }
        let h = m.header
        let ede = m.extendedError.map { "\($0.code.rawValue) \($0.text)" } ?? "-"
        return "\(m.rcode) qr=\(h.isResponse) aa=\(h.authoritative) tc=\(h.truncated) rd=\(h.recursionDesired) "
            + "ra=\(h.recursionAvailable) q=\(m.questions.map { "\($0)" }) an=\(records(m.answers)) "
            + "ns=\(records(m.authorities)) ede=\(ede) edns=\(m.edns.map { "\($0.udpPayloadSize)" } ?? "-")"
    }

    /// The datagrams of the comparison, each with its name, in the order sent (a name is asked twice: a miss, then a
    /// cache hit).
    static func corpus() throws -> [(String, [UInt8])] {
        let header: (UInt16) -> [UInt8] = { id in [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0] }
        return [
            ("www A (miss)", try TestMessages.query("www.example.org.", .a, id: 1).encode()),
            ("www A (hit)", try TestMessages.query("WWW.Example.ORG.", .a, id: 2).encode()),
            ("www AAAA", try TestMessages.query("www.example.org.", .aaaa, id: 3).encode()),
            ("mail MX", try TestMessages.query("mail.example.org.", .mx, id: 4).encode()),
            ("alias CNAME chase", try TestMessages.query("alias.example.org.", .a, id: 5).encode()),
            ("NXDOMAIN", try TestMessages.query("nosuch.example.org.", .a, id: 6).encode()),
            ("big TXT, EDNS 1232: TC", try TestMessages.query("big.example.org.", .txt, id: 7).encode()),
            ("big TXT, no EDNS: TC", try TestMessages.query("big.example.org.", .txt, id: 8, edns: nil).encode()),
            ("blocked by the RPZ", try TestMessages.query("bad.example.org.", .a, id: 9).encode()),
            ("blocked wildcard (hit)", try TestMessages.query("x.wild.example.org.", .a, id: 10).encode()),
            ("header only: FORMERR", header(11)),
            ("QR=1: silence", [0, 12, 0x81, 0x80, 0, 0, 0, 0, 0, 0, 0, 0]),
            ("eleven bytes: silence", Array(header(13).prefix(11))),
        ]
    }

    static let rpz = ["bad.example.org CNAME .", "*.wild.example.org CNAME ."]

    @Test("the direct and the NIO engine give every datagram of a corpus the same reply (or the same silence)")
    func enginesAgree() async throws {
        try await withDaemons { r in
            let nsd = r.keep(try await NSDServer.start(zones: [exampleZone()]))
            let rpz = try r.directory(prefix: "palisade-engines").write("threats.rpz", rpzZone(Self.rpz))
            var shapes: [String: [String]] = [:]
            for engine in ["direct", "nio"] {
                let palisade = r.keep(try await PalisadeProcess.start(arguments: ["--rpz", rpz, "--udp-engine", engine],
                    upstreams: ["127.0.0.1:\(nsd.port)"]))
                #expect(palisade.log.contains("\(engine) engine"), "the listener says which engine it runs: \(palisade.log)")
                for (label, bytes) in try Self.corpus() {
                    let silent = label.hasSuffix("silence")
                    let reply = try await DNSTestClient.udpExchange(bytes, port: palisade.dnsPort,
                        timeout: .milliseconds(silent ? 300 : 5000))
                    shapes[label, default: []].append(Self.shape(reply))
                }
                #expect(palisade.isRunning, "palisade (\(engine)) is no longer running:\n\(palisade.log)")
            }
            for (label, _) in try Self.corpus() {
                let s = shapes[label] ?? []
                #expect(s.count == 2 && s[0] == s[1], "\(label): direct \(s.first ?? "?") / nio \(s.last ?? "?")")
            }
            // The comparison means something only if the corpus got the answers it was built for.
            #expect(shapes["www A (hit)"]?.first?.contains("192.0.2.1") == true, "\(shapes["www A (hit)"] ?? [])")
            #expect(shapes["big TXT, no EDNS: TC"]?.first?.contains("tc=true") == true)
            #expect(shapes["blocked by the RPZ"]?.first?.hasPrefix("NXDOMAIN") == true,
                "\(shapes["blocked by the RPZ"] ?? [])")
            #expect(shapes["blocked by the RPZ"]?.first?.contains("ede=15") == true)
            #expect(shapes["header only: FORMERR"]?.first?.hasPrefix("FORMERR") == true)
            #expect(shapes["QR=1: silence"]?.first == "no reply")
        }
    }

    @Test("direct engine: a datagram larger than a receive slot is dropped and counted, and the socket serves on")
    func oversizedDatagram() async throws {
        try await withNSDAndPalisade(arguments: ["--udp-engine", "direct"]) { _, palisade in
            let port = try #require(palisade.httpPort)
            // A readable header (a FORMERR if it were read at all), then 6,000 bytes: more than the 4 KiB slot.
            let big: [UInt8] = [0x77, 0x77, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0] + Array(repeating: 0x41, count: 6000)
            let reply = try await DNSTestClient.udpExchange(big, port: palisade.dnsPort, timeout: .milliseconds(300))
            #expect(reply == nil, "an oversized datagram gets no reply, got \(reply.map { Array($0.prefix(12)) } ?? [])")
            let m = try await DNSTestClient.query("www.example.org", .a, port: palisade.dnsPort)
            #expect(m.answers.first?.rdata.presentation == "192.0.2.1", "\(m)")
            let metrics = try await HTTPTestClient.get("/metrics", port: port).body
            let oversized = metrics.split(separator: "\n")
                .first { $0.hasPrefix("palisade_server_udp_dropped_total{reason=\"oversized\"}") }
                .flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }
            let lines = metrics.split(separator: "\n").filter { $0.contains("udp_dropped") }
            #expect((oversized ?? 0) >= 1, "the drop is counted with its reason: \(lines)")
        }
    }

    @Test("direct engine: three sockets on one port (SO_REUSEPORT) all answer, and SIGTERM under load exits cleanly")
    func severalSocketsAndShutdown() async throws {
        try await withDaemons { r in
            let nsd = r.keep(try await NSDServer.start(zones: [exampleZone()]))
            let palisade = try await PalisadeProcess.start(arguments: ["--threads", "3", "--udp-engine", "direct"],
                upstreams: ["127.0.0.1:\(nsd.port)"])
            defer { Task { await palisade.stop() } }
            #expect(palisade.log.contains("3 udp sockets, direct engine"), "\(palisade.log)")
            // Each query from its own source port: the kernel spreads them over the three sockets by address hash.
            var answered = 0
            for i in 0..<60 {
                let m = try await DNSTestClient.query(i % 2 == 0 ? "www.example.org" : "mail.example.org",
                    i % 2 == 0 ? .a : .mx, port: palisade.dnsPort)
                if m.rcode == .noError, !m.answers.isEmpty { answered += 1 }
            }
            #expect(answered == 60)
            // A stream of queries still arriving while the process shuts down must not hang the socket threads.
            let port = palisade.dnsPort
            let load = Task.detached {
                let packets = (0..<200).map { i in
                    (try? TestMessages.query("www.example.org.", .a, id: UInt16(i)).encode()) ?? []
                }
                for _ in 0..<20 { _ = try? await DNSTestClient.udpBurst(packets, port: port, expected: 200,
                    timeout: .milliseconds(200)) }
            }
            try await Task.sleep(for: .milliseconds(100))
            let clean = await palisade.terminate(grace: .seconds(10))
            load.cancel()
            #expect(clean, "palisade exits on SIGTERM within 10 s with its UDP threads stopped:\n\(palisade.log)")
            #expect(palisade.log.contains("Fatal") == false && palisade.log.contains("Crash") == false, "\(palisade.log)")
        }
    }

    @Test("direct engine: a query that takes the async path (a TCP upstream) is answered through the direct socket")
    func asyncPath() async throws {
        try await withDaemons { r in
            let nsd = r.keep(try await NSDServer.start(zones: [exampleZone()]))
            let palisade = r.keep(try await PalisadeProcess.start(arguments: ["--udp-engine", "direct"],
                upstreams: ["tcp://127.0.0.1:\(nsd.port)"]))
            let m = try await DNSTestClient.query("www.example.org", .a, port: palisade.dnsPort)
            #expect(m.answers.first?.rdata.presentation == "192.0.2.1", "\(m)")
            let again = try await DNSTestClient.query("mail.example.org", .mx, port: palisade.dnsPort)
            #expect(again.rcode == .noError && !again.answers.isEmpty, "\(again)")
        }
    }

    @Test("direct engine: an IPv6 listen address answers over ::1, with the client's address seen as IPv6")
    func ipv6() async throws {
        // The kernel's list of IPv6 addresses: ::1 on lo is "00000000000000000000000000000001 … lo".
        let inet6 = (try? String(contentsOfFile: "/proc/net/if_inet6", encoding: .utf8)) ?? ""
        try #require(inet6.contains("00000000000000000000000000000001"), "this machine's loopback has no ::1")
        try await withDaemons { r in
            let nsd = r.keep(try await NSDServer.start(zones: [exampleZone()]))
            // Aggregation off: the query is written at once instead of when its 10 s group closes.
            let palisade = r.keep(try await PalisadeProcess.start(arguments: ["--udp-engine", "direct"],
                upstreams: ["127.0.0.1:\(nsd.port)"], environment: ["PALISADE_QUERY_LOG__AGGREGATE_WINDOW_MS": "0"],
                listen: ["[::1]:0"]))
            let answer = try await DigClient.dig("www.example.org", port: palisade.dnsPort, host: "::1", source: "::1")
            #expect(answer.status == "NOERROR" && answer.answerSet.contains { $0.contains("192.0.2.1") }, "\(answer)")
            let httpPort = try #require(palisade.httpPort)
            var events = ""
            let logged = await Poll.until(timeout: .seconds(10), every: .milliseconds(50)) {
                events = (try? await HTTPTestClient.get("/api/v1/events?limit=10", port: httpPort).body) ?? ""
                return events.contains("www.example.org")
            }
            #expect(logged && events.contains("\"::1\""), "the query log names the IPv6 client: \(events.prefix(600))")
        }
    }
}
