public import DNSWire

/// One upstream server as written in the configuration, parsed and normalized.
///
/// Accepted forms:
/// - `192.0.2.1`, `192.0.2.1:5353`, `2001:db8::1`, `[2001:db8::1]:5353`: UDP with TCP fallback, port 53 by default;
/// - `udp://ADDR[:PORT]`: the same, written out;
/// - `tcp://ADDR[:PORT]`: TCP only (RFC 7766), port 53 by default;
/// - `tls://ADDR[:PORT][#server.name]`: DNS over TLS (RFC 7858), port 853 by default; the server name is
///   sent as SNI and checked against the certificate, and without it the certificate must name the IP;
/// - `https://host[:port][/path]`: DNS over HTTPS (RFC 8484), path `/dns-query` by default.
///
/// UDP, TCP and TLS addresses must be IP literals: a forwarding resolver that needs DNS to find its
/// own upstream can loop back into itself.
public struct UpstreamSpec: Sendable, Hashable, CustomStringConvertible {
    /// The transport used to reach the upstream.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// UDP, retried over TCP when the reply is truncated.
        case udp
        /// TCP only, with connection reuse and pipelining.
        case tcp
        /// DNS over TLS.
        case tls
        /// DNS over HTTPS.
        case https
    }

    /// The transport.
    public var kind: Kind
    /// For `udp`, `tcp` and `tls`: the server address.
    public var address: IPAddress?
    /// For `https`: the host name or address literal from the URL (without brackets).
    public var host: String
    /// The server port.
    public var port: UInt16
    /// For `tls`: the name sent as SNI and verified against the certificate (nil: verify the IP address).
    public var serverName: String?
    /// For `https`: the URL path, starting with `/`.
    public var path: String

    /// Creates a spec from its parts; prefer ``parse(_:)``.
    public init(kind: Kind, address: IPAddress?, host: String, port: UInt16, serverName: String? = nil,
        path: String = "/dns-query")
    {
        self.kind = kind
        self.address = address
        self.host = host
        self.port = port
        self.serverName = serverName
        self.path = path
    }

    /// Creates a UDP (with TCP fallback) spec for an address.
    public static func udp(_ address: IPAddress, port: UInt16 = 53) -> UpstreamSpec {
        UpstreamSpec(kind: .udp, address: address, host: address.description, port: port)
    }

    /// The default port for a transport (53, 853 or 443).
    public static func defaultPort(for kind: Kind) -> UInt16 {
        switch kind {
        case .udp, .tcp: 53
        case .tls: 853
        case .https: 443
        }
    }

    /// The normalized form, also used as the upstream id in logs and metric labels:
    /// `udp://192.0.2.1:53`, `tls://[2001:db8::1]:853#dns.example.org`, `https://dns.example.org:443/dns-query`.
    public var description: String {
        let hostPart = self.host.contains(":") ? "[\(self.host)]" : self.host
        switch self.kind {
        case .udp, .tcp:
            return "\(self.kind.rawValue)://\(hostPart):\(self.port)"
        case .tls:
            let name = self.serverName.map { "#\($0)" } ?? ""
            return "tls://\(hostPart):\(self.port)\(name)"
        case .https:
            return "https://\(hostPart):\(self.port)\(self.path)"
        }
    }

    /// The URL a DoH request goes to.
    public var url: String {
        let hostPart = self.host.contains(":") ? "[\(self.host)]" : self.host
        return "https://\(hostPart):\(self.port)\(self.path)"
    }

    /// Parses one spec string.
    /// - Throws: ``UpstreamConfigurationError`` with code `.badSpec` whose message quotes the spec and says what is wrong.
    public static func parse(_ text: String) throws(UpstreamConfigurationError) -> UpstreamSpec {
        let spec = text.trimmingWhitespace()
        func fail(_ why: String) -> UpstreamConfigurationError {
            UpstreamConfigurationError(.badSpec, "upstream \"\(text)\": \(why)")
        }
        guard !spec.isEmpty else { throw fail("empty upstream") }

        var kind = Kind.udp
        var rest = Substring(spec)
        if let schemeEnd = spec.firstRange(of: "://") {
            let scheme = spec[..<schemeEnd.lowerBound].lowercased()
            guard let k = Kind(rawValue: scheme) else {
                if scheme == "http" { throw fail("plain http is not allowed; use https://") }
                throw fail("unknown scheme \"\(scheme)://\"; expected udp://, tcp://, tls:// or https://")
            }
            kind = k
            rest = spec[schemeEnd.upperBound...]
        }

        if kind == .https {
            return try Self.parseHTTPS(rest, fail: fail)
        }

        var serverName: String? = nil
        if let hash = rest.firstIndex(of: "#") {
            guard kind == .tls else {
                throw fail("a #server-name is only meaningful for tls:// upstreams")
            }
            let name = String(rest[rest.index(after: hash)...])
            guard Self.isValidServerName(name) else {
                throw fail("server name \"\(name)\" is not a valid host name")
            }
            serverName = name
            rest = rest[..<hash]
        }
        if rest.contains("/") { throw fail("a path is only allowed for https:// upstreams") }

        let (hostText, portText) = try Self.splitHostPort(rest, fail: fail)
        guard let address = IPAddress(hostText) else {
            if hostText.isEmpty { throw fail("missing address") }
            throw fail("\"\(hostText)\" is not an IP address (udp, tcp and tls upstreams need an IP literal)")
        }
        let port = try Self.parsePort(portText, default: Self.defaultPort(for: kind), fail: fail)
        return UpstreamSpec(kind: kind, address: address, host: address.description, port: port,
            serverName: serverName)
    }

    private static func parseHTTPS(_ rest: Substring, fail: (String) -> UpstreamConfigurationError)
        throws(UpstreamConfigurationError) -> UpstreamSpec
    {
        var authority = rest
        var path = "/dns-query"
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            path = String(rest[slash...])
        }
        guard !path.contains("#"), !path.contains("?") else {
            throw fail("the DoH path must not contain a query or fragment (the dns= parameter is added per query)")
        }
        guard !authority.contains("@") else { throw fail("credentials in the URL are not supported") }
        let (hostText, portText) = try Self.splitHostPort(authority, fail: fail)
        guard !hostText.isEmpty else { throw fail("missing host") }
        let address = IPAddress(hostText)
        if address == nil, !Self.isValidServerName(hostText) {
            throw fail("\"\(hostText)\" is neither an IP address nor a valid host name")
        }
        let port = try Self.parsePort(portText, default: 443, fail: fail)
        return UpstreamSpec(kind: .https, address: address, host: address?.description ?? hostText.lowercased(),
            port: port, path: path)
    }

    /// Splits `host`, `host:port`, `[v6]`, `[v6]:port` and bare `v6`.
    private static func splitHostPort(_ s: Substring, fail: (String) -> UpstreamConfigurationError)
        throws(UpstreamConfigurationError) -> (String, Substring?)
    {
        if s.hasPrefix("[") {
            guard let close = s.firstIndex(of: "]") else { throw fail("missing \"]\" after the IPv6 address") }
            let host = String(s[s.index(after: s.startIndex)..<close])
            let after = s[s.index(after: close)...]
            if after.isEmpty { return (host, nil) }
            guard after.hasPrefix(":") else {
                throw fail("unexpected \"\(after)\" after \"]\"; expected \":PORT\"")
            }
            guard IPv6Address(host) != nil else { throw fail("\"\(host)\" is not an IPv6 address") }
            return (host, after.dropFirst())
        }
        let colons = s.filter { $0 == ":" }.count
        if colons == 0 { return (String(s), nil) }
        if colons == 1, let colon = s.firstIndex(of: ":") {
            return (String(s[..<colon]), s[s.index(after: colon)...])
        }
        // Several colons without brackets: the whole thing must be an IPv6 address, port 53.
        guard IPv6Address(s) != nil else {
            throw fail("\"\(s)\" is not an IPv6 address; write [ADDRESS]:PORT to give a port")
        }
        return (String(s), nil)
    }

    private static func parsePort(_ text: Substring?, default def: UInt16, fail: (String) -> UpstreamConfigurationError)
        throws(UpstreamConfigurationError) -> UInt16
    {
        guard let text else { return def }
        guard !text.isEmpty, text.count <= 5, text.allSatisfy({ $0.isASCII && $0.isNumber }), let v = Int(text) else {
            throw fail("port \"\(text)\" is not a number")
        }
        guard (1...65535).contains(v) else { throw fail("port \(v) is out of range 1…65535") }
        return UInt16(v)
    }

    /// Host names per RFC 1123 §2.1: letters, digits, hyphens and dots, labels of 1…63 characters.
    static func isValidServerName(_ name: String) -> Bool {
        var n = Substring(name)
        if n.hasSuffix(".") { n = n.dropLast() }
        guard !n.isEmpty, n.utf8.count <= 253 else { return false }
        for label in n.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty, label.utf8.count <= 63, !label.hasPrefix("-"), !label.hasSuffix("-") else {
                return false
            }
            guard label.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
                return false
            }
        }
        // A name made only of digits and dots is an IPv4 address in disguise, not a host name.
        return !n.allSatisfy { $0.isNumber || $0 == "." }
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs and newlines (no Foundation needed).
    func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = self.firstIndex(where: { !isSpace($0) }), let last = self.lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(self[first...last])
    }
}
