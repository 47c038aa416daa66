import Hummingbird
import QueryStore

/// `GET /api/v1/stats/…`: the dashboard's time series and rankings.
struct StatsController {
    let dependencies: APIDependencies

    func addRoutes(to r: APIRoutes.Registrar) {
        r.get("/stats/timeseries") { request, _ in try await self.timeSeries(request) }
        r.get("/stats/top-blocked") { request, _ in try await self.topBlocked(request) }
        r.get("/stats/top-workloads") { request, _ in try await self.topWorkloads(request) }
    }

    func timeSeries(_ request: Request) async throws -> Response {
        let p = try APIParameters(request, allowed: ["since", "until", "bucket"], nowMicros: self.dependencies.now())
        let since = try p.time("since", default: p.nowMicros - 86_400_000_000) ?? 0
        let until = try p.time("until", default: p.nowMicros) ?? p.nowMicros
        guard until >= since else { throw APIError.badParameter("until", "is before since") }
        let bucket = try p.duration("bucket", default: 300_000_000)
        let count = (until - since) / bucket + 1
        guard count <= 10_000 else {
            throw APIError.badParameter("bucket", "would give \(count) buckets (at most 10000): widen it")
        }
        let buckets = try await self.dependencies.requireStore().timeSeries(
            sinceMicros: since, untilMicros: until, bucket: .microseconds(bucket))
        let body: JSONValue = [
            "bucket_seconds": .int(bucket / 1_000_000),
            "buckets": .array(
                buckets.map { ["start": .time($0.startMicros), "queries": .int($0.queries), "blocked": .int($0.blocked)] }
            ),
        ]
        return body.response()
    }

    func topBlocked(_ request: Request) async throws -> Response {
        let p = try APIParameters(request, allowed: ["since", "limit"], nowMicros: self.dependencies.now())
        let since = try p.time("since", default: p.nowMicros - 86_400_000_000) ?? 0
        let limit = try p.limit(default: 20, maximum: 1_000)
        let rows = try await self.dependencies.requireStore().topBlockedDomains(sinceMicros: since, limit: limit)
        let body: JSONValue = [
            "domains": .array(
                rows.map {
                    [
                        "domain": .string($0.qname), "queries": .int($0.queries), "workloads": .int($0.workloads),
                        "last_seen": .time($0.lastSeenMicros),
                    ]
                })
        ]
        return body.response()
    }

    func topWorkloads(_ request: Request) async throws -> Response {
        let p = try APIParameters(request, allowed: ["since", "limit"], nowMicros: self.dependencies.now())
        let since = try p.time("since", default: p.nowMicros - 86_400_000_000) ?? 0
        let limit = try p.limit(default: 20, maximum: 1_000)
        let rows = try await self.dependencies.requireStore().topWorkloads(sinceMicros: since, limit: limit)
        let items = rows.map { row -> JSONValue in
            .object(APIDTO.subject(row.subject) + [("queries", .int(row.queries)), ("blocked", .int(row.blocked))])
        }
        return JSONValue.object([("workloads", .array(items))]).response()
    }
}
