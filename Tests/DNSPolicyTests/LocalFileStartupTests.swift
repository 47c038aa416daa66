@testable import DNSPolicy
import DNSPipeline
import DNSWire
import Foundation
import Testing

/// A local policy file edited while Palisade was stopped takes effect at the next start (found while
/// building the Unbound differential test: the stored copy used to serve until a refresh that a file
/// without `refreshSeconds` never gets).
@Suite struct LocalFileStartupTests {
    private func decision(_ manager: PolicyManager, _ q: String) -> String {
        manager.engine.current.evaluateQuery(name: name(q), type: .a, client: ordinaryClient)?.action.label ?? "-"
    }

    @Test("a local file edited between two starts is read again at start-up")
    func editedFileIsReread() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanUp() }
        let file = "\(dir.path)/threats.rpz"
        try RPZUpdateTests.zone(["a.example CNAME ."]).write(toFile: file, atomically: true, encoding: .utf8)
        let config = PolicySourceConfig(name: "threats", kind: .rpz, location: file)
        let first = PolicyManager(sources: [config], dataDirectory: "\(dir.path)/data")
        await first.start()
        #expect(self.decision(first, "a.example.") == "nxdomain")

        try RPZUpdateTests.zone(["b.example CNAME ."], serial: 2).write(toFile: file, atomically: true, encoding: .utf8)
        let second = PolicyManager(sources: [config], dataDirectory: "\(dir.path)/data")
        let status = await second.start()
        #expect(status.first?.serial == 2)
        #expect(self.decision(second, "a.example.") == "-")
        #expect(self.decision(second, "b.example.") == "nxdomain")
    }

    @Test("an unreadable local file at start-up leaves the stored copy serving")
    func unreadableFileKeepsStoredCopy() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanUp() }
        let file = "\(dir.path)/threats.rpz"
        try RPZUpdateTests.zone(["a.example CNAME ."]).write(toFile: file, atomically: true, encoding: .utf8)
        let config = PolicySourceConfig(name: "threats", kind: .rpz, location: file)
        await PolicyManager(sources: [config], dataDirectory: "\(dir.path)/data").start()
        try FileManager.default.removeItem(atPath: file)
        let second = PolicyManager(sources: [config], dataDirectory: "\(dir.path)/data")
        let status = await second.start()
        #expect(status.first?.state == .stale)
        #expect(status.first?.lastError?.contains("cannot open") == true)
        #expect(self.decision(second, "a.example.") == "nxdomain")
    }

    @Test("only paths and file URLs count as local files", arguments: [
        ("/etc/palisade/threats.rpz", true), ("file:///srv/rpz.zone", true), ("relative.txt", true),
        ("https://feeds.example/x.txt", false), ("ixfr://192.0.2.53/rpz.example", false), ("bundled:urlhaus", false),
    ])
    func localFiles(location: String, local: Bool) {
        #expect(PolicyManager.isLocalFile(location) == local)
    }
}
