import DNSWire
import Testing
import TestSupport

@Suite struct Base64Tests {
    /// RFC 4648 §10 test vectors.
    static let vectors: [(String, String, String)] = [
        ("", "", ""), ("f", "Zg==", "CO"), ("fo", "Zm8=", "CPNG"), ("foo", "Zm9v", "CPNMU"), ("foob", "Zm9vYg==", "CPNMUOG"),
        ("fooba", "Zm9vYmE=", "CPNMUOJ1"), ("foobar", "Zm9vYmFy", "CPNMUOJ1E8"),
    ]

    @Test("Base64 and Base32Hex match RFC 4648's test vectors", arguments: Self.vectors.indices)
    func rfc4648Vectors(_ i: Int) throws {
        let (plain, b64, b32) = Self.vectors[i]
        let bytes = Array(plain.utf8)
        #expect(Base64.encode(bytes) == b64)
        #expect(try Base64.decode(b64, "t") == bytes)
        #expect(Base32Hex.encode(bytes) == b32)
        #expect(try Base32Hex.decode(b32, "t") == bytes)
        #expect(try Base32Hex.decode(b32.lowercased(), "t") == bytes)
    }

    @Test("Base64 skips whitespace and rejects bad characters and padding",
        arguments: ["Zg=", "Z===", "Zg==Zg==", "Zm9v!", "Zm9=v", "Zg"])
    func base64Bad(_ text: String) {
        #expect(throws: DecodeError.self) { try Base64.decode(text, "t") }
    }

    @Test("Base64 accepts split input")
    func base64Whitespace() throws {
        #expect(try Base64.decode("Zm9v\n YmFy", "t") == Array("foobar".utf8))
    }

    @Test("Base32Hex rejects bad characters, lengths and trailing bits", arguments: ["W", "C", "CPN", "CP", "CO=", "CPNMUOJ1E9"])
    func base32Bad(_ text: String) {
        #expect(throws: DecodeError.self) { try Base32Hex.decode(text, "t") }
    }

    @Test("Every byte sequence survives both codecs", arguments: 0..<40)
    func allLengths(n: Int) throws {
        var g = SplitMix64(seed: UInt64(n))
        let bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &g) }
        #expect(try Base64.decode(Base64.encode(bytes), "t") == bytes)
        #expect(try Base32Hex.decode(Base32Hex.encode(bytes), "t") == bytes)
    }
}
