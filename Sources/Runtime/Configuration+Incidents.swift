import Foundation

/// Event exports: JSON lines for log shippers and per-workload Prometheus counters.
public struct ExportConfiguration: Codable, Sendable, Equatable {
    /// JSON event output, one API Event object per line. Default: none.
    public var json: JSONExportConfiguration?
    /// Per-workload query counters on `/metrics`.
    public var prometheus: PrometheusExportConfiguration

    /// Defaults as documented.
    public init() {
        self.json = nil
        self.prometheus = PrometheusExportConfiguration()
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.json = try c.decodeIfPresent(JSONExportConfiguration.self, forKey: .json)
        self.prometheus = try c.decodeIfPresent(PrometheusExportConfiguration.self, forKey: .prometheus)
            ?? PrometheusExportConfiguration()
    }

    func validate(path: String) -> [String] {
        var e: [String] = []
        if let j = self.json {
            if j.path.isEmpty { e.append("\(path).json.path: empty; use - for standard output or a file path") }
            if j.queueCapacity <= 0 { e.append("\(path).json.queueCapacity: must be > 0") }
            if j.flushIntervalMilliseconds <= 0 { e.append("\(path).json.flushIntervalMilliseconds: must be > 0") }
        }
        if self.prometheus.maxWorkloads < 0 { e.append("\(path).prometheus.maxWorkloads: must be >= 0") }
        return e
    }
}

/// JSON event output (`export.json`).
public struct JSONExportConfiguration: Codable, Sendable, Equatable {
    /// `-` for standard output, or a file (appended to; reopened on SIGHUP, for log rotation). Required.
    public var path: String
    /// Events waiting to be written before new ones are dropped (and counted). Default 10000.
    public var queueCapacity: Int
    /// Milliseconds between writes. Default 100.
    public var flushIntervalMilliseconds: Int

    /// Defaults as documented.
    public init(path: String) {
        self.path = path
        self.queueCapacity = 10_000
        self.flushIntervalMilliseconds = 100
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.path = try c.decode(String.self, forKey: .path)
        self.queueCapacity = try c.decodeIfPresent(Int.self, forKey: .queueCapacity) ?? 10_000
        self.flushIntervalMilliseconds = try c.decodeIfPresent(Int.self, forKey: .flushIntervalMilliseconds) ?? 100
    }
}

/// Per-workload query counters (`export.prometheus`).
public struct PrometheusExportConfiguration: Codable, Sendable, Equatable {
    /// Distinct workloads with their own `palisade_workload_queries_total{workload=…}` series; the rest count
    /// as `workload="other"`, unidentified clients as `workload="unidentified"`. 0 turns the counters off.
    /// They are fed by the query-event stream, so they are also off when nothing else consumes it (no
    /// query-log store, no JSON export, no webhooks). Default 100.
    public var maxWorkloads: Int

    /// Defaults as documented.
    public init() {
        self.maxWorkloads = 100
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.maxWorkloads = try c.decodeIfPresent(Int.self, forKey: .maxWorkloads) ?? 100
    }
}

/// Incident webhooks: a workload's first block or detection finding within a window is POSTed as one JSON
/// incident to every webhook (docs/incidents.md).
public struct IncidentsConfiguration: Codable, Sendable, Equatable {
    /// Receivers. Default: none (incidents off).
    public var webhooks: [WebhookConfiguration]
    /// At most one incident per workload within this many seconds. Default 600.
    public var windowSeconds: Int
    /// Recent queries kept per workload and sent with an incident. Default 20.
    public var lastQueries: Int
    /// Workloads (or client addresses) tracked at once; the least recently seen are forgotten. Default 10000.
    public var maxWorkloads: Int
    /// Attempts per incident and webhook, the first included. Default 5.
    public var maxAttempts: Int
    /// Milliseconds before the first retry; doubled after each. Default 500.
    public var initialBackoffMilliseconds: Int
    /// Longest wait between retries, milliseconds. Default 30000.
    public var maxBackoffMilliseconds: Int
    /// Deadline of one request, milliseconds. Default 5000.
    public var timeoutMilliseconds: Int
    /// Incidents waiting per webhook before new ones are dropped (and counted). Default 1000.
    public var queueCapacity: Int

    /// Defaults as documented.
    public init() {
        self.webhooks = []
        self.windowSeconds = 600
        self.lastQueries = 20
        self.maxWorkloads = 10_000
        self.maxAttempts = 5
        self.initialBackoffMilliseconds = 500
        self.maxBackoffMilliseconds = 30_000
        self.timeoutMilliseconds = 5000
        self.queueCapacity = 1000
    }

