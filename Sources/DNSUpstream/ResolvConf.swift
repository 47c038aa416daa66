import DNSWire
import Foundation
import NIOCore
import NIOPosix

/// The `nameserver` lines of a resolv.conf(5) file: the fallback upstreams when none are configured.
public struct ResolvConf: Sendable, Hashable {
    /// A line that was not used, and why.
    public struct Note: Sendable, Hashable, CustomStringConvertible {
        /// 1-based line number.
        public var line: Int
        /// What was wrong.
        public var reason: String
        public var description: String { "line \(self.line): \(self.reason)" }
    }

    /// Name server addresses in file order, duplicates removed.
    public var nameservers: [IPAddress]
    /// `nameserver` lines that were skipped (bad address, scoped link-local address).
    public var notes: [Note]

    /// Creates a value directly.
    public init(nameservers: [IPAddress], notes: [Note] = []) {
        self.nameservers = nameservers
        self.notes = notes
    }

    /// Parses resolv.conf text. Only `nameserver` lines matter; comments start with `#` or `;`.
    /// Nothing here throws: a bad line is skipped and noted, as the C library does.
    public static func parse(_ text: String) -> ResolvConf {
        var out = ResolvConf(nameservers: [])
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = index + 1
            var content = Substring(raw)
            if let c = content.firstIndex(where: { $0 == "#" || $0 == ";" }) { content = content[..<c] }
            let fields = content.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            guard let keyword = fields.first, keyword == "nameserver" else { continue }
            guard fields.count >= 2 else {
                out.notes.append(Note(line: line, reason: "nameserver without an address"))
                continue
            }
            let text = fields[1]
            if text.contains("%") {
                // A scoped link-local address needs its interface, which an upstream spec cannot carry.
                out.notes.append(Note(line: line, reason: "scoped address \(text) is not supported"))
                continue
            }
            guard let address = IPAddress(text) else {
                out.notes.append(Note(line: line, reason: "\"\(text)\" is not an IP address"))
                continue
            }
            if !out.nameservers.contains(address) { out.nameservers.append(address) }
        }
        return out
    }

    /// Reads and parses a resolv.conf file.
    /// - Parameter path: the file (injectable for tests; the system default is `/etc/resolv.conf`).
    /// - Throws: ``UpstreamConfigurationError`` `.unreadableFile` naming the path.
    public static func load(path: String = "/etc/resolv.conf") throws(UpstreamConfigurationError) -> ResolvConf {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw UpstreamConfigurationError(.unreadableFile, "cannot read \(path): \(error.localizedDescription)")
        }
        return Self.parse(String(decoding: data, as: UTF8.self))
    }

    /// The name servers as UDP upstream specs, without the ones that would be ourselves.
    ///
    /// resolv.conf servers are always on port 53, so a listen address on another port never
    /// conflicts. A wildcard listen address (`0.0.0.0`, `::`) on port 53 covers every local address:
    /// loopback and `localAddresses`. This is how 127.0.0.53 is skipped only when we listen there.
    /// - Parameters:
    ///   - listenAddresses: where Palisade listens (address and port).
    ///   - localAddresses: this host's interface addresses, for wildcard listeners (default: from the OS).
    /// - Throws: ``UpstreamConfigurationError`` `.noUpstreams` when nothing usable is left, saying why.
    public func upstreamSpecs(excludingListenAddresses listenAddresses: [(address: IPAddress, port: UInt16)],
        localAddresses: [IPAddress]? = nil) throws(UpstreamConfigurationError) -> [UpstreamSpec]
    {
        let own = listenAddresses.filter { $0.port == 53 }.map(\.address)
        let wildcard = own.contains { Self.isUnspecified($0) }
        let locals = wildcard ? (localAddresses ?? Self.interfaceAddresses()) : []
        var specs: [UpstreamSpec] = []
        var skipped: [String] = []
        for server in self.nameservers {
            let s = server.unmapped
            let isOurs = own.contains(s) || (wildcard && (Self.isLoopback(s) || Self.isUnspecified(s) || locals.contains(s)))
            if isOurs {
                skipped.append(s.description)
            } else {
                specs.append(.udp(s))
            }
        }
        guard !specs.isEmpty else {
            let why = self.nameservers.isEmpty
                ? "it lists no usable nameserver"
                : "every nameserver (\(skipped.joined(separator: ", "))) is one of our own listen addresses"
            throw UpstreamConfigurationError(.noUpstreams, "no upstream from resolv.conf: \(why); configure upstreams explicitly")
        }
        return specs
    }

    static func isLoopback(_ a: IPAddress) -> Bool {
        switch a.unmapped {
        case .v4(let v4): return v4.value >> 24 == 127
        case .v6(let v6): return v6.high == 0 && v6.low == 1
        }
    }

    static func isUnspecified(_ a: IPAddress) -> Bool {
        switch a.unmapped {
        case .v4(let v4): return v4.value == 0
        case .v6(let v6): return v6.high == 0 && v6.low == 0
        }
    }

    /// This host's interface addresses (best effort: an enumeration failure yields none).
    static func interfaceAddresses() -> [IPAddress] {
        guard let devices = try? System.enumerateDevices() else { return [] }
        return devices.compactMap { $0.address?.ipAddress }.compactMap { IPAddress(socketAddressText: $0) }
    }
}
