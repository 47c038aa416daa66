import Hummingbird
import NIOCore

/// A JSON document built in code: the API's response bodies and the OpenAPI document.
///
/// Building values explicitly (rather than through `Codable`) keeps the wire format exactly as the contract
/// says: snake_case keys in a stable order, and `null` for absent values instead of a missing key.
indirect enum JSONValue: Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    case object([(String, JSONValue)])
    case array([JSONValue])
    case string(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)
    case null

    init(stringLiteral value: String) { self = .string(value) }
    init(integerLiteral value: Int64) { self = .int(value) }
    init(booleanLiteral value: Bool) { self = .bool(value) }
    init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(elements) }

    static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.object(let x), .object(let y)):
            x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case (.array(let x), .array(let y)): x == y
        case (.string(let x), .string(let y)): x == y
        case (.int(let x), .int(let y)): x == y
        case (.double(let x), .double(let y)): x == y
        case (.bool(let x), .bool(let y)): x == y
        case (.null, .null): true
        default: false
        }
    }

    /// A string, or null.
    static func optional(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }
    /// An integer, or null.
    static func optional(_ i: Int64?) -> JSONValue { i.map { .int($0) } ?? .null }
    /// An RFC 3339 time, or null.
    static func time(_ micros: Int64?) -> JSONValue { micros.map { .string(APITime.format($0)) } ?? .null }
    /// An integer from `Int`.
    static func int(_ i: Int) -> JSONValue { .int(Int64(i)) }

    /// Compact JSON text.
    var json: String {
        var out = ""
        self.writeJSON(into: &out)
        return out
    }

    private func writeJSON(into out: inout String) {
        switch self {
        case .object(let members):
            out += "{"
            for (i, (k, v)) in members.enumerated() {
                if i > 0 { out += "," }
                out += JSONText.quote(k) + ":"
                v.writeJSON(into: &out)
            }
            out += "}"
        case .array(let items):
            out += "["
            for (i, v) in items.enumerated() {
                if i > 0 { out += "," }
                v.writeJSON(into: &out)
            }
            out += "]"
        case .string(let s): out += JSONText.quote(s)
        case .int(let i): out += String(i)
        case .double(let d): out += d.isFinite ? "\(d)" : "null"
        case .bool(let b): out += b ? "true" : "false"
        case .null: out += "null"
        }
    }

    /// YAML text (block style; every string double-quoted, which YAML reads as JSON strings).
    var yaml: String {
        var out = ""
        self.writeYAML(into: &out, indent: 0, inline: false)
        return out
    }

    private var isScalarOrEmpty: Bool {
        switch self {
        case .object(let m): m.isEmpty
        case .array(let a): a.isEmpty
        default: true
        }
    }

    private func writeYAML(into out: inout String, indent: Int, inline: Bool) {
        let pad = String(repeating: "  ", count: indent)
        switch self {
        case .object(let members) where !members.isEmpty:
            for (i, (k, v)) in members.enumerated() {
                if !(inline && i == 0) { out += pad }
                out += JSONText.quote(k) + ":"
                if v.isScalarOrEmpty {
                    out += " "
                    v.writeYAML(into: &out, indent: indent + 1, inline: true)
                } else {
                    out += "\n"
                    v.writeYAML(into: &out, indent: indent + 1, inline: false)
                }
            }
        case .array(let items) where !items.isEmpty:
            for v in items {
                out += pad + "-"
                if v.isScalarOrEmpty {
                    out += " "
                    v.writeYAML(into: &out, indent: indent + 1, inline: true)
                } else if case .object = v {
                    out += " "
                    v.writeYAML(into: &out, indent: indent + 1, inline: true)
                } else {
                    out += "\n"
                    v.writeYAML(into: &out, indent: indent + 1, inline: false)
                }
            }
        default:
            self.writeJSON(into: &out)
            out += "\n"
        }
    }

    /// An HTTP response carrying this value as JSON.
    func response(_ status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: self.json + "\n")))
    }
}
