/// A fragment of HTML whose interpolations are escaped unless they are HTML themselves.
///
/// Query names, workload names, images and labels come from whoever runs a container or sends a query, so
/// the console treats every string as hostile: `"<td>\(qname)</td>"` escapes `qname`, and only another
/// ``ConsoleHTML`` value is inserted as markup. Literal segments are written by us at compile time. The
/// escaping covers `&`, `<`, `>`, `"` and `'`, so the same interpolation is safe in text and in quoted
/// attribute values (every attribute the console writes is quoted).
struct ConsoleHTML: Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
    /// The markup.
    private(set) var rendered: String

    /// Markup from a literal (trusted: written in this module).
    init(stringLiteral value: String) {
        self.rendered = value
    }

    init(stringInterpolation: StringInterpolation) {
        self.rendered = stringInterpolation.output
    }

    /// An empty fragment.
    static let empty: ConsoleHTML = ""

    /// Escaped text.
    static func text(_ text: String) -> ConsoleHTML {
        ConsoleHTML(escaped: Self.escape(text))
    }

    private init(escaped: String) {
        self.rendered = escaped
    }

    var description: String { self.rendered }

    /// Appends another fragment.
    static func += (lhs: inout ConsoleHTML, rhs: ConsoleHTML) {
        lhs.rendered += rhs.rendered
    }

    /// Joins fragments.
    static func join(_ parts: [ConsoleHTML], separator: ConsoleHTML = .empty) -> ConsoleHTML {
        ConsoleHTML(escaped: parts.map(\.rendered).joined(separator: separator.rendered))
    }

    /// Escapes text for an HTML text node or a quoted attribute value.
    ///
    /// Control characters other than tab and newline become U+FFFD: they have no business in a page and some
    /// (NUL) are parse errors that browsers treat differently.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n": out.unicodeScalars.append(scalar)
            default:
                if scalar.value < 0x20 || (scalar.value >= 0x7F && scalar.value < 0xA0) {
                    out += "\u{FFFD}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    /// The interpolation rules: strings are escaped, fragments are not, numbers are formatted.
    struct StringInterpolation: StringInterpolationProtocol {
        var output = ""

        init(literalCapacity: Int, interpolationCount: Int) {
            self.output.reserveCapacity(literalCapacity + interpolationCount * 16)
        }

        mutating func appendLiteral(_ literal: String) {
            self.output += literal
        }

        /// Untrusted text: escaped.
        mutating func appendInterpolation(_ text: String) {
            self.output += ConsoleHTML.escape(text)
        }

        /// Untrusted text or nothing.
        mutating func appendInterpolation(_ text: String?) {
            if let text { self.output += ConsoleHTML.escape(text) }
        }

        /// Markup built elsewhere in the console (already escaped where needed).
        mutating func appendInterpolation(_ html: ConsoleHTML) {
            self.output += html.rendered
        }

        /// A list of fragments, concatenated.
        mutating func appendInterpolation(_ html: [ConsoleHTML]) {
            for part in html { self.output += part.rendered }
        }

        /// A whole number.
        mutating func appendInterpolation(_ number: Int) {
            self.output += String(number)
        }

        /// A whole number.
        mutating func appendInterpolation(_ number: Int64) {
            self.output += String(number)
        }

        /// A number for an SVG coordinate: two decimals at most, never exponent notation.
        mutating func appendInterpolation(coordinate: Double) {
            self.output += ConsoleHTML.coordinate(coordinate)
        }
    }

    /// Formats an SVG coordinate with at most two decimals (no exponent, no locale).
    static func coordinate(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        let hundredths = Int((value * 100).rounded())
        let sign = hundredths < 0 ? "-" : ""
        let magnitude = abs(hundredths)
        let whole = magnitude / 100
        let fraction = magnitude % 100
        if fraction == 0 { return "\(sign)\(whole)" }
        if fraction % 10 == 0 { return "\(sign)\(whole).\(fraction / 10)" }
        return "\(sign)\(whole).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}

/// Building `/path?query` links: every value percent-encoded, so an attacker-chosen name cannot add
/// parameters or leave the attribute (the whole link is HTML-escaped again when interpolated).
enum ConsoleURL {
    /// `path` with `parameters` (in order; nil and empty values are left out).
    static func make(_ path: String, _ parameters: [(String, String?)] = []) -> String {
        let query = parameters.compactMap { name, value -> String? in
            guard let value, !value.isEmpty else { return nil }
            return Self.encode(name) + "=" + Self.encode(value)
        }
        return query.isEmpty ? path : path + "?" + query.joined(separator: "&")
    }

    /// Percent-encodes everything but RFC 3986 unreserved characters.
    static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                out += "%"
                out.unicodeScalars.append(hex[Int(byte >> 4)])
                out.unicodeScalars.append(hex[Int(byte & 0x0F)])
            }
        }
        return out
    }

    /// Decodes `%XX` sequences (path parameters arrive undecoded); nil for a malformed escape or bytes that
    /// are not UTF-8.
    static func decode(_ text: String) -> String? {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(Self.hexValue), let low = iterator.next().flatMap(Self.hexValue)
                else { return nil }
                bytes.append(high << 4 | low)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
