public import DNSCache
import DNSPipeline
public import QueryStore
import DNSWire
import Foundation
import Yams

/// The whole configuration file. Every field has a documented default, so an empty file (or no
/// file at all) is a working configuration: listen on 127.0.0.1:5353, forward to the resolv.conf
/// nameservers, block with the bundled threat-feed snapshot, log queries to SQLite.
public struct PalisadeConfiguration: Codable, Sendable, Equatable {
    /// Plain DNS listen addresses (`ADDR:PORT`, UDP and TCP). Default `["127.0.0.1:5353"]`.
    public var listen: [String]
    /// DNS-over-TLS listener (RFC 7858). Default: none.
    public var dot: TLSListenerConfiguration?
    /// DNS-over-HTTPS listener (RFC 8484). Default: none.
    public var doh: TLSListenerConfiguration?
    /// Address of the HTTP server for metrics, health and the console (`ADDR:PORT`). Default `127.0.0.1:8053`;
    /// empty string disables it.
    public var http: String
    /// Event-loop threads; 0 means one per core. Default 0.
    public var threads: Int
    /// How the plain DNS listeners read and write UDP: `direct` (a thread per UDP socket with recvmmsg/sendmmsg,
    /// outside SwiftNIO; cache misses go to an event loop) or `nio` (a SwiftNIO datagram channel on each event loop).
    /// One UDP socket per event-loop thread either way. Default `direct`.
    public var udpEngine: String
    /// Directory for the query database and the feeds' last good copies. Default `palisade-data`
    /// (relative to the working directory).
    public var dataDir: String
    /// Who may query. Default: loopback and private/container ranges only (never an open resolver).
    public var acl: ACLConfiguration
    /// Where queries are forwarded.
    public var upstreams: UpstreamsConfiguration
    /// Cache behaviour.
    public var cache: CacheConfiguration
    /// Static records and special-use names.
    public var localData: LocalDataConfiguration
    /// Query logging.
    public var queryLog: QueryLogConfiguration
    /// Process log output.
    public var log: LogConfiguration
    /// TCP behaviour (RFC 7766).
    public var tcp: TCPConfiguration
    /// Threat feeds, block lists and allow lists.
    public var policy: PolicyConfiguration
    /// YAML file mapping client addresses or prefixes to workload names and labels. Default: none.
    public var identityFile: String?
    /// Workload identity from container engines and Kubernetes, and the address history.
    public var identity: IdentityConfiguration
    /// The REST API: tokens that may change state.
    public var api: APIConfiguration
    /// Quarantine answers, allowlist and container actions.
    public var quarantine: QuarantineConfiguration
    /// Event exports: JSON lines, per-workload Prometheus counters.
    public var export: ExportConfiguration
    /// Incident webhooks.
    public var incidents: IncidentsConfiguration

    /// The embedded default configuration.
    public init() {
        self.listen = ["127.0.0.1:5353"]
        self.dot = nil
        self.doh = nil
        self.http = "127.0.0.1:8053"
        self.threads = 0
        self.udpEngine = "direct"
        self.dataDir = "palisade-data"
        self.acl = ACLConfiguration()
        self.upstreams = UpstreamsConfiguration()
        self.cache = CacheConfiguration()
        self.localData = LocalDataConfiguration()
        self.queryLog = QueryLogConfiguration()
        self.log = LogConfiguration()
        self.tcp = TCPConfiguration()
        self.policy = PolicyConfiguration()
        self.identityFile = nil
        self.identity = IdentityConfiguration()
        self.api = APIConfiguration()
        self.quarantine = QuarantineConfiguration()
        self.export = ExportConfiguration()
        self.incidents = IncidentsConfiguration()
    }

