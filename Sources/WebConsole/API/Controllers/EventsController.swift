import DNSWire
import Hummingbird
import QueryStore

/// `GET /api/v1/events`: the query log, newest first, filtered and paged by cursor.
struct EventsController {
    let dependencies: APIDependencies

    static let rcodes = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "DROP"]
    static let sources = ["upstream", "cache", "stale", "policy", "local", "synthesized", "failure"]
    static let parameters: Set<String> = [
        "workload", "workload_name", "client_ip", "name", "qtype", "rcode", "blocked", "source", "from", "until",
        "limit", "before",
    ]

    func addRoutes(to r: APIRoutes.Registrar) {
        r.get("/events") { request, _ in try await self.list(request) }
    }

    func list(_ request: Request) async throws -> Response {
        let p = try APIParameters(request, allowed: Self.parameters, nowMicros: self.dependencies.now())
        var f = EventFilter()
        if let key = try p.string("workload") {
            if let problem = WorkloadKeys.problem(key) { throw APIError.badParameter("workload", problem) }
            f.workloadKey = key
        }
        f.workloadName = try p.string("workload_name")
        if let ip = try p.string("client_ip") {
            guard let address = IPAddress(ip) else {
                throw APIError.badParameter("client_ip", "not an IPv4 or IPv6 address: '\(ip)'")
            }
            f.clientIP = "\(address)"
        }
        if let name = try p.string("name") {
            let body = name.hasPrefix("*.") ? String(name.dropFirst(2)) : name
            guard !body.isEmpty, (try? DomainName(body.hasSuffix(".") ? body : body + ".")) != nil else {
                throw APIError.badParameter("name", "not a domain name or *.domain: '\(name)'")
            }
            f.qname = NamePattern(name)
        }
        if let qtype = try p.string("qtype") {
            guard let t = RecordType(mnemonic: qtype.uppercased()) else {
                throw APIError.badParameter("qtype", "not a record type mnemonic (A, AAAA, TXT, …): '\(qtype)'")
            }
            f.qtype = t.description
        }
        f.rcode = try p.choice("rcode", Self.rcodes)
        f.blockedOnly = try p.bool("blocked") ?? false
        f.source = try p.choice("source", Self.sources)
        f.fromMicros = try p.time("from")
        f.untilMicros = try p.time("until")
        if let from = f.fromMicros, let until = f.untilMicros, until < from {
            throw APIError.badParameter("until", "is before from")
        }
        f.limit = try p.limit(default: 100, maximum: EventFilter.maximumLimit)
        if let text = try p.string("before", maxLength: 48) {
            guard let cursor = EventCursor(text) else {
                throw APIError.badParameter("before", "not a cursor from a previous page's next: '\(text)'")
            }
            f.before = cursor
        }
        let page = try await self.dependencies.requireStore().search(f)
        let body: JSONValue = [
            "events": .array(page.events.map(APIDTO.event)),
            "next": .optional(page.next?.description),
        ]
        return body.response()
    }
}

/// Workload keys as the API accepts them.
enum WorkloadKeys {
    /// Why `key` is not `kind:id`, or nil.
    static func problem(_ key: String) -> String? {
        guard let colon = key.firstIndex(of: ":"), colon != key.startIndex, key.index(after: colon) != key.endIndex
        else { return "not a workload key kind:id (container:<id>, pod:<uid>, static:<name>): '\(key)'" }
        return nil
    }
}
