@testable import DNSPolicy
import DNSWire
import Foundation
import Testing
import TestSupport

/// Compiling an RPZ zone while a second thread reads it must give what compiling on one thread gives: the same rules,
/// the same counts, the same bad lines in the same order, and the same refusal in reject mode.
@Suite struct RPZParallelReadingTests {
    /// A seeded zone of about `records` records mixing every kind of entry the compiler handles, including bad ones.
    static func zone(records: Int, seed: UInt64, bad: Bool) -> (text: String, names: [String]) {
        var g = SplitMix64(seed: seed)
        var lines = ["$ORIGIN rpz.test.", "$TTL 300", "@ IN SOA ns.rpz.test. hostmaster.rpz.test. 42 3600 600 86400 60",
            "@ IN NS ns.rpz.test."]
        var names: [String] = []
        let letters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".utf8)
        func label() -> String {
            var bytes: [UInt8] = []
            for _ in 0..<Int(3 + g.next() % 9) { bytes.append(letters[Int(g.next() % UInt64(letters.count))]) }
            return String(decoding: bytes, as: UTF8.self)
        }
        for i in 0..<records {
            let owner = "\(label()).\(label()).example"
            names.append(owner)
            switch g.next() % 40 {
            case 0..<20: lines.append("\(owner) CNAME .")
            case 20..<24: lines.append("*.\(owner) CNAME .")
            case 24: lines.append("\(owner) CNAME *.")
            case 25: lines.append("\(owner) CNAME rpz-passthru.")
            case 26: lines.append("\(owner) 60 IN CNAME rpz-drop.")
            case 27: lines.append("\(owner) CNAME rpz-tcp-only.")
            case 28: lines.append("\(owner) CNAME garden.test.")
            case 29:
                // Local data over several records, one of them written over three lines.
                lines.append("\(owner) A 192.0.2.\(g.next() % 250 + 1)")
                lines.append("\(owner) TXT ( \"blocked\"\n  \"by policy\"\n )")
            case 30: lines.append("\(owner).rpz-nsdname CNAME .")
            case 31: lines.append("32.\(g.next() % 250).2.0.192.rpz-client-ip CNAME rpz-drop.")
            case 32: lines.append("24.0.\(g.next() % 250).51.198.rpz-ip CNAME .")
            case 33:
                // The same trigger twice: a duplicate, or a conflict when the actions differ.
                lines.append("\(owner) CNAME .")
                lines.append(g.next() % 2 == 0 || !bad ? "\(owner) CNAME ." : "\(owner) CNAME rpz-drop.")
            case 34: lines.append("\(owner) RRSIG A 8 3 300 20300101000000 20200101000000 1 rpz.test. AAAA")
            case 35 where bad: lines.append("\(owner) CNAME bad..name.")
            case 36 where bad: lines.append("outside.example. CNAME .")
            case 37 where bad: lines.append("99.1.2.3.4.rpz-ip CNAME .")
            case 38 where bad: lines.append("\(owner) A 300.1.2.3")
            case 39 where bad: lines.append("\(owner) CNAME .\n\(owner) A 192.0.2.1")
            default: lines.append("\(owner).\(i).\(label()) CNAME .")
            }
            if i % 5000 == 2500 { lines.append("$TTL \(60 + i % 100)") }
        }
        return (lines.joined(separator: "\n") + "\n", names)
    }

    /// What a source says about a name, a client and a response address, read through its indexes.
    static func verdicts(_ s: CompiledPolicySource, names: [String]) -> [String] {
        func kind(_ rule: Int) -> String { "\(s.table.rules[rule])" }
        var out: [String] = []
        for n in names {
            for candidate in [n, "x.\(n)"] {
                let m = s.names.match(name(candidate + ".")).map { "\($0.slot) \(kind(s.table.index(of: $0)))" } ?? "-"
                let ns = s.nsdnames.match(name(candidate + ".")).map { "\($0.slot) \(kind(s.table.index(of: $0)))" }
                out.append("\(candidate): \(m) \(ns ?? "-")")
            }
        }
        for i in 0..<256 {
            let client = s.clientIPs.match(.v4(IPv4Address(192, 0, 2, UInt8(i)))).map { kind(Int($0.value)) } ?? "-"
            let response = s.responseIPs.match(.v4(IPv4Address(198, 51, UInt8(i), 7))).map { kind(Int($0.value)) }
            out.append("\(i): \(client) \(response ?? "-")")
        }
        return out
    }

    /// Expects equal verdicts, reporting how many differ and the first (the arrays are too long to print).
    static func expectSame(_ got: [String], _ expected: [String]) {
        #expect(got.count == expected.count)
        let differing = zip(got, expected).filter { $0 != $1 }
        let first = differing.first.map { "\($0)" } ?? ""
        #expect(differing.isEmpty, "\(differing.count) verdicts differ, first: \(first)")
    }