    public init(from decoder: any Decoder) throws {
        let d = PalisadeConfiguration()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.listen = try c.decodeIfPresent([String].self, forKey: .listen) ?? d.listen
        self.dot = try c.decodeIfPresent(TLSListenerConfiguration.self, forKey: .dot)
        self.doh = try c.decodeIfPresent(TLSListenerConfiguration.self, forKey: .doh)
        self.http = try c.decodeIfPresent(String.self, forKey: .http) ?? d.http
        self.threads = try c.decodeIfPresent(Int.self, forKey: .threads) ?? d.threads
        self.udpEngine = try c.decodeIfPresent(String.self, forKey: .udpEngine) ?? d.udpEngine
        self.dataDir = try c.decodeIfPresent(String.self, forKey: .dataDir) ?? d.dataDir
        self.acl = try c.decodeIfPresent(ACLConfiguration.self, forKey: .acl) ?? d.acl
        self.upstreams = try c.decodeIfPresent(UpstreamsConfiguration.self, forKey: .upstreams) ?? d.upstreams
        self.cache = try c.decodeIfPresent(CacheConfiguration.self, forKey: .cache) ?? d.cache
        self.localData = try c.decodeIfPresent(LocalDataConfiguration.self, forKey: .localData) ?? d.localData
        self.queryLog = try c.decodeIfPresent(QueryLogConfiguration.self, forKey: .queryLog) ?? d.queryLog
        self.log = try c.decodeIfPresent(LogConfiguration.self, forKey: .log) ?? d.log
        self.tcp = try c.decodeIfPresent(TCPConfiguration.self, forKey: .tcp) ?? d.tcp
        self.policy = try c.decodeIfPresent(PolicyConfiguration.self, forKey: .policy) ?? d.policy
        self.identityFile = try c.decodeIfPresent(String.self, forKey: .identityFile)
        self.identity = try c.decodeIfPresent(IdentityConfiguration.self, forKey: .identity) ?? d.identity
        self.api = try c.decodeIfPresent(APIConfiguration.self, forKey: .api) ?? d.api
        self.quarantine = try c.decodeIfPresent(QuarantineConfiguration.self, forKey: .quarantine) ?? d.quarantine
        self.export = try c.decodeIfPresent(ExportConfiguration.self, forKey: .export) ?? d.export
        self.incidents = try c.decodeIfPresent(IncidentsConfiguration.self, forKey: .incidents) ?? d.incidents
    }

    enum CodingKeys: String, CodingKey {
        case listen, dot, doh, http, threads, udpEngine, dataDir, acl, upstreams, cache, localData, queryLog, log, tcp, policy, identityFile
        case identity, api, quarantine
        case export, incidents
    }
}

/// A TLS listener (DoT or DoH).
public struct TLSListenerConfiguration: Codable, Sendable, Equatable {
    /// Listen addresses (`ADDR:PORT`).
    public var listen: [String]
    /// PEM certificate chain file.
    public var certificate: String
    /// PEM private key file.
    public var key: String
    /// DoH path. Default `/dns-query`.
    public var path: String?
}

/// Access control.
public struct ACLConfiguration: Codable, Sendable, Equatable {
    /// Client prefixes allowed to query. Default: 127.0.0.0/8, ::1, RFC 1918, CGNAT 100.64/10, link-local, ULA.
    public var allow: [String]

    /// Defaults as documented.
    public init(allow: [String] = IPNetwork.privateAndLoopback.map(\.description)) {
        self.allow = allow
    }
}

/// Upstream servers.
public struct UpstreamsConfiguration: Codable, Sendable, Equatable {
    /// Upstream specs: `ADDR:PORT`, `tcp://ADDR:PORT`, `tls://ADDR:PORT#name`, `https://host/dns-query`.
    /// Default: empty, meaning the nameservers of `/etc/resolv.conf`.
    public var servers: [String]
    /// `random`, `round-robin` or `sequential`. Default `random`.
    public var strategy: String
    /// Per-attempt timeout in milliseconds. Default 1500.
    public var timeoutMs: Int
    /// Total deadline for one query across retries and failover, milliseconds. Default 4000.
    public var deadlineMs: Int
    /// Domains forwarded to their own servers (e.g. `cluster.local` to the cluster DNS). Longest suffix wins.
    public var conditional: [ConditionalForward]
    /// resolv.conf used when `servers` is empty. Default `/etc/resolv.conf`.
    public var resolvConf: String
    /// UDP sockets: `pooled` (8 connected sockets on random ports per event loop, each retired after 100
    /// queries; many queries per socket, told apart by random ID) or `per-query` (a fresh random port for
    /// every query: a port learned by an on-path observer is useless for the next query, at about half
    /// the cache-miss throughput). Off-path spoofing odds are the same for both. Default `pooled`.
    public var udpSockets: String

    /// Defaults as documented.
    public init() {
        self.servers = []
        self.strategy = "random"
        self.timeoutMs = 1500
        self.deadlineMs = 4000
        self.conditional = []
        self.resolvConf = "/etc/resolv.conf"
        self.udpSockets = "pooled"
    }

