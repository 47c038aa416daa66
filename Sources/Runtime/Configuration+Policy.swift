import DNSPolicy
import DNSWire
import DNSZoneTransfer
import Foundation

/// Threat feeds, block lists and allow lists.
public struct PolicyConfiguration: Codable, Sendable, Equatable {
    /// Load the bundled abuse.ch URLhaus snapshot as the source `urlhaus` (before any configured source).
    /// Default true.
    public var defaultFeeds: Bool
    /// Where the `urlhaus` source refreshes from once it has network; empty keeps the bundled snapshot only.
    /// Default: the URLhaus online filter published by the malware-filter project.
    public var defaultFeedURL: String
    /// Fetch http(s) sources. False keeps every source on its last good copy or local file (air-gapped hosts,
    /// tests). Default true.
    public var fetch: Bool
    /// Sources in precedence order (the first match wins; allow lists always win over block lists).
    /// A location may also be `axfr://IP[:PORT]/zone` or `ixfr://…` (zone transfer, `?tsig=keyname`).
    public var sources: [PolicySourceEntry]
    /// BIND-style key file with the TSIG keys zone-transfer locations name with `?tsig=`. Default: none.
    public var tsigKeyFile: String?
    /// `ADDR:PORT` where primaries send NOTIFY for zone-transfer sources (RFC 1996). Default: none
    /// (transfers then follow the SOA refresh schedule only).
    public var notifyListen: String?

    /// Defaults as documented.
    public init() {
        self.defaultFeeds = true
        self.defaultFeedURL = "https://malware-filter.gitlab.io/urlhaus-filter/urlhaus-filter-online.txt"
        self.fetch = true
        self.sources = []
        self.tsigKeyFile = nil
        self.notifyListen = nil
    }

    public init(from decoder: any Decoder) throws {
        let d = PolicyConfiguration()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.defaultFeeds = try c.decodeIfPresent(Bool.self, forKey: .defaultFeeds) ?? d.defaultFeeds
        self.defaultFeedURL = try c.decodeIfPresent(String.self, forKey: .defaultFeedURL) ?? d.defaultFeedURL
        self.fetch = try c.decodeIfPresent(Bool.self, forKey: .fetch) ?? d.fetch
        self.sources = try c.decodeIfPresent([PolicySourceEntry].self, forKey: .sources) ?? []
        self.tsigKeyFile = try c.decodeIfPresent(String.self, forKey: .tsigKeyFile)
        self.notifyListen = try c.decodeIfPresent(String.self, forKey: .notifyListen)
    }
}

/// One policy source as written in the configuration file.
public struct PolicySourceEntry: Codable, Sendable, Equatable {
    /// Unique name: shown in EDE text, logs, metrics and `palisade lists status`.
    public var name: String
    /// `rpz`, `domains`, `hosts`, `adblock` or `auto` (detect from the content). Default `auto`.
    public var kind: String?
    /// A file path, `file://` URL or `http(s)://` URL.
    public var location: String
    /// `block` or `allow`. Default `block`.
    public var role: String?
    /// Seconds between refreshes; absent: only at start-up and on `palisade lists update` / SIGHUP.
    public var refreshSeconds: Int?
    /// `nxdomain`, `nodata`, `refused`, `drop` or `sinkhole`. Default `nxdomain`.
    public var answer: String?
    /// Addresses a `sinkhole` answer gives (A/AAAA).
    public var sinkhole: [String]?
    /// Force every match to `nxdomain`, `nodata`, `refused`, `drop`, `passthru`, or `log` (watch mode).
    public var override: String?
    /// Default true.
    public var enabled: Bool?
    /// While the source has never loaded: `open` (answer normally) or `closed` (refuse everything, not ready).
    /// Default `open`.
    public var failMode: String?
    /// Malformed lines: `skip` (load the rest, count them) or `reject` (refuse the whole source). Default `skip`.
    public var badLines: String?
    /// Whether a bare domain in a domains/hosts list also covers the names below it. Default true.
    public var subdomains: Bool?
    /// EDE code: `blocked` (15) or `filtered` (17). Default `blocked`.
    public var ede: String?
    /// An address alone on a line of a domains, hosts or adblock block list: `ignore`, or `response-ip` (an answer
    /// holding the address is blocked, as by an RPZ `rpz-ip` rule). Default `ignore`.
    public var ipEntries: String?

    /// Creates an entry.
    public init(name: String, kind: String? = nil, location: String, role: String? = nil) {
        self.name = name
        self.kind = kind
        self.location = location
        self.role = role
    }

