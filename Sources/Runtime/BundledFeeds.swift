import DNSPolicy
import Foundation

/// Threat-feed snapshots compiled into the binary, so a fresh install blocks before it has network.
public enum BundledFeeds {
    /// Name of the bundled URLhaus source.
    public static let urlhausName = "urlhaus"
    /// Date the snapshot's list says it was updated (its `! Updated:` header), seconds since 1970.
    static let urlhausUpdated: Double = 1_761_351_018  // 2025-10-25T00:10:18Z

    /// The pseudo-location of a bundled feed (used when no refresh URL is configured).
    static func location(_ name: String) -> String { "bundled:\(name)" }

    /// The bundled body for `name`, if there is one.
    public static func body(_ name: String) -> [UInt8]? {
        name == Self.urlhausName ? Array(Self.urlhausSnapshot.utf8) : nil
    }

    /// Makes the snapshot the first last-good copy of the `urlhaus` source, unless the data directory
    /// already holds a copy for this location (a newer fetch must never be replaced by the snapshot).
    static func seed(_ config: PolicySourceConfig, store: FeedStore) throws {
        guard let body = self.body(config.name) else { return }
        if let meta = store.metadata(for: config.name), meta.location == config.location { return }
        try store.save(body, metadata: .init(name: config.name, location: config.location, format: "adblock",
            contentHash: FeedStore.contentHash(body), serial: nil, ruleCount: 0, loadedAt: Self.urlhausUpdated,
            fetchedAt: Self.urlhausUpdated))
    }
}
