import DNSWire
import TestSupport
import Testing

@Suite struct EDNSOptionsTests {
    @Test("Client Subnet truncates the address to the source prefix and reads back")
    func clientSubnetRoundTrip() throws {
        let ecs = try ClientSubnet(address: IPAddress("198.51.100.77")!, sourcePrefixLength: 20)
        #expect(ecs.address == IPAddress("198.51.96.0"))
        #expect(ecs.family == 1)
        #expect(ecs.option.data == [0, 1, 20, 0, 198, 51, 96])
        #expect(try ClientSubnet(option: ecs.option) == ecs)

        let v6 = try ClientSubnet(address: IPAddress("2001:db8:abcd:12::1")!, sourcePrefixLength: 56, scopePrefixLength: 48)
        #expect(v6.address == IPAddress("2001:db8:abcd::"))
        #expect(v6.option.data.count == 4 + 7)
        #expect(try ClientSubnet(option: v6.option) == v6)
        #expect(v6.description == "2001:db8:abcd::/56/48")

        let zero = try ClientSubnet(address: IPAddress("192.0.2.1")!, sourcePrefixLength: 0)
        #expect(zero.option.data == [0, 1, 0, 0])
    }

    @Test("Client Subnet rejects prefixes longer than the address")
    func clientSubnetPrefixTooLong() {
        #expect(throws: DecodeError.self) { try ClientSubnet(address: IPAddress("192.0.2.1")!, sourcePrefixLength: 33) }
        #expect(throws: DecodeError.self) {
            try ClientSubnet(address: IPAddress("2001:db8::")!, sourcePrefixLength: 64, scopePrefixLength: 129)
        }
    }

    static let badECS: [[UInt8]] = [
        [0, 1, 24],  // short
        [0, 1, 33, 0, 1, 2, 3, 4, 5],  // prefix too long
        [0, 2, 129, 0] + [UInt8](repeating: 0, count: 17),
        [0, 1, 24, 0, 192, 0],  // too few address octets
        [0, 1, 16, 0, 192, 0, 2],  // too many
        [0, 1, 12, 0, 192, 1],  // bits set past /12
        [0, 1, 8, 33, 10],  // scope longer than the address
        [0, 9, 0, 0],  // unknown family
    ]

    @Test("Malformed Client Subnet options are rejected", arguments: Self.badECS)
    func clientSubnetMalformed(_ data: [UInt8]) {
        #expect(throws: DecodeError.self) { try ClientSubnet(option: EDNSOption(code: .clientSubnet, data: data)) }
    }

    @Test("Cookies must be 8 or 16...40 octets")
    func cookieLengths() throws {
        let client: [UInt8] = Array(1...8)
        let c = try Cookie(client: client)
        #expect(c.option.data == client)
        #expect(try Cookie(option: c.option) == c)
        let full = try Cookie(client: client, server: Array(9...24))
        #expect(try Cookie(option: full.option) == full)
        #expect(throws: DecodeError.self) { try Cookie(client: Array(1...7)) }
        #expect(throws: DecodeError.self) { try Cookie(client: client, server: Array(1...7)) }
        #expect(throws: DecodeError.self) { try Cookie(client: client, server: Array(1...33)) }
        for n in [0, 7, 9, 15, 41] {
            #expect(throws: DecodeError.self) { try Cookie(option: EDNSOption(code: .cookie, data: [UInt8](repeating: 1, count: n))) }
        }
    }

    @Test("TCP keepalive carries an optional timeout in 100 ms units")
    func keepalive() throws {
        #expect(try TCPKeepalive(option: TCPKeepalive(timeout: nil).option).timeout == nil)
        let k = try TCPKeepalive(option: TCPKeepalive(timeout: 1200).option)
        #expect(k.timeout == 1200)
        #expect(k.duration == .seconds(120))
        #expect(throws: DecodeError.self) { try TCPKeepalive(option: EDNSOption(code: .tcpKeepalive, data: [1, 2, 3])) }
    }

    @Test("Typed views are read from golden packets")
    func fromGoldenPackets() throws {
        let ecs = try DNSMessage.decode(try Fixtures.packet("resp-ecs")).edns?.clientSubnet
        #expect(ecs?.description == "192.0.2.0/24/0")
        let cookie = try DNSMessage.decode(try Fixtures.packet("query-cookie")).edns?.cookie
        #expect(cookie?.client == [0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77])
        #expect(cookie?.server?.count == 16)
        let keepalive = try DNSMessage.decode(try Fixtures.packet("query-keepalive")).edns?.tcpKeepalive
        #expect(keepalive == TCPKeepalive(timeout: nil))
        #expect(try DNSMessage.decode(try Fixtures.packet("query-padding")).edns?.hasPadding == true)
        let ede = try DNSMessage.decode(try Fixtures.packet("query-ede-unknown")).edns?.option(.extendedError)?.extendedErrorValue
        #expect(ede?.code == .blocked)
        #expect(ede?.text == "by policy")
    }

    @Test("an EDE option carries its text whole up to 512 bytes, and the first 512 bytes of a longer one")
    func extendedErrorText() {
        let short = EDNSOption.extendedError(.blocked, text: "palisade: blocked by feed rule *.évil.example")
        #expect(short.data.prefix(2) == [0, 15])
        #expect(short.extendedErrorValue?.text == "palisade: blocked by feed rule *.évil.example")
        let exact = String(repeating: "a", count: 512)
        #expect(EDNSOption.extendedError(.filtered, text: exact).extendedErrorValue?.text == exact)
        let long = EDNSOption.extendedError(.filtered, text: exact + "tail")
        #expect(long.data.count == 2 + 512)
        #expect(long.extendedErrorValue?.text == exact)
        #expect(EDNSOption.extendedError(.blocked).data == [0, 15])
    }

    @Test("an EDE option written piece by piece equals the one made from the whole text, cut at 512 bytes the same way",
        arguments: [0, 1, 5, 200, 505, 506, 507, 700])
    func extendedErrorWriter(_ ruleLength: Int) {
        let pieces = ["palisade: ", "blocked", " by ", "urlhaus", " rule ", String(repeating: "é", count: ruleLength / 2)
            + String(repeating: "r", count: ruleLength % 2)]
        var writer = EDNSOption.ExtendedErrorWriter(.filtered, reserving: 64)
        for p in pieces { writer.append(p) }
        #expect(writer.option == EDNSOption.extendedError(.filtered, text: pieces.joined()))
        #expect(writer.option.data.count <= 2 + 512)
    }

    @Test("Block padding brings a message to a multiple of the block size", arguments: [128, 468])
    func blockPadding(block: Int) throws {
        var m = DNSMessage.query(id: 1, name: try DomainName("www.example.org."), type: .a)
        m.edns?.options = [EDNSOption.padding(length: 3)]
        let padded = m.encodePadded(blockSize: block)
        #expect(padded.count % block == 0)
        let decoded = try DNSMessage.decode(padded)
        #expect(decoded.edns?.options.filter { $0.code == .padding }.count == 1)
        #expect(decoded.questions == m.questions)
        // Capped: never larger than maxSize.
        let capped = m.encodePadded(blockSize: block, maxSize: 60)
        #expect(capped.count == 60)
        // No EDNS, no padding.
        var plain = m
        plain.edns = nil
        #expect(plain.encodePadded(blockSize: block) == plain.encode())
    }

    @Test("blockPadding sizes the option for the message it is given")
    func blockPaddingArithmetic() {
        #expect(EDNS.blockPadding(unpaddedSize: 100, blockSize: 128)?.data.count == 24)
        #expect(EDNS.blockPadding(unpaddedSize: 124, blockSize: 128)?.data.count == 0)
        #expect(EDNS.blockPadding(unpaddedSize: 125, blockSize: 128)?.data.count == 127)
        #expect(EDNS.blockPadding(unpaddedSize: 500, blockSize: 468, maxSize: 600)?.data.count == 96)
        #expect(EDNS.blockPadding(unpaddedSize: 598, blockSize: 468, maxSize: 600) == nil)
    }

    @Test("setOption replaces options with the same code")
    func setOption() {
        var e = EDNS(options: [EDNSOption(code: .nsid, data: []), EDNSOption.padding(length: 1), EDNSOption.padding(length: 2)])
        e.setOption(.padding, .padding(length: 5))
        #expect(e.options.map(\.code) == [.nsid, .padding])
        #expect(e.options.last?.data.count == 5)
        e.setOption(.padding, nil)
        #expect(e.options.map(\.code) == [.nsid])
    }
}
