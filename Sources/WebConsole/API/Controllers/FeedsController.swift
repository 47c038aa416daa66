import QueryStore
import Hummingbird

/// `GET /api/v1/feeds`: every policy source's health, as `palisade lists status` prints it.
struct FeedsController {
    let dependencies: APIDependencies

    func addRoutes(to r: APIRoutes.Registrar) {
        r.get("/feeds") { request, _ in
            _ = try APIParameters(request, allowed: [], nowMicros: self.dependencies.now())
            let statuses = await self.dependencies.feeds?() ?? []
            return JSONValue.object([("feeds", .array(statuses.map(APIDTO.feed)))]).response()
        }
    }
}

/// `GET /api/v1/actions`: the audit trail of changes made through the API, newest first.
struct ActionsController {
    let dependencies: APIDependencies

    func addRoutes(to r: APIRoutes.Registrar) {
        r.get("/actions") { request, _ in
            let p = try APIParameters(request, allowed: ["limit", "before", "target"], nowMicros: self.dependencies.now())
            let limit = try p.limit(default: 100, maximum: 1_000)
            var before: Int64?
            if let text = try p.string("before") {
                guard let id = Int64(text), id > 0 else {
                    throw APIError.badParameter("before", "must be a positive action id (a previous page's next), got '\(text)'")
                }
                before = id
            }
            let target = try p.string("target", maxLength: 600)
            let actions = try await self.dependencies.requireStore().actions(limit: limit, beforeID: before, target: target)
            let next: JSONValue = actions.count == limit ? .optional(actions.last.map { String($0.id) }) : .null
            return JSONValue.object([("actions", .array(actions.map(APIDTO.action))), ("next", next)]).response()
        }
    }
}
