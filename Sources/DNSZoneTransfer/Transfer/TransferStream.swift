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
    /// The first SOA's serial: the serial the response brings the zone to.
    private var finalSerial = SerialNumber(0)
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
        guard rr.dnsClass == .in else {
            throw ZoneTransferError(.badResponse, "\(self.at(rr)) has class \(rr.dnsClass), expected IN")
        }
        guard rr.name.isSubdomain(of: self.zone) else {
            throw ZoneTransferError(.badResponse, "\(self.at(rr)) lies outside zone \(self.zone)")
        }
        let serial = ZoneRecordSet.serial(of: rr)
        if serial != nil, rr.name != self.zone {
            throw ZoneTransferError(.badResponse, "\(self.at(rr)) is an SOA below the apex of \(self.zone)")
        }
        switch self.state {
        case .expectFirstSOA:
            guard let serial else {
                throw ZoneTransferError(.badResponse, "the first record is \(rr.name) \(rr.type), not the SOA of \(self.zone)")
            }
            self.first = rr
            self.finalSerial = serial
            self.state = self.request == .axfr ? .full : .afterFirstSOA
        case .afterFirstSOA:
            try self.decideForm(rr, serial: serial)
        case .full:
            guard let serial else {
                self.records.append(rr)
                return
            }
            guard serial == self.finalSerial else {
                throw ZoneTransferError(.badResponse,
                    "\(self.at(rr)): closing SOA has serial \(serial), the opening one \(self.finalSerial)")
            }
            self.state = .done
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
            try self.closeDiff(at: rr, serial: serial)
        case .done:
            throw ZoneTransferError(.badResponse, "\(self.at(rr)) follows the closing SOA")
        }
    }

    /// IXFR: the record after the first SOA says which form the response takes (RFC 1995 §4).
    private mutating func decideForm(_ rr: ResourceRecord, serial: SerialNumber?)
        throws(ZoneTransferError)
    {
        guard let serial else {
            self.records.append(rr)
            self.state = .full
            return
        }
        let current: SerialNumber
        switch self.request {
        case .ixfr(let c): current = c
        case .axfr: current = self.finalSerial
        }
        if serial == current && serial != self.finalSerial {
            self.current = IXFRDiff(from: rr, to: rr)
            self.state = .deleting
        } else if serial == self.finalSerial {
            // AXFR form of a zone holding only its SOA.
            self.state = .done
        } else {
            throw ZoneTransferError(.badResponse,
                "\(self.at(rr)): IXFR from serial \(current) to \(self.finalSerial) continues with serial \(serial)")
        }
    }

    /// IXFR: an SOA ending a diff's additions either closes the response or opens the next diff.
    private mutating func closeDiff(at rr: ResourceRecord, serial: SerialNumber)
        throws(ZoneTransferError)
    {
        guard let diff = self.current else { return }
        let reached = diff.toSerial
        self.diffs.append(diff)
        self.current = nil
        if serial == self.finalSerial && reached == self.finalSerial {
            self.state = .done
        } else if serial == reached {
            self.current = IXFRDiff(from: rr, to: rr)
            self.state = .deleting
        } else {
            throw ZoneTransferError(.badResponse, "\(self.at(rr)): diff to serial \(reached) is followed by an SOA with serial \(serial)")
        }
    }

    /// Names a record in an error (built only when one is thrown: this runs for every record).
    private func at(_ rr: ResourceRecord) -> String {
        "record #\(self.recordCount) (\(rr.name) \(rr.type))"
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
