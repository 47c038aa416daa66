import DNSWire
import Foundation
import NIOCore
import NIOPosix

/// Loopback ports and one-shot DNS queries for test readiness checks.
enum TestNetwork {
    /// The event loop group every test uses (the process-wide singleton: no threads per test).
    static var group: any EventLoopGroup { MultiThreadedEventLoopGroup.singleton }

    /// Whether the IPv6 loopback address [::1] exists (some containers lack it).
    static let hasIPv6Loopback: Bool = {
        #if os(Linux)
        // Linux lists every IPv6 address in /proc/net/if_inet6; ::1 appears as 31 zeros and a one.
        let table = (try? String(contentsOfFile: "/proc/net/if_inet6", encoding: .utf8)) ?? ""
        return table.contains("00000000000000000000000000000001")
        #else
        return true
        #endif
    }()

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

    /// A port on 127.0.0.1 where nothing listens (UDP or TCP): a "dead" upstream.
    ///
    /// Chosen below the kernel's ephemeral range (32768 and up on Linux), so no socket bound to port 0
    /// by a test running in parallel (client sockets, fake servers, daemons) can land on it.
    static func deadPort() async throws -> Int {
        for _ in 0..<50 {
            let port = Int.random(in: 20000..<32000)
            guard let tcp = try? await ServerBootstrap(group: Self.group).bind(host: "127.0.0.1", port: port).get() else {
                continue
            }
            let udp = try? await DatagramBootstrap(group: Self.group).bind(host: "127.0.0.1", port: port).get()
            try await tcp.close()
            if let udp {
                try await udp.close()
                return port
            }
        }
        throw TestDaemonError("no unused low port found on 127.0.0.1")
    }

    /// Sends one UDP query and returns the first decodable reply, or nil after `timeout`.
    /// Deliberately independent of the code under test.
    static func udpQuery(_ message: DNSMessage, to port: Int, timeout: Duration = .milliseconds(500)) async -> DNSMessage? {
        do {
            let channel = try await DatagramBootstrap(group: Self.group)
                .bind(host: "127.0.0.1", port: 0)
                .flatMapThrowing { channel in
                    try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(
                        wrappingChannelSynchronously: channel)
                }.get()
            let target = try SocketAddress(ipAddress: "127.0.0.1", port: port)
            return try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(AddressedEnvelope(remoteAddress: target, data: ByteBuffer(bytes: message.encode())))
                return try await withThrowingTaskGroup(of: DNSMessage?.self) { group in
                    group.addTask {
                        for try await envelope in inbound {
                            if let m = try? DNSMessage.decode(Array(envelope.data.readableBytesView)) { return m }
                        }
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

    /// Whether a TCP connection to 127.0.0.1:`port` succeeds.
    static func canConnect(port: Int) async -> Bool {
        do {
            let channel = try await ClientBootstrap(group: Self.group)
                .connectTimeout(.milliseconds(200))
                .connect(host: "127.0.0.1", port: port).get()
            try await channel.close()
            return true
        } catch {
            return false
        }
    }
}
