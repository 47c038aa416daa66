public import DNSWire
public import Logging
public import NIOCore
import NIOPosix

/// How the last successful fetch got its data.
public enum TransferKind: String, Sendable, Hashable {
    /// A whole-zone transfer.
    case axfr
    /// An incremental transfer applied to the copy held.
    case ixfr
    /// An IXFR request the primary answered with the whole zone (RFC 1995 §4 AXFR form).
    case ixfrFull = "ixfr-full"
    /// The primary's serial was not newer: nothing transferred.
    case upToDate = "up-to-date"
}

/// What changed in a zone since a serial the caller holds (``ZoneTransferSource/fetchUpdate(since:)``).
public enum ZoneUpdate: Sendable {
    /// The whole zone as master-file text: the caller's copy is not the one the last IXFR started from.
    case whole([UInt8])
    /// The IXFR changes, in order, from the caller's serial to `toSerial`.
    case incremental(fromSerial: UInt32, toSerial: UInt32, changes: [ZoneChange])
    /// The zone is still at the caller's serial.
    case upToDate
}

/// What one zone source has done, for status pages and logs.
public struct ZoneTransferStatus: Sendable, Hashable {
    /// The location as configured.
    public var location: String
    /// The zone apex.
    public var zone: DomainName
    /// Serial of the copy held; nil before the first transfer.
    public var serial: UInt32?
    /// Serial the primary reported at the last SOA check.
    public var primarySerial: UInt32?
    /// How the last successful fetch got its data.
    public var lastKind: TransferKind?
    /// Records changed by the last fetch: the IXFR change count, the record count after an AXFR, 0 when
    /// up to date.
    public var lastChangeCount: Int
    /// Records held, not counting the SOA.
    public var recordCount: Int
    /// Bytes received by the last transfer.
    public var lastTransferBytes: Int
    /// Messages received by the last transfer.
    public var lastTransferMessages: Int
    /// When the last fetch succeeded, in seconds since the epoch.
    public var lastSuccessAt: UInt64?
    /// The last fetch's error; nil after a success.
    public var lastError: String?
    /// Completed transfers (AXFR and IXFR) since start.
    public var transfers: Int
    /// IXFR attempts that fell back to AXFR since start.
    public var ixfrFallbacks: Int
}

