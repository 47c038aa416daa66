import DNSPolicy
import Foundation

/// The state the API changes at run time, kept in the data directory and shared by every assembly (it
/// survives reloads): the quarantine registry and the operator's allow/deny rules.
final class OperatorState: Sendable {
    let quarantine: QuarantineRegistry
    let rules: OperatorRules

    /// Opens `<dataDir>/quarantine.json` and `<dataDir>/operator-rules.json`.
    /// - Throws: ``StartupError`` naming the file when one exists but cannot be read.
    init(dataDirectory: String) throws {
        do {
            self.quarantine = try QuarantineRegistry(path: dataDirectory + "/quarantine.json")
            self.rules = try OperatorRules(path: dataDirectory + "/operator-rules.json")
        } catch {
            throw StartupError(message: "cannot load the operator state: \(error.message)")
        }
    }
}