    public init(from decoder: any Decoder) throws {
        let d = UpstreamsConfiguration()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.servers = try c.decodeIfPresent([String].self, forKey: .servers) ?? d.servers
        self.strategy = try c.decodeIfPresent(String.self, forKey: .strategy) ?? d.strategy
        self.timeoutMs = try c.decodeIfPresent(Int.self, forKey: .timeoutMs) ?? d.timeoutMs
        self.deadlineMs = try c.decodeIfPresent(Int.self, forKey: .deadlineMs) ?? d.deadlineMs
        self.conditional = try c.decodeIfPresent([ConditionalForward].self, forKey: .conditional) ?? d.conditional
        self.resolvConf = try c.decodeIfPresent(String.self, forKey: .resolvConf) ?? d.resolvConf
        self.udpSockets = try c.decodeIfPresent(String.self, forKey: .udpSockets) ?? d.udpSockets
    }
}

/// One conditional-forwarding rule.
public struct ConditionalForward: Codable, Sendable, Equatable {
    /// The domain (and everything below it).
    public var domain: String
    /// Its upstream specs.
    public var servers: [String]
}

/// Static records.
public struct LocalDataConfiguration: Codable, Sendable, Equatable {
    /// Zone-file lines, e.g. `printer.lan. 300 IN A 192.0.2.10`.
    public var records: [String]
    /// Answer RFC 6303 private reverse zones locally (NXDOMAIN). Default true.
    public var blockPrivateReverse: Bool

    /// Defaults as documented.
    public init() {
        self.records = []
        self.blockPrivateReverse = true
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.records = try c.decodeIfPresent([String].self, forKey: .records) ?? []
        self.blockPrivateReverse = try c.decodeIfPresent(Bool.self, forKey: .blockPrivateReverse) ?? true
    }
}

/// Query logging.
public struct QueryLogConfiguration: Codable, Sendable, Equatable {
    /// Store every query in the SQLite database in `dataDir`. Default true.
    public var store: Bool
    /// Deprecated: use `export.json.path`. Still honoured (with a warning) when `export.json` is unset.
    /// Default: none.
    public var jsonOutput: String?
    /// The SQLite store: file (relative paths are inside `dataDir`), queue, batches, retention.
    public var sqlite: QueryStoreConfiguration
    /// Where the log is stored: `sqlite` (the file in `sqlite.path`, one resolver) or `postgres` (a
    /// PostgreSQL database shared by a fleet, see `postgres`). Default `sqlite`.
    public var backend: String
    /// The PostgreSQL database, when `backend` is `postgres`.
    public var postgres: PostgresLogConfiguration?
    /// Identical queries (same client, workload, question, rcode, answer source and policy hit) within
    /// this many milliseconds become one logged event with a count; 0 logs every query as its own event.
    /// Blocked queries are logged at once and their repeats folded; blocks by a rule covering a subtree fold by
    /// the rule. Default 10000: the benchmark's cached mix lost 20–24 % of its throughput to the log at 2000 and
    /// 5–11 % at 10000 (BENCHMARKS.md); blocks and detector findings are handed over at once whatever the window.
    public var aggregateWindowMs: Int
    /// Distinct blocked questions (name and type) one client (workload) may have in one aggregation window before
    /// the rest fold into a storm row per question type, feed and action, which counts their queries, lists the first
    /// 16 of their names and carries a `block-storm` finding; 0 gives every distinct blocked question its own row. A
    /// flood of random blocked names (a DGA on exact-name rules, a container pushing older rows out through
    /// `sqlite.maxRows`) so costs a few rows a window. Every query is still counted, and each answer's Extended DNS
    /// Error still names its rule. Default 1000.
    public var blockStormThreshold: Int