    /// The engine's configuration, or the problems (each naming the key).
    func compiled(path: String) -> (PolicySourceConfig?, [String]) {
        var e: [String] = []
        let kind = PolicySourceConfig.Kind(rawValue: self.kind ?? "auto")
        if kind == nil { e.append("\(path).kind: '\(self.kind ?? "")' is not rpz, domains, hosts, adblock or auto") }
        let role = PolicySourceConfig.Role(rawValue: self.role ?? "block")
        if role == nil { e.append("\(path).role: must be block or allow") }
        func answer(_ s: String, key: String) -> PolicyAnswer? {
            switch s {
            case "nxdomain": return .nxdomain
            case "nodata": return .nodata
            case "refused": return .refused
            case "drop": return .drop
            case "sinkhole":
                let addrs = (self.sinkhole ?? []).compactMap { IPAddress($0) }
                if addrs.isEmpty || addrs.count != (self.sinkhole ?? []).count {
                    e.append("\(path).sinkhole: needs one or more IP addresses for a sinkhole answer")
                    return nil
                }
                return .sinkhole(addrs)
            default:
                e.append("\(path).\(key): '\(s)' is not nxdomain, nodata, refused, drop or sinkhole")
                return nil
            }
        }
        let ans = answer(self.answer ?? "nxdomain", key: "answer")
        var override: PolicyOverride?
        if let o = self.override {
            switch o {
            case "passthru": override = .passthru
            case "log": override = .log
            default: override = answer(o, key: "override").map { .answer($0) }
            }
        }
        let fail = PolicySourceConfig.FailMode(rawValue: self.failMode ?? "open")
        if fail == nil { e.append("\(path).failMode: must be open or closed") }
        let bad = PolicySourceConfig.BadLines(rawValue: self.badLines ?? "skip")
        if bad == nil { e.append("\(path).badLines: must be skip or reject") }
        let ede = PolicySourceConfig.ExtendedError(rawValue: self.ede ?? "blocked")
        if ede == nil { e.append("\(path).ede: must be blocked or filtered") }
        let ipEntries = PolicySourceConfig.IPEntries(rawValue: self.ipEntries ?? "ignore")
        if ipEntries == nil { e.append("\(path).ipEntries: must be ignore or response-ip") }
        if ipEntries == .responseIP, role == .allow {
            e.append("\(path).ipEntries: response-ip blocks answers, so it applies to block lists only")
        }
        if ipEntries == .responseIP, kind == .rpz {
            e.append("\(path).ipEntries: applies to domains, hosts and adblock lists (an RPZ zone has rpz-ip rules)")
        }
        if let r = self.refreshSeconds, r <= 0 { e.append("\(path).refreshSeconds: must be > 0") }
        if self.name.isEmpty { e.append("\(path).name: empty") }
        guard e.isEmpty, let kind, let role, let ans, let fail, let bad, let ede, let ipEntries else { return (nil, e) }
        return (PolicySourceConfig(name: self.name, kind: kind, location: self.location,
            refreshInterval: self.refreshSeconds.map { .seconds($0) }, role: role, answer: ans, override: override,
            enabled: self.enabled ?? true, failMode: fail, badLines: bad, subdomains: self.subdomains ?? true,
            extendedError: ede, ipEntries: ipEntries), [])
    }
}

extension PalisadeConfiguration {
    /// The engine's source list, in precedence order, with the bundled feed first when enabled.
    func policySources() -> ([PolicySourceConfig], [String]) {
        var out: [PolicySourceConfig] = []
        var problems: [String] = []
        if self.policy.defaultFeeds {
            let location = self.policy.defaultFeedURL.isEmpty ? BundledFeeds.location(BundledFeeds.urlhausName)
                : self.policy.defaultFeedURL
            out.append(PolicySourceConfig(name: BundledFeeds.urlhausName, kind: .adblock, location: location,
                refreshInterval: self.policy.defaultFeedURL.isEmpty ? nil : .seconds(3600)))
        }
        for (i, s) in self.policy.sources.enumerated() {
            var (c, e) = s.compiled(path: "policy.sources[\(i)]")
            // A transferred zone refreshes on its own schedule (SOA check) unless one is configured.
            if var cfg = c, ZoneTransferFetcher.handles(cfg.location) {
                cfg.kind = .rpz
                if cfg.refreshInterval == nil { cfg.refreshInterval = .seconds(300) }
                c = cfg
            }
            problems += e
            if let c { out.append(c) }
        }
        if let n = self.policy.notifyListen, HostPort(n) == nil {
            problems.append("policy.notifyListen: '\(n)' is not ADDR:PORT")
        }
        problems += PolicySourceConfig.validate(out)
        return (out, problems)
    }

    /// Adds `--rpz`, `--blocklist`, `--allowlist` sources in command-line order.
    public mutating func applyPolicyFlags(rpz: [String], blocklists: [String], allowlists: [String], noDefaultFeeds: Bool) {
        if noDefaultFeeds { self.policy.defaultFeeds = false }
        var used = Set(self.policy.sources.map(\.name))
        func name(_ location: String, _ prefix: String) -> String {
            let base = location.split(separator: "/").last.map(String.init) ?? prefix
            var n = base.isEmpty ? prefix : base
            var i = 2
            while used.contains(n) {
                n = "\(base)-\(i)"
                i += 1
            }
            used.insert(n)
            return n
        }
        for r in rpz { self.policy.sources.append(PolicySourceEntry(name: name(r, "rpz"), kind: "rpz", location: r)) }
        for b in blocklists { self.policy.sources.append(PolicySourceEntry(name: name(b, "blocklist"), location: b)) }
        for a in allowlists {
            self.policy.sources.append(PolicySourceEntry(name: name(a, "allowlist"), location: a, role: "allow"))
        }
    }
}
