public import DNSWire

/// One change an IXFR applied to a zone copy, in the order applied: replaying the list on the old copy
/// gives the new one, so a caller can update an index incrementally instead of rebuilding it.
public enum ZoneChange: Sendable, Hashable, CustomStringConvertible {
    /// The record was removed.
    case deleted(ResourceRecord)
    /// The record was added (or its TTL changed: then a `.deleted` of the old one comes first).
    case added(ResourceRecord)

    /// The record concerned.
    public var record: ResourceRecord {
        switch self {
        case .deleted(let r), .added(let r): r
        }
    }

    /// The text form, for logs and error messages.
    public var description: String {
        switch self {
        case .deleted(let r): "- \(r)"
        case .added(let r): "+ \(r)"
        }
    }
}

/// One difference sequence of an incremental transfer (RFC 1995 §4): the zone at serial `from.serial`
/// becomes the zone at `to.serial` by deleting `deleted` and then adding `added`.
public struct IXFRDiff: Sendable, Hashable {
    /// The SOA opening the deletions: the zone's SOA before this change.
    public var from: ResourceRecord
    /// The SOA opening the additions: the zone's SOA after this change.
    public var to: ResourceRecord
    /// Records removed (without the bracketing SOA).
    public var deleted: [ResourceRecord]
    /// Records added (without the bracketing SOA).
    public var added: [ResourceRecord]

    /// Creates a diff; `from` and `to` must hold SOA RDATA.
    public init(from: ResourceRecord, to: ResourceRecord, deleted: [ResourceRecord] = [], added: [ResourceRecord] = []) {
        self.from = from
        self.to = to
        self.deleted = deleted
        self.added = added
    }

    /// The serial the diff starts from (0 when `from` is not an SOA, which the parser never produces).
    public var fromSerial: SerialNumber { ZoneRecordSet.serial(of: self.from) ?? SerialNumber(0) }
    /// The serial the diff ends at.
    public var toSerial: SerialNumber { ZoneRecordSet.serial(of: self.to) ?? SerialNumber(0) }
}

/// The records of one zone at one serial: the apex SOA plus every other record, with no duplicates,
/// kept in the order the primary sent them (additions go last).
///
/// Records are identified by owner (without case), class, type and RDATA; the TTL is not part of the
/// identity (an IXFR deletion names the record, whatever TTL it carries).
public struct ZoneRecordSet: Sendable {
    /// The zone apex.
    public let zone: DomainName
    /// The apex SOA record.
    public private(set) var soa: ResourceRecord
    /// Records in order; nil marks a deleted slot (compacted away once they are many).
    private var slots: [ResourceRecord?]
    private var index: [RecordKey: Int]
    private var tombstones = 0

    /// What identifies a record within the set.
    struct RecordKey: Hashable, Sendable {
        var name: DomainName
        var dnsClass: DNSClass
        var rdata: RData

        init(_ rr: ResourceRecord) {
            self.name = rr.name
            self.dnsClass = rr.dnsClass
            self.rdata = rr.rdata
        }
    }

    /// Creates a set from a full transfer: `soa` is the apex SOA, `records` everything else.
    ///
    /// A record sent twice is kept once; SOA records among `records` are ignored (a zone has one SOA,
    /// and the transfer's bracketing copies are not data).
    /// - Throws: ``ZoneTransferError`` `.badResponse` when `soa` is not an SOA owned by `zone`.
    public init(zone: DomainName, soa: ResourceRecord, records: [ResourceRecord]) throws(ZoneTransferError) {
        guard case .soa = soa.rdata, soa.name == zone else {
            throw ZoneTransferError(.badResponse, "the zone's first record must be the SOA of \(zone), got \(soa)")
        }
        self.zone = zone
        self.soa = soa
        self.slots = []
        self.slots.reserveCapacity(records.count)
        self.index = Dictionary(minimumCapacity: records.count)
        for rr in records where rr.type != .soa {
            let key = RecordKey(rr)
            guard self.index[key] == nil else { continue }
            self.index[key] = self.slots.count
            self.slots.append(rr)
        }
    }

    /// The serial of the SOA.
    public var serial: SerialNumber { Self.serial(of: self.soa) ?? SerialNumber(0) }

    /// Number of records, not counting the SOA.
    public var count: Int { self.index.count }

    /// The records other than the SOA, in order.
    public var records: [ResourceRecord] { self.slots.compactMap { $0 } }

    /// Whether the set holds `record` (any TTL).
    public func contains(_ record: ResourceRecord) -> Bool { self.index[RecordKey(record)] != nil }

    /// The SOA serial of a record, or nil when it is not an SOA.
    static func serial(of rr: ResourceRecord) -> SerialNumber? {
        guard case .soa(let soa) = rr.rdata else { return nil }
        return SerialNumber(soa.serial)
    }

    // MARK: Applying IXFR

