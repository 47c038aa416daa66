public import DNSWire

/// What an incremental fetch returned.
public enum FeedUpdate: Sendable {
    /// The whole text: the first fetch, a whole-zone transfer, or a fallback after a failed IXFR.
    case full([UInt8])
    /// The changes since `fromSerial`, in order (an IXFR, RFC 1995), and the serial they lead to.
    case changes(fromSerial: UInt32, toSerial: UInt32, changes: [FeedRecordChange])
    /// Nothing changed since the serial the caller holds.
    case unchanged
}

/// One record change of an incremental update.
public enum FeedRecordChange: Sendable, Hashable {
    /// The record was removed.
    case deleted(ResourceRecord)
    /// The record was added.
    case added(ResourceRecord)
}

/// A fetcher that can return only what changed since a serial (zone transfers), so an RPZ source is
/// updated without recompiling the whole zone.
public protocol IncrementalFeedFetcher: FeedFetcher {
    /// Brings `location` up to date and returns what changed since `serial`.
    /// - Parameter serial: the SOA serial of the copy the caller holds; nil when it holds none.
    /// - Returns: ``FeedUpdate/changes(fromSerial:toSerial:changes:)`` only when they start at `serial`.
    /// - Throws: any error; the caller keeps its copy.
    func fetchUpdate(_ location: String, since serial: UInt32?) async throws -> FeedUpdate

    /// The whole text of `location` as the last ``fetchUpdate(_:since:)`` left it, without asking the source
    /// again when the fetcher holds it (a zone transfer keeps the zone it transferred); a fetcher that keeps
    /// nothing fetches it. The manager needs the
    /// text after applying changes: to compile it whole (a merge, or changes that did not fit) and to save it.
    /// - Throws: any error; the caller keeps its copy.
    func heldText(_ location: String) async throws -> [UInt8]
}

