public import DNSWire

/// `local-data`: names that must never leave the machine, and static overrides.
///
/// RFC 6761 special-use names (`localhost`, `invalid`), RFC 6303 reverse zones of private and
/// loopback ranges (answered NXDOMAIN locally, so container IPs never leak upstream), and
/// operator-defined records.
public struct LocalDataStage: Stage {
    public let id: StageID = "local-data"
    /// Operator records by lowercased owner name.
    public let records: [DomainName: [ResourceRecord]]
    private let localZones: [DomainName]

    /// Creates the stage with static records.
    public init(records: [ResourceRecord] = [], blockPrivateReverse: Bool = true) {
        var d: [DomainName: [ResourceRecord]] = [:]
        for r in records { d[r.name, default: []].append(r) }
        self.records = d
        var zones: [String] = ["invalid."]
        if blockPrivateReverse {
            zones += ["10.in-addr.arpa.", "168.192.in-addr.arpa.", "254.169.in-addr.arpa.", "127.in-addr.arpa.",
                "d.f.ip6.arpa.", "8.e.f.ip6.arpa.", "9.e.f.ip6.arpa.", "a.e.f.ip6.arpa.", "b.e.f.ip6.arpa.",
                "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa."]
            zones += (16...31).map { "\($0).172.in-addr.arpa." }
            zones += (64...127).map { "\($0).100.in-addr.arpa." }
        }
        self.localZones = zones.compactMap { try? DomainName($0) }
    }

    private static let localhost: DomainName = {
        // Invariant: a constant, valid name.
        try! DomainName("localhost.")
    }()

    /// Lowercased last label of a name, without allocating for the common case.
    private static func topLabelIs(_ name: DomainName, _ label: StaticString) -> Bool {
        let w = name.wire
        var pos = 0
        var last = -1
        while pos < w.count, w[pos] != 0 {
            last = pos
            pos += Int(w[pos]) + 1
        }
        guard last >= 0 else { return false }
        let len = Int(w[last])
        guard len == label.utf8CodeUnitCount else { return false }
        return label.withUTF8Buffer { l in
            for i in 0..<len where DomainName.lower(w[last + 1 + i]) != l[i] { return false }
            return true
        }
    }

    func answer(_ q: Query) -> Resolution? {
        let name = q.question.name
        if !self.records.isEmpty, let rrs = self.records[name] {
            var r = q.message.makeResponse()
            r.header.authoritative = true
            r.answers = rrs.filter { $0.type == q.question.type || $0.type == .cname }.map {
                var rr = $0
                rr.name = name
                return rr
            }
            return Resolution(reply: .message(r), source: .local)
        }
        let arpa = Self.topLabelIs(name, "arpa")
        guard arpa || Self.topLabelIs(name, "localhost") || Self.topLabelIs(name, "invalid") else { return nil }
        if name.isSubdomain(of: Self.localhost) {
            var r = q.message.makeResponse()
            r.header.authoritative = true
            if q.question.type == .a {
                r.answers = [ResourceRecord(name: name, ttl: 3600, rdata: .a(.init(address: IPv4Address(127, 0, 0, 1))))]
            } else if q.question.type == .aaaa, let v6 = IPv6Address("::1") {
                r.answers = [ResourceRecord(name: name, ttl: 3600, rdata: .aaaa(.init(address: v6)))]
            }
            return Resolution(reply: .message(r), source: .local)
        }
        for z in self.localZones where name.isSubdomain(of: z) {
            var r = q.message.makeResponse(rcode: name == z ? .noError : .nxDomain)
            r.header.authoritative = true
            r.authorities = [
                ResourceRecord(name: z, ttl: 3600, rdata: .soa(.init(mname: z, rname: z, serial: 1, refresh: 3600,
                    retry: 1200, expire: 604800, minimum: 3600)))
            ]
            return Resolution(reply: .message(r), source: .local)
        }
        return nil
    }

    public func resolveNow(_ query: Query, in context: QueryContext, next: NextNow) throws -> Resolution? {
        if let r = self.answer(query) { return r }
        return try next(query, context)
    }

    public func resolve(_ query: Query, in context: QueryContext, next: @escaping Next) async throws -> Resolution {
        if let r = self.answer(query) {
            context.note(self.id, "answered locally (\(r.rcode?.description ?? "-"))")
            return r
        }
        return try await next(query, context)
    }
}