    /// Defaults as documented.
    public init() {
        self.store = true
        self.jsonOutput = nil
        self.sqlite = QueryStoreConfiguration()
        self.aggregateWindowMs = 10_000
        self.blockStormThreshold = 1_000
        self.backend = "sqlite"
        self.postgres = nil
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.store = try c.decodeIfPresent(Bool.self, forKey: .store) ?? true
        self.jsonOutput = try c.decodeIfPresent(String.self, forKey: .jsonOutput)
        self.sqlite = try c.decodeIfPresent(QueryStoreConfiguration.self, forKey: .sqlite) ?? QueryStoreConfiguration()
        self.aggregateWindowMs = try c.decodeIfPresent(Int.self, forKey: .aggregateWindowMs) ?? 10_000
        self.blockStormThreshold = try c.decodeIfPresent(Int.self, forKey: .blockStormThreshold) ?? 1_000
        self.backend = try c.decodeIfPresent(String.self, forKey: .backend) ?? "sqlite"
        self.postgres = try c.decodeIfPresent(PostgresLogConfiguration.self, forKey: .postgres)
        guard self.backend == "sqlite" || self.backend == "postgres" else {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [CodingKeys.backend],
                debugDescription: "must be sqlite or postgres, got \(self.backend)"))
        }
        if self.backend == "postgres" && self.postgres == nil {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [CodingKeys.postgres],
                debugDescription: "backend is postgres, so queryLog.postgres (host, user, database) is required"))
        }
        guard (0...600_000).contains(self.aggregateWindowMs) else {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [CodingKeys.aggregateWindowMs],
                debugDescription: "must be between 0 and 600000 milliseconds, got \(self.aggregateWindowMs)"))
        }
        guard (0...10_000_000).contains(self.blockStormThreshold) else {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [CodingKeys.blockStormThreshold],
                debugDescription: "must be between 0 (no limit) and 10000000 names, got \(self.blockStormThreshold)"))
        }
    }
}

/// The PostgreSQL database a fleet of resolvers logs to.
public struct PostgresLogConfiguration: Codable, Sendable, Equatable {
    /// Server host name or address.
    public var host: String
    /// Server port. Default 5432.
    public var port: Int
    /// Role to log in as.
    public var user: String
    /// File holding the role's password (first line); preferred over `password`. Default: none.
    public var passwordFile: String?
    /// The password itself (prefer `passwordFile` or the PALISADE_QUERY_LOG__POSTGRES__PASSWORD variable).
    public var password: String?
    /// Database name.
    public var database: String
    /// `disable`, `prefer` or `require`. Default `prefer`.
    public var tls: String
    /// Most connections per resolver. Default 8.
    public var maxConnections: Int

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.host = try c.decode(String.self, forKey: .host)
        self.port = try c.decodeIfPresent(Int.self, forKey: .port) ?? 5432
        self.user = try c.decode(String.self, forKey: .user)
        self.passwordFile = try c.decodeIfPresent(String.self, forKey: .passwordFile)
        self.password = try c.decodeIfPresent(String.self, forKey: .password)
        self.database = try c.decode(String.self, forKey: .database)
        self.tls = try c.decodeIfPresent(String.self, forKey: .tls) ?? "prefer"
        self.maxConnections = try c.decodeIfPresent(Int.self, forKey: .maxConnections) ?? 8
        guard ["disable", "prefer", "require"].contains(self.tls) else {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [CodingKeys.tls],
                debugDescription: "must be disable, prefer or require, got \(self.tls)"))
        }
        guard (1...65535).contains(self.port) else {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [CodingKeys.port],
                debugDescription: "must be a port number, got \(self.port)"))
        }
    }
}

/// Process logging.
public struct LogConfiguration: Codable, Sendable, Equatable {
    /// `trace`, `debug`, `info`, `notice`, `warning`, `error`, `critical`. Default `info`.
    public var level: String
    /// `text` or `json`. Default `text`.
    public var format: String

    /// Defaults as documented.
    public init() {
        self.level = "info"
        self.format = "text"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.level = try c.decodeIfPresent(String.self, forKey: .level) ?? "info"
        self.format = try c.decodeIfPresent(String.self, forKey: .format) ?? "text"
    }
}

/// TCP and TLS connection handling.
public struct TCPConfiguration: Codable, Sendable, Equatable {
    /// Idle connections close after this many milliseconds (RFC 7766 §6.2.3). Default 10000.
    public var idleTimeoutMs: Int
    /// Most simultaneous connections per listener. Default 1000.
    public var maxConnections: Int

    /// Defaults as documented.
    public init() {
        self.idleTimeoutMs = 10_000
        self.maxConnections = 1000
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.idleTimeoutMs = try c.decodeIfPresent(Int.self, forKey: .idleTimeoutMs) ?? 10_000
        self.maxConnections = try c.decodeIfPresent(Int.self, forKey: .maxConnections) ?? 1000
    }
}
