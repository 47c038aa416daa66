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
}

extension Stage {
    /// Default: the stage needs the async path.
    public func resolveNow(_ query: Query, in context: QueryContext, next: NextNow) throws -> Resolution? { nil }
}
