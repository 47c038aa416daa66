import DNSPolicy
import DNSPipeline
import Hummingbird
import QueryStore

/// `GET /api/v1/workloads`, `/workloads/{key}` and `/blocks`: who asked, and who tried to reach blocked names.
struct WorkloadsController {
    let dependencies: APIDependencies

    /// Most rows of a list.
    static let maximumLimit = 1_000
    /// Distinct blocked domains listed per workload in `/blocks`.
    static let domainsPerWorkload = 20

    func addRoutes(to r: APIRoutes.Registrar) {
        r.get("/workloads") { request, _ in try await self.list(request) }
        r.get("/workloads/{key}") { request, context in try await self.detail(request, context) }
        r.get("/blocks") { request, _ in try await self.blocks(request) }
    }

    func list(_ request: Request) async throws -> Response {
        let p = try APIParameters(request, allowed: ["since", "limit"], nowMicros: self.dependencies.now())
        let since = try p.time("since", default: p.nowMicros - 86_400_000_000) ?? 0
        let limit = try p.limit(default: 100, maximum: Self.maximumLimit)
        let rows = try await self.dependencies.requireStore().topWorkloads(sinceMicros: since, limit: limit)
        let items = rows.map { row -> JSONValue in
            var fields = APIDTO.subject(row.subject)
            var first: Int64?
            var last: Int64?
            if case .workload(let w) = row.subject {
                first = w.firstSeenMicros
                last = w.lastSeenMicros
            }
            let key: String
            switch row.subject {
            case .workload(let w): key = w.key
            case .client(let ip): key = "client:\(ip)"
            }
            fields += [
                ("first_seen", .time(first)), ("last_seen", .time(last)), ("queries", .int(row.queries)),
                ("blocked", .int(row.blocked)),
                ("quarantined", .bool(self.dependencies.quarantine?.entry(for: key) != nil)),
            ]
            return .object(fields)
        }
        return JSONValue.object([("workloads", .array(items))]).response()
    }

    func detail(_ request: Request, _ context: PalisadeRequestContext) async throws -> Response {
        _ = try APIParameters(request, allowed: [], nowMicros: self.dependencies.now())
        let key = try request.pathParameter("key", context: context)
        if let problem = WorkloadKeys.problem(key) { throw APIError.badParameter("key", problem) }
        let store = try self.dependencies.requireStore()
        let stored = try await store.workload(key: key)
        let quarantine = self.dependencies.quarantine?.entry(for: key)
        guard stored != nil || quarantine != nil else {
            throw APIError(.notFound, "key: no workload '\(key)' in the query log")
        }
        let addresses = await self.dependencies.addresses?.addresses(ofWorkload: key) ?? []
        let body: JSONValue = [
            "key": .string(key),
            "workload": stored.map { APIDTO.workload($0.workload) } ?? .null,
            "first_seen": .time(stored?.firstSeenMicros),
            "last_seen": .time(stored?.lastSeenMicros),
            "quarantine": quarantine.map { APIDTO.quarantine($0, workload: stored?.workload) } ?? .null,
            "addresses": .array(
                addresses.map {
                    ["ip": .string($0.ip), "from": .time($0.fromMicros), "until": .time($0.untilMicros)]
                }),
        ]
        return body.response()
    }

    func blocks(_ request: Request) async throws -> Response {
        let p = try APIParameters(request, allowed: ["since", "limit"], nowMicros: self.dependencies.now())
        let since = try p.time("since", default: p.nowMicros - 3_600_000_000) ?? 0
        let limit = try p.limit(default: 50, maximum: 200)
        let store = try self.dependencies.requireStore()
        var items: [JSONValue] = []
        for row in try await store.blockedSummary(sinceMicros: since, limit: limit) {
            // The names come from the workload's own newest blocked events (an index range each), so the list
            // stays bounded however many blocks there were.
            var filter = EventFilter(blockedOnly: true, fromMicros: since, limit: 200)
            switch row.subject {
            case .workload(let w): filter.workloadKey = w.key
            case .client(let ip): filter.clientIP = ip
            }
            var domains: [String] = []
            for e in try await store.search(filter).events where !domains.contains(e.event.qname) {
                domains.append(e.event.qname)
                if domains.count == Self.domainsPerWorkload { break }
            }
            var fields = APIDTO.subject(row.subject)
            fields += [
                ("blocked", .int(row.blockedQueries)), ("distinct_domains", .int(row.distinctNames)),
                ("last_blocked", .time(row.lastBlockedMicros)), ("domains", .array(domains.map { .string($0) })),
            ]
            items.append(.object(fields))
        }
        return JSONValue.object([("workloads", .array(items))]).response()
    }
}
