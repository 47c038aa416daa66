import DNSCache
import DNSPipeline
import DNSServer
import DNSWire
import Foundation
import Yams

/// A configuration that could not be loaded, with every problem and its key path.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    /// One line per problem: `key.path: what is wrong`.
    public var problems: [String]
    /// The file, when one was read.
    public var file: String?

    /// Creates an error listing `problems`.
    public init(problems: [String], file: String? = nil) {
        self.problems = problems
        self.file = file
    }

    public var description: String {
        let head = self.file.map { "invalid configuration in \($0):" } ?? "invalid configuration:"
        return ([head] + self.problems.map { "  - \($0)" }).joined(separator: "\n")
    }
}

/// Loads a configuration in three steps: decode (file + environment), validate (collect every
/// error with its key path), normalize (in ``PipelineBuilder``).
public enum ConfigurationLoader {
    /// Environment variables with this prefix override keys: `PALISADE_CACHE__MAX_ENTRIES=5000`
    /// sets `cache.maxEntries`; `__` separates levels, `_` separates words.
    public static let environmentPrefix = "PALISADE_"

    /// Reads `path` (nil: embedded default) and applies environment overrides.
    /// - Throws: ``ConfigurationError`` naming the file, key and problem.
    public static func load(path: String?, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws -> PalisadeConfiguration
    {
        var root: Node = [:]
        if let path {
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw ConfigurationError(problems: ["cannot read file: \(error.localizedDescription)"], file: path)
            }
            do {
                if let node = try Yams.compose(yaml: text) {
                    guard node.mapping != nil else {
                        throw ConfigurationError(problems: ["top level must be a mapping of keys"], file: path)
                    }
                    root = node
                }
            } catch let e as ConfigurationError {
                throw e
            } catch {
                throw ConfigurationError(problems: ["YAML syntax: \(error)"], file: path)
            }
        }
        var problems: [String] = []
        // The encoded defaults tell which keys hold lists, so `a,b` from the environment becomes a list.
        let defaults = (try? Yams.compose(yaml: YAMLEncoder().encode(PalisadeConfiguration()))) ?? nil
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) where name.hasPrefix(Self.environmentPrefix) {
            let path = name.dropFirst(Self.environmentPrefix.count).components(separatedBy: "__").map(Self.camelCase)
            guard !path.isEmpty, !path.contains(where: \.isEmpty) else {
                problems.append("\(name): not a key path")
                continue
            }
            do {
                try Self.set(&root, path: path[...], value: value, defaults: defaults)
            } catch {
                problems.append("\(name): \(error)")
            }
        }
        problems += Self.unknownKeys(root, path: "", defaults: defaults)
        if !problems.isEmpty { throw ConfigurationError(problems: problems, file: path) }
        let config: PalisadeConfiguration
        do {
            config = try YAMLDecoder().decode(PalisadeConfiguration.self, from: root)
        } catch let e as DecodingError {
            throw ConfigurationError(problems: [Self.describe(e)], file: path)
        } catch {
            throw ConfigurationError(problems: ["\(error)"], file: path)
        }
        let errors = Self.validate(config)
        if !errors.isEmpty { throw ConfigurationError(problems: errors, file: path) }
        return config
    }

    /// The values `udpEngine` takes.
    public static let udpEngines = UDPEngine.allCases.map(\.rawValue)

    /// Keys that may appear although the encoded defaults omit them (optional sections and fields).
    static let optionalKeys: [String: Set<String>] = [
        "": ["dot", "doh", "identityFile"],
        "identity": ["dockerSocket", "kubeconfig"],
        "queryLog": ["jsonOutput", "postgres"],
        "queryLog.postgres": ["host", "port", "user", "passwordFile", "password", "database", "tls", "maxConnections"],
        "queryLog.sqlite": ["maxAgeHours", "maxRows"],
        "policy": ["tsigKeyFile", "notifyListen"],
        "dot": ["listen", "certificate", "key", "path"],
        "doh": ["listen", "certificate", "key", "path"],
        "policy.sources[]": ["name", "kind", "location", "role", "refreshSeconds", "answer", "sinkhole", "override",
            "enabled", "failMode", "badLines", "subdomains", "ede", "ipEntries"],
        "upstreams.conditional[]": ["domain", "servers"],
        "api.tokens[]": ["name", "token", "tokenFile"],
        "export": ["json"],
        "export.json": ["path", "queueCapacity", "flushIntervalMilliseconds"],
        "incidents.webhooks[]": ["url", "secret", "headers"],
    ]

    /// Every key in `node` that the configuration does not know, at any depth, so a typo in a nested
    /// section (`cache.maxEntriez`) is an error instead of a silent default.
    static func unknownKeys(_ node: Node, path: String, defaults: Node?) -> [String] {
        var out: [String] = []
        if let seq = node.sequence {
            for (i, item) in seq.enumerated() where item.mapping != nil {
                out += Self.unknownKeys(item, path: "\(path)[]", defaults: nil).map {
                    $0.replacingOccurrences(of: "\(path)[]", with: "\(path)[\(i)]")
                }
            }
            return out
        }
        guard let mapping = node.mapping else { return [] }
        var known = Set(defaults?.mapping?.keys.compactMap(\.string) ?? [])
        known.formUnion(Self.optionalKeys[path] ?? [])
        for (k, v) in mapping {
            guard let key = k.string else { continue }
            let child = path.isEmpty ? key : "\(path).\(key)"
            guard known.contains(key) else {
                out.append("\(child): unknown key; known keys here: \(known.sorted().joined(separator: ", "))")
                continue
            }
            out += Self.unknownKeys(v, path: child, defaults: defaults?[key])
        }
        return out
    }

    /// `MAX_ENTRIES` → `maxEntries`.
    static func camelCase(_ s: String) -> String {
        let words = s.lowercased().split(separator: "_")
        guard let first = words.first else { return "" }
        return String(first) + words.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    private static func set(_ node: inout Node, path: ArraySlice<String>, value: String, defaults: Node?) throws {
        guard let key = path.first else { return }
        if path.count == 1 {
            var v = ((try? Yams.compose(yaml: value)) ?? nil) ?? Node(value)
            // A lone `-` (standard output, for `export.json.path`) would compose to a one-item block sequence.
            if value == "-" { v = Node(value) }
            let isList = node[key]?.sequence != nil || defaults?[key]?.sequence != nil
            if isList, v.sequence == nil {
                v = Node(value.split(separator: ",").map { Node(String($0).trimmingCharacters(in: .whitespaces)) })
            }
            node[key] = v
            return
        }
        var child = node[key] ?? [:]
        guard child.mapping != nil else { throw ConfigurationError(problems: ["'\(key)' is not a section"]) }
        try Self.set(&child, path: path.dropFirst(), value: value, defaults: defaults?[key])
        node[key] = child
    }

    static func describe(_ e: DecodingError) -> String {
        func path(_ c: [any CodingKey]) -> String {
            c.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch e {
        case .typeMismatch(let t, let c): return "\(path(c.codingPath)): expected \(t)"
        case .valueNotFound(let t, let c): return "\(path(c.codingPath)): missing value of type \(t)"
        case .keyNotFound(let k, let c): return "\(path(c.codingPath + [k])): required key missing"
        case .dataCorrupted(let c): return "\(path(c.codingPath)): \(c.debugDescription)"
        @unknown default: return "\(e)"
        }
    }

    /// Every problem in `config`, each with its key path.
    public static func validate(_ config: PalisadeConfiguration) -> [String] {
        var e: [String] = []
        for (i, l) in config.listen.enumerated() where HostPort(l) == nil {
            e.append("listen[\(i)]: '\(l)' is not ADDR:PORT")
        }
        if !config.http.isEmpty && HostPort(config.http) == nil { e.append("http: '\(config.http)' is not ADDR:PORT") }
        for (name, t) in [("dot", config.dot), ("doh", config.doh)] {
            guard let t else { continue }
            for (i, l) in t.listen.enumerated() where HostPort(l) == nil {
                e.append("\(name).listen[\(i)]: '\(l)' is not ADDR:PORT")
            }
            if !FileManager.default.isReadableFile(atPath: t.certificate) {
                e.append("\(name).certificate: cannot read '\(t.certificate)'")
            }
            if !FileManager.default.isReadableFile(atPath: t.key) { e.append("\(name).key: cannot read '\(t.key)'") }
        }
        if config.threads < 0 { e.append("threads: must be >= 0") }
        if !Self.udpEngines.contains(config.udpEngine) {
            e.append("udpEngine: must be one of \(Self.udpEngines.joined(separator: ", ")), not \"\(config.udpEngine)\"")
        }
        for (i, a) in config.acl.allow.enumerated() where IPNetwork(a) == nil {
            e.append("acl.allow[\(i)]: '\(a)' is not an address or CIDR prefix")
        }
        if !["random", "round-robin", "sequential"].contains(config.upstreams.strategy) {
            e.append("upstreams.strategy: '\(config.upstreams.strategy)' is not random, round-robin or sequential")
        }
        if !["per-query", "pooled"].contains(config.upstreams.udpSockets) {
            e.append("upstreams.udpSockets: '\(config.upstreams.udpSockets)' is not per-query or pooled")
        }
        if config.upstreams.timeoutMs <= 0 { e.append("upstreams.timeoutMs: must be > 0") }
        if config.upstreams.deadlineMs < config.upstreams.timeoutMs {
            e.append("upstreams.deadlineMs: must be >= timeoutMs")
        }
        for (i, c) in config.upstreams.conditional.enumerated() {
            if (try? DomainName(c.domain)) == nil { e.append("upstreams.conditional[\(i)].domain: not a domain name") }
            if c.servers.isEmpty { e.append("upstreams.conditional[\(i)].servers: empty") }
        }
        e += config.cache.validate(path: "cache")
        for (i, r) in config.localData.records.enumerated() {
            do {
                _ = try LocalRecordParser.parse(r)
            } catch {
                e.append("localData.records[\(i)]: \(error)")
            }
        }
        if !["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(config.log.level) {
            e.append("log.level: '\(config.log.level)' is not a log level")
        }
        if !["text", "json"].contains(config.log.format) { e.append("log.format: must be text or json") }
        if config.tcp.idleTimeoutMs <= 0 { e.append("tcp.idleTimeoutMs: must be > 0") }
        if config.tcp.maxConnections <= 0 { e.append("tcp.maxConnections: must be > 0") }
        e += config.policySources().1
        e += config.identity.validate(path: "identity")
        e += config.validateAPI()
        e += config.export.validate(path: "export")
        e += config.incidents.validate(path: "incidents")
        return e
    }
}

/// `ADDR:PORT` or `[V6]:PORT`.
public struct HostPort: Sendable, Equatable, CustomStringConvertible {
    /// Host or address text (without brackets).
    public var host: String
    /// Port.
    public var port: Int

    /// Parses the text; nil when malformed.
    public init?(_ text: String) {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":"), let p = Int(rest.dropFirst()), (0...65535).contains(p), IPv6Address(host) != nil else {
                return nil
            }
            self.host = host
            self.port = p
            return
        }
        guard let colon = text.lastIndex(of: ":") else { return nil }
        let host = String(text[..<colon])
        guard let p = Int(text[text.index(after: colon)...]), (0...65535).contains(p), !host.isEmpty,
            IPAddress(host) != nil || host == "localhost"
        else { return nil }
        self.host = host
        self.port = p
    }

    public var description: String { self.host.contains(":") ? "[\(self.host)]:\(self.port)" : "\(self.host):\(self.port)" }
}

/// Parses one zone-file line of a static record (`name TTL [IN] TYPE rdata`).
enum LocalRecordParser {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func parse(_ line: String) throws -> ResourceRecord {
        let tokens = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard tokens.count >= 3 else { throw Failure(description: "expected 'name [ttl] [IN] TYPE rdata'") }
        let name: DomainName
        do {
            name = try DomainName(tokens[0].hasSuffix(".") ? tokens[0] : tokens[0] + ".")
        } catch {
            throw Failure(description: "bad name '\(tokens[0])': \(error)")
        }
        var i = 1
        var ttl: UInt32 = 300
        if let t = UInt32(tokens[i]) {
            ttl = t
            i += 1
        }
        if i < tokens.count, tokens[i].uppercased() == "IN" { i += 1 }
        guard i < tokens.count, let type = RecordType(mnemonic: tokens[i]) else {
            throw Failure(description: "missing or unknown record type")
        }
        do {
            let rdata = try RData.parse(type: type, tokens: Array(tokens[(i + 1)...]), origin: .root)
            return ResourceRecord(name: name, ttl: ttl, rdata: rdata)
        } catch {
            throw Failure(description: "bad \(type) data: \(error)")
        }
    }
}
