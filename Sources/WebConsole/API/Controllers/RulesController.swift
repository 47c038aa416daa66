import DNSPolicy
import Hummingbird
import Logging
import QueryStore

/// `/api/v1/rules`: the operator's allow and deny entries (policy source `operator`).
struct RulesController {
    let dependencies: APIDependencies

    func addRoutes(to r: APIRoutes.Registrar) {
        r.get("/rules") { request, _ in
            _ = try APIParameters(request, allowed: [], nowMicros: self.dependencies.now())
            let rules = self.dependencies.operatorRules
            let body: JSONValue = [
                "allow": .array((rules?.rules(.allow) ?? []).map(APIDTO.rule)),
                "deny": .array((rules?.rules(.deny) ?? []).map(APIDTO.rule)),
            ]
            return body.response()
        }
        for list in OperatorRules.List.allCases {
            r.post("/rules/\(list.rawValue)") { request, context in try await self.add(list, request, context) }
            r.delete("/rules/\(list.rawValue)/{domain}") { request, context in
                try await self.remove(list, request, context)
            }
        }
    }

    private func requireRules() throws(APIError) -> OperatorRules {
        guard let rules = self.dependencies.operatorRules else {
            throw APIError(.serviceUnavailable, "operator rules are not available in this server")
        }
        return rules
    }

    func add(_ list: OperatorRules.List, _ request: Request, _ context: PalisadeRequestContext) async throws
        -> Response
    {
        _ = try APIParameters(request, allowed: [], nowMicros: self.dependencies.now())
        let actor = context.apiActor ?? "unknown"
        let body = try await APIBody.read(request, allowed: ["domain", "reason"])
        let domain = try body.requiredString("domain", maxLength: 260)
        let reason = try body.string("reason") ?? ""
        let rules = try self.requireRules()
        let now = self.dependencies.now()
        let result: (rule: OperatorRule, replaced: Bool)
        do {
            result = try await rules.add(list, domain: domain, by: actor, reason: reason, atMicros: now)
        } catch {
            throw APIError.from(error, field: "domain")
        }
        await ActionLog.record(
            self.dependencies, actor: actor, action: "\(list.rawValue)-add", target: result.rule.domain, reason: reason,
            detail: result.replaced ? "updated existing entry" : "")
        return JSONValue.object([("rule", APIDTO.rule(result.rule))]).response(result.replaced ? .ok : .created)
    }

    func remove(_ list: OperatorRules.List, _ request: Request, _ context: PalisadeRequestContext) async throws
        -> Response
    {
        let p = try APIParameters(request, allowed: ["reason"], nowMicros: self.dependencies.now())
        let reason = try p.string("reason", maxLength: 512) ?? ""
        let actor = context.apiActor ?? "unknown"
        let domain = try request.pathParameter("domain", context: context)
        let rules = try self.requireRules()
        let removed: OperatorRule?
        do {
            removed = try await rules.remove(list, domain: domain)
        } catch {
            throw APIError.from(error, field: "domain")
        }
        guard let removed else { throw APIError(.notFound, "domain: '\(domain)' is not on the \(list.rawValue) list") }
        await ActionLog.record(
            self.dependencies, actor: actor, action: "\(list.rawValue)-remove", target: removed.domain, reason: reason,
            detail: "")
        return JSONValue.object([("removed", APIDTO.rule(removed))]).response()
    }
}

extension APIError {
    /// Maps a refusal of the operator state to its HTTP status, naming `field`.
    static func from(_ error: OperatorStateError, field: String) -> APIError {
        switch error.code {
        case .invalidArgument: APIError(.unprocessableContent, "\(field): \(error.message)")
        case .conflict, .limitReached: APIError(.conflict, "\(field): \(error.message)")
        default: APIError(.internalServerError, "the change could not be saved: \(error.message)")
        }
    }
}

/// Records every change in the audit trail and the process log.
enum ActionLog {
    static func record(
        _ d: APIDependencies, actor: String, action: String, target: String, reason: String, detail: String
    ) async {
        let time = d.now()
        d.logger.info(
            "api action",
            metadata: [
                "api.actor": "\(actor)", "api.action": "\(action)", "api.target": "\(target)",
                "api.reason": "\(reason)", "api.detail": "\(detail)",
            ])
        guard let store = d.store else { return }
        do {
            try await store.recordAction(
                ActionRecord(
                    timestampMicros: time, actor: actor, action: action, target: target, reason: reason, detail: detail
                ))
        } catch {
            // The change itself is in force; losing its audit row must not undo it, but must be seen.
            d.logger.info(
                "cannot record api action in the query store",
                metadata: ["api.action": "\(action)", "api.target": "\(target)", "error": "\(error)"])
        }
    }
}
