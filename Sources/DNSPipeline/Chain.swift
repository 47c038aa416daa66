public import DNSWire

/// An immutable ordered list of stages. A reload builds a new chain and swaps it in.
public struct Chain: Sendable {
    /// The stages, outermost first.
    public let stages: [any Stage]

    /// Creates a chain; the last stage must answer (it is given a `next` that fails).
    public init(stages: [any Stage]) {
        self.stages = stages
    }

    /// Runs the whole chain, turning an internal error into SERVFAIL with an EDE.
    public func resolve(_ query: Query, in context: QueryContext) async -> Resolution {
        do {
            return try await self.run(0, query, context)
        } catch {
            context.note("chain", "internal error: \(error)")
            return .failure(for: query, text: "internal error")
        }
    }

    private func run(_ index: Int, _ query: Query, _ context: QueryContext) async throws -> Resolution {
        guard index < self.stages.count else {
            return .failure(for: query, ede: .notReady, text: "no stage answered")
        }
        let stage = self.stages[index]
        return try await stage.resolve(query, in: context) { q, c in
            try await self.run(index + 1, q, c)
        }
    }

    /// Lets every stage prefetch for a burst of queries (``Stage/prefetch(_:)``).
    public func prefetch(_ names: QueryNameBatch) {
        for stage in self.stages { stage.prefetch(names) }
    }

    /// Runs the synchronous fast path; nil means the async path is needed.
    public func resolveNow(_ query: Query, in context: QueryContext) -> Resolution? {
        do {
            return try self.runNow(0, query, context)
        } catch {
            // The async path will run again and report the error properly.
            return nil
        }
    }

    private func runNow(_ index: Int, _ query: Query, _ context: QueryContext) throws -> Resolution? {
        guard index < self.stages.count else { return nil }
        return try self.stages[index].resolveNow(query, in: context) { q, c in
            try self.runNow(index + 1, q, c)
        }
    }
}
