import Foundation
import Testing

/// Rules of the house (STYLE.md), checked on the source tree like CoreDNS's presubmit tests.
@Suite struct HouseRulesTests {
    static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func swiftFiles(in module: String) throws -> [(path: String, text: String)] {
        let dir = Self.root.appendingPathComponent("Sources/\(module)")
        guard let e = FileManager.default.enumerator(atPath: dir.path) else { return [] }
        var out: [(String, String)] = []
        for case let rel as String in e where rel.hasSuffix(".swift") {
            let p = dir.appendingPathComponent(rel).path
            out.append(("Sources/\(module)/\(rel)", try String(contentsOfFile: p, encoding: .utf8)))
        }
        return out
    }

    static func imports(_ text: String) -> [String] {
        text.split(separator: "\n").compactMap { line in
            let t = line.trimmingCharacters(in: .whitespaces)
            let words = t.split(separator: " ")
            guard let i = words.firstIndex(of: "import"), i <= 2 else { return nil }
            let prefix = words[..<i]
            guard prefix.allSatisfy({ ["public", "package", "internal", "@preconcurrency", "@_exported"].contains($0) })
            else { return nil }
            return i + 1 < words.count ? String(words[i + 1]) : nil
        }
    }

    /// STYLE §2: which module may import what.
    static let forbidden: [String: [String]] = [
        "DNSWire": ["Foundation", "NIOPosix", "Logging", "Metrics", "GRDB", "Hummingbird", "DNSPipeline"],
        "DNSPipeline": ["NIOPosix", "NIOCore", "GRDB", "Hummingbird", "DNSPolicy", "DNSCache", "DNSUpstream"],
        "DNSPolicy": ["NIOPosix", "NIOCore", "GRDB", "Hummingbird", "DNSCache", "DNSUpstream", "DNSServer"],
        "DNSCache": ["NIOPosix", "NIOCore", "GRDB", "Hummingbird", "DNSPolicy", "DNSUpstream", "DNSServer"],
        "DNSUpstream": ["DNSPolicy", "DNSCache", "GRDB", "Hummingbird", "DNSServer"],
        "QueryStore": ["NIOCore", "NIOPosix", "Hummingbird", "DNSServer"],
        "DNSServer": ["DNSPolicy", "DNSCache", "DNSUpstream", "GRDB", "Hummingbird"],
        "DirectIO": ["NIOPosix", "GRDB", "Hummingbird", "DNSPipeline", "DNSPolicy", "DNSCache", "DNSUpstream",
            "DNSServer", "QueryStore", "Logging", "Metrics"],
        "WebConsole": ["DNSServer"],
        "WorkloadIdentity": ["GRDB", "Hummingbird", "DNSPolicy", "DNSCache", "DNSUpstream", "DNSServer", "QueryStore"],
        "Incidents": ["GRDB", "Hummingbird", "DNSPolicy", "DNSCache", "DNSUpstream", "DNSServer", "QueryStore"],
        "Runtime": ["ArgumentParser"],
    ]

    @Test("Each module imports only what STYLE.md allows", arguments: Array(HouseRulesTests.forbidden.keys).sorted())
    func importAllowList(module: String) throws {
        let files = try Self.swiftFiles(in: module)
        #expect(!files.isEmpty, "module \(module) has no sources")
        for f in files {
            for imp in Self.imports(f.text) where Self.forbidden[module, default: []].contains(imp) {
                Issue.record("\(f.path) imports \(imp), which \(module) must not import")
            }
        }
    }

    @Test("Only the CLI prints to stdout")
    func noPrint() throws {
        for module in ["DNSWire", "DNSPipeline", "DNSPolicy", "DNSCache", "DNSUpstream", "QueryStore", "DNSServer",
            "WebConsole", "WorkloadIdentity", "Incidents", "Runtime"]
        {
            for f in try Self.swiftFiles(in: module) {
                for (n, line) in f.text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                    let code = line.split(separator: "//", maxSplits: 1).first ?? ""
                    if code.contains("print(") && !code.contains("\"print(") {
                        Issue.record("\(f.path):\(n + 1) calls print; log instead")
                    }
                }
            }
        }
    }

    @Test("Metric names follow palisade_<subsystem>_<name>_<unit>; counters end in _total")
    func metricNames() throws {
        let pattern = try Regex(#"(Counter|Gauge|Timer|Recorder|FloatingPointCounter)\(\s*label:\s*"([^"]+)""#)
        var seen = 0
        for module in ["DNSPipeline", "DNSPolicy", "DNSCache", "DNSUpstream", "QueryStore", "DNSServer", "WebConsole",
            "WorkloadIdentity", "Incidents", "Runtime"]
        {
            for f in try Self.swiftFiles(in: module) {
                for m in f.text.matches(of: pattern) {
                    seen += 1
                    let kind = String(m.output[1].substring ?? "")
                    let name = String(m.output[2].substring ?? "")
                    #expect(name.hasPrefix("palisade_"), "\(f.path): metric \(name) lacks the palisade_ prefix")
                    #expect(name.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "_" }, "\(f.path): \(name) is not snake_case")
                    if kind == "Counter" {
                        #expect(name.hasSuffix("_total"), "\(f.path): counter \(name) must end in _total")
                    }
                    if kind == "Timer" {
                        #expect(name.hasSuffix("_seconds"), "\(f.path): timer \(name) must end in _seconds")
                    }
                }
            }
        }
        #expect(seen > 10, "the metric scan found almost nothing; the pattern is probably wrong")
    }

    @Test("Every configuration key is documented in docs/config.md")
    func configDocumented() throws {
        let doc = try String(contentsOfFile: Self.root.appendingPathComponent("docs/config.md").path, encoding: .utf8)
        let files = try Self.swiftFiles(in: "Runtime").filter { $0.path.hasSuffix("Configuration.swift") }
        let pattern = try Regex(#"public var (\w+):"#)
        for f in files {
            for m in f.text.matches(of: pattern) {
                let key = String(m.output[1].substring ?? "")
                #expect(doc.contains("`\(key)`"), "docs/config.md does not mention `\(key)` (run scripts/gen-config-doc.py)")
            }
        }
    }
}
