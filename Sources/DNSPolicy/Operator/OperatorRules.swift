public import DNSWire
#if canImport(FoundationEssentials)
internal import FoundationEssentials
#else
internal import Foundation
#endif
import Synchronization

/// One operator allow or deny entry, added through the API.
public struct OperatorRule: Sendable, Hashable, Codable {
    /// The domain, lower case without a trailing dot. `example.org` covers the name and everything below it;
    /// `*.example.org` only the names below it.
    public var domain: String
    /// Who added it (the API token's name).
    public var addedBy: String
    /// Why.
    public var reason: String
    /// When, microseconds since the Unix epoch.
    public var timeMicros: Int64

    /// Creates a rule.
    public init(domain: String, addedBy: String, reason: String, timeMicros: Int64) {
        self.domain = domain
        self.addedBy = addedBy
        self.reason = reason
        self.timeMicros = timeMicros
    }
}

/// The operator's own allow and deny entries: a policy source named `operator`, changed at run time.
///
/// An allow entry beats every block list and RPZ zone (as any allowlist does); a deny entry blocks with
/// NXDOMAIN and EDE 15 naming source `operator` and the rule, before any configured block source is
/// consulted. Each change is saved to the data directory, then compiled into a small source; the
/// ``PolicyManager`` it is attached to swaps a new engine in, so queries never wait for a change.
public final class OperatorRules: Sendable {
    /// Which list an entry is on.
    public enum List: String, Sendable, Hashable, CaseIterable {
        case allow, deny
    }

    private struct Stored: Codable, Sendable, Equatable {
        var allow: [OperatorRule] = []
        var deny: [OperatorRule] = []
    }

    /// The compiled pair the engine prepends to the configured sources.
    package struct Compiled: Sendable {
        package var allow: CompiledPolicySource?
        package var deny: CompiledPolicySource?
    }

    /// The policy source name used in EDE text, logs and the query log.
    public static let sourceName = "operator"
    /// The most entries per list.
    public static let maximumEntries = 10_000

    private let file: StateFile<Stored>?
    private let state: Mutex<(stored: Stored, compiled: Compiled)>
    private let changes = Mutex<Void>(())
    private let listeners = Mutex<[UInt64: @Sendable () async -> Void]>([:])
    private let nextListener = Atomic<UInt64>(0)

    /// Opens the rules, loading those saved at `path`.
    ///
    /// - Parameter path: The JSON file (`<dataDir>/operator-rules.json`); nil keeps the rules in memory only.
    /// - Throws: ``OperatorStateError`` `.loadFailed` when the file exists but cannot be read or holds a bad
    ///   domain.
    public init(path: String?) throws(OperatorStateError) {
        self.file = path.map { StateFile(path: $0) }
        let stored = try self.file?.load() ?? Stored()
        let compiled = try Self.compile(stored, origin: path ?? "operator rules")
        self.state = Mutex((stored, compiled))
    }

    /// The file the rules are saved in, if any.
    public var path: String? { self.file?.path }

    /// The entries on `list`, in the order they were added.
    public func rules(_ list: List) -> [OperatorRule] {
        self.state.withLock { list == .allow ? $0.stored.allow : $0.stored.deny }
    }

    /// The compiled sources for the policy engine.
    package var compiled: Compiled { self.state.withLock { $0.compiled } }

    /// Calls `handler` after every change (the runtime rebuilds the policy engine there).
    /// - Returns: A token for ``removeListener(_:)``.
    @discardableResult
    public func addListener(_ handler: @escaping @Sendable () async -> Void) -> UInt64 {
        let id = self.nextListener.wrappingAdd(1, ordering: .relaxed).oldValue
        self.listeners.withLock { $0[id] = handler }
        return id
    }

    /// Stops calling a listener.
    public func removeListener(_ token: UInt64) {
        self.listeners.withLock { $0[token] = nil }
    }

