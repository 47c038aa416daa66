import DNSPipeline

/// Time values of the API: RFC 3339 output in UTC with microseconds, and the accepted input forms.
public enum APITime {
    /// `micros` (since the Unix epoch) as `2026-11-29T07:00:00.123456Z`.
    public static func format(_ micros: Int64) -> String {
        CivilTime.rfc3339(micros: micros)
    }

    /// Parses a time parameter: RFC 3339 (`2026-11-29T07:00:00Z`, optional fraction, `Z` or `±hh:mm`) or a
    /// time relative to `now` (`-15m`, `-1h`, `-24h`, `-7d`, `-30s`).
    ///
    /// - Returns: Microseconds since the Unix epoch, or nil when the text is neither form.
    public static func parse(_ text: String, nowMicros: Int64) -> Int64? {
        if text.hasPrefix("-") {
            guard let d = Self.parseDuration(String(text.dropFirst())) else { return nil }
            return nowMicros - d
        }
        return Self.parseRFC3339(text)
    }

    /// Parses a positive duration `<n>s|m|h|d` (at most 366 days) into microseconds.
    public static func parseDuration(_ text: String) -> Int64? {
        guard let unit = text.last, text.count >= 2, text.count <= 12 else { return nil }
        let digits = text.dropLast()
        guard digits.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int64(digits), n > 0 else { return nil }
        let scale: Int64
        switch unit {
        case "s": scale = 1_000_000
        case "m": scale = 60_000_000
        case "h": scale = 3_600_000_000
        case "d": scale = 86_400_000_000
        default: return nil
        }
        let (v, overflow) = n.multipliedReportingOverflow(by: scale)
        guard !overflow, v <= 366 * 86_400_000_000 else { return nil }
        return v
    }

    private static func parseRFC3339(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        guard b.count >= 20, b.count <= 40 else { return nil }
        func number(_ from: Int, _ count: Int) -> Int64? {
            guard from + count <= b.count else { return nil }
            var v: Int64 = 0
            for i in from..<(from + count) {
                guard b[i] >= 0x30 && b[i] <= 0x39 else { return nil }
                v = v * 10 + Int64(b[i] - 0x30)
            }
            return v
        }
        guard let year = number(0, 4), b[4] == UInt8(ascii: "-"), let month = number(5, 2), b[7] == UInt8(ascii: "-"),
            let day = number(8, 2), b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t"), let hour = number(11, 2),
            b[13] == UInt8(ascii: ":"), let minute = number(14, 2), b[16] == UInt8(ascii: ":"),
            let second = number(17, 2)
        else { return nil }
        guard (1...12).contains(month), day >= 1, day <= Self.daysIn(month: month, year: year), hour <= 23,
            minute <= 59, second <= 60
        else { return nil }
        var i = 19
        var fraction: Int64 = 0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            var digits = 0
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                if digits < 6 { fraction = fraction * 10 + Int64(b[i] - 0x30) }
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            for _ in min(digits, 6)..<6 { fraction *= 10 }
        }
        var offset: Int64 = 0
        guard i < b.count else { return nil }
        if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
            i += 1
        } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
            let sign: Int64 = b[i] == UInt8(ascii: "-") ? -1 : 1
            guard let oh = number(i + 1, 2), i + 3 < b.count, b[i + 3] == UInt8(ascii: ":"), let om = number(i + 4, 2),
                oh <= 23, om <= 59
            else { return nil }
            offset = sign * (oh * 3600 + om * 60)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let days = CivilTime.days(fromCivil: year, month, day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + min(second, 59) - offset
        return seconds * 1_000_000 + fraction
    }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}
