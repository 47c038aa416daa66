import DNSPipeline
import DNSWire
import Synchronization
import TestSupport
import Testing

/// The prefetch hook: a burst's question names reach every stage before any query of the burst is resolved.
@Suite struct PrefetchTests {
    /// Records the names of every batch it is asked to prefetch; never answers.
    final class RecordingStage: Stage {
        let id: StageID = "recording"
        let batches = Mutex<[[String]]>([])

        func resolve(_ query: Query, in context: QueryContext, next: @escaping Next) async throws -> Resolution {
            try await next(query, context)
        }

        func prefetch(_ names: QueryNameBatch) {
            var seen: [String] = []
            names.forEach { wire in
                seen.append((try? DomainName(wire: Array(wire)))?.description ?? "undecodable")
            }
            self.batches.withLock { $0.append(seen) }
        }
    }

    static func query(_ name: String, id: UInt16) throws -> [UInt8] {
        try TestMessages.query(name, id: id).encode()
    }

    @Test("a batch holds each readable question name as received (case kept) and leaves out what has none")
    func batchNames() throws {
        let header = [UInt8](repeating: 0, count: 4) + [0, 1] + [UInt8](repeating: 0, count: 6)
        let packets: [[UInt8]] = [
            try Self.query("WWW.Example.org.", id: 1),
            [1, 2, 3],  // shorter than a header
            header + [64] + [UInt8](repeating: 0x61, count: 64) + [0, 0, 1, 0, 1],  // label longer than 63
            header + [3, 0x61, 0x62],  // name cut off before the root
            header + [0xC0, 0x0C, 0, 1, 0, 1],  // compression pointer where a question name starts
            [0, 1, 0, 0, 0, 2] + [UInt8](repeating: 0, count: 6) + [1, 0x61, 0, 0, 1, 0, 1],  // QDCOUNT 2
            try Self.query("a.b.c.example.", id: 2),
            try Self.query(".", id: 3),
        ]
        let batch = QueryNameBatch(packets)
        var names: [[UInt8]] = []
        batch.forEach { names.append(Array($0)) }
        #expect(batch.count == 3)
        #expect(names.count == 3)
        #expect(names[0] == [3] + Array("WWW".utf8) + [7] + Array("Example".utf8) + [3] + Array("org".utf8) + [0])
        #expect(names[1] == (try DomainName("a.b.c.example.")).wire)
        #expect(names[2] == [0])
    }

    @Test("the processor hands a burst's names to every stage of the chain in force, from two queries on")
    func processorReachesStages() throws {
        let first = RecordingStage()
        let second = RecordingStage()
        let processor = QueryProcessor(chains: ChainReference(Chain(stages: [first, SanitizeStage(), second])))
        processor.prefetch([try Self.query("one.example.", id: 1), [0xFF], try Self.query("Two.Example.", id: 2)])
        #expect(first.batches.withLock { $0 } == [["one.example.", "Two.Example."]])
        #expect(second.batches.withLock { $0 } == [["one.example.", "Two.Example."]])
        // One readable name is nothing to overlap: no call.
        processor.prefetch([try Self.query("alone.example.", id: 3), [1, 2, 3]])
        #expect(first.batches.withLock { $0 }.count == 1)
        // After a reload the new chain's stages are asked, not the old ones.
        let third = RecordingStage()
        processor.chains.swap(Chain(stages: [third]))
        processor.prefetch([try Self.query("a.example.", id: 4), try Self.query("b.example.", id: 5)])
        #expect(third.batches.withLock { $0 } == [["a.example.", "b.example."]])
        #expect(first.batches.withLock { $0 }.count == 1)
    }
}
