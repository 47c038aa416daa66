import DNSPipeline
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import Incidents

@Suite struct JSONEventExporterTests {
    static func temporaryFile() -> String {
        NSTemporaryDirectory() + "/palisade-export-\(UInt64.random(in: 0...UInt64.max)).jsonl"
    }

    static func lines(_ path: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
    }

    @Test("Each event becomes one JSON line that parses and matches it, ids in order")
    func linesMatchEvents() throws {
        let path = Self.temporaryFile()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let exporter = try JSONEventExporter(destination: .file(path))
        var events: [QueryEvent] = []
        for i in 0..<250 {
            let workload: Workload? = i % 3 == 0 ? nil : TestEvents.web
            events.append(TestEvents.event("q\(i).example", workload: workload, blocked: i % 7 == 0,
                at: TestEvents.t0 + Int64(i)))
        }
        for e in events { #expect(exporter.emit(e)) }
        exporter.flush()
        let lines = try Self.lines(path)
        #expect(lines.count == events.count)
        for (line, e) in zip(lines, events) {
            #expect(line["qname"] as? String == e.qname)
            #expect(line["blocked"] as? Bool == e.blocked)
            #expect(line["time"] as? String == EventJSON.time(micros: e.timestampMicros))
            #expect((line["workload"] as? [String: Any])?["name"] as? String == e.workload?.name)
        }
        #expect(lines.compactMap { $0["id"] as? Int } == Array(1...250))
        #expect(exporter.statistics.written == 250)
    }

    @Test("A full queue drops and counts, and the ids show the gap")
    func dropsShowAsGaps() throws {
        let path = Self.temporaryFile()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let exporter = try JSONEventExporter(destination: .file(path), queueCapacity: 10)
        var accepted = 0
        for i in 0..<25 where exporter.emit(TestEvents.event("q\(i).example")) { accepted += 1 }
        #expect(accepted == 10)
        exporter.flush()
        #expect(exporter.emit(TestEvents.event("after.example")))
        exporter.flush()
        let ids = try Self.lines(path).compactMap { $0["id"] as? Int }
        #expect(ids == Array(1...10) + [26])
        #expect(exporter.statistics.dropped == 15)
    }

    @Test("After reopen() the next lines go to a new file at the same path (log rotation)")
    func reopenAfterRotation() throws {
        let path = Self.temporaryFile()
        let rotated = path + ".1"
        defer {
            try? FileManager.default.removeItem(atPath: path)
            try? FileManager.default.removeItem(atPath: rotated)
        }
        let exporter = try JSONEventExporter(destination: .file(path))
        exporter.emit(TestEvents.event("before.example"))
        exporter.flush()
        try FileManager.default.moveItem(atPath: path, toPath: rotated)
        exporter.reopen()
        exporter.emit(TestEvents.event("after.example"))
        exporter.flush()
        #expect(try Self.lines(rotated).compactMap { $0["qname"] as? String } == ["before.example"])
        #expect(try Self.lines(path).compactMap { $0["qname"] as? String } == ["after.example"])
    }

    @Test("A reader that goes away costs dropped, counted lines, not the process (no SIGPIPE)")
    func brokenPipe() throws {
        let path = Self.temporaryFile() + ".fifo"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try #require(mkfifo(path, 0o600) == 0)
        // A reader must exist for the exporter's open(2) of the FIFO to return.
        let reader = open(path, O_RDONLY | O_NONBLOCK)
        try #require(reader >= 0)
        let exporter = try JSONEventExporter(destination: .file(path))
        close(reader)
        exporter.emit(TestEvents.event("a.example"))
        exporter.emit(TestEvents.event("b.example"))
        exporter.flush()
        #expect(exporter.statistics.written == 0)
        #expect(exporter.statistics.dropped == 2)
        #expect(exporter.statistics.writeErrors == 1)
    }

    @Test("A file that cannot be opened fails at startup, naming the file")
    func badPath() {
        #expect {
            _ = try JSONEventExporter(destination: .file("/nonexistent-dir/x/events.jsonl"))
        } throws: { error in
            "\(error)".contains("/nonexistent-dir/x/events.jsonl")
        }
    }

    @Test("Export throughput: 20 000 events written in under 10 s even in a debug build", .tags(.throughput))
    func throughput() throws {
        let path = Self.temporaryFile()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let exporter = try JSONEventExporter(destination: .file(path), queueCapacity: 20_000)
        let e = TestEvents.event("www.example.org")
        for _ in 0..<20_000 { exporter.emit(e) }
        let clock = ContinuousClock()
        let elapsed = clock.measure { exporter.flush() }
        #expect(exporter.statistics.written == 20_000)
        #expect(elapsed < .seconds(10))
        let rate = 20_000 / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        print("export throughput: \(Int(rate)) events/s (\(elapsed) for 20000)")
    }
}

extension Tag {
    /// Measures speed (prints a figure).
    @Tag static var throughput: Self
}
