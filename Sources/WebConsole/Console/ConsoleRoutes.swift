public import DNSPolicy
import Foundation
public import Hummingbird
import NIOCore
public import QueryStore

/// What the console reads: the query log, the policy sources' health, and the clock.
public struct ConsoleDataSources: Sendable {
    /// The query log (SQLite or PostgreSQL); nil when it is disabled (`queryLog.store: false`), and the pages
    /// say so.
    public var store: (any EventStore)?
    /// The current status of every policy source (what `palisade lists status` prints). A closure, because
    /// a configuration reload replaces the policy manager.
    public var feeds: @Sendable () async -> [PolicySourceStatus]
    /// Now, in microseconds since the Unix epoch (injected so that tests can pin the time windows).
    public var now: @Sendable () -> Int64
    /// A workload's quarantine state by key, or nil when it is not quarantined. When this closure is nil
    /// (no quarantine API in this process) the pages say quarantine is not available and offer no buttons;
    /// when it is set, the workload page also offers quarantine and release forms that call
    /// `POST /api/v1/quarantine` and `DELETE /api/v1/quarantine/{key}` with a token the operator types.
    public var quarantine: (@Sendable (String) async -> ConsoleQuarantineState?)?

    /// Creates the console's data sources.
    ///
    /// - Parameters:
    ///   - store: The query log, or nil when it is off.
    ///   - feeds: Returns the policy sources' status.
    ///   - now: The wall clock in microseconds; the default reads the system clock.
    ///   - quarantine: A workload's quarantine state, or nil when quarantine is not available.
    public init(
        store: (any EventStore)?, feeds: @escaping @Sendable () async -> [PolicySourceStatus],
        now: @escaping @Sendable () -> Int64 = ConsoleDataSources.wallClockMicros,
        quarantine: (@Sendable (String) async -> ConsoleQuarantineState?)? = nil
    ) {
        self.store = store
        self.feeds = feeds
        self.now = now
        self.quarantine = quarantine
    }

    /// The system's wall clock in microseconds since the Unix epoch.
    @Sendable public static func wallClockMicros() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1_000_000).rounded())
    }
}

/// A quarantined workload, as the console shows it.
public struct ConsoleQuarantineState: Sendable, Hashable {
    /// What its queries get: `refused` or `nxdomain`.
    public var answer: String
    /// Who quarantined it (the API token's name).
    public var by: String
    /// Why.
    public var reason: String
    /// Since when, microseconds since the Unix epoch.
    public var sinceMicros: Int64

    /// Creates a quarantine state.
    public init(answer: String, by: String, reason: String, sinceMicros: Int64) {
        self.answer = answer
        self.by = by
        self.reason = reason
        self.sinceMicros = sinceMicros
    }
}

/// The operator console: server-rendered HTML pages on the `--http` address.
///
/// Pages: `/` (dashboard), `/workloads`, `/workloads/{key}`, `/search`, `/feeds`, plus `/console.css` and
/// `/console.js`. Nothing is loaded from anywhere else, and every response carries a Content-Security-Policy
/// that forbids it (`default-src 'self'`, no inline script or style) together with `X-Content-Type-Options:
/// nosniff`, so a query name that smuggles markup past the escaping still could not run.
public enum ConsoleRoutes {
    /// Adds the console's routes to `router`.
    ///
    /// - Parameters:
    ///   - router: The operations router (the one serving `/metrics`).
    ///   - sources: Where the pages read their data.
    public static func register<Context: RequestContext>(on router: Router<Context>, sources: ConsoleDataSources) {
        ConsoleController(sources: sources).addRoutes(to: router)
    }

    /// The Content-Security-Policy of every console response: only this origin, no inline script or style,
    /// no plugins, no framing, forms post only here.
    public static let contentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
        + "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
}

/// Why a console page could not be rendered.
enum ConsoleFailure: Error {
    /// A bad query parameter: 400.
    case badParameter(ConsoleParameterError)
    /// No such workload (or other object): 404.
    case notFound(String)
    /// The query log failed: 500.
    case store(QueryStoreError)
}

/// Routes and handlers of the console (the pages are in `Console…Page.swift` extensions).
struct ConsoleController: Sendable {
    let sources: ConsoleDataSources

    func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        router.get("/") { request, _ in await self.respond(request, self.dashboard) }
        router.get("/workloads") { request, _ in await self.respond(request, self.workloads) }
        router.get("/workloads/{key}") { request, context in
            let key = context.parameters.get("key") ?? ""
            return await self.respond(request) { params async throws(ConsoleFailure) in
                try await self.workload(rawKey: key, params)
            }
        }
        router.get("/search") { request, _ in await self.respond(request, self.search) }
        router.get("/feeds") { request, _ in await self.respond(request, self.feeds) }
        router.get("/console.css") { _, _ in Self.asset(ConsoleAssets.css, type: "text/css; charset=utf-8") }
        router.get("/console.js") { _, _ in Self.asset(ConsoleAssets.javascript, type: "text/javascript; charset=utf-8") }
    }

    /// Runs a page handler and turns its result or failure into a response with the console's headers.
    private func respond(
        _ request: Request, _ page: (ConsoleParameters) async throws(ConsoleFailure) -> ConsoleHTML
    ) async -> Response {
        let params = ConsoleParameters(query: request.uri.query)
        do {
            return Self.html(try await page(params), status: .ok)
        } catch {
            switch error {
            case .badParameter(let e):
                return Self.html(Self.errorPage(
                    status: "Bad request",
                    message: "The parameter \u{201C}\(e.parameter)\u{201D} \(e.message).",
                    hint: "Fix the address or use the form; nothing was changed."), status: .badRequest)
            case .notFound(let what):
                return Self.html(Self.errorPage(status: "Not found", message: what, hint: nil), status: .notFound)
            case .store(let e):
                return Self.html(Self.errorPage(
                    status: "Query log unavailable", message: "Reading the query log failed: \(e).",
                    hint: "The resolver keeps answering; see the server log."), status: .internalServerError)
            }
        }
    }

    private static func errorPage(status: String, message: String, hint: String?) -> ConsoleHTML {
        let hintHTML: ConsoleHTML = hint.map { "<p>\($0)</p>" } ?? ""
        return ConsoleLayout.page(title: status, section: nil, body: """
            <h1>\(status)</h1>
            <p class="notice error" role="alert">\(message)</p>
            \(hintHTML)
            <p><a href="/">Back to the dashboard</a></p>
            """)
    }

    /// An HTML response with the security headers.
    static func html(_ page: ConsoleHTML, status: HTTPResponse.Status) -> Response {
        var headers = Self.securityHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: page.rendered)))
    }

    private static func asset(_ text: String, type: String) -> Response {
        var headers = Self.securityHeaders
        headers[.contentType] = type
        headers[.cacheControl] = "max-age=300"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// Headers on every console response.
    static var securityHeaders: HTTPFields {
        var headers = HTTPFields()
        headers[.contentSecurityPolicy] = ConsoleRoutes.contentSecurityPolicy
        headers[.xContentTypeOptions] = "nosniff"
        headers[.cacheControl] = "no-store"
        return headers
    }

    /// Runs a query-log read, turning its error into a page failure.
    func read<T>(_ body: () async throws(QueryStoreError) -> T) async throws(ConsoleFailure) -> T {
        do {
            return try await body()
        } catch {
            throw .store(error)
        }
    }

    /// Parses parameters, turning a bad one into a page failure.
    func parse<T>(_ body: () throws(ConsoleParameterError) -> T) throws(ConsoleFailure) -> T {
        do {
            return try body()
        } catch {
            throw .badParameter(error)
        }
    }
}
