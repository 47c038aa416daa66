import Testing

@testable import DNSZoneTransfer

@Suite struct SerialNumberTests {
    @Test("RFC 1982 ordering, including wrap-around", arguments: [
        (UInt32(2), UInt32(1), true),
        (1, 2, false),
        (5, 5, false),
        (0, 4_294_967_295, true),
        (1, 4_294_967_000, true),
        (4_294_967_295, 0, false),
        (2_147_483_647, 0, true),
        (2_147_483_649, 0, false),
    ])
    func ordering(a: UInt32, b: UInt32, newer: Bool) {
        #expect(SerialNumber(a).isNewer(than: SerialNumber(b)) == newer)
    }

    @Test("Serials exactly 2^31 apart are not comparable either way")
    func undefinedDistance() {
        let a = SerialNumber(0)
        let b = SerialNumber(1 << 31)
        #expect(!a.isNewer(than: b))
        #expect(!b.isNewer(than: a))
    }

    @Test("Adding wraps and refuses steps beyond 2^31-1")
    func adding() {
        #expect(SerialNumber(4_294_967_295).adding(2) == SerialNumber(1))
        #expect(SerialNumber(7).adding(1 << 31) == nil)
        #expect(SerialNumber(7).adding((1 << 31) - 1) != nil)
    }
}
