import Testing

@testable import WebConsole

/// Time parsing and formatting for the console's filters (`from`, `until`) and tables, all in UTC.
@Suite struct ConsoleTimeTests {
    /// 2026-11-29T07:00:00Z.
    static let now: Int64 = 1_795_935_600_000_000

    @Test("Formats microseconds as UTC calendar time")
    func format() {
        #expect(ConsoleTime.format(Self.now) == "2026-11-29 07:00:00")
        #expect(ConsoleTime.rfc3339(Self.now + 1_500_000) == "2026-11-29T07:00:01Z")
        #expect(ConsoleTime.format(0) == "1970-01-01 00:00:00")
        #expect(ConsoleTime.format(951_782_400_000_000) == "2000-02-29 00:00:00", "leap day")
        #expect(ConsoleTime.axisLabel(Self.now, withDate: true) == "11-29 07:00")
    }

    @Test("Relative times count back from now", arguments: [
        ("-15m", 900), ("-1h", 3600), ("-24h", 86_400), ("-7d", 604_800), ("-30s", 30), ("now", 0), (" -1h ", 3600),
    ])
    func relative(text: String, secondsAgo: Int64) {
        #expect(ConsoleTime.parse(text, now: Self.now) == Self.now - secondsAgo * 1_000_000)
    }

    @Test("RFC 3339 times, with offsets and fractions, and datetime-local values as UTC", arguments: [
        ("2026-11-29T07:00:00Z", 0),
        ("2026-11-29T07:00:00.25Z", 250_000),
        ("2026-11-29T08:00:00+01:00", 0),
        ("2026-11-29T06:30:00-00:30", 0),
        ("2026-11-29T07:00", 0),
        ("2026-11-29 07:00:00", 0),
        ("2026-11-29t07:00:00z", 0),
        ("2026-11-29T07:00:00.123456789Z", 123_456),
    ])
    func absolute(text: String, offsetMicros: Int64) {
        #expect(ConsoleTime.parse(text, now: 0) == Self.now + offsetMicros)
    }

    @Test("Anything else is refused", arguments: [
        "", "yesterday", "-1w", "-h", "--1h", "-99999999999d", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
        "2026-11-29T24:00:00Z", "2026-11-29T07:00:00+1", "2026-11-29T07:00:00Zjunk", "1969-12-31T23:59:59Z",
        "2026-11-29T07:00:00.Z", "<script>",
    ])
    func refused(text: String) {
        #expect(ConsoleTime.parse(text, now: Self.now) == nil)
    }

    @Test("Durations read as a person would say them")
    func durations() {
        #expect(ConsoleTime.duration(seconds: 5) == "5 s")
        #expect(ConsoleTime.duration(seconds: 300) == "5 min")
        #expect(ConsoleTime.duration(seconds: 7200) == "2 h")
        #expect(ConsoleTime.duration(seconds: 7500) == "2 h 5 min")
        #expect(ConsoleTime.duration(seconds: 90_000) == "1 d 1 h")
        #expect(ConsoleTime.duration(seconds: -3) == "0 s")
    }
}
