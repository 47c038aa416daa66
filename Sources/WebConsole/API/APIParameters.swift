import Foundation
import Hummingbird

/// The query parameters of one API request, checked against the names the route accepts.
///
/// Every accessor throws ``APIError`` 400 naming the parameter and what it accepts, so a typo or a bad value
/// never silently turns into a default.
struct APIParameters {
    private var values: [String: String] = [:]
    let nowMicros: Int64

    /// Reads the request's query, refusing names outside `allowed` and repeated names.
    init(_ request: Request, allowed: Set<String>, nowMicros: Int64) throws(APIError) {
        self.nowMicros = nowMicros
        for (key, value) in request.uri.queryParameters {
            let name = String(key)
            guard allowed.contains(name) else {
                let known = allowed.isEmpty ? "this endpoint takes none" : "known: " + allowed.sorted().joined(separator: ", ")
                throw APIError.badParameter(name, "unknown parameter (\(known))")
            }
            guard self.values[name] == nil else { throw APIError.badParameter(name, "given more than once") }
            self.values[name] = String(value)
        }
    }

    /// The raw text, nil when absent. An empty value (`?limit=`) is an error, not a default.
    func string(_ name: String, maxLength: Int = 256) throws(APIError) -> String? {
        guard let v = self.values[name] else { return nil }
        guard !v.isEmpty else { throw APIError.badParameter(name, "is empty (leave the parameter out instead)") }
        guard v.utf8.count <= maxLength else { throw APIError.badParameter(name, "longer than \(maxLength) bytes") }
        guard !v.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw APIError.badParameter(name, "contains control characters")
        }
        return v
    }

    /// A page size in `1...maximum`, or `fallback` when absent.
    func limit(_ name: String = "limit", default fallback: Int, maximum: Int) throws(APIError) -> Int {
        guard let text = try self.string(name) else { return fallback }
        guard let n = Int(text), n >= 1, n <= maximum else {
            throw APIError.badParameter(name, "must be an integer from 1 to \(maximum), got '\(text)'")
        }
        return n
    }

    /// A time (RFC 3339 or relative like `-1h`), or `fallback` (relative to now) when absent.
    func time(_ name: String, default fallback: Int64? = nil) throws(APIError) -> Int64? {
        guard let text = try self.string(name, maxLength: 40) else { return fallback }
        guard let t = APITime.parse(text, nowMicros: self.nowMicros) else {
            throw APIError.badParameter(
                name, "must be an RFC 3339 time (2026-11-29T07:00:00Z) or relative (-15m, -1h, -24h, -7d), got '\(text)'")
        }
        return max(t, 0)
    }

    /// A positive duration (`30s`, `5m`, `1h`, `1d`) in microseconds, or `fallback` when absent.
    func duration(_ name: String, default fallback: Int64) throws(APIError) -> Int64 {
        guard let text = try self.string(name, maxLength: 16) else { return fallback }
        guard let d = APITime.parseDuration(text) else {
            throw APIError.badParameter(name, "must be a duration like 30s, 5m, 1h or 1d, got '\(text)'")
        }
        return d
    }

    /// `true` or `false`, or nil when absent.
    func bool(_ name: String) throws(APIError) -> Bool? {
        guard let text = try self.string(name) else { return nil }
        switch text {
        case "true", "1": return true
        case "false", "0": return false
        default: throw APIError.badParameter(name, "must be true or false, got '\(text)'")
        }
    }

    /// One of `choices` (compared without case), or nil when absent.
    func choice(_ name: String, _ choices: [String]) throws(APIError) -> String? {
        guard let text = try self.string(name) else { return nil }
        guard let c = choices.first(where: { $0.caseInsensitiveCompare(text) == .orderedSame }) else {
            throw APIError.badParameter(name, "must be one of \(choices.joined(separator: ", ")), got '\(text)'")
        }
        return c
    }
}

extension Request {
    /// The path parameter `name`, percent-decoded.
    func pathParameter(_ name: String, context: PalisadeRequestContext) throws(APIError) -> String {
        guard let raw = context.parameters.get(name) else { throw APIError.badParameter(name, "missing") }
        guard let decoded = raw.removingPercentEncoding, !decoded.isEmpty, decoded.utf8.count <= 600 else {
            throw APIError.badParameter(name, "is empty, too long or badly percent-encoded")
        }
        return decoded
    }
}
