import DNSWire
import Foundation
import Testing
import TestSupport

/// The UDP listener answers a burst of datagrams in groups, after the chain's stages prefetched for each group (with a
/// policy index large enough that the policy stage does). Every datagram of the burst must still get what it would get
/// alone: an answer, a block, a FORMERR, or nothing.
@Suite("UDP bursts", .tags(.integration), .enabled(if: TestBinaries.has("nsd"), "needs nsd (Debian: nsd)"))
struct BurstTests {
    @Test("a burst of good, blocked and hostile datagrams, against a 140,000-rule RPZ: each gets its own reply")
    func mixedBurst() async throws {
        try await withDaemons { r in
            let nsd = r.keep(try await NSDServer.start(zones: [exampleZone()]))
            let rules = (0..<140_000).map { "b\($0).blocked.test CNAME ." }
            let rpz = try r.directory(prefix: "palisade-burst").write("threats.rpz", rpzZone(rules))
            let palisade = r.keep(try await PalisadeProcess.start(arguments: ["--rpz", rpz],
                upstreams: ["127.0.0.1:\(nsd.port)"]))
            var packets: [[UInt8]] = []
            var good: Set<UInt16> = []
            var blocked: Set<UInt16> = []
            var formErr: Set<UInt16> = []
            for i in 0..<90 {
                let id = UInt16(0x4000 + i)
                switch i % 3 {
                case 0:
                    packets.append(try TestMessages.query("www.example.org.", id: id).encode())
                    good.insert(id)
                case 1:
                    packets.append(try TestMessages.query("B\(i * 1013).Blocked.Test.", id: id).encode())
                    blocked.insert(id)
                default:
                    if i % 2 == 0 {
                        // A readable header and no question: FORMERR.
                        packets.append([UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0])
                        formErr.insert(id)
                    } else {
                        packets.append([0x12, 0x34, 0x01])  // no header at all: nothing
                    }
                }
            }
            let expected = good.count + blocked.count + formErr.count
            let replies = try await DNSTestClient.udpBurst(packets, port: palisade.dnsPort, expected: expected)
            var failures: [String] = []
            var seen: Set<UInt16> = []
            for bytes in replies {
                guard let m = try? DNSMessage.decode(bytes) else {
                    failures.append("undecodable reply \(bytes.prefix(32))")
                    continue
                }
                let id = m.header.id
                if !seen.insert(id).inserted { failures.append("two replies to ID \(id)") }
                if good.contains(id), m.answers.first?.rdata.presentation != "192.0.2.1" {
                    failures.append("good query \(id): \(m)")
                } else if blocked.contains(id), m.rcode != .nxDomain || m.extendedError?.code != .blocked {
                    failures.append("blocked query \(id): \(m)")
                } else if formErr.contains(id), m.rcode != .formErr {
                    failures.append("headless query \(id): \(m)")
                } else if !good.contains(id), !blocked.contains(id), !formErr.contains(id) {
                    failures.append("a reply to no query sent: \(m)")
                }
            }
            let missing = good.union(blocked).union(formErr).subtracting(seen)
            #expect(missing.isEmpty, "no reply to IDs \(missing.sorted())")
            #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
            #expect(palisade.isRunning, "palisade died:\n\(palisade.log)")
        }
    }
}
