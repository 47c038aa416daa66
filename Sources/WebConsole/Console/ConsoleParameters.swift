import DNSWire
import QueryStore

/// A request parameter the console cannot use: the page answers 400 and says which one and why.
struct ConsoleParameterError: Error, Sendable, Equatable {
    /// The parameter's name.
    var parameter: String
    /// What was wrong, for the operator.
    var message: String
}

/// The query string of a console request, decoded as an HTML form sends it.
///
/// Hummingbird's `queryParameters` decodes `%XX` but not `+`, which is how a GET form encodes a space; this
/// parses the raw query itself, so `a+b` is `a b` and `a%2Bb` is `a+b`.
struct ConsoleParameters: Sendable {
    private var values: [(String, String)] = []

    /// Parses `query` (the part after `?`, undecoded). A pair with a malformed escape is kept as written.
    init(query: String?) {
        guard let query, !query.isEmpty else { return }
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = Self.decodeFormComponent(String(parts[0]))
            let value = parts.count > 1 ? Self.decodeFormComponent(String(parts[1])) : ""
            self.values.append((name, value))
        }
    }

    private static func decodeFormComponent(_ text: String) -> String {
        let spaced = String(text.map { $0 == "+" ? " " : $0 })
        return ConsoleURL.decode(spaced) ?? spaced
    }

    /// The first value of `name`, trimmed; nil when absent or empty (an empty form field means "any").
    func get(_ name: String) -> String? {
        guard let value = self.values.first(where: { $0.0 == name })?.1 else { return nil }
        let trimmed = ConsoleTime.trim(value)
        return trimmed.isEmpty ? nil : trimmed
    }

    /// The time window picker (`range=1h|24h|7d`), `fallback` when absent.
    func range(default fallback: ConsoleRange = .day) throws(ConsoleParameterError) -> ConsoleRange {
        guard let text = self.get("range") else { return fallback }
        guard let range = ConsoleRange(rawValue: text) else {
            throw ConsoleParameterError(
                parameter: "range", message: "must be one of 1h, 24h, 7d (got \(Self.quote(text)))")
        }
        return range
    }

    /// A time parameter (`from`, `until`): relative (`-1h`) or RFC 3339.
    func time(_ name: String, now: Int64) throws(ConsoleParameterError) -> Int64? {
        guard let text = self.get(name) else { return nil }
        guard let micros = ConsoleTime.parse(text, now: now) else {
            throw ConsoleParameterError(
                parameter: name,
                message: "must be a relative time such as -15m, -1h, -7d, or an RFC 3339 time such as "
                    + "2026-11-29T07:00:00Z (got \(Self.quote(text)))")
        }
        return micros
    }

    /// A yes/no parameter: `true`, `1`, `on`, `yes` or `false`, `0`, `off`, `no`; nil when absent.
    func flag(_ name: String) throws(ConsoleParameterError) -> Bool? {
        guard let text = self.get(name) else { return nil }
        switch text.lowercased() {
        case "true", "1", "on", "yes": return true
        case "false", "0", "off", "no": return false
        default:
            throw ConsoleParameterError(parameter: name, message: "must be true or false (got \(Self.quote(text)))")
        }
    }

    /// A whole number in `bounds`; nil when absent.
    func integer(_ name: String, in bounds: ClosedRange<Int>) throws(ConsoleParameterError) -> Int? {
        guard let text = self.get(name) else { return nil }
        guard let value = Int(text), bounds.contains(value) else {
            throw ConsoleParameterError(
                parameter: name,
                message: "must be a whole number from \(bounds.lowerBound) to \(bounds.upperBound) (got \(Self.quote(text)))")
        }
        return value
    }

    /// A mnemonic such as a record type (`A`, `TYPE65`) or response code (`NXDOMAIN`), upper-cased; nil when
    /// absent.
    func mnemonic(_ name: String, what: String) throws(ConsoleParameterError) -> String? {
        guard let text = self.get(name) else { return nil }
        let valid = text.utf8.count <= 16
            && text.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 | 0x20 >= 97 && $0 | 0x20 <= 122) || $0 == 45 }
        guard valid else {
            throw ConsoleParameterError(
                parameter: name, message: "must be a \(what) such as \(name == "qtype" ? "AAAA" : "NXDOMAIN") (got \(Self.quote(text)))")
        }
        return text.uppercased()
    }

    /// A query-name filter: `example.org` or `*.example.org`; nil when absent.
    func namePattern(_ name: String) throws(ConsoleParameterError) -> NamePattern? {
        guard let text = self.get(name) else { return nil }
        let hasBadCharacter = text.unicodeScalars.contains { $0.value <= 0x20 || $0.value == 0x7F }
        guard text.utf8.count <= 255, !hasBadCharacter else {
            throw ConsoleParameterError(
                parameter: name,
                message: "must be a domain name such as example.org or *.example.org, at most 255 characters, "
                    + "without spaces (got \(Self.quote(text)))")
        }
        return NamePattern(text)
    }

    /// A client address; nil when absent.
    func address(_ name: String) throws(ConsoleParameterError) -> String? {
        guard let text = self.get(name) else { return nil }
        guard let address = IPAddress(text) else {
            throw ConsoleParameterError(
                parameter: name, message: "must be an IPv4 or IPv6 address (got \(Self.quote(text)))")
        }
        return "\(address.unmapped)"
    }

    /// Free text of at most `limit` bytes; nil when absent.
    func text(_ name: String, limit: Int = 512) throws(ConsoleParameterError) -> String? {
        guard let text = self.get(name) else { return nil }
        guard text.utf8.count <= limit else {
            throw ConsoleParameterError(parameter: name, message: "is longer than \(limit) bytes")
        }
        return text
    }

    /// A paging cursor from a previous page's "older" link; nil when absent.
    func cursor(_ name: String) throws(ConsoleParameterError) -> EventCursor? {
        guard let text = self.get(name) else { return nil }
        guard let cursor = EventCursor(text) else {
            throw ConsoleParameterError(
                parameter: name,
                message: "is not a paging cursor (expected <microseconds>-<id> from an \"older\" link; got \(Self.quote(text)))")
        }
        return cursor
    }

    /// The offending value, shortened so that a huge parameter does not make a huge error page.
    static func quote(_ text: String) -> String {
        let short = text.count > 80 ? String(text.prefix(80)) + "…" : text
        return "\"\(short)\""
    }
}
