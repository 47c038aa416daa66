import DNSPipeline
import Logging
import ServiceLifecycle

/// The policy engine's parts as the runtime sees them (filled in when DNSPolicy lands).
final class PolicyComponents: Sendable {
    let queryStage: (any Stage)?
    let responseStage: (any Stage)?
    let services: [any Service]

    init(configuration: PalisadeConfiguration, logger: Logger) async throws {
        self.queryStage = nil
        self.responseStage = nil
        self.services = []
    }

    func readiness() -> (Bool, [String]) { (true, []) }
    func shutdown() async {}
}

extension PalisadeConfiguration {
    /// Adds `--rpz`, `--blocklist`, `--allowlist` sources in command-line order.
    public mutating func applyPolicyFlags(rpz: [String], blocklists: [String], allowlists: [String], noDefaultFeeds: Bool) {}
}

/// `palisade lists status|update`.
public enum PolicyCommands {
    /// Status table of every source.
    public static func status(configuration: PalisadeConfiguration) async throws -> String { "no policy sources\n" }
    /// Refreshes every source; returns the report and whether all succeeded.
    public static func update(configuration: PalisadeConfiguration) async throws -> (String, Bool) { ("no policy sources\n", true) }
}
