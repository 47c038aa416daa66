public import DNSWire

/// What a completed AXFR or IXFR response contained.
public enum TransferContent: Sendable {
    /// The whole zone (an AXFR, or an IXFR answered in AXFR form, RFC 1995 §4).
    case full(ZoneRecordSet)
    /// Difference sequences from the requested serial to `soa` (RFC 1995 §4 incremental form).
    case incremental(soa: ResourceRecord, diffs: [IXFRDiff])
    /// A single SOA: the client is up to date, or (with a newer serial) the primary wants an AXFR
    /// (RFC 1995 §2, §4).
    case soaOnly(ResourceRecord)
}

/// Interprets the answer records of an AXFR (RFC 5936 §2.2) or IXFR (RFC 1995 §4) response stream as
/// they arrive, message by message, and says when the response is complete.
///
/// A plain state machine (no I/O), so every path a hostile primary could take is unit-tested:
/// the first record must be the zone's SOA; an AXFR ends at the next SOA, which must carry the same
/// serial; an IXFR's second record decides between the incremental form (an SOA with the client's
/// serial), the AXFR form (anything else) and "up to date" (the first message holds only the SOA).
/// Every record must be of the zone's class and owned at or below the apex; nothing may follow the
/// closing SOA; record counts are bounded.
struct TransferStream: Sendable {
    /// Which request the stream answers.
    enum Request: Sendable, Equatable {
        case axfr
        /// IXFR from the client's serial.
        case ixfr(current: SerialNumber)
    }

    private enum State: Sendable {
        case expectFirstSOA
        /// IXFR only: the first SOA has been seen, the next record decides the form.
        case afterFirstSOA
        case full
        case deleting
        case adding
        case done
    }

    let zone: DomainName
    let request: Request
    let maxRecords: Int
    private var state = State.expectFirstSOA
    private var first: ResourceRecord?
    private var records: [ResourceRecord] = []
    private var diffs: [IXFRDiff] = []
    private var current: IXFRDiff?
    private var soaOnly = false
    /// Answer records seen so far (including the SOAs), checked against ``maxRecords``.
    private(set) var recordCount = 0

    init(zone: DomainName, request: Request, maxRecords: Int) {
        self.zone = zone
        self.request = request
        self.maxRecords = maxRecords
    }

    /// Whether the closing SOA has been seen (or the response was a lone SOA).
    var isComplete: Bool {
        if case .done = self.state { return true }
        return false
    }

    /// Feeds the answer records of one message.
    /// - Throws: ``ZoneTransferError`` `.badResponse` or `.limitExceeded` naming the record.
    mutating func consume(message answers: [ResourceRecord]) throws(ZoneTransferError) {
        for rr in answers { try self.consume(rr) }
        // RFC 1995 §4: a response holding just the SOA means "up to date" (or "use AXFR" when newer).
        if case .afterFirstSOA = self.state {
            self.soaOnly = true
            self.state = .done
        }
    }

    private mutating func consume(_ rr: ResourceRecord) throws(ZoneTransferError) {
        self.recordCount += 1
        guard self.recordCount <= self.maxRecords else {
            throw ZoneTransferError(.limitExceeded, "more than \(self.maxRecords) records (maxRecords)")
        }
        let where_ = "record #\(self.recordCount) (\(rr.name) \(rr.type))"
        guard rr.dnsClass == .in else {
            throw ZoneTransferError(.badResponse, "\(where_) has class \(rr.dnsClass), expected IN")
        }
        guard rr.name.isSubdomain(of: self.zone) else {
            throw ZoneTransferError(.badResponse, "\(where_) lies outside zone \(self.zone)")
        }
        let serial = ZoneRecordSet.serial(of: rr)
        if serial != nil, rr.name != self.zone {
            throw ZoneTransferError(.badResponse, "\(where_) is an SOA below the apex of \(self.zone)")
        }
        switch self.state {
        case .expectFirstSOA:
            guard serial != nil else {
                throw ZoneTransferError(.badResponse, "the first record is \(rr.name) \(rr.type), not the SOA of \(self.zone)")
            }
            self.first = rr
            if case .ixfr = self.request { self.state = .afterFirstSOA } else { self.state = .full }
        case .afterFirstSOA:
            guard let first = self.first, let firstSerial = ZoneRecordSet.serial(of: first),
                case .ixfr(let currentSerial) = self.request
            else { return }
            if let serial {
                if serial == currentSerial && serial != firstSerial {
                    self.current = IXFRDiff(from: rr, to: rr)
                    self.state = .deleting
                } else if serial == firstSerial {
                    // AXFR form of a zone holding only its SOA.
                    self.state = .done
                } else {
                    throw ZoneTransferError(.badResponse,
                        "\(where_): IXFR from serial \(currentSerial) to \(firstSerial) continues with serial \(serial)")
                }
            } else {
                self.records.append(rr)
                self.state = .full
            }
        case .full:
            if let serial {
                guard let first = self.first, serial == ZoneRecordSet.serial(of: first) else {
                    throw ZoneTransferError(.badResponse,
                        "\(where_): closing SOA has serial \(serial), the opening one \(self.firstSerialText)")
                }
                self.state = .done
            } else {
                self.records.append(rr)
            }
        case .deleting:
            if serial != nil {
                self.current?.to = rr
                self.state = .adding
            } else {
                self.current?.deleted.append(rr)
            }
        case .adding:
            guard let serial else {
                self.current?.added.append(rr)
                return
            }
            guard let diff = self.current, let first = self.first, let finalSerial = ZoneRecordSet.serial(of: first) else {
                return
            }
            self.diffs.append(diff)
            self.current = nil
            if serial == finalSerial && diff.toSerial == finalSerial {
                self.state = .done
            } else if serial == diff.toSerial {
                self.current = IXFRDiff(from: rr, to: rr)
                self.state = .deleting
            } else {
                throw ZoneTransferError(.badResponse,
                    "\(where_): diff to serial \(diff.toSerial) is followed by an SOA with serial \(serial)")
            }
        case .done:
            throw ZoneTransferError(.badResponse, "\(where_) follows the closing SOA")
        }
    }

    private var firstSerialText: String {
        self.first.flatMap { ZoneRecordSet.serial(of: $0) }.map(\.description) ?? "?"
    }

    /// The content of a complete stream.
    /// - Throws: ``ZoneTransferError`` `.badResponse` when the stream is not complete, or the full zone
    ///   cannot be built.
    func content() throws(ZoneTransferError) -> TransferContent {
        guard self.isComplete, let first = self.first else {
            throw ZoneTransferError(.badResponse, "the response ended before its closing SOA")
        }
        if self.soaOnly { return .soaOnly(first) }
        if !self.diffs.isEmpty { return .incremental(soa: first, diffs: self.diffs) }
        return .full(try ZoneRecordSet(zone: self.zone, soa: first, records: self.records))
    }
}