    static func config(_ badLines: PolicySourceConfig.BadLines) -> PolicySourceConfig {
        PolicySourceConfig(name: "feed", kind: .rpz, location: "feed.rpz", badLines: badLines)
    }

    static func outcome(_ f: () throws -> CompiledPolicySource) -> Result<CompiledPolicySource, PolicyLoadError> {
        do {
            return .success(try f())
        } catch let e as PolicyLoadError {
            return .failure(e)
        } catch {
            Issue.record("unexpected error \(error)")
            return .failure(PolicyLoadError(.badLine, source: "?", "\(error)"))
        }
    }

    /// Compiles `text` on one thread, while reading from memory, and while reading from a file.
    static func threeWays(_ text: String, _ badLines: PolicySourceConfig.BadLines) throws
        -> [Result<CompiledPolicySource, PolicyLoadError>]
    {
        let bytes = Array(text.utf8)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("rpz-\(UUID()).rpz").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let c = Self.config(badLines)
        // Small windows, so that many entries are cut at a window's end and read again with the next.
        let parallel = PolicySourceLoader.ParallelReading(from: 0, window: 8 << 10)
        return [
            Self.outcome { try PolicySourceLoader.compile(c, bytes: bytes, fileName: "feed.rpz", parallel: .never) },
            Self.outcome { try PolicySourceLoader.compile(c, bytes: bytes, fileName: "feed.rpz", parallel: parallel) },
            Self.outcome { try PolicySourceLoader.compile(c, path: path, fileName: "feed.rpz", parallel: parallel) },
        ]
    }

    @Test("a zone of 12,000 records with bad lines compiles to the same rules, counts and issues either way",
        arguments: [UInt64(1), 2])
    func sameResult(seed: UInt64) throws {
        // Three batches and about 40 windows.
        let (text, names) = Self.zone(records: 12_000, seed: seed, bad: true)
        #expect(text.utf8.count > 40 * (8 << 10))
        let results = try Self.threeWays(text, .skip)
        let one = try results[0].get()
        #expect(one.stats.badLines > 500, "the zone should have bad lines of every kind")
        #expect(one.stats.duplicates > 0)
        #expect(one.stats.ignored["dnssec", default: 0] > 0)
        let expected = Self.verdicts(one, names: names)
        for result in results.dropFirst() {
            let other = try result.get()
            #expect(other.stats == one.stats)
            #expect(other.serial == 42 && one.serial == 42)
            #expect(other.apex == one.apex)
            #expect(other.table.rules.count == one.table.rules.count)
            Self.expectSame(Self.verdicts(other, names: names), expected)
        }
    }

    @Test("in reject mode each way refuses the source with the same first bad line", arguments: [UInt64(3), 4, 5])
    func sameRefusal(seed: UInt64) throws {
        let (text, _) = Self.zone(records: 12_000, seed: seed, bad: true)
        let results = try Self.threeWays(text, .reject)
        guard case .failure(let first) = results[0] else {
            Issue.record("the zone should be refused")
            return
        }
        #expect(first.issues.count == 1)
        for result in results.dropFirst() {
            guard case .failure(let e) = result else {
                Issue.record("the zone should be refused")
                continue
            }
            #expect(e == first)
        }
    }

    @Test("a refusal found while placing rules (a conflict) stops both ways at that line")
    func conflictRefusal() throws {
        var (text, _) = Self.zone(records: 12_000, seed: 6, bad: false)
        // A conflict past the first batches, and a parse error after it that must not be the one reported.
        text += "late-conflict.example CNAME .\nlate-conflict.example CNAME rpz-drop.\nlate.example A 999.1.1.1\n"
        let conflictLine = text.split(separator: "\n", omittingEmptySubsequences: false).count - 2
        let results = try Self.threeWays(text, .reject)
        for result in results {
            guard case .failure(let e) = result else {
                Issue.record("the zone should be refused")
                continue
            }
            #expect(e.issues.first?.line == conflictLine)
            #expect(e.issues.first?.message.contains("conflicting actions") == true)
        }
    }

    @Test("a zone without bad lines loads the same rules either way, wildcards and local data included")
    func cleanZone() throws {
        let (text, names) = Self.zone(records: 12_000, seed: 7, bad: false)
        let results = try Self.threeWays(text, .reject)
        let one = try results[0].get()
        #expect(one.stats.badLines == 0)
        #expect(one.ruleCount > 11_000)
        let expected = Self.verdicts(one, names: names)
        for result in results.dropFirst() {
            let other = try result.get()
            #expect(other.stats == one.stats)
            Self.expectSame(Self.verdicts(other, names: names), expected)
        }
    }
}
