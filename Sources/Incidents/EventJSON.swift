public import DNSPipeline

/// The JSON forms shared with the HTTP API (docs/api-contract): the Event and Workload objects.
///
/// Written by hand rather than with `JSONEncoder`: the export path encodes every query, the key order is
/// part of what log shippers see, and the contract's snake_case names and RFC 3339 times differ from
/// `QueryEvent`'s `Codable` form.
public enum EventJSON {
    /// One Event object, without a trailing newline.
    /// - Parameters:
    ///   - event: the query.
    ///   - id: the `id` member (the exporter's sequence number; the store's row id in the API).
    public static func event(_ event: QueryEvent, id: Int64?) -> String {
        var w = JSONWriter()
        Self.write(event, id: id, to: &w)
        return w.text
    }

    /// The contract's Workload object: `{"key","kind","id","name","image","labels"}`.
    public static func workload(_ workload: Workload) -> String {
        var w = JSONWriter()
        Self.write(workload, to: &w)
        return w.text
    }

    /// The stable key of a workload, `kind:id` (the same key the query store and the API use).
    public static func key(of workload: Workload) -> String {
        "\(workload.kind.rawValue):\(workload.id)"
    }

    /// RFC 3339 UTC with microseconds, `2026-11-29T07:00:00.123456Z`, from microseconds since the epoch.
    public static func time(micros: Int64) -> String {
        CivilTime.rfc3339(micros: micros)
    }

    /// Appends one Event object and a newline to `bytes` (the exporter's write buffer).
    static func appendLine(_ event: QueryEvent, id: Int64?, to bytes: inout [UInt8]) {
        var w = JSONWriter(taking: &bytes)
        Self.write(event, id: id, to: &w)
        swap(&w.bytes, &bytes)
        bytes.append(0x0A)
    }

    static func write(_ e: QueryEvent, id: Int64?, to w: inout JSONWriter) {
        w.open()
        w.key("id")
        if let id { w.int(id) } else { w.null() }
        w.key("time")
        w.time(micros: e.timestampMicros)
        w.key("client_ip")
        w.string(e.clientIP)
        w.key("transport")
        w.string(e.transport)
        w.key("workload")
        if let wl = e.workload { Self.write(wl, to: &w) } else { w.null() }
        w.key("qname")
        w.string(Self.name(e.qname))
        w.key("qtype")
        w.string(e.qtype)
        w.key("rcode")
        w.string(e.rcode)
        w.key("answers")
        w.array(e.answers) { w, a in w.string(a) }
        w.key("source")
        w.string(e.source)
        w.key("upstream")
        if let u = e.upstream { w.string(u) } else { w.null() }
        w.key("policy")
        if let p = e.policy { Self.write(p, to: &w) } else { w.null() }
        w.key("blocked")
        w.bool(e.blocked)
        w.key("findings")
        w.array(e.findings) { w, f in Self.write(f, to: &w) }
        w.key("latency_us")
        w.int(e.latencyMicros)
        w.key("count")
        w.int(Int64(e.count))
        w.key("other_names")
        w.array(e.otherNames) { w, n in w.string(Self.name(n)) }
        w.close()
    }

    /// A query name as the API shows it: without the root's trailing dot (`evil.example`), except the root.
    public static func name(_ qname: String) -> String {
        qname.count > 1 && qname.hasSuffix(".") ? String(qname.dropLast()) : qname
    }

    static func write(_ wl: Workload, to w: inout JSONWriter) {
        w.open()
        w.key("key")
        w.string(Self.key(of: wl))
        w.key("kind")
        w.string(wl.kind.rawValue)
        w.key("id")
        w.string(wl.id)
        w.key("name")
        w.string(wl.name)
        w.key("image")
        if let image = wl.image { w.string(image) } else { w.null() }
        w.key("labels")
        w.open()
        // Sorted, so the same workload always encodes to the same bytes (signatures, diffs, tests).
        for (k, v) in wl.labels.sorted(by: { $0.key < $1.key }) {
            w.key(k)
            w.string(v)
        }
        w.close()
        w.close()
    }

    static func write(_ p: PolicyHit, to w: inout JSONWriter) {
        w.open()
        w.key("source")
        w.string(p.source)
        w.key("rule")
        w.string(p.rule)
        w.key("action")
        w.string(p.action)
        w.key("trigger")
        w.string(p.trigger)
        w.close()
    }

    static func write(_ f: Finding, to w: inout JSONWriter) {
        w.open()
        w.key("detector")
        w.string(f.detector)
        w.key("score")
        w.double(f.score)
        w.key("detail")
        w.string(f.detail)
        w.key("enforced")
        w.bool(f.enforced)
        w.close()
    }
}

/// A minimal streaming JSON writer into UTF-8 bytes: objects, arrays, strings (RFC 8259 §7 escaping),
/// numbers, literals. Bytes rather than `String` appends: the export path encodes every query.
struct JSONWriter {
    var bytes: [UInt8] = []
    /// Whether the next member or element needs a comma before it.
    private var needsComma = false

    init() {
        self.bytes.reserveCapacity(512)
    }

    /// Continues writing at the end of `bytes`, taking its storage (give it back with `swap`): the exporter
    /// appends lines to one write buffer, and a copy would make each line cost the whole buffer.
    init(taking bytes: inout [UInt8]) {
        swap(&self.bytes, &bytes)
    }

    var text: String { String(decoding: self.bytes, as: UTF8.self) }

    private mutating func separate() {
        if self.needsComma { self.bytes.append(UInt8(ascii: ",")) }
        self.needsComma = true
    }

    mutating func open() {
        self.separate()
        self.bytes.append(UInt8(ascii: "{"))
        self.needsComma = false
    }

    mutating func close() {
        self.bytes.append(UInt8(ascii: "}"))
        self.needsComma = true
    }

    mutating func key(_ k: String) {
        self.separate()
        Self.escape(k, into: &self.bytes)
        self.bytes.append(UInt8(ascii: ":"))
        self.needsComma = false
    }

    mutating func string(_ s: String) {
        self.separate()
        Self.escape(s, into: &self.bytes)
    }

    /// A string of ASCII digits and punctuation known to need no escaping (times).
    mutating func time(micros: Int64) {
        self.separate()
        self.bytes.append(UInt8(ascii: "\""))
        CivilTime.appendRFC3339(micros: micros, to: &self.bytes)
        self.bytes.append(UInt8(ascii: "\""))
    }

    mutating func int(_ v: Int64) {
        self.separate()
        self.bytes.append(contentsOf: String(v).utf8)
    }

    mutating func double(_ v: Double) {
        self.separate()
        // JSON has no NaN or infinity.
        self.bytes.append(contentsOf: (v.isFinite ? "\(v)" : "null").utf8)
    }

    mutating func bool(_ v: Bool) {
        self.separate()
        self.bytes.append(contentsOf: (v ? "true" : "false").utf8)
    }

    mutating func null() {
        self.separate()
        self.bytes.append(contentsOf: "null".utf8)
    }

    mutating func array<C: Collection>(_ items: C, _ element: (inout JSONWriter, C.Element) -> Void) {
        self.separate()
        self.bytes.append(UInt8(ascii: "["))
        self.needsComma = false
        for item in items { element(&self, item) }
        self.bytes.append(UInt8(ascii: "]"))
        self.needsComma = true
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    static func escape(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Fast path: names, addresses and keys almost never need escaping.
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            out.append(contentsOf: s.utf8)
            out.append(UInt8(ascii: "\""))
            return
        }
        let hex = Self.hex
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                    hex[Int(b >> 4)], hex[Int(b & 0x0f)]])
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
