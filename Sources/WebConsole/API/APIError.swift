public import Hummingbird
import NIOCore
import QueryStore

/// An API failure answered as `{"error": "<message>"}` with an HTTP status (400, 401, 403, 404, 409, 422,
/// 500, 503). Messages name the parameter or field at fault.
public struct APIError: Error, HTTPResponseError, CustomStringConvertible {
    /// The HTTP status.
    public var status: HTTPResponse.Status
    /// What was wrong.
    public var message: String
    /// Extra headers (`WWW-Authenticate` on 401).
    public var headers: HTTPFields

    /// Creates an error.
    public init(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.headers = headers
    }

    /// 400 for a bad query parameter or request body.
    static func badParameter(_ name: String, _ problem: String) -> APIError {
        APIError(.badRequest, "\(name): \(problem)")
    }

    /// 503 when the query log is turned off.
    static let noStore = APIError(
        .serviceUnavailable, "the query log is disabled (queryLog.store: false), so there is nothing to read")

    /// `status: message`.
    public var description: String { "\(self.status.code): \(self.message)" }

    /// The JSON error body.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = self.headers
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.cacheControl] = "no-store"
        let body = "{\"error\":" + JSONText.quote(self.message) + "}\n"
        return Response(status: self.status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

/// JSON text helpers that do not need an encoder.
enum JSONText {
    /// `s` as a JSON string literal (RFC 8259 §7).
    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F || scalar.value == 0x2028 || scalar.value == 0x2029 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

/// Turns every error below it into a JSON error body: store argument errors become 400, anything
/// unexpected a 500 whose message says what failed (never a stack or an empty body).
struct APIErrorMiddleware: RouterMiddleware {
    typealias Context = PalisadeRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as QueryStoreError {
            if error.code == .invalidArgument { throw APIError(.badRequest, error.message) }
            throw APIError(.internalServerError, "reading the query log failed: \(error.message)")
        } catch let error as HTTPError {
            throw APIError(error.status, error.body ?? error.status.reasonPhrase)
        } catch {
            throw APIError(.internalServerError, "internal error: \(error)")
        }
    }
}