    /// Normalises a domain as entered: lower case, no trailing dot; `*.` prefix kept.
    ///
    /// Only host names are accepted (letters, digits, `_`, and `-` inside labels; labels of 1–63 octets;
    /// at most 253 in all): what the list compiler indexes, and what a person means by "a domain". An
    /// internationalised name must be given in its `xn--` form.
    ///
    /// - Throws: ``OperatorStateError`` `.invalidArgument` naming the domain when it is not such a name.
    public static func normalize(_ text: String) throws(OperatorStateError) -> String {
        var t = text.lowercased()
        while t.hasSuffix(".") { t.removeLast() }
        let body = t.hasPrefix("*.") ? String(t.dropFirst(2)) : t
        func refuse(_ why: String) -> OperatorStateError {
            OperatorStateError(.invalidArgument, "'\(text)' is not a domain name: \(why)")
        }
        guard !body.isEmpty else { throw refuse("it is empty") }
        guard body.utf8.count <= 253 else { throw refuse("longer than 253 characters") }
        for label in body.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty else { throw refuse("it has an empty label") }
            guard label.utf8.count <= 63 else { throw refuse("a label is longer than 63 characters") }
            guard label.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F || $0 == 0x2D })
            else { throw refuse("only letters, digits, '-' and '_' may appear in a label (use xn-- for IDN)") }
            guard label.first != "-", label.last != "-" else { throw refuse("a label starts or ends with '-'") }
        }
        do {
            _ = try DomainName(body + ".")
        } catch {
            throw refuse("\(error)")
        }
        return t
    }

    /// Adds `domain` to `list` (or updates its reason when it is already there).
    ///
    /// - Returns: The stored rule and whether it replaced an existing entry on the same list.
    /// - Throws: ``OperatorStateError`` `.invalidArgument` (bad domain), `.conflict` (the domain is on the
    ///   other list: remove it there first), `.limitReached`, `.writeFailed` (nothing changed).
    @discardableResult
    public func add(_ list: List, domain: String, by actor: String, reason: String, atMicros time: Int64)
        async throws(OperatorStateError) -> (rule: OperatorRule, replaced: Bool)
    {
        let domain = try Self.normalize(domain)
        let rule = OperatorRule(domain: domain, addedBy: actor, reason: reason, timeMicros: time)
        let replaced = try self.change { stored throws(OperatorStateError) -> Bool in
            let other = list == .allow ? stored.deny : stored.allow
            if other.contains(where: { $0.domain == domain }) {
                let otherName = list == .allow ? "deny" : "allow"
                throw OperatorStateError(
                    .conflict, "\(domain) is on the \(otherName) list; remove it there before adding it to \(list)")
            }
            var entries = list == .allow ? stored.allow : stored.deny
            var replaced = false
            if let i = entries.firstIndex(where: { $0.domain == domain }) {
                entries[i] = rule
                replaced = true
            } else {
                guard entries.count < Self.maximumEntries else {
                    throw OperatorStateError(
                        .limitReached, "the \(list) list already holds \(Self.maximumEntries) entries")
                }
                entries.append(rule)
            }
            if list == .allow { stored.allow = entries } else { stored.deny = entries }
            return replaced
        }
        await self.notify()
        return (rule, replaced)
    }

    /// Removes `domain` from `list`.
    ///
    /// - Returns: The removed rule, or nil when it was not on the list.
    /// - Throws: ``OperatorStateError`` `.invalidArgument` (bad domain), `.writeFailed` (nothing changed).
    @discardableResult
    public func remove(_ list: List, domain: String) async throws(OperatorStateError) -> OperatorRule? {
        let domain = try Self.normalize(domain)
        let removed = try self.change { stored throws(OperatorStateError) -> OperatorRule? in
            var entries = list == .allow ? stored.allow : stored.deny
            guard let i = entries.firstIndex(where: { $0.domain == domain }) else { return nil }
            let rule = entries.remove(at: i)
            if list == .allow { stored.allow = entries } else { stored.deny = entries }
            return rule
        }
        if removed != nil { await self.notify() }
        return removed
    }

    private func notify() async {
        let handlers = self.listeners.withLock { Array($0.values) }
        for h in handlers { await h() }
    }

    /// Applies `body` to a copy, compiles and saves it, then installs it; a failure changes nothing.
    private func change<R: Sendable>(_ body: (inout Stored) throws(OperatorStateError) -> R)
        throws(OperatorStateError) -> R
    {
        try self.changes.withLock { _ throws(OperatorStateError) -> R in
            var stored = self.state.withLock { $0.stored }
            let before = stored
            let result = try body(&stored)
            if stored == before { return result }
            let compiled = try Self.compile(stored, origin: self.file?.path ?? "operator rules")
            try self.file?.save(stored)
            self.state.withLock { $0 = (stored, compiled) }
            return result
        }
    }

    private static func compile(_ stored: Stored, origin: String) throws(OperatorStateError) -> Compiled {
        func source(_ rules: [OperatorRule], role: PolicySourceConfig.Role) throws(OperatorStateError)
            -> CompiledPolicySource?
        {
            guard !rules.isEmpty else { return nil }
            var config = PolicySourceConfig(
                name: Self.sourceName, kind: .domains, location: origin, role: role, answer: .nxdomain,
                badLines: .reject, subdomains: true)
            config.extendedError = .blocked
            let text = rules.map(\.domain).joined(separator: "\n") + "\n"
            do {
                return try PolicySourceLoader.compile(config, bytes: Array(text.utf8), fileName: origin)
            } catch {
                throw OperatorStateError(.loadFailed, "operator \(role.rawValue) rules in \(origin): \(error)")
            }
        }
        return Compiled(allow: try source(stored.allow, role: .allow), deny: try source(stored.deny, role: .block))
    }
}
