import Foundation
import Hummingbird

/// The JSON object of a request body, with field accessors that answer 400 naming the field.
struct APIBody {
    private let fields: [String: Any]
    private let allowed: Set<String>

    /// The most bytes a body may have.
    static let maximumBytes = 16 * 1024

    /// Reads and parses the body; refuses non-objects, unknown fields and oversize bodies.
    static func read(_ request: Request, allowed: Set<String>) async throws -> APIBody {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: Self.maximumBytes)
        } catch {
            throw APIError(.contentTooLarge, "body: larger than \(Self.maximumBytes) bytes")
        }
        let bytes = Data(buffer.readableBytesView)
        guard !bytes.isEmpty else { throw APIError.badParameter("body", "a JSON object is required") }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: bytes)
        } catch {
            throw APIError.badParameter("body", "not valid JSON")
        }
        guard let object = parsed as? [String: Any] else {
            throw APIError.badParameter("body", "must be a JSON object")
        }
        for key in object.keys.sorted() where !allowed.contains(key) {
            throw APIError.badParameter(key, "unknown field (known: \(allowed.sorted().joined(separator: ", ")))")
        }
        return APIBody(fields: object, allowed: allowed)
    }

    /// A string field; nil when absent. `null` is refused: leave the field out instead.
    func string(_ name: String, maxLength: Int = 512) throws(APIError) -> String? {
        guard let v = self.fields[name] else { return nil }
        guard let s = v as? String else { throw APIError.badParameter(name, "must be a string") }
        guard s.utf8.count <= maxLength else { throw APIError.badParameter(name, "longer than \(maxLength) bytes") }
        guard !s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw APIError.badParameter(name, "contains control characters")
        }
        return s
    }

    /// A required, non-empty string field.
    func requiredString(_ name: String, maxLength: Int = 512) throws(APIError) -> String {
        guard let s = try self.string(name, maxLength: maxLength), !s.isEmpty else {
            throw APIError.badParameter(name, "required")
        }
        return s
    }
}
