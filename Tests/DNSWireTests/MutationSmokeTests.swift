import DNSWire
import TestSupport
import Testing

/// Deterministic mutation smoke test: every golden packet is flipped, overwritten, grown and cut
/// by a seeded generator. Decoding must never crash; it either throws a ``DecodeError`` or gives a
/// message that re-encodes to an equal one. It is a cheap, always-on cousin of the fuzzer.
@Suite struct MutationSmokeTests {
    static let names = Fixtures.packetNames()
    static let mutationsPerPacket = 80

    enum Outcome { case rejected, accepted }

    static func mutate(_ input: [UInt8], _ g: inout SplitMix64) -> [UInt8] {
        var b = input
        let steps = Int.random(in: 1...4, using: &g)
        for _ in 0..<steps {
            let at = b.isEmpty ? 0 : Int.random(in: 0..<b.count, using: &g)
            switch Int.random(in: 0..<7, using: &g) {
            case 0 where !b.isEmpty: b[at] ^= UInt8(1) << UInt8.random(in: 0...7, using: &g)
            case 1 where !b.isEmpty: b[at] = UInt8.random(in: 0...255, using: &g)
            case 2: b.insert(UInt8.random(in: 0...255, using: &g), at: at)
            case 3 where !b.isEmpty: b.remove(at: at)
            case 4 where !b.isEmpty: b.removeSubrange(at...)
            case 5 where !b.isEmpty:
                // Copy a chunk elsewhere: plausible names, pointers and lengths in odd places.
                let len = Int.random(in: 1...min(16, b.count - at), using: &g)
                let to = Int.random(in: 0...b.count, using: &g)
                b.insert(contentsOf: b[at..<(at + len)], at: to)
            case 6 where !b.isEmpty:
                // A compression pointer to a random earlier offset.
                let target = Int.random(in: 0...max(0, at), using: &g)
                b[at] = 0xC0 | UInt8((target >> 8) & 0x3F)
                if at + 1 < b.count { b[at + 1] = UInt8(target & 0xFF) }
            default: break
            }
        }
        return b
    }

    static func check(_ bytes: [UInt8]) -> Outcome {
        let quick = QuickQuery.parse(bytes)
        do {
            let m = try DNSMessage.decode(bytes)
            let again = try DNSMessage.decode(m.encode())
            #expect(again == m)
            return .accepted
        } catch {
            // Typed throws: `error` is a DecodeError; it must point inside the input.
            #expect(error.offset >= 0 && error.offset <= bytes.count, "\(error)")
            #expect(quick == nil, "QuickQuery accepted what the decoder rejects: \(error)")
            #expect(ResponseLayout.read(bytes) == nil, "ResponseLayout accepted what the decoder rejects: \(error)")
            return .rejected
        }
    }

    @Test("Mutated golden packets never crash the decoder", arguments: Self.names)
    func mutations(name: String) throws {
        let original = try Fixtures.packet(name)
        var seed: UInt64 = 0x5EED
        for b in name.utf8 { seed = seed &* 31 &+ UInt64(b) }
        var g = SplitMix64(seed: seed)
        var accepted = 0
        for _ in 0..<Self.mutationsPerPacket {
            if Self.check(Self.mutate(original, &g)) == .accepted { accepted += 1 }
        }
        // Not every mutation breaks a packet (a flipped TTL bit is fine), and not every one is kept.
        #expect(accepted < Self.mutationsPerPacket)
    }
}
