public import DNSWire
public import Logging
public import NIOCore
import NIOPosix
import Synchronization

/// Fetches `axfr://` and `ixfr://` locations for the policy engine, keeping one ``ZoneTransferSource``
/// per location, and turns NOTIFY messages into "refresh now" requests.
///
/// ``fetch(_:)`` has the signature of DNSPolicy's `FeedFetcher` (this module does not import DNSPolicy):
/// the runtime adapts it with a one-line conformance and routes these schemes to it. As a
/// ``NotifyAuthorizer`` it accepts NOTIFY for the zones of the locations it knows, from their primary's
/// address, signed with their key when they have one, and calls the refresh handler with each matching
/// location (several NOTIFY in a row cause at most one more refresh after the running one).
///
/// ```swift
/// let xfr = ZoneTransferFetcher(keys: try TSIGKeyRegistry.load(bindKeyFile: "/etc/palisade/tsig.key"))
/// try xfr.register("ixfr://192.0.2.53/rpz.example.org?tsig=xfr-key")     // known before any fetch
/// xfr.setRefreshHandler { location in await manager.refresh(sourceNamed(location)) }
/// let listener = try await NotifyListener.start(host: "0.0.0.0", port: 5353,
///     responder: NotifyResponder(authorizer: xfr))
/// let text = try await xfr.fetch("ixfr://192.0.2.53/rpz.example.org?tsig=xfr-key")
/// ```
public final class ZoneTransferFetcher: NotifyAuthorizer {
    private struct State {
        var keys: TSIGKeyRegistry
        var sources: [String: ZoneTransferSource] = [:]
        var refreshHandler: (@Sendable (String) async -> Void)?
        var refreshing: Set<String> = []
        var refreshAgain: Set<String> = []
    }

    private let state: Mutex<State>
    private let options: ZoneTransferOptions
    private let group: any EventLoopGroup
    private let logger: Logger
    private let now: @Sendable () -> UInt64

    /// Creates a fetcher.
    /// - Parameters:
    ///   - keys: the TSIG keys locations may name with `?tsig=`.
    ///   - options: bounds and timeouts for every transfer.
    ///   - group: event loops for the sockets.
    ///   - logger: passed to every source.
    ///   - now: wall-clock seconds since the epoch (TSIG).
    public init(keys: TSIGKeyRegistry = TSIGKeyRegistry(), options: ZoneTransferOptions = .init(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "palisade.zone-transfer"),
        now: @escaping @Sendable () -> UInt64 = ZoneTransferClient.systemTime)
    {
        self.state = Mutex(State(keys: keys))
        self.options = options
        self.group = group
        self.logger = logger
        self.now = now
    }

    /// Whether `location` is an `axfr://` or `ixfr://` location (route it here).
    public static func handles(_ location: String) -> Bool { ZoneTransferLocation.handles(location) }

    /// Returns the zone at `location` as master-file text, transferring what changed since the last call.
    /// - Throws: ``ZoneTransferError``; the source keeps its last good copy.
    public func fetch(_ location: String) async throws -> [UInt8] {
        try await self.source(for: location).fetch()
    }

    /// Brings the zone at `location` up to date and returns what changed since `serial` (see
    /// ``ZoneTransferSource/fetchUpdate(since:)``), so a caller holding the zone at `serial` can apply IXFR
    /// changes instead of reading the whole text.
    /// - Throws: ``ZoneTransferError``; the source keeps its last good copy.
    public func fetchUpdate(_ location: String, since serial: UInt32?) async throws -> ZoneUpdate {
        try await self.source(for: location).fetchUpdate(since: serial)
    }

    /// The zone held for `location`, as master-file text, without contacting its primary (see
    /// ``ZoneTransferSource/heldText()``); nil when nothing has been transferred from it yet.
    public func heldText(_ location: String) async -> [UInt8]? {
        guard let source = self.state.withLock({ $0.sources[location] }) else { return nil }
        return await source.heldText()
    }

