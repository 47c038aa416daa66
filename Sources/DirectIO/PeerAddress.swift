import CDirectUDP
import DNSWire

extension IPAddress {
    /// The address of a direct socket's peer; nil for a family other than IPv4 and IPv6.
    public init?(_ peer: pal_peer) {
        switch peer.family {
        case 4:
            self = .v4(withUnsafeBytes(of: peer.addr) { IPv4Address($0[0], $0[1], $0[2], $0[3]) })
        case 6:
            guard let v6 = withUnsafeBytes(of: peer.addr, { IPv6Address(bytes: $0) }) else { return nil }
            self = .v6(v6)
        default:
            return nil
        }
    }
}

extension pal_peer {
    /// `address` and `port` as the C side takes them.
    public init(_ address: IPAddress, port: Int) {
        self.init()
        self.port = UInt16(clamping: port)
        let bytes: [UInt8]
        switch address {
        case .v4(let a):
            self.family = 4
            bytes = a.bytes
        case .v6(let a):
            self.family = 6
            bytes = a.bytes
        }
        withUnsafeMutableBytes(of: &self.addr) { b in
            for (i, byte) in bytes.enumerated() { b[i] = byte }
        }
    }

}
