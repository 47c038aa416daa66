import DNSWire
import Testing

@Suite struct TypeBitmapTests {
    @Test("Type bit maps use one block per window and no trailing zero octets")
    func encoding() throws {
        var w = WireWriter()
        TypeBitmap.encode([.a, .mx, .rrsig, .nsec, RecordType(1234), .mx], into: &w)
        // RFC 4034 §4.3's example bit map, plus window 4 for TYPE1234.
        let window4: [UInt8] = [0x04, 0x1B] + [UInt8](repeating: 0, count: 26) + [0x20]
        #expect(w.bytes == [0x00, 0x06, 0x40, 0x01, 0x00, 0x00, 0x00, 0x03] + window4)
        var r = WireReader(bytes: w.bytes)
        #expect(try TypeBitmap.decode(from: &r, "t") == [.a, .mx, .rrsig, .nsec, RecordType(1234)])
    }
}