/// One zone from one primary, kept in memory and brought up to date on each ``fetch()``.
///
/// The first fetch transfers the whole zone. Later fetches query the primary's SOA and transfer only
/// when its serial is newer (RFC 1982): by IXFR for `ixfr://` locations, falling back to AXFR when the
/// primary refuses it, answers oddly, or sends diffs that do not fit; by AXFR otherwise. A failed
/// fetch leaves the copy held unchanged. Concurrent fetches share one transfer.
public actor ZoneTransferSource {
    /// Where the zone comes from.
    public nonisolated let location: ZoneTransferLocation
    /// The location text as configured (the key the fetcher knows it by).
    public nonisolated let locationText: String
    /// The client doing the transfers.
    public nonisolated let client: ZoneTransferClient
    private let logger: Logger
    private let now: @Sendable () -> UInt64
    private var current: ZoneRecordSet?
    /// The text of ``current``, rendered on first demand: an IXFR consumer that applies the changes never
    /// needs it, and rendering a large zone costs O(zone).
    private var text: [UInt8]?
    private var changes: [ZoneChange] = []
    /// The serial the last IXFR started from (nil when the last transfer was not an IXFR).
    private var changesFrom: UInt32?
    private var state: ZoneTransferStatus
    private var inFlight: Task<Void, any Error>?

    /// Creates a source; nothing is transferred until ``fetch()``.
    /// - Throws: ``ZoneTransferError`` `.badLocation` when the address cannot be used for a socket.
    /// - Parameters:
    ///   - location: the parsed location.
    ///   - locationText: the location as configured (defaults to the canonical form).
    ///   - key: the TSIG key the location names, already looked up.
    ///   - options: bounds and timeouts.
    ///   - group: event loops for the sockets.
    ///   - logger: receives one `.info` line per transfer and `.debug` detail.
    ///   - now: wall-clock seconds since the epoch (TSIG and status times).
    public init(location: ZoneTransferLocation, locationText: String? = nil, key: TSIGKey?,
        options: ZoneTransferOptions = .init(), group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "palisade.zone-transfer"),
        now: @escaping @Sendable () -> UInt64 = ZoneTransferClient.systemTime) throws(ZoneTransferError)
    {
        self.location = location
        self.locationText = locationText ?? location.description
        let server: SocketAddress
        do {
            server = try SocketAddress(ipAddress: location.address.description, port: location.port)
        } catch {
            throw ZoneTransferError(.badLocation, "location \(location): the address is not usable",
                underlying: error)
        }
        self.client = ZoneTransferClient(server: server, zone: location.zone, key: key, options: options, group: group,
            now: now)
        self.logger = logger
        self.now = now
        self.state = ZoneTransferStatus(location: self.locationText, zone: location.zone, serial: nil,
            primarySerial: nil, lastKind: nil, lastChangeCount: 0, recordCount: 0, lastTransferBytes: 0,
            lastTransferMessages: 0, lastSuccessAt: nil, lastError: nil, transfers: 0, ixfrFallbacks: 0)
    }

    /// The zone as master-file text, brought up to date first (see the type's description).
    /// - Returns: `$ORIGIN`, the SOA and every record, one per line (UTF-8).
    /// - Throws: ``ZoneTransferError``; the copy held stays as it was.
    public func fetch() async throws(ZoneTransferError) -> [UInt8] {
        try await self.bringUpToDate()
        return self.currentText()
    }

    /// Brings the zone up to date and returns what changed since `serial`: the IXFR changes when the last
    /// transfer was an IXFR from exactly that serial, nothing when the zone is still at it, else the whole
    /// text (rendered only then).
    /// - Throws: ``ZoneTransferError``; the copy held stays as it was.
    public func fetchUpdate(since serial: UInt32?) async throws(ZoneTransferError) -> ZoneUpdate {
        try await self.bringUpToDate()
        if let serial, serial == self.current?.serial.rawValue { return .upToDate }
        if let serial, let from = self.changesFrom, from == serial, let to = self.current?.serial.rawValue {
            return .incremental(fromSerial: from, toSerial: to, changes: self.changes)
        }
        return .whole(self.currentText())
    }

    /// The zone held now, as master-file text, without asking the primary anything: what the last
    /// ``fetch()`` or ``fetchUpdate(since:)`` brought it up to. Nil before the first successful transfer.
    public func heldText() -> [UInt8]? {
        self.current == nil ? nil : self.currentText()
    }

    private func bringUpToDate() async throws(ZoneTransferError) {
        if let running = self.inFlight { return try await Self.value(of: running) }
        let task = Task { () async throws -> Void in try await self.update() }
        self.inFlight = task
        defer { self.inFlight = nil }
        return try await Self.value(of: task)
    }

    private func currentText() -> [UInt8] {
        if let text = self.text { return text }
        let bytes = self.current.map { Array($0.zoneText().utf8) } ?? []
        self.text = bytes
        return bytes
    }

    private static func value(of task: Task<Void, any Error>) async throws(ZoneTransferError) {
        do {
            try await task.value
        } catch let e as ZoneTransferError {
            throw e
        } catch {
            throw ZoneTransferError(.connectionFailed, "transfer failed: \(error)", underlying: error)
        }
    }

    /// The current status.
    public func status() -> ZoneTransferStatus { self.state }

    /// The records held; nil before the first transfer.
    public func records() -> ZoneRecordSet? { self.current }

    /// The changes the last fetch made: IXFR changes in order; empty after an AXFR (everything changed:
    /// rebuild) or when up to date.
    public func lastChanges() -> [ZoneChange] { self.changes }

    // MARK: Updating

    private func update() async throws(ZoneTransferError) {
        do throws(ZoneTransferError) {
            try await self.refresh()
            self.state.lastError = nil
            self.state.lastSuccessAt = self.now()
        } catch {
            self.state.lastError = error.description
            self.logger.info("zone transfer failed", metadata: self.metadata(["error": "\(error)"]))
            throw error
        }
    }

    private func refresh() async throws(ZoneTransferError) {
        guard let heldSerial = self.current?.serial, let heldSOA = self.current?.soa else {
            return try await self.transferWhole(kind: .axfr, after: nil)
        }
        let primary = try await self.client.querySOA()
        let primarySerial = ZoneRecordSet.serial(of: primary) ?? heldSerial
        self.state.primarySerial = primarySerial.rawValue
        guard primarySerial.isNewer(than: heldSerial) else {
            self.upToDate()
            return
        }
        guard self.location.mode == .ixfr else { return try await self.transferWhole(kind: .axfr, after: nil) }

        let ixfrFailure: ZoneTransferError
        do throws(ZoneTransferError) {
            let result = try await self.client.ixfr(from: heldSOA)
            switch result.content {
            case .soaOnly(let soa):
                guard let s = ZoneRecordSet.serial(of: soa), s.isNewer(than: heldSerial) else {
                    self.upToDate()
                    return
                }
                ixfrFailure = ZoneTransferError(.badResponse, "the primary sent only its SOA (serial \(s)), not the changes")
            case .full(let set):
                guard set.serial.isNewer(than: heldSerial) else {
                    self.upToDate()
                    return
                }
                return self.install(set, kind: .ixfrFull, changes: [], result: result)
            case .incremental(_, let diffs):
                // Take the set out of `self` so applying mutates it in place instead of copying it.
                guard var set = self.current else { return try await self.transferWhole(kind: .axfr, after: nil) }
                self.current = nil
                do throws(ZoneTransferError) {
                    let changes = try set.apply(diffs)
                    return self.install(set, kind: .ixfr, changes: changes, result: result, from: heldSerial.rawValue)
                } catch {
                    self.current = set
                    ixfrFailure = error
                }
            }
        } catch {
            guard Self.worthAXFR(after: error) else { throw error }
            ixfrFailure = error
        }
        self.state.ixfrFallbacks += 1
        self.logger.debug("IXFR failed; falling back to AXFR", metadata: self.metadata(["error": "\(ixfrFailure)"]))
        return try await self.transferWhole(kind: .axfr, after: ixfrFailure)
    }

    /// Whether an AXFR may succeed where the IXFR failed: not when the primary is unreachable, slow, or
    /// rejects our key, since the AXFR would fail the same way.
    private static func worthAXFR(after error: ZoneTransferError) -> Bool {
        switch error.code {
        case .serverError, .badResponse, .diffNotApplicable, .connectionClosed: true
        default: false
        }
    }

    private func transferWhole(kind: TransferKind, after ixfrFailure: ZoneTransferError?) async throws(ZoneTransferError) {
        let result: TransferResult
        do throws(ZoneTransferError) {
            result = try await self.client.axfr()
        } catch {
            guard let ixfrFailure else { throw error }
            var e = error
            e.message += " (after the IXFR failed: \(ixfrFailure.message))"
            throw e
        }
        guard case .full(let set) = result.content else {
            throw ZoneTransferError(.badResponse, "AXFR of \(self.location.zone) did not return a whole zone")
        }
        return self.install(set, kind: kind, changes: [], result: result)
    }

    private func install(_ set: ZoneRecordSet, kind: TransferKind, changes: [ZoneChange], result: TransferResult,
        from: UInt32? = nil)
    {
        self.current = set
        self.text = nil
        self.changes = changes
        self.changesFrom = kind == .ixfr ? from : nil
        self.state.serial = set.serial.rawValue
        self.state.primarySerial = set.serial.rawValue
        self.state.lastKind = kind
        self.state.lastChangeCount = kind == .ixfr ? changes.count : set.count
        self.state.recordCount = set.count
        self.state.lastTransferBytes = result.bytes
        self.state.lastTransferMessages = result.messages
        self.state.transfers += 1
        self.logger.info("zone transferred",
            metadata: self.metadata([
                "xfr.kind": "\(kind.rawValue)", "xfr.serial": "\(set.serial)", "xfr.records": "\(set.count)",
                "xfr.changes": "\(self.state.lastChangeCount)", "xfr.bytes": "\(result.bytes)",
            ]))
    }

    private func upToDate() {
        self.changes = []
        self.changesFrom = nil
        self.state.lastKind = .upToDate
        self.state.lastChangeCount = 0
        self.logger.debug("zone up to date", metadata: self.metadata(["xfr.serial": "\(self.state.serial ?? 0)"]))
    }

    private func metadata(_ extra: Logger.Metadata) -> Logger.Metadata {
        var m: Logger.Metadata = ["xfr.zone": "\(self.location.zone)", "xfr.location": "\(self.locationText)"]
        m.merge(extra) { $1 }
        return m
    }
}
