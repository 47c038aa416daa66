/// An error raised while decoding untrusted DNS wire data or presentation text.
///
/// It names the field (`"MX.exchange"`) and the byte offset where decoding stopped, so an operator
/// can find the bad byte in a capture.
public struct DecodeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Why decoding failed. A closed set, so it can be a metric label.
    public enum Reason: String, Sendable, Hashable {
        case truncated
        case labelTooLong
        case nameTooLong
        case badLabelType
        case pointerLoop
        case forwardPointer
        case tooManyPointers
        case countExceedsMessage
        case rdataLengthMismatch
        case badValue
        case duplicateOPT
        case trailingBytes
        case badPresentation
    }

    /// Why decoding failed.
    public var reason: Reason
    /// Dotted path of the field being decoded, e.g. `"answer[2].MX.exchange"`.
    public var field: String
    /// Byte offset (wire) or line number (presentation) where the problem was found.
    public var offset: Int
    /// Optional free text with more detail.
    public var detail: String?

    /// Creates a decode error.
    public init(_ reason: Reason, field: String, offset: Int, detail: String? = nil) {
        self.reason = reason
        self.field = field
        self.offset = offset
        self.detail = detail
    }

    public var description: String {
        var s = "\(self.reason.rawValue) in \(self.field) at offset \(self.offset)"
        if let detail = self.detail { s += ": \(detail)" }
        return s
    }
}
