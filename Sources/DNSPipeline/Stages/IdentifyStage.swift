public import DNSWire
import Synchronization

/// Maps a client address to the workload behind it, in O(1) for exact addresses.
///
/// Sources (static files, later the Docker and Kubernetes watchers) publish snapshots; the stage
/// reads the current one without I/O. Entries are looked up by exact address first, then by the
/// most specific prefix.
public final class WorkloadDirectory: Sendable {
    /// One published mapping.
    public struct Snapshot: Sendable {
        /// Exact addresses.
        public var exact: [IPAddress: Workload]
        /// Prefixes, most specific first.
        public var prefixes: [(IPNetwork, Workload)]

        /// Creates a snapshot; prefixes are sorted most specific first.
        public init(exact: [IPAddress: Workload] = [:], prefixes: [(IPNetwork, Workload)] = []) {
            self.exact = exact
            self.prefixes = prefixes.sorted { $0.0.prefixLength > $1.0.prefixLength }
        }
    }

    private let current = Mutex(Snapshot())

    /// An empty directory.
    public init() {}

    /// Replaces the mapping.
    public func publish(_ s: Snapshot) { self.current.withLock { $0 = s } }

    /// The workload for `address`, if known.
    public func lookup(_ address: IPAddress) -> Workload? {
        // A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d; sources publish plain IPv4.
        let address = address.unmapped
        return self.current.withLock { s in
            if let w = s.exact[address] { return w }
            for (n, w) in s.prefixes where n.contains(address) { return w }
            return nil
        }
    }

    /// Number of exact entries plus prefixes (exported as a gauge).
    public var count: Int { self.current.withLock { $0.exact.count + $0.prefixes.count } }
}

/// `identify`: names the workload behind the source address so the log, metrics and policy can use it.
public struct IdentifyStage: Stage {
    public let id: StageID = "identify"
    /// Where workloads are looked up.
    public let directory: WorkloadDirectory

    /// Creates the stage.
    public init(directory: WorkloadDirectory) {
        self.directory = directory
    }

    private func annotate(_ q: Query, _ c: QueryContext) -> QueryContext {
        var c = c
        c.workload = self.directory.lookup(q.client.address)
        return c
    }

    public func resolveNow(_ query: Query, in context: QueryContext, next: NextNow) throws -> Resolution? {
        try next(query, self.annotate(query, context))
    }

    public func resolve(_ query: Query, in context: QueryContext, next: @escaping Next) async throws -> Resolution {
        let c = self.annotate(query, context)
        context.note(self.id, c.workload.map { "client \(query.client.address) is \($0.kind.rawValue) \($0.name)" }
            ?? "client \(query.client.address) is not a known workload")
        return try await next(query, c)
    }
}
