public import Hummingbird

/// A named bearer token that may call the mutating API. The name is the actor recorded in the audit trail.
public struct APIToken: Sendable, Hashable {
    /// Who uses it (`ops`, `ci`); recorded as the actor of every change made with it.
    public var name: String
    /// The secret.
    public var secret: [UInt8]

    /// Creates a token.
    public init(name: String, secret: String) {
        self.name = name
        self.secret = Array(secret.utf8)
    }

    /// Compares `presented` with the secret in time that depends only on `presented`'s length, so a caller
    /// cannot find the secret byte by byte from response times.
    func matches(_ presented: [UInt8]) -> Bool {
        guard !self.secret.isEmpty else { return false }
        var diff = UInt8(truncatingIfNeeded: self.secret.count ^ presented.count)
        for i in 0..<presented.count {
            diff |= self.secret[i % self.secret.count] ^ presented[i]
        }
        return diff == 0
    }
}

/// Guards the mutating routes: `Authorization: Bearer <token>` must name a configured token.
///
/// 401 (with `WWW-Authenticate: Bearer`) when the header is missing or the token unknown; 403 when no
/// token is configured at all, since then no request could ever be allowed. On success the token's name
/// is put in the request context as the actor.
struct BearerAuthMiddleware: RouterMiddleware {
    typealias Context = PalisadeRequestContext
    let tokens: [APIToken]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        var context = context
        context.apiActor = try self.actor(for: request)
        return try await next(request, context)
    }

    /// The name of the token the request carries.
    func actor(for request: Request) throws(APIError) -> String {
        guard !self.tokens.isEmpty else {
            throw APIError(
                .forbidden,
                "changes through the API are disabled: no API token is configured (add one under api.tokens with a"
                    + " name and a tokenFile, or set PALISADE_API__TOKENS, then restart)")
        }
        let challenge: HTTPFields = [.wwwAuthenticate: "Bearer realm=\"palisade\""]
        guard let header = request.headers[.authorization] else {
            throw APIError(.unauthorized, "Authorization: Bearer <token> header required", headers: challenge)
        }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw APIError(.unauthorized, "Authorization header must be 'Bearer <token>'", headers: challenge)
        }
        let presented = Array(parts[1].utf8)
        // Check every token (no early exit) so the time taken does not tell which one almost matched.
        var found: String?
        for t in self.tokens where t.matches(presented) && found == nil {
            found = t.name
        }
        guard let name = found else {
            throw APIError(.unauthorized, "the bearer token is not valid", headers: challenge)
        }
        return name
    }
}
