import TestSupport
import DNSWire
import NIOCore
import NIOPosix

/// Loopback ports and one-shot UDP exchanges for tests.
enum TestNetwork {
    /// The event loop group every test uses (the process-wide singleton: no threads per test).
    static var group: any EventLoopGroup { MultiThreadedEventLoopGroup.singleton }

    /// A port on 127.0.0.1 that is free for both UDP and TCP right now.
    ///
    /// Bind-then-close leaves a small race with other sockets; daemon helpers retry with a new port when
    /// the daemon fails to bind.
    static func freePort() async throws -> Int {
        for _ in 0..<50 {
            let tcp = try await ServerBootstrap(group: Self.group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: "127.0.0.1", port: 0).get()
            guard let port = tcp.localAddress?.port else {
                try await tcp.close()
                continue
            }
            let udp = try? await DatagramBootstrap(group: Self.group).bind(host: "127.0.0.1", port: port).get()
            try await tcp.close()
            if let udp {
                try await udp.close()
                return port
            }
        }
        throw TestDaemonError("no free port found on 127.0.0.1")
    }

    /// Sends one UDP datagram and returns the first reply's bytes, or nil after `timeout`.
    /// Deliberately independent of the code under test.
    static func udpExchange(_ bytes: [UInt8], to port: Int, timeout: Duration = .milliseconds(500)) async -> [UInt8]? {
        do {
            let channel = try await DatagramBootstrap(group: Self.group)
                .bind(host: "127.0.0.1", port: 0)
                .flatMapThrowing { channel in
                    try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(
                        wrappingChannelSynchronously: channel)
                }.get()
            let target = try SocketAddress(ipAddress: "127.0.0.1", port: port)
            return try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(AddressedEnvelope(remoteAddress: target, data: ByteBuffer(bytes: bytes)))
                return try await withThrowingTaskGroup(of: [UInt8]?.self) { group in
                    group.addTask {
                        for try await envelope in inbound { return Array(envelope.data.readableBytesView) }
                        return nil
                    }
                    group.addTask {
                        try await Task.sleep(for: timeout)
                        return nil
                    }
                    let first = try await group.next() ?? nil
                    group.cancelAll()
                    return first
                }
            }
        } catch {
            return nil
        }
    }

    /// Sends one UDP query and returns the first decodable reply, or nil after `timeout`.
    static func udpQuery(_ message: DNSMessage, to port: Int, timeout: Duration = .milliseconds(500)) async -> DNSMessage? {
        guard let bytes = await Self.udpExchange(message.encode(), to: port, timeout: timeout) else { return nil }
        return try? DNSMessage.decode(bytes)
    }
}
