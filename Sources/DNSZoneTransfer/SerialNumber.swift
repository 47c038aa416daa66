/// A zone serial compared with RFC 1982 serial number arithmetic (SERIAL_BITS = 32).
///
/// Serials wrap around: 1 is newer than 4294967295. Two serials exactly 2^31 apart are not comparable
/// (RFC 1982 §3.2 leaves the result undefined), so neither counts as newer than the other.
public struct SerialNumber: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The serial as carried in the SOA record.
    public var rawValue: UInt32

    /// Wraps a serial.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Wraps a serial.
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }

    /// RFC 1982 §3.2: `self` is greater than `other` ("newer").
    ///
    /// "s1 is said to be greater than s2 if, and only if, s1 is not equal to s2, and
    /// (i1 < i2 and i2 - i1 > 2^(SERIAL_BITS - 1)) or (i1 > i2 and i1 - i2 < 2^(SERIAL_BITS - 1))".
    public func isNewer(than other: SerialNumber) -> Bool {
        let a = self.rawValue
        let b = other.rawValue
        if a == b { return false }
        return (a < b && b &- a > 1 << 31) || (a > b && a &- b < 1 << 31)
    }

    /// RFC 1982 §3.1: the serial `n` steps later, for `n` in 0...2^31-1; nil for a larger step, which
    /// the RFC does not define.
    public func adding(_ n: UInt32) -> SerialNumber? {
        guard n <= (1 << 31) - 1 else { return nil }
        return SerialNumber(self.rawValue &+ n)
    }

    /// The text form, for logs and error messages.
    public var description: String { String(self.rawValue) }
}