    /// Returns the set after `diffs`, leaving this one unchanged, and the changes made.
    /// - Throws: ``ZoneTransferError`` `.diffNotApplicable`; see ``apply(_:)``.
    public func applying(_ diffs: [IXFRDiff]) throws(ZoneTransferError) -> (records: ZoneRecordSet, changes: [ZoneChange]) {
        var copy = self
        let changes = try copy.apply(diffs)
        return (copy, changes)
    }

    /// Applies `diffs` in order: each one's deletions, then its additions, then its SOA.
    ///
    /// Checks, each failing with ``ZoneTransferError`` `.diffNotApplicable` and leaving the set as it was:
    /// the first diff starts at this set's serial, each diff starts where the previous one ended, each
    /// `to` serial is newer than its `from` serial (RFC 1982), every deleted record is present, and
    /// every record lies within the zone. Adding a record that is present only updates its TTL (or
    /// does nothing when the TTL is the same), as a primary may re-send an unchanged record.
    /// - Returns: the changes, in the order made.
    @discardableResult
    public mutating func apply(_ diffs: [IXFRDiff]) throws(ZoneTransferError) -> [ZoneChange] {
        let savedSOA = self.soa
        var changes: [ZoneChange] = []
        do throws(ZoneTransferError) {
            for (i, diff) in diffs.enumerated() {
                try self.applyOne(diff, number: i + 1, changes: &changes)
            }
        } catch {
            self.rollBack(changes)
            self.soa = savedSOA
            throw error
        }
        self.compactIfSparse()
        return changes
    }

    private mutating func applyOne(_ diff: IXFRDiff, number: Int, changes: inout [ZoneChange]) throws(ZoneTransferError) {
        let at = "IXFR diff #\(number)"
        guard let from = Self.serial(of: diff.from), let to = Self.serial(of: diff.to) else {
            throw ZoneTransferError(.diffNotApplicable, "\(at) is not bracketed by SOA records")
        }
        guard from == self.serial else {
            throw ZoneTransferError(.diffNotApplicable, "\(at) starts at serial \(from) but the copy is at serial \(self.serial)")
        }
        guard to.isNewer(than: from) else {
            throw ZoneTransferError(.diffNotApplicable,
                "\(at) goes from serial \(from) to \(to), which is not newer (RFC 1982)")
        }
        guard diff.to.name == self.zone else {
            throw ZoneTransferError(.diffNotApplicable, "\(at): the new SOA is owned by \(diff.to.name), not \(self.zone)")
        }
        for rr in diff.deleted where rr.type != .soa {
            guard let slot = self.index.removeValue(forKey: RecordKey(rr)), let old = self.slots[slot] else {
                throw ZoneTransferError(.diffNotApplicable, "\(at) deletes \(rr), which the copy at serial \(from) does not hold")
            }
            self.slots[slot] = nil
            self.tombstones += 1
            changes.append(.deleted(old))
        }
        for rr in diff.added where rr.type != .soa {
            guard rr.name.isSubdomain(of: self.zone) else {
                throw ZoneTransferError(.diffNotApplicable, "\(at) adds \(rr), which is outside zone \(self.zone)")
            }
            let key = RecordKey(rr)
            if let slot = self.index[key], let old = self.slots[slot] {
                if old.ttl == rr.ttl { continue }
                self.slots[slot] = rr
                changes.append(.deleted(old))
                changes.append(.added(rr))
                continue
            }
            self.index[key] = self.slots.count
            self.slots.append(rr)
            changes.append(.added(rr))
        }
        self.soa = diff.to
    }

    /// Undoes `changes` (newest first) after a failed diff.
    private mutating func rollBack(_ changes: [ZoneChange]) {
        for change in changes.reversed() {
            switch change {
            case .added(let rr):
                if let slot = self.index.removeValue(forKey: RecordKey(rr)) {
                    self.slots[slot] = nil
                    self.tombstones += 1
                }
            case .deleted(let rr):
                let key = RecordKey(rr)
                if let slot = self.index[key] {
                    self.slots[slot] = rr
                } else {
                    self.index[key] = self.slots.count
                    self.slots.append(rr)
                }
            }
        }
        self.compactIfSparse()
    }

    /// Drops deleted slots once they outnumber live ones, so memory follows the zone's size.
    private mutating func compactIfSparse() {
        guard self.tombstones > 1024, self.tombstones > self.index.count else { return }
        var slots: [ResourceRecord?] = []
        slots.reserveCapacity(self.index.count)
        for case let rr? in self.slots {
            self.index[RecordKey(rr)] = slots.count
            slots.append(rr)
        }
        self.slots = slots
        self.tombstones = 0
    }

    // MARK: Text

    /// The zone as master-file text (RFC 1035 §5): a `$ORIGIN` line, the SOA, then every record, owner
    /// names relative to the apex. This is what the policy engine's RPZ reader consumes.
    public func zoneText() -> String {
        let writer = ZoneFileWriter(origin: self.zone)
        var out = "$ORIGIN \(self.zone)\n"
        out += writer.line(for: self.soa)
        out += "\n"
        for case let rr? in self.slots {
            out += writer.line(for: rr)
            out += "\n"
        }
        return out
    }
}