    public init(from decoder: any Decoder) throws {
        let d = IncidentsConfiguration()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.webhooks = try c.decodeIfPresent([WebhookConfiguration].self, forKey: .webhooks) ?? d.webhooks
        self.windowSeconds = try c.decodeIfPresent(Int.self, forKey: .windowSeconds) ?? d.windowSeconds
        self.lastQueries = try c.decodeIfPresent(Int.self, forKey: .lastQueries) ?? d.lastQueries
        self.maxWorkloads = try c.decodeIfPresent(Int.self, forKey: .maxWorkloads) ?? d.maxWorkloads
        self.maxAttempts = try c.decodeIfPresent(Int.self, forKey: .maxAttempts) ?? d.maxAttempts
        self.initialBackoffMilliseconds = try c.decodeIfPresent(Int.self, forKey: .initialBackoffMilliseconds)
            ?? d.initialBackoffMilliseconds
        self.maxBackoffMilliseconds = try c.decodeIfPresent(Int.self, forKey: .maxBackoffMilliseconds)
            ?? d.maxBackoffMilliseconds
        self.timeoutMilliseconds = try c.decodeIfPresent(Int.self, forKey: .timeoutMilliseconds) ?? d.timeoutMilliseconds
        self.queueCapacity = try c.decodeIfPresent(Int.self, forKey: .queueCapacity) ?? d.queueCapacity
    }

    func validate(path: String) -> [String] {
        var e: [String] = []
        for (i, w) in self.webhooks.enumerated() {
            e += w.validate(path: "\(path).webhooks[\(i)]")
        }
        for (key, value, minimum) in [
            ("windowSeconds", self.windowSeconds, 0), ("lastQueries", self.lastQueries, 1),
            ("maxWorkloads", self.maxWorkloads, 1), ("maxAttempts", self.maxAttempts, 1),
            ("initialBackoffMilliseconds", self.initialBackoffMilliseconds, 1),
            ("maxBackoffMilliseconds", self.maxBackoffMilliseconds, 1), ("timeoutMilliseconds", self.timeoutMilliseconds, 1),
            ("queueCapacity", self.queueCapacity, 1),
        ] where value < minimum {
            e.append("\(path).\(key): must be >= \(minimum)")
        }
        if self.lastQueries > 1000 { e.append("\(path).lastQueries: at most 1000 (memory is lastQueries x maxWorkloads events)") }
        return e
    }
}

/// One webhook receiver (`incidents.webhooks[]`).
public struct WebhookConfiguration: Codable, Sendable, Equatable {
    /// `http://` or `https://` URL the incidents are POSTed to. Required.
    public var url: String
    /// Shared secret: each request then carries `X-Palisade-Signature: sha256=<hex HMAC-SHA256 of the body>`.
    /// Default: none (unsigned). Prefer setting it from the environment.
    public var secret: String?
    /// Extra request headers, each `Name: value` (e.g. `Authorization: Bearer …`). Default: none.
    public var headers: [String]

    /// A webhook with no secret and no extra headers.
    public init(url: String, secret: String? = nil, headers: [String] = []) {
        self.url = url
        self.secret = secret
        self.headers = headers
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.url = try c.decode(String.self, forKey: .url)
        self.secret = try c.decodeIfPresent(String.self, forKey: .secret)
        self.headers = try c.decodeIfPresent([String].self, forKey: .headers) ?? []
    }

    /// The headers split into name and value; nil when one is malformed.
    var parsedHeaders: [(name: String, value: String)]? {
        var out: [(name: String, value: String)] = []
        for h in self.headers {
            guard let colon = h.firstIndex(of: ":") else { return nil }
            let name = h[..<colon].trimmingCharacters(in: .whitespaces)
            let value = h[h.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            // RFC 9110 §5.6.2 token characters; no CR/LF anywhere (header injection).
            let token = CharacterSet(charactersIn: "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
            guard !name.isEmpty, name.unicodeScalars.allSatisfy(token.contains),
                !value.contains("\r"), !value.contains("\n")
            else { return nil }
            out.append((name, value))
        }
        return out
    }

    func validate(path: String) -> [String] {
        var e: [String] = []
        let lower = self.url.lowercased()
        if !(lower.hasPrefix("http://") || lower.hasPrefix("https://")) {
            e.append("\(path).url: '\(self.url)' must start with http:// or https://")
        } else if URL(string: self.url)?.host == nil {
            e.append("\(path).url: '\(self.url)' is not a URL with a host")
        }
        if let s = self.secret, s.isEmpty { e.append("\(path).secret: empty; remove it or set a secret") }
        if self.parsedHeaders == nil {
            e.append("\(path).headers: each entry must be 'Name: value' with a token name and no line breaks")
        }
        return e
    }
}