    /// The source for `location`, created (and so known to NOTIFY) on first use.
    /// - Throws: ``ZoneTransferError`` `.badLocation` or `.unknownKey`.
    @discardableResult
    public func source(for location: String) throws(ZoneTransferError) -> ZoneTransferSource {
        if let s = self.state.withLock({ $0.sources[location] }) { return s }
        let parsed = try ZoneTransferLocation(parsing: location)
        let keys = self.state.withLock { $0.keys }
        var key: TSIGKey?
        if let name = parsed.keyName {
            guard let k = keys[name] else {
                throw ZoneTransferError(.unknownKey,
                    "location \"\(location)\" names TSIG key \(name), which is not configured (known: "
                        + (keys.all.isEmpty ? "none" : keys.all.map { $0.name.description }.joined(separator: ", ")) + ")")
            }
            key = k
        }
        let created = try ZoneTransferSource(location: parsed, locationText: location, key: key, options: self.options,
            group: self.group, logger: self.logger, now: self.now)
        return self.state.withLock { s in
            if let existing = s.sources[location] { return existing }
            s.sources[location] = created
            return created
        }
    }

    /// Makes `location` known (for NOTIFY) without fetching it; same as ``source(for:)``.
    /// - Throws: ``ZoneTransferError`` `.badLocation` or `.unknownKey`.
    public func register(_ location: String) throws(ZoneTransferError) {
        try self.source(for: location)
    }

    /// Forgets every source whose location is not in `locations` (after a configuration reload), and
    /// replaces the key registry; sources whose key changed are recreated on their next use.
    public func reconfigure(locations: Set<String>, keys: TSIGKeyRegistry) {
        self.state.withLock { s in
            let keysChanged = s.keys != keys
            s.keys = keys
            s.sources = s.sources.filter { locations.contains($0.key) }
            if keysChanged {
                s.sources = s.sources.filter { entry in
                    let name = entry.value.location.keyName
                    return name == nil || entry.value.client.key == name.flatMap { keys[$0] }
                }
            }
        }
    }

    /// The status of every known source, ordered by location.
    public func status() async -> [ZoneTransferStatus] {
        let sources = self.state.withLock { $0.sources.sorted { $0.key < $1.key }.map(\.value) }
        var out: [ZoneTransferStatus] = []
        for s in sources { out.append(await s.status()) }
        return out
    }

    /// Sets what a NOTIFY-driven "refresh now" calls: typically the policy manager's refresh of the
    /// source with that location. Without a handler, accepted NOTIFY messages are only logged.
    public func setRefreshHandler(_ handler: (@Sendable (String) async -> Void)?) {
        self.state.withLock { $0.refreshHandler = handler }
    }

    /// Asks for `location` to be refreshed now through the refresh handler. While a refresh of it runs,
    /// further requests are merged into one more refresh afterwards.
    public func requestRefresh(_ location: String) {
        let handler: (@Sendable (String) async -> Void)? = self.state.withLock { s in
            guard let h = s.refreshHandler else { return nil }
            if s.refreshing.contains(location) {
                s.refreshAgain.insert(location)
                return nil
            }
            s.refreshing.insert(location)
            return h
        }
        guard let handler else { return }
        Task {
            var again = true
            while again {
                await handler(location)
                again = self.state.withLock { s in
                    if s.refreshAgain.remove(location) != nil { return true }
                    s.refreshing.remove(location)
                    return false
                }
            }
        }
    }

    // MARK: NotifyAuthorizer

    /// Accepts a NOTIFY for the zone of a known location from that location's primary address.
    public func authorize(zone: DomainName, source: IPAddress) -> NotifyAuthorization {
        let candidates = self.state.withLock { $0.sources.values.filter { $0.location.zone == zone } }
        guard !candidates.isEmpty else { return .unknownZone }
        let matching = candidates.filter { $0.location.address.unmapped == source.unmapped }
        guard !matching.isEmpty else { return .refusedSource }
        return .accept(key: matching.lazy.compactMap { $0.client.key }.first)
    }

    /// Requests a refresh of every location of `zone` whose primary is `source`.
    public func notified(zone: DomainName, serial: UInt32?, source: IPAddress) {
        let locations = self.state.withLock { s in
            s.sources.filter { $0.value.location.zone == zone && $0.value.location.address.unmapped == source.unmapped }
                .map(\.key)
        }
        for location in locations.sorted() { self.requestRefresh(location) }
    }
}
