import Foundation

/// Test fixtures shipped as resources of this target (`Sources/TestSupport/Fixtures`).
public enum Fixtures {
    /// A fixture that is not in the bundle.
    public struct MissingFixture: Error, CustomStringConvertible {
        /// The fixture's path below `Fixtures/`.
        public var path: String
        public var description: String { "fixture Fixtures/\(self.path) is missing" }
    }

    /// The raw bytes of the golden packet `NAME.bin` in `Fixtures/<subdirectory>` (`packets` by
    /// default; fuzz crashers live in `packets/crashers`).
    /// - Throws: ``MissingFixture`` when there is no such file.
    public static func packet(_ name: String, in subdirectory: String = "packets") throws -> [UInt8] {
        guard let url = Bundle.module.url(forResource: name, withExtension: "bin", subdirectory: "Fixtures/\(subdirectory)")
        else { throw MissingFixture(path: "\(subdirectory)/\(name).bin") }
        return [UInt8](try Data(contentsOf: url))
    }

    /// The presentation form `packets/NAME.txt` recorded next to a golden packet.
    /// - Throws: ``MissingFixture`` when there is no such file.
    public static func packetText(_ name: String) throws -> String {
        guard let url = Bundle.module.url(forResource: name, withExtension: "txt", subdirectory: "Fixtures/packets") else {
            throw MissingFixture(path: "packets/\(name).txt")
        }
        return try String(contentsOf: url, encoding: .utf8)
    }

    /// Names of every golden packet (`packets/*.bin` without the extension), sorted.
    public static func packetNames() -> [String] {
        guard let dir = Bundle.module.resourceURL?.appendingPathComponent("Fixtures/packets"),
            let files = try? FileManager.default.contentsOfDirectory(atPath: dir.path)
        else { return [] }
        return files.filter { $0.hasSuffix(".bin") }.map { String($0.dropLast(4)) }.sorted()
    }

    /// The source directory of the packet fixtures, for re-recording golden files
    /// (`RECORD_GOLDEN=1`); derived from this file's location at build time.
    public static let packetSourceDirectory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().appendingPathComponent("Fixtures/packets")
}
