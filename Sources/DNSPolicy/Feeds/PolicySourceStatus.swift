#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// The health of one policy source, for the console, metrics and `palisade lists status`.
public struct PolicySourceStatus: Sendable, Hashable {
    /// Overall state.
    public enum State: String, Sendable, Hashable, CaseIterable {
        /// Loaded, and the last refresh (if any) succeeded and is recent.
        case ok
        /// Serving a last good copy, but the last refresh failed or the copy is older than twice the refresh
        /// interval.
        case stale
        /// Never loaded, and the last attempt failed.
        case failed
        /// Never loaded and not tried yet.
        case neverLoaded = "never-loaded"
        /// Disabled in the configuration.
        case disabled
    }

    /// The source's name.
    public var name: String
    /// Where it is fetched from.
    public var location: String
    /// The configured kind.
    public var kind: PolicySourceConfig.Kind
    /// The detected format of the loaded copy.
    public var format: PolicySourceConfig.Kind?
    /// Block or allow.
    public var role: PolicySourceConfig.Role
    /// The configured fail mode.
    public var failMode: PolicySourceConfig.FailMode
    /// Overall state.
    public var state: State
    /// True while a fail-closed source that has never loaded answers SERVFAIL (EDE 14) for the queries it
    /// would decide.
    public var failingClosed: Bool
    /// Rules in the copy in use.
    public var ruleCount: Int
    /// RPZ SOA serial of the copy in use.
    public var serial: UInt32?
    /// Content hash of the copy in use.
    public var contentHash: String?
    /// When the copy in use was loaded.
    public var loadedAt: Date?
    /// When a fetch last confirmed the copy in use was current.
    public var fetchedAt: Date?
    /// Time since ``fetchedAt``.
    public var age: Duration?
    /// When a refresh was last attempted.
    public var lastAttempt: Date?
    /// Why the last attempt failed (nil when it succeeded).
    public var lastError: String?
    /// Why the last good copy could not be saved to the data directory (nil when it was).
    public var storeError: String?
    /// Bad lines in the last compile (skipped or, with `badLines: reject`, fatal).
    public var badLines: Int
    /// Lines ignored as not applicable to DNS.
    public var ignoredLines: Int
    /// The first bad lines of the last compile.
    public var issues: [PolicySourceIssue]
    /// Approximate bytes held by the source's indexes.
    public var indexBytes: Int
}
