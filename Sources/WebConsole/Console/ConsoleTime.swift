import DNSPipeline
/// The console's time windows, time parsing and formatting (all UTC, no locale, no Foundation formatters).
enum ConsoleTime {
    static let microsPerSecond: Int64 = 1_000_000

    /// Formats `micros` (since the Unix epoch) as `2026-11-29 07:00:12`.
    static func format(_ micros: Int64) -> String {
        let c = Self.civil(micros)
        return "\(c.year)-\(Self.two(c.month))-\(Self.two(c.day)) \(Self.two(c.hour)):\(Self.two(c.minute)):\(Self.two(c.second))"
    }

    /// Formats `micros` as RFC 3339 (`2026-11-29T07:00:12Z`), for `<time datetime>` and links.
    static func rfc3339(_ micros: Int64) -> String {
        let c = Self.civil(micros)
        return "\(c.year)-\(Self.two(c.month))-\(Self.two(c.day))T\(Self.two(c.hour)):\(Self.two(c.minute)):"
            + "\(Self.two(c.second))Z"
    }

    /// A short axis label: `07:15` within a day, `11-29 07:00` for longer windows.
    static func axisLabel(_ micros: Int64, withDate: Bool) -> String {
        let c = Self.civil(micros)
        let time = "\(Self.two(c.hour)):\(Self.two(c.minute))"
        return withDate ? "\(Self.two(c.month))-\(Self.two(c.day)) \(time)" : time
    }

    /// `3 s`, `4 min`, `2 h 5 min`, `3 d 4 h`: how long ago, for ages and "last seen".
    static func duration(seconds: Int64) -> String {
        let s = max(seconds, 0)
        if s < 60 { return "\(s) s" }
        if s < 3600 { return "\(s / 60) min" }
        if s < 86_400 { return s % 3600 >= 60 ? "\(s / 3600) h \(s % 3600 / 60) min" : "\(s / 3600) h" }
        return s % 86_400 >= 3600 ? "\(s / 86_400) d \(s % 86_400 / 3600) h" : "\(s / 86_400) d"
    }

    /// `text` without leading and trailing spaces and tabs.
    static func trim(_ text: String) -> String {
        var s = Substring(text)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }

    private static func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }

    /// Calendar fields of `micros` in UTC.
    static func civil(_ micros: Int64) -> (year: Int64, month: Int64, day: Int64, hour: Int64, minute: Int64, second: Int64) {
        let t = CivilTime.fields(micros: micros)
        return (t.year, t.month, t.day, t.hour, t.minute, t.second)
    }

    /// Days since the epoch of a civil date.
    static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        CivilTime.days(fromCivil: year, month, day)
    }

    /// Parses a time as the API contract accepts it: relative to `now` (`-15m`, `-1h`, `-24h`, `-7d`, `-30s`,
    /// `now`) or absolute (RFC 3339 `2026-11-29T07:00:00Z`, `…+01:00`, fractions allowed; without a zone, as a
    /// browser's `datetime-local` sends it, UTC is assumed; a space may replace the `T`).
    ///
    /// - Returns: Microseconds since the Unix epoch, or nil when `text` is neither form.
    static func parse(_ text: String, now: Int64) -> Int64? {
        let t = Self.trim(text)
        if t == "now" { return now }
        if t.hasPrefix("-") {
            guard let span = Self.parseSpan(String(t.dropFirst())) else { return nil }
            return now - span
        }
        return Self.parseAbsolute(t)
    }

    /// `15m`, `1h`, `7d`, `30s` as microseconds (at most ten years).
    static func parseSpan(_ text: String) -> Int64? {
        guard let unit = text.last, let value = Int64(text.dropLast()), value >= 0, value <= 10 * 366 * 86_400 else {
            return nil
        }
        let seconds: Int64
        switch unit {
        case "s": seconds = value
        case "m": seconds = value * 60
        case "h": seconds = value * 3600
        case "d": seconds = value * 86_400
        default: return nil
        }
        guard seconds <= 10 * 366 * 86_400 else { return nil }
        return seconds * Self.microsPerSecond
    }

    private static func parseAbsolute(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        var i = 0
        func digits(_ n: Int) -> Int64? {
            guard i + n <= b.count else { return nil }
            var v: Int64 = 0
            for k in i..<(i + n) {
                guard b[k] >= 48 && b[k] <= 57 else { return nil }
                v = v * 10 + Int64(b[k] - 48)
            }
            i += n
            return v
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < b.count, b[i] == c else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect(UInt8(ascii: "-")), let month = digits(2), expect(UInt8(ascii: "-")),
            let day = digits(2)
        else { return nil }
        var hour: Int64 = 0
        var minute: Int64 = 0
        var second: Int64 = 0
        var fraction: Int64 = 0
        var offset: Int64 = 0
        if i < b.count {
            guard b[i] == UInt8(ascii: "T") || b[i] == UInt8(ascii: "t") || b[i] == UInt8(ascii: " ") else { return nil }
            i += 1
            guard let h = digits(2), expect(UInt8(ascii: ":")), let m = digits(2) else { return nil }
            hour = h
            minute = m
            if expect(UInt8(ascii: ":")) {
                guard let s = digits(2) else { return nil }
                second = s
                if expect(UInt8(ascii: ".")) {
                    var scale: Int64 = 100_000
                    var count = 0
                    while i < b.count, b[i] >= 48, b[i] <= 57 {
                        if count < 6 { fraction += Int64(b[i] - 48) * scale }
                        scale /= 10
                        count += 1
                        i += 1
                    }
                    guard count > 0 else { return nil }
                }
            }
            if i < b.count {
                if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
                    i += 1
                } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
                    let sign: Int64 = b[i] == UInt8(ascii: "-") ? -1 : 1
                    i += 1
                    guard let oh = digits(2), expect(UInt8(ascii: ":")), let om = digits(2), oh < 24, om < 60 else {
                        return nil
                    }
                    offset = sign * (oh * 3600 + om * 60)
                } else {
                    return nil
                }
            }
        }
        guard i == b.count, (1970...9999).contains(year), (1...12).contains(month), day >= 1,
            day <= Self.daysIn(month: month, year: year), hour < 24, minute < 60, second < 60
        else { return nil }
        let seconds = Self.days(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second - offset
        return seconds * Self.microsPerSecond + fraction
    }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}

/// The time windows the console's range picker offers.
enum ConsoleRange: String, CaseIterable, Sendable {
    case hour = "1h"
    case day = "24h"
    case week = "7d"

    /// The window's length in microseconds.
    var micros: Int64 {
        switch self {
        case .hour: 3600 * ConsoleTime.microsPerSecond
        case .day: 86_400 * ConsoleTime.microsPerSecond
        case .week: 7 * 86_400 * ConsoleTime.microsPerSecond
        }
    }

    /// Chart bucket width: 60, 96 and 84 bars, enough to see a burst without a bar thinner than a few pixels.
    var bucket: Duration {
        switch self {
        case .hour: .seconds(60)
        case .day: .seconds(15 * 60)
        case .week: .seconds(2 * 3600)
        }
    }

    /// "the last hour", for headings.
    var phrase: String {
        switch self {
        case .hour: "the last hour"
        case .day: "the last 24 hours"
        case .week: "the last 7 days"
        }
    }
}
