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
        // Floor division, so times before 1970 still format (days-from-civil, H. Hinnant's algorithm).
        let perDay: Int64 = 86_400_000_000
        var days = micros / perDay
        var rest = micros % perDay
        if rest < 0 {
            rest += perDay
            days -= 1
        }
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        let seconds = rest / 1_000_000
        let fraction = rest % 1_000_000
        func pad(_ v: Int64, _ width: Int) -> String {
            let s = String(v)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(seconds / 3600, 2)):\(pad(seconds / 60 % 60, 2))"
            + ":\(pad(seconds % 60, 2)).\(pad(fraction, 6))Z"
    }

    static func write(_ e: QueryEvent, id: Int64?, to w: inout JSONWriter) {
        w.open()
        w.key("id")
        if let id { w.int(id) } else { w.null() }
        w.key("time")
        w.string(Self.time(micros: e.timestampMicros))
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

/// A minimal streaming JSON writer: objects, arrays, strings (RFC 8259 §7 escaping), numbers, literals.
struct JSONWriter {
    private(set) var text = ""
    /// Whether the next member or element needs a comma before it.
    private var needsComma = false

    init() {
        self.text.reserveCapacity(512)
    }

    private mutating func separate() {
        if self.needsComma { self.text += "," }
        self.needsComma = true
    }

    mutating func open() {
        self.separate()
        self.text += "{"
        self.needsComma = false
    }

    mutating func close() {
        self.text += "}"
        self.needsComma = true
    }

    mutating func key(_ k: String) {
        self.separate()
        Self.escape(k, into: &self.text)
        self.text += ":"
        self.needsComma = false
    }

    mutating func string(_ s: String) {
        self.separate()
        Self.escape(s, into: &self.text)
    }

    mutating func int(_ v: Int64) {
        self.separate()
        self.text += String(v)
    }

    mutating func double(_ v: Double) {
        self.separate()
        // JSON has no NaN or infinity.
        self.text += v.isFinite ? "\(v)" : "null"
    }

    mutating func bool(_ v: Bool) {
        self.separate()
        self.text += v ? "true" : "false"
    }

    mutating func null() {
        self.separate()
        self.text += "null"
    }

    /// Writes an already-encoded JSON value.
    mutating func raw(_ json: String) {
        self.separate()
        self.text += json
    }

    mutating func array<C: Collection>(_ items: C, _ element: (inout JSONWriter, C.Element) -> Void) {
        self.separate()
        self.text += "["
        self.needsComma = false
        for item in items { element(&self, item) }
        self.text += "]"
        self.needsComma = true
    }

    static func escape(_ s: String, into out: inout String) {
        out += "\""
        var plain = true
        for u in s.utf8 where u < 0x20 || u == 0x22 || u == 0x5c {
            plain = false
            break
        }
        if plain {
            out += s
        } else {
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                case _ where scalar.value < 0x20:
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                default: out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}
