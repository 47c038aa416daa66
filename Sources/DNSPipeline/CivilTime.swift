/// Calendar arithmetic for event times (microseconds since the Unix epoch, UTC, proleptic Gregorian), shared by
/// the API, the console and the JSON export so that all three print the same instant the same way.
///
/// The day ↔ date conversions are Howard Hinnant's `days_from_civil` / `civil_from_days`; divisions floor,
/// so instants before 1970 convert too.
public enum CivilTime {
    /// The fields of one instant.
    public struct Fields: Sendable, Hashable {
        public var year: Int64
        public var month: Int64
        public var day: Int64
        public var hour: Int64
        public var minute: Int64
        public var second: Int64
        /// Microseconds within the second, 0…999 999.
        public var micro: Int64
    }

    /// Floor division (rounds towards −∞).
    public static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    /// Calendar fields of `micros` in UTC.
    public static func fields(micros: Int64) -> Fields {
        let seconds = Self.floorDiv(micros, 1_000_000)
        let days = Self.floorDiv(seconds, 86_400)
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = Self.civil(fromDays: days)
        return Fields(year: year, month: month, day: day, hour: secondOfDay / 3600, minute: secondOfDay % 3600 / 60,
            second: secondOfDay % 60, micro: micros - seconds * 1_000_000)
    }

    /// The date of a day count since 1970-01-01.
    public static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = Self.floorDiv(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Days since 1970-01-01 of a date.
    public static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = Self.floorDiv(y, 400)
        let yoe = y - era * 400
        let mp = month > 2 ? month - 3 : month + 9
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// RFC 3339 UTC with microseconds, `2026-11-29T07:00:00.123456Z`: the one form the API, the console and the
    /// JSON export print times in.
    public static func rfc3339(micros: Int64) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(27)
        Self.appendRFC3339(micros: micros, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends ``rfc3339(micros:)``'s text as UTF-8 (for writers that build bytes).
    public static func appendRFC3339(micros: Int64, to out: inout [UInt8]) {
        let t = Self.fields(micros: micros)
        func digits(_ v: Int64, _ width: Int) {
            var divisor: Int64 = 1
            for _ in 1..<width { divisor *= 10 }
            // Years outside 0...9999 cannot come from a 64-bit microsecond clock in practice; wrap, never trap.
            var v = max(0, v) % (divisor * 10)
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: v / divisor))
                v %= divisor
                divisor /= 10
            }
        }
        digits(t.year, 4)
        out.append(UInt8(ascii: "-"))
        digits(t.month, 2)
        out.append(UInt8(ascii: "-"))
        digits(t.day, 2)
        out.append(UInt8(ascii: "T"))
        digits(t.hour, 2)
        out.append(UInt8(ascii: ":"))
        digits(t.minute, 2)
        out.append(UInt8(ascii: ":"))
        digits(t.second, 2)
        out.append(UInt8(ascii: "."))
        digits(t.micro, 6)
        out.append(UInt8(ascii: "Z"))
    }
}
