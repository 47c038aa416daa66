import DNSUpstream
import Testing

@Suite struct SPKIPinTests {
    static func hex(_ b: [UInt8]) -> String { b.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined() }

    @Test("SHA-256 matches the FIPS 180-4 test vectors", arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func sha256(input: String, digest: String) {
        #expect(Self.hex(SHA256.hash(Array(input.utf8))) == digest)
    }

    @Test("SHA-256 of inputs around the block and padding boundaries matches precomputed digests", arguments: [
        (55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"),
        (56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"),
        (64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"),
        (1000, "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"),
    ])
    func sha256Lengths(length: Int, digest: String) {
        #expect(Self.hex(SHA256.hash([UInt8](repeating: 0x61, count: length))) == digest)
    }

    @Test("Base64 round-trips every length, in both alphabets")
    func base64() {
        for n in 0..<40 {
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 250) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
            let url = Base64.encode(bytes, url: true)
            #expect(!url.contains("=") && !url.contains("+") && !url.contains("/"))
            #expect(Base64.decode(url) == bytes)
        }
        #expect(Base64.encode(Array("foobar".utf8)) == "Zm9vYmFy")
        #expect(Base64.encode(Array("fo".utf8)) == "Zm8=")
        #expect(Base64.decode("Zm9v!") == nil)
        #expect(Base64.decode("Z") == nil)
    }

    @Test("Pins parse only as sha256/ and 32 bytes of base64")
    func pins() {
        let good = "sha256/" + Base64.encode([UInt8](repeating: 7, count: 32))
        #expect(SPKIPin(good)?.description == good)
        #expect(SPKIPin("sha1/" + Base64.encode([UInt8](repeating: 7, count: 20))) == nil)
        #expect(SPKIPin("sha256/" + Base64.encode([UInt8](repeating: 7, count: 31))) == nil)
        #expect(SPKIPin("sha256/not base64!") == nil)
        #expect(SPKIPin(spki: [1, 2, 3]).digest == SHA256.hash([1, 2, 3]))
    }
}

@Suite struct StreamInFlightTests {
    @Test("IDs handed out are unique among outstanding queries and entries come back by ID")
    func uniqueIDs() {
        var table = StreamInFlight<Int>()
        var rng = SystemRandomNumberGenerator()
        var ids = Set<UInt16>()
        for i in 0..<2000 {
            guard let id = table.unusedID(using: &rng) else {
                Issue.record("no id")
                return
            }
            #expect(ids.insert(id).inserted)
            table.insert(i, id: id)
        }
        #expect(table.count == 2000)
        let some = Array(ids.prefix(10))
        for id in some.reversed() { #expect(table.remove(id) != nil) }
        #expect(table.remove(some[0]) == nil)
        #expect(table.count == 1990)
        #expect(table.removeAll().count == 1990)
        #expect(table.isEmpty)
    }

    @Test("A nearly full table still finds the free ID")
    func nearlyFull() {
        var table = StreamInFlight<Int>()
        for id in 0...UInt16.max where id != 4242 { table.insert(0, id: id) }
        var rng = SystemRandomNumberGenerator()
        #expect(table.unusedID(using: &rng) == 4242)
        table.insert(0, id: 4242)
        #expect(table.unusedID(using: &rng) == nil)
    }
}
