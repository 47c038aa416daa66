import DNSUpstream
import DNSWire
import TestSupport
import Testing

@Suite struct ResolvConfTests {
    @Test("Nameserver lines are read in order; comments, options and duplicates are ignored")
    func parse() {
        let conf = ResolvConf.parse("""
            # generated
            search example.org
            nameserver 127.0.0.53  # systemd-resolved
            ; old
            nameserver\t::1
            options edns0 trust-ad
            nameserver 127.0.0.53
            nameserver 127.0.0.2
            """)
        #expect(conf.nameservers == [IPAddress("127.0.0.53"), IPAddress("::1"), IPAddress("127.0.0.2")].compactMap { $0 })
        #expect(conf.notes.isEmpty)
    }

    @Test("Bad nameserver lines are skipped with a note naming the line")
    func badLines() {
        let conf = ResolvConf.parse("nameserver\nnameserver resolver.example\nnameserver fe80::1%eth0\nnameserver 127.0.0.1\n")
        #expect(conf.nameservers == [IPAddress("127.0.0.1")].compactMap { $0 })
        #expect(conf.notes.map(\.line) == [1, 2, 3])
        #expect(conf.notes[1].description.contains("resolver.example"))
        #expect(conf.notes[2].reason.contains("scoped"))
    }

    @Test("A nameserver is skipped only when we listen on it at port 53")
    func excludesOwnAddress() throws {
        let conf = ResolvConf.parse("nameserver 127.0.0.53\nnameserver 127.0.0.1\n")
        let own = try conf.upstreamSpecs(excludingListenAddresses: [(.v4(IPv4Address(127, 0, 0, 53)), 53)], localAddresses: [])
        #expect(own.map(\.description) == ["udp://127.0.0.1:53"])
        // Listening on 127.0.0.53 but on another port: nothing is ours.
        let otherPort = try conf.upstreamSpecs(excludingListenAddresses: [(.v4(IPv4Address(127, 0, 0, 53)), 5353)],
            localAddresses: [])
        #expect(otherPort.map(\.description) == ["udp://127.0.0.53:53", "udp://127.0.0.1:53"])
        // Not listening anywhere relevant: everything is used, including loopback.
        let none = try conf.upstreamSpecs(excludingListenAddresses: [], localAddresses: [])
        #expect(none.count == 2)
    }

    @Test("A wildcard listener on port 53 excludes loopback and the host's own addresses")
    func wildcard() throws {
        let conf = ResolvConf.parse("nameserver 127.0.0.11\nnameserver 192.0.2.10\nnameserver 192.0.2.53\nnameserver ::1\n")
        let specs = try conf.upstreamSpecs(excludingListenAddresses: [(.v4(IPv4Address(0, 0, 0, 0)), 53)],
            localAddresses: [.v4(IPv4Address(192, 0, 2, 10))])
        #expect(specs.map(\.description) == ["udp://192.0.2.53:53"])
    }

    @Test("When every nameserver is ourselves the error says so")
    func allOurs() {
        let conf = ResolvConf.parse("nameserver 127.0.0.53\n")
        #expect {
            try conf.upstreamSpecs(excludingListenAddresses: [(.v4(IPv4Address(127, 0, 0, 53)), 53)], localAddresses: [])
        } throws: { error in
            guard let e = error as? UpstreamConfigurationError else { return false }
            return e.code == .noUpstreams && e.message.contains("127.0.0.53") && e.message.contains("own listen")
        }
        #expect(throws: UpstreamConfigurationError.self) {
            try ResolvConf.parse("# empty\n").upstreamSpecs(excludingListenAddresses: [], localAddresses: [])
        }
    }

    @Test("A resolv.conf file is loaded from an injected path; a missing one is a clear error")
    func load() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = try dir.write("resolv.conf", "nameserver 127.0.0.1\nnameserver ::1\n")
        let conf = try ResolvConf.load(path: path)
        #expect(conf.nameservers.map(\.description) == ["127.0.0.1", "::1"])
        #expect {
            try ResolvConf.load(path: dir.file("missing.conf"))
        } throws: { error in
            guard let e = error as? UpstreamConfigurationError else { return false }
            return e.code == .unreadableFile && e.message.contains("missing.conf")
        }
    }
}
