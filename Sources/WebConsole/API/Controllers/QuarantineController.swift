import DNSPipeline
import DNSPolicy
import Hummingbird
import QueryStore

/// `/api/v1/quarantine`: cut a workload's DNS off (and optionally pause or stop its container), or release it.
struct QuarantineController {
    let dependencies: APIDependencies

    func addRoutes(to r: APIRoutes.Registrar) {
        r.get("/quarantine") { request, _ in try await self.list(request) }
        r.post("/quarantine") { request, context in try await self.quarantine(request, context) }
        r.delete("/quarantine/{workload_key}") { request, context in try await self.release(request, context) }
    }

    private func requireRegistry() throws(APIError) -> QuarantineRegistry {
        guard let registry = self.dependencies.quarantine else {
            throw APIError(.serviceUnavailable, "quarantine is not available in this server")
        }
        return registry
    }

    private func workload(_ key: String) async -> Workload? {
        try? await self.dependencies.store?.workload(key: key)?.workload
    }

    func list(_ request: Request) async throws -> Response {
        _ = try APIParameters(request, allowed: [], nowMicros: self.dependencies.now())
        var items: [JSONValue] = []
        for e in self.dependencies.quarantine?.all ?? [] {
            items.append(APIDTO.quarantine(e, workload: await self.workload(e.workloadKey)))
        }
        return JSONValue.object([("quarantined", .array(items))]).response()
    }

    func quarantine(_ request: Request, _ context: PalisadeRequestContext) async throws -> Response {
        _ = try APIParameters(request, allowed: [], nowMicros: self.dependencies.now())
        let actor = context.apiActor ?? "unknown"
        let body = try await APIBody.read(request, allowed: ["workload_key", "reason", "answer", "action"])
        let key = try body.requiredString("workload_key", maxLength: 600)
        let reason = try body.requiredString("reason")
        var answer = self.dependencies.defaultQuarantineAnswer
        if let text = try body.string("answer") {
            guard let a = QuarantineEntry.Answer(rawValue: text.lowercased()) else {
                throw APIError(.unprocessableContent, "answer: must be refused or nxdomain, got '\(text)'")
            }
            answer = a
        }
        var action = ContainerAction.none
        if let text = try body.string("action") {
            guard let a = ContainerAction(rawValue: text.lowercased()) else {
                throw APIError(.unprocessableContent, "action: must be none, pause or stop, got '\(text)'")
            }
            action = a
        }
        if let problem = QuarantineRegistry.validateKey(key) {
            throw APIError(.unprocessableContent, "workload_key: \(problem)")
        }
        if action != .none {
            guard action.isAllowed(by: self.dependencies.containerActionLimit) else {
                throw APIError(
                    .forbidden,
                    "action: '\(action.rawValue)' is not allowed by this server (quarantine.containerAction is"
                        + " '\(self.dependencies.containerActionLimit.rawValue)')")
            }
            guard self.dependencies.actuator != nil, key.hasPrefix("container:") else {
                throw APIError(
                    .unprocessableContent,
                    "action: '\(action.rawValue)' needs a container workload and a connected container engine")
            }
        }
        let registry = try self.requireRegistry()
        let entry = QuarantineEntry(
            workloadKey: key, answer: answer, by: actor, reason: reason, sinceMicros: self.dependencies.now(),
            containerAction: action)
        let previous: QuarantineEntry?
        do {
            previous = try registry.quarantine(entry)
        } catch {
            throw APIError.from(error, field: "workload_key")
        }
        // DNS is cut off first (above); the container action is best effort on top and its outcome is reported.
        var actionError: String?
        if action != .none, let actuator = self.dependencies.actuator {
            do {
                switch action {
                case .pause: try await actuator.pause(workloadKey: key)
                case .stop: try await actuator.stop(workloadKey: key)
                case .none: break
                }
            } catch {
                actionError = "\(error)"
            }
        }
        var detail = "answer=\(answer.rawValue) container_action=\(action.rawValue)"
        if let actionError { detail += " container_action_error=\(actionError)" }
        if previous != nil { detail += " (updated existing quarantine)" }
        await ActionLog.record(
            self.dependencies, actor: actor, action: "quarantine", target: key, reason: reason, detail: detail)
        let result: JSONValue = [
            "quarantine": APIDTO.quarantine(entry, workload: await self.workload(key)),
            "container_action_error": .optional(actionError),
        ]
        return result.response(previous == nil ? .created : .ok)
    }

    func release(_ request: Request, _ context: PalisadeRequestContext) async throws -> Response {
        let p = try APIParameters(request, allowed: ["reason"], nowMicros: self.dependencies.now())
        let reason = try p.string("reason", maxLength: 512) ?? ""
        let actor = context.apiActor ?? "unknown"
        let key = try request.pathParameter("workload_key", context: context)
        let registry = try self.requireRegistry()
        let removed: QuarantineEntry?
        do {
            removed = try registry.release(key)
        } catch {
            throw APIError.from(error, field: "workload_key")
        }
        guard let removed else { throw APIError(.notFound, "workload_key: '\(key)' is not quarantined") }
        var actionError: String?
        if removed.containerAction == .pause, let actuator = self.dependencies.actuator {
            do {
                try await actuator.unpause(workloadKey: key)
            } catch {
                actionError = "\(error)"
            }
        }
        var detail = "was answer=\(removed.answer.rawValue) by \(removed.by)"
        if removed.containerAction == .pause { detail += " unpaused" }
        if let actionError { detail += " container_action_error=\(actionError)" }
        await ActionLog.record(
            self.dependencies, actor: actor, action: "release", target: key, reason: reason, detail: detail)
        let body: JSONValue = [
            "released": APIDTO.quarantine(removed, workload: await self.workload(key)),
            "container_action_error": .optional(actionError),
        ]
        return body.response()
    }
}
