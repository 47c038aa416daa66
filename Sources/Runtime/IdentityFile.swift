import DNSPipeline
import DNSWire
import Foundation
import Yams

/// A static mapping of addresses and prefixes to workload names and labels (`--identity-file`).
///
/// ```yaml
/// - match: 10.89.7.0/24
///   name: build-farm
///   labels: {team: ci}
/// - match: 192.0.2.10
///   name: billing-api
///   image: registry.example.org/billing:1.4
/// ```
struct IdentityFileEntry: Codable {
    var match: String
    var name: String
    var image: String?
    var labels: [String: String]?
}

enum IdentityFile {
    /// Parses the file into a directory snapshot.
    /// - Throws: ``StartupError`` naming the file, the entry index and the problem.
    static func load(_ path: String) throws -> WorkloadDirectory.Snapshot {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw StartupError(message: "cannot read identity file \(path): \(error.localizedDescription)")
        }
        let entries: [IdentityFileEntry]
        do {
            entries = try YAMLDecoder().decode([IdentityFileEntry].self, from: text)
        } catch let e as DecodingError {
            throw StartupError(message: "identity file \(path): \(ConfigurationLoader.describe(e))")
        } catch {
            throw StartupError(message: "identity file \(path): \(error)")
        }
        var exact: [IPAddress: Workload] = [:]
        var prefixes: [(IPNetwork, Workload)] = []
        for (i, e) in entries.enumerated() {
            let w = Workload(kind: .static, id: e.name, name: e.name, image: e.image, labels: e.labels ?? [:])
            if let ip = IPAddress(e.match) {
                exact[ip.unmapped] = w
            } else if let n = IPNetwork(e.match) {
                prefixes.append((n, w))
            } else {
                throw StartupError(message: "identity file \(path): entry [\(i)].match '\(e.match)' is not an address or prefix")
            }
        }
        return WorkloadDirectory.Snapshot(exact: exact, prefixes: prefixes)
    }
}
