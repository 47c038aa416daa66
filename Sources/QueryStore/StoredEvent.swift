public import DNSPipeline

/// A workload identity as the store remembers it.
public struct StoredWorkload: Sendable, Hashable, Codable {
    /// The identity key, `kind:id` (``QueryStore/workloadKey(for:)``).
    public var key: String
    /// Kind, id, name, image and labels, as last seen.
    public var workload: Workload
    /// First query seen from it, microseconds since the Unix epoch.
    public var firstSeenMicros: Int64
    /// Latest query seen from it, microseconds since the Unix epoch.
    public var lastSeenMicros: Int64

    /// Creates a stored workload.
    public init(key: String, workload: Workload, firstSeenMicros: Int64, lastSeenMicros: Int64) {
        self.key = key
        self.workload = workload
        self.firstSeenMicros = firstSeenMicros
        self.lastSeenMicros = lastSeenMicros
    }
}

/// One logged query read back from the store.
public struct StoredEvent: Sendable, Hashable, Codable {
    /// Row id: increases with insertion order; unique for the life of the database.
    public var id: Int64
    /// The workload identity captured when the query was answered, or nil when the client was not identified.
    public var workloadKey: String?
    /// The event. Its `workload` is the identity `workloadKey` names (with that workload's latest name and
    /// labels), never whatever holds the client IP today. Its `qname` is lower case without a trailing dot.
    public var event: QueryEvent

    /// Creates a stored event.
    public init(id: Int64, workloadKey: String?, event: QueryEvent) {
        self.id = id
        self.workloadKey = workloadKey
        self.event = event
    }

    /// The position of this event in the newest-first order; pass it as ``EventFilter/before`` to get the
    /// next page.
    public var cursor: EventCursor { EventCursor(timestampMicros: self.event.timestampMicros, id: self.id) }
}

/// A position in the newest-first event order: `(timestamp, id)`, for keyset pagination.
///
/// Events are listed by time, newest first, ties broken by id. Paging by this pair (rather than by an
/// offset) costs the same on page 1 and page 10 000, and rows inserted meanwhile do not shift the pages.
/// Its text form (`1700000000000000-42`) is what a web API hands out and takes back.
public struct EventCursor: Sendable, Hashable, Codable, LosslessStringConvertible {
    /// Timestamp of the last event on the previous page, microseconds since the Unix epoch.
    public var timestampMicros: Int64
    /// Id of the last event on the previous page.
    public var id: Int64

    /// Creates a cursor.
    public init(timestampMicros: Int64, id: Int64) {
        self.timestampMicros = timestampMicros
        self.id = id
    }

    /// Parses `<timestampMicros>-<id>`; nil for anything else.
    public init?(_ description: String) {
        let parts = description.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let ts = Int64(parts[0]), let id = Int64(parts[1]), ts >= 0, id >= 0 else {
            return nil
        }
        self.init(timestampMicros: ts, id: id)
    }

    /// `<timestampMicros>-<id>`.
    public var description: String { "\(self.timestampMicros)-\(self.id)" }
}

/// One page of search results.
public struct EventPage: Sendable, Hashable {
    /// Matching events, newest first.
    public var events: [StoredEvent]
    /// Pass as ``EventFilter/before`` for the next (older) page; nil when this page is the last.
    public var next: EventCursor?

    /// Creates a page.
    public init(events: [StoredEvent], next: EventCursor?) {
        self.events = events
        self.next = next
    }
}

/// Who sent queries: an identified workload, or (for unidentified clients) the client address.
public enum EventSubject: Sendable, Hashable {
    /// An identified workload.
    case workload(StoredWorkload)
    /// A client with no workload identity, by address.
    case client(String)
}

/// Blocked-query totals for one subject: "which containers tried to reach blocked names, how often, when".
public struct BlockedActivity: Sendable, Hashable {
    /// The workload (or unidentified client).
    public var subject: EventSubject
    /// Blocked queries since the start of the window.
    public var blockedQueries: Int
    /// Distinct blocked names among them.
    public var distinctNames: Int
    /// The latest blocked query, microseconds since the Unix epoch.
    public var lastBlockedMicros: Int64

    /// Creates a summary row.
    public init(subject: EventSubject, blockedQueries: Int, distinctNames: Int, lastBlockedMicros: Int64) {
        self.subject = subject
        self.blockedQueries = blockedQueries
        self.distinctNames = distinctNames
        self.lastBlockedMicros = lastBlockedMicros
    }
}

/// Query totals for one subject.
public struct WorkloadActivity: Sendable, Hashable {
    /// The workload (or unidentified client).
    public var subject: EventSubject
    /// Queries since the start of the window.
    public var queries: Int
    /// Blocked queries among them.
    public var blocked: Int

    /// Creates an activity row.
    public init(subject: EventSubject, queries: Int, blocked: Int) {
        self.subject = subject
        self.queries = queries
        self.blocked = blocked
    }
}

/// How often a name was blocked.
public struct DomainCount: Sendable, Hashable {
    /// The name (lower case, no trailing dot).
    public var qname: String
    /// Blocked queries for it.
    public var queries: Int
    /// Distinct workloads that asked (unidentified clients count as one).
    public var workloads: Int
    /// The latest such query, microseconds since the Unix epoch.
    public var lastSeenMicros: Int64

    /// Creates a row.
    public init(qname: String, queries: Int, workloads: Int, lastSeenMicros: Int64) {
        self.qname = qname
        self.queries = queries
        self.workloads = workloads
        self.lastSeenMicros = lastSeenMicros
    }
}

/// Query and block counts in one time bucket.
public struct TimeBucket: Sendable, Hashable {
    /// Bucket start, microseconds since the Unix epoch (a multiple of the bucket width).
    public var startMicros: Int64
    /// Queries in the bucket.
    public var queries: Int
    /// Blocked queries in the bucket.
    public var blocked: Int

    /// Creates a bucket.
    public init(startMicros: Int64, queries: Int, blocked: Int) {
        self.startMicros = startMicros
        self.queries = queries
        self.blocked = blocked
    }
}

/// Totals over the whole store.
public struct StoreCounts: Sendable, Hashable {
    /// Events (rows) stored.
    public var events: Int
    /// Blocked events (rows) stored.
    public var blockedEvents: Int
    /// Workload identities stored.
    public var workloads: Int
    /// Timestamp of the oldest event, or nil when empty.
    public var oldestMicros: Int64?
    /// Timestamp of the newest event, or nil when empty.
    public var newestMicros: Int64?
    /// Queries the events stand for (an event folds ``QueryEvent/count`` identical queries).
    public var queries: Int

    /// Creates totals; `queries` defaults to `events` (one query per event).
    public init(events: Int, blockedEvents: Int, workloads: Int, oldestMicros: Int64?, newestMicros: Int64?,
        queries: Int? = nil)
    {
        self.queries = queries ?? events
        self.events = events
        self.blockedEvents = blockedEvents
        self.workloads = workloads
        self.oldestMicros = oldestMicros
        self.newestMicros = newestMicros
    }
}
