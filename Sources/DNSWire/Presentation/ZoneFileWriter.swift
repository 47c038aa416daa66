/// Writes records as a master file (RFC 1035 §5), one record per line.
///
/// The output reads back with ``ZoneFileReader`` to the same records: types without a presentation
/// parser are written in the generic `\#` form (RFC 3597 §5), names and strings are escaped.
public struct ZoneFileWriter: Sendable {
    /// When set, a `$ORIGIN` line is written first and owner names at or below it are written relative
    /// to it (`@` for the origin itself). RDATA names stay absolute.
    public var origin: DomainName?
    /// When set, a `$TTL` line is written first and records with this TTL omit it.
    public var defaultTTL: UInt32?

    /// Creates a writer.
    public init(origin: DomainName? = nil, defaultTTL: UInt32? = nil) {
        self.origin = origin
        self.defaultTTL = defaultTTL
    }

    /// The whole file: optional `$ORIGIN`/`$TTL` lines, then one line per record, each ending in `\n`.
    public func write(_ records: [ResourceRecord]) -> String {
        var out = ""
        if let o = self.origin { out += "$ORIGIN \(o)\n" }
        if let t = self.defaultTTL { out += "$TTL \(t)\n" }
        for rr in records {
            out += self.line(for: rr)
            out += "\n"
        }
        return out
    }

    /// One record as `owner [TTL] CLASS TYPE rdata`, without a newline.
    public func line(for rr: ResourceRecord) -> String {
        var s = self.owner(rr.name)
        if rr.ttl != self.defaultTTL { s += " \(rr.ttl)" }
        s += " \(rr.dnsClass) \(rr.type) \(rr.rdata.presentation)"
        return s
    }

    private func owner(_ name: DomainName) -> String {
        guard let o = self.origin, !o.isRoot, name.isSubdomain(of: o) else { return name.description }
        if name == o { return "@" }
        // `name` lies strictly below `o` here, so the relative part has at least one label.
        guard let rel = name.relativized(to: o) else { return name.description }
        return rel.descriptionWithoutDot
    }
}
