import DNSPipeline
import DNSWire
import NIOCore

extension ClientInfo {
    /// Client information from a socket address without going through text.
    init?(_ address: SocketAddress?, transport: Transport) {
        guard let address else { return nil }
        switch address {
        case .v4(let a):
            // sockaddr_in: family/len (2), port (2), address (4) in network order.
            let raw = withUnsafeBytes(of: a.address) { b in
                UInt32(b[4]) << 24 | UInt32(b[5]) << 16 | UInt32(b[6]) << 8 | UInt32(b[7])
            }
            self.init(address: .v4(IPv4Address(raw)), port: UInt16(address.port ?? 0), transport: transport)
        case .v6(let a):
            // sockaddr_in6: family/len (2), port (2), flowinfo (4), address (16).
            let bytes = withUnsafeBytes(of: a.address) { Array($0[8..<24]) }
            guard let v6 = IPv6Address(bytes: bytes) else { return nil }
            self.init(address: IPAddress.v6(v6).unmapped, port: UInt16(address.port ?? 0), transport: transport)
        case .unixDomainSocket:
            self.init(address: .v4(IPv4Address(127, 0, 0, 1)), port: 0, transport: transport)
        }
    }
}
