public import Hummingbird

/// One registered API route, as the OpenAPI document names it.
public struct APIRoute: Sendable, Hashable, CustomStringConvertible {
    /// `GET`, `POST`, `DELETE`.
    public var method: String
    /// The path with `{parameter}` placeholders (`/api/v1/workloads/{key}`).
    public var path: String
    /// Whether it needs a bearer token.
    public var mutating: Bool

    /// `GET /api/v1/events`.
    public var description: String { "\(self.method) \(self.path)" }
}

/// Registers the REST API under `/api/v1` (docs/api.md, the OpenAPI document at `/api/v1/openapi.json`).
///
/// Reads need no token; changes need `Authorization: Bearer <token>` (``BearerAuthMiddleware``). Every
/// route is registered through ``Registrar``, which also records it, so a test can check that the OpenAPI
/// document describes each one.
public enum APIRoutes {
    /// The path prefix.
    public static let prefix = "/api/v1"

    /// Adds every API route to `router`.
    /// - Returns: The routes registered.
    @discardableResult
    public static func add(to router: Router<PalisadeRequestContext>, dependencies: APIDependencies) -> [APIRoute] {
        let registrar = Registrar(router: router, tokens: dependencies.tokens)
        EventsController(dependencies: dependencies).addRoutes(to: registrar)
        WorkloadsController(dependencies: dependencies).addRoutes(to: registrar)
        StatsController(dependencies: dependencies).addRoutes(to: registrar)
        FeedsController(dependencies: dependencies).addRoutes(to: registrar)
        RulesController(dependencies: dependencies).addRoutes(to: registrar)
        QuarantineController(dependencies: dependencies).addRoutes(to: registrar)
        ActionsController(dependencies: dependencies).addRoutes(to: registrar)
        OpenAPIController().addRoutes(to: registrar)
        // Applies to the router's not-found responder, which is built after every route is registered.
        router.add(middleware: APINotFoundMiddleware(routes: registrar.routes))
        return registrar.routes
    }

    /// Registers routes and remembers them.
    final class Registrar {
        typealias Handler = @Sendable (Request, PalisadeRequestContext) async throws -> Response
        private let reads: RouterGroup<PalisadeRequestContext>
        private let writes: RouterGroup<PalisadeRequestContext>
        private(set) var routes: [APIRoute] = []

        init(router: Router<PalisadeRequestContext>, tokens: [APIToken]) {
            self.reads = router.group(RouterPath(APIRoutes.prefix)).add(middleware: APIErrorMiddleware())
            // The error middleware sits outside the token check, so a refused token is answered as JSON too.
            self.writes = router.group(RouterPath(APIRoutes.prefix)).add(middleware: APIErrorMiddleware())
                .add(middleware: BearerAuthMiddleware(tokens: tokens))
        }

        /// A read route (no token).
        func get(_ path: String, _ handler: @escaping Handler) {
            self.reads.get(RouterPath(path), use: handler)
            self.routes.append(APIRoute(method: "GET", path: APIRoutes.prefix + path, mutating: false))
        }

        /// A mutating `POST` route (token required).
        func post(_ path: String, _ handler: @escaping Handler) {
            self.writes.post(RouterPath(path), use: handler)
            self.routes.append(APIRoute(method: "POST", path: APIRoutes.prefix + path, mutating: true))
        }

        /// A mutating `DELETE` route (token required).
        func delete(_ path: String, _ handler: @escaping Handler) {
            self.writes.delete(RouterPath(path), use: handler)
            self.routes.append(APIRoute(method: "DELETE", path: APIRoutes.prefix + path, mutating: true))
        }
    }
}

/// Answers requests under `/api/v1` that match no route in JSON: 405 with `Allow` when the path exists
/// with other methods, 404 otherwise. Other paths (console, metrics) are left alone.
struct APINotFoundMiddleware: RouterMiddleware {
    typealias Context = PalisadeRequestContext
    let routes: [APIRoute]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            let path = request.uri.path
            guard path == APIRoutes.prefix || path.hasPrefix(APIRoutes.prefix + "/") else { throw error }
            let segments = path.split(separator: "/", omittingEmptySubsequences: false)
            let methods = self.routes.filter { route in
                let template = route.path.split(separator: "/", omittingEmptySubsequences: false)
                guard template.count == segments.count else { return false }
                return zip(template, segments).allSatisfy { t, s in t.hasPrefix("{") ? !s.isEmpty : t == s }
            }.map(\.method)
            guard !methods.isEmpty else { throw APIError(.notFound, "path: no API route \(path)") }
            let allow = Array(Set(methods)).sorted().joined(separator: ", ")
            throw APIError(.methodNotAllowed, "method: \(request.method) is not allowed on \(path); use \(allow)",
                headers: [.allow: allow])
        }
    }
}
