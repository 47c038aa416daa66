public import DNSWire

/// Stable kebab-case identifier of a stage: config key, log `stage` metadata, metric `stage` label.
public struct StageID: RawRepresentable, Sendable, Hashable, ExpressibleByStringLiteral, CustomStringConvertible {
    /// The identifier text.
    public var rawValue: String
    /// Wraps an identifier.
    public init(rawValue: String) { self.rawValue = rawValue }
    /// Wraps an identifier literal.
    public init(stringLiteral value: String) { self.rawValue = value }
    public var description: String { self.rawValue }
}

/// The async continuation of the chain below a stage.
public typealias Next = @Sendable (Query, QueryContext) async throws -> Resolution

/// The synchronous continuation of the chain below a stage; nil means "something below must suspend".
public typealias NextNow = (Query, QueryContext) throws -> Resolution?

/// One step of the request pipeline (middleware with CoreDNS's "next").
///
/// A stage does one of three things: **answer** (return its own ``Resolution`` without calling
/// `next`), **pass** (`return try await next(query, context)`), or **amend** (call `next`, then
/// change the result). It returns a value; it never writes to a connection.
public protocol Stage: Sendable {
    /// Stable kebab-case id.
    var id: StageID { get }

    /// Resolves `query`, answering, passing or amending.
    /// - Throws: only when something internal fails; the chain turns that into SERVFAIL with an EDE.
    func resolve(_ query: Query, in context: QueryContext, next: @escaping Next) async throws -> Resolution

    /// The synchronous fast path, used for answers that need no I/O (cache hits, policy blocks).
    ///
    /// Returns nil when this stage, or one below it, would have to suspend; the server then runs
    /// ``resolve(_:in:next:)`` in a task. A stage with side effects must perform them only when it
    /// returns a non-nil result, because a nil result is followed by the async path.
    func resolveNow(_ query: Query, in context: QueryContext, next: NextNow) throws -> Resolution?

    /// Hints the memory ``resolveNow(_:in:next:)`` will read for the queries of a burst, before the first of them is
    /// resolved, so that their cache misses overlap (a lookup in a table of a million rules misses the cache on
    /// nearly every probe, and one query at a time waits for each miss in turn). Advisory: must not change any
    /// state or outcome. Default: nothing.
    func prefetch(_ names: QueryNameBatch)
}

extension Stage {
    /// Default: the stage needs the async path.
    public func resolveNow(_ query: Query, in context: QueryContext, next: NextNow) throws -> Resolution? { nil }

    /// Default: nothing to prefetch.
    public func prefetch(_ names: QueryNameBatch) {}
}

/// The question names of one burst of received datagrams, before any of them is resolved (see
/// ``Stage/prefetch(_:)``). Each name is in wire form as received (any case, no compression, ending with
/// the root byte); datagrams whose question cannot be read are left out (the chain rejects them later).
public struct QueryNameBatch: Sendable {
    private let packets: ArraySlice<[UInt8]>
    private let names: [(packet: Int, range: Range<Int>)]

    /// The names of `packets`.
    public init(_ packets: [[UInt8]]) {
        self.init(packets[...])
    }

    /// The names of `packets` (by the slice's own indices).
    public init(_ packets: ArraySlice<[UInt8]>) {
        self.packets = packets
        var names: [(packet: Int, range: Range<Int>)] = []
        names.reserveCapacity(packets.count)
        // One question (QDCOUNT 1), and its name where ``QuickQuery/questionName(in:)`` finds it.
        for i in packets.indices where packets[i].count >= 6 && packets[i][4] == 0 && packets[i][5] == 1 {
            if let r = packets[i].withUnsafeBytes({ QuickQuery.questionName(in: $0) }) { names.append((i, r)) }
        }
        self.names = names
    }

    /// Number of names.
    public var count: Int { self.names.count }

    /// Calls `body` with each name's bytes, valid only during the call.
    public func forEach(_ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        for n in self.names {
            self.packets[n.packet].withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[n.range])) }
        }
    }
}
