public import DNSWire

/// Where a zone comes from: `axfr://ADDR[:PORT]/zone.name[?tsig=keyname]` or the same with `ixfr://`.
///
/// - `axfr://` always transfers the whole zone when the primary's serial is newer;
/// - `ixfr://` asks for the changes (RFC 1995) and falls back to a whole transfer when the primary
///   refuses, cannot provide them, or sends diffs that do not fit the copy held.
///
/// `ADDR` is an IP address literal (`192.0.2.1`, `[2001:db8::1]`): host names are refused, since
/// resolving them would make policy loading depend on the resolver being protected. The port defaults
/// to 53. `tsig=` names a key in the ``TSIGKeyRegistry``.
public struct ZoneTransferLocation: Sendable, Hashable, CustomStringConvertible {
    /// Whether updates use IXFR.
    public enum Mode: String, Sendable, Hashable {
        /// Whole transfers only.
        case axfr
        /// Incremental transfers, with AXFR as the fallback.
        case ixfr
    }

    /// The scheme.
    public var mode: Mode
    /// The primary's address.
    public var address: IPAddress
    /// The primary's port.
    public var port: Int
    /// The zone apex.
    public var zone: DomainName
    /// The TSIG key name, when transfers are signed.
    public var keyName: DomainName?

    /// Creates a location from its parts.
    public init(mode: Mode, address: IPAddress, port: Int = 53, zone: DomainName, keyName: DomainName? = nil) {
        self.mode = mode
        self.address = address
        self.port = port
        self.zone = zone
        self.keyName = keyName
    }

    /// Whether `location` uses a scheme this module handles (`axfr://` or `ixfr://`, any case), so a
    /// router can send it here.
    public static func handles(_ location: String) -> Bool {
        let lower = location.lowercased()
        return lower.hasPrefix("axfr://") || lower.hasPrefix("ixfr://")
    }

    /// Parses a location string.
    /// - Throws: ``ZoneTransferError`` `.badLocation` saying which part is wrong.
    public init(parsing text: String) throws(ZoneTransferError) {
        func bad(_ why: String) -> ZoneTransferError {
            ZoneTransferError(.badLocation, "location \"\(text)\": \(why); expected axfr://ADDR[:PORT]/zone[?tsig=key]")
        }
        guard let colon = text.firstIndex(of: ":"), text[colon...].hasPrefix("://") else { throw bad("no scheme") }
        guard let mode = Mode(rawValue: text[..<colon].lowercased()) else {
            throw bad("scheme \"\(text[..<colon])\" is not axfr or ixfr")
        }
        var rest = text[colon...].dropFirst(3)
        if rest.contains("#") { throw bad("a fragment (#) is not allowed") }
        var query: Substring = ""
        if let q = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: q)...]
            rest = rest[..<q]
        }
        guard let slash = rest.firstIndex(of: "/") else { throw bad("no /zone after the address") }
        let authority = rest[..<slash]
        let zoneText = rest[rest.index(after: slash)...]
        if authority.contains("@") { throw bad("user information (@) is not allowed") }

        var hostText: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw bad("unterminated [IPv6 address]") }
            hostText = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw bad("unexpected text after ]") }
                portText = after.dropFirst()
            }
        } else {
            let colons = authority.filter { $0 == ":" }.count
            if colons > 1 { throw bad("an IPv6 address must be written in brackets: [2001:db8::1]:53") }
            if let c = authority.firstIndex(of: ":") {
                hostText = authority[..<c]
                portText = authority[authority.index(after: c)...]
            } else {
                hostText = authority
            }
        }
        guard !hostText.isEmpty else { throw bad("no address") }
        guard let address = IPAddress(hostText) else {
            throw bad("\"\(hostText)\" is not an IP address (host names are not resolved)")
        }
        if case .v4 = address, authority.hasPrefix("[") { throw bad("brackets are only for IPv6 addresses") }
        var port = 53
        if let portText {
            guard let p = Int(portText), (1...65535).contains(p) else { throw bad("port \"\(portText)\" is not 1-65535") }
            port = p
        }

        var zoneName = String(zoneText)
        while zoneName.hasSuffix("/") { zoneName.removeLast() }
        guard !zoneName.isEmpty else { throw bad("no zone name after the address") }
        if !zoneName.hasSuffix(".") { zoneName += "." }
        let zone: DomainName
        do {
            zone = try DomainName(zoneName)
        } catch {
            throw bad("zone \"\(zoneText)\" is not a valid domain name (\(error))")
        }

        var keyName: DomainName?
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw bad("query parameter \"\(pair)\" has no value") }
            switch parts[0].lowercased() {
            case "tsig":
                guard keyName == nil else { throw bad("tsig is given twice") }
                var k = String(parts[1])
                if !k.hasSuffix(".") { k += "." }
                do {
                    keyName = try DomainName(k)
                } catch {
                    throw bad("TSIG key name \"\(parts[1])\" is not a valid domain name")
                }
            default:
                throw bad("unknown parameter \"\(parts[0])\" (only tsig is known)")
            }
        }
        self.init(mode: mode, address: address, port: port, zone: zone, keyName: keyName)
    }

    /// The canonical text form.
    public var description: String {
        var host = self.address.description
        if case .v6 = self.address { host = "[\(host)]" }
        var s = "\(self.mode.rawValue)://\(host):\(self.port)/\(self.zone)"
        if let k = self.keyName { s += "?tsig=\(k)" }
        return s
    }
}
