import DNSWire
import Foundation

/// A tiny DNS client over plain POSIX sockets (UDP with a timeout, TCP with RFC 1035 §4.2.2 framing),
/// built on DNSWire's encoder and decoder, for tests that talk to real servers on loopback.
///
/// It shares no networking code with Palisade, so what it sees is what any client would see.
public enum DNSTestClient {
    /// Sends `bytes` in one UDP datagram to `host:port` and returns the first datagram that comes back,
    /// or nil when none arrives within `timeout`.
    /// - Parameters:
    ///   - source: the local address to send from (any 127.0.0.0/8 address works on Linux), port 0.
    ///   - matchingID: when set, datagrams whose first two bytes are another ID are skipped.
    /// - Throws: ``TestDaemonError`` on a socket error.
    public static func udpExchange(_ bytes: [UInt8], host: String = "127.0.0.1", port: Int, source: String? = nil,
        matchingID: UInt16? = nil, timeout: Duration = .seconds(5)) async throws -> [UInt8]?
    {
        try await Blocking.run {
            let socket = try LoopbackSocket(.udp, source: source)
            defer { socket.close() }
            try socket.connect(host: host, port: port, timeout: timeout)
            try socket.send(bytes)
            let deadline = LoopbackSocket.deadline(timeout)
            while true {
                guard let reply = try socket.receive(until: deadline) else { return nil }
                if let id = matchingID, reply.count >= 2, UInt16(reply[0]) << 8 | UInt16(reply[1]) != id { continue }
                return reply
            }
        }
    }

    /// Sends every datagram of `packets` back to back from one socket, so that the server reads them as one burst, then
    /// collects the datagrams that come back until `expected` have arrived or `timeout` has passed.
    /// - Throws: ``TestDaemonError`` on a socket error.
    public static func udpBurst(_ packets: [[UInt8]], host: String = "127.0.0.1", port: Int, expected: Int,
        timeout: Duration = .seconds(5)) async throws -> [[UInt8]]
    {
        try await Blocking.run {
            let socket = try LoopbackSocket(.udp, source: nil)
            defer { socket.close() }
            try socket.connect(host: host, port: port, timeout: timeout)
            for p in packets { try socket.send(p) }
            let deadline = LoopbackSocket.deadline(timeout)
            var replies: [[UInt8]] = []
            while replies.count < expected, let reply = try socket.receive(until: deadline) { replies.append(reply) }
            return replies
        }
    }

    /// Sends `query` over UDP and decodes the reply with the same ID.
    /// - Throws: ``TestDaemonError`` when nothing comes back within `timeout` or the reply does not decode.
    public static func udpQuery(_ query: DNSMessage, host: String = "127.0.0.1", port: Int, source: String? = nil,
        timeout: Duration = .seconds(5)) async throws -> DNSMessage
    {
        guard let bytes = try await self.udpExchange(query.encode(), host: host, port: port, source: source,
            matchingID: query.header.id, timeout: timeout)
        else {
            throw TestDaemonError("no UDP reply from \(host):\(port) within \(timeout) to \(query.questions.first.map { "\($0)" } ?? "?")")
        }
        return try self.decode(bytes)
    }

    /// A query for `name`/`type` with a random ID, RD set and an EDNS OPT (1232 bytes) unless `edns` is nil.
    /// - Throws: when `name` is not a valid domain name.
    public static func makeQuery(_ name: String, _ type: RecordType, recursionDesired: Bool = true,
        edns: EDNS? = EDNS()) throws -> DNSMessage
    {
        DNSMessage.query(id: UInt16.random(in: 1...UInt16.max), name: try DomainName(name), type: type,
            recursionDesired: recursionDesired, edns: edns)
    }

    /// Asks `name`/`type` over UDP (EDNS, RD) and returns the decoded reply.
    /// - Throws: ``TestDaemonError`` on timeout or an undecodable reply.
    public static func query(_ name: String, _ type: RecordType, port: Int, host: String = "127.0.0.1",
        source: String? = nil, timeout: Duration = .seconds(5)) async throws -> DNSMessage
    {
        try await self.udpQuery(try self.makeQuery(name, type), host: host, port: port, source: source, timeout: timeout)
    }

    /// Decodes a reply, turning a decode error into a ``TestDaemonError`` that shows the bytes.
    public static func decode(_ bytes: [UInt8]) throws -> DNSMessage {
        do {
            return try DNSMessage.decode(bytes)
        } catch {
            throw TestDaemonError("undecodable reply (\(error)): \(bytes.map { String(format: "%02x", $0) }.joined())")
        }
    }
}

/// One TCP connection to a DNS server, for pipelining and framing tests.
public final class TCPTestConnection: Sendable {
    private let socket: LoopbackSocket
    private let buffer = ByteQueue()

    private init(socket: LoopbackSocket) {
        self.socket = socket
    }

    /// Connects to `host:port`.
    /// - Throws: ``TestDaemonError`` when the connection is refused or times out.
    public static func connect(host: String = "127.0.0.1", port: Int, timeout: Duration = .seconds(5)) async throws
        -> TCPTestConnection
    {
        try await Blocking.run {
            let s = try LoopbackSocket(.tcp)
            try s.connect(host: host, port: port, timeout: timeout)
            return TCPTestConnection(socket: s)
        }
    }

    /// Sends one message with its two-byte length prefix.
    /// - Throws: ``TestDaemonError`` when the write fails.
    public func send(_ message: DNSMessage) async throws {
        try await self.sendFramed(message.encode())
    }

    /// Sends `bytes` with a two-byte length prefix.
    /// - Throws: ``TestDaemonError`` when the write fails.
    public func sendFramed(_ bytes: [UInt8]) async throws {
        try await self.sendRaw([UInt8(bytes.count >> 8 & 0xFF), UInt8(bytes.count & 0xFF)] + bytes)
    }

    /// Sends `bytes` exactly as given (no framing), e.g. garbage.
    /// - Throws: ``TestDaemonError`` when the write fails.
    public func sendRaw(_ bytes: [UInt8]) async throws {
        let socket = self.socket
        try await Blocking.run { try socket.send(bytes) }
    }

    /// What the next read gave.
    public enum Frame: Sendable, Equatable {
        /// One whole message (without its length prefix).
        case message([UInt8])
        /// The server closed the connection (or reset it) before a whole frame arrived.
        case closed
        /// Nothing (complete) arrived within the timeout.
        case timeout
    }

    /// Reads the next length-prefixed message.
    public func receiveFrame(timeout: Duration = .seconds(5)) async -> Frame {
        let socket = self.socket
        let buffer = self.buffer
        return (try? await Blocking.run { () -> Frame in
            let deadline = LoopbackSocket.deadline(timeout)
            while true {
                if let frame = buffer.takeFrame() { return .message(frame) }
                let chunk: [UInt8]?
                do {
                    chunk = try socket.receive(until: deadline)
                } catch {
                    return .closed
                }
                guard let chunk else { return .timeout }
                if chunk.isEmpty { return .closed }
                buffer.append(chunk)
            }
        }) ?? .closed
    }

    /// Reads and decodes the next message.
    /// - Throws: ``TestDaemonError`` on close, timeout or an undecodable message.
    public func receive(timeout: Duration = .seconds(5)) async throws -> DNSMessage {
        switch await self.receiveFrame(timeout: timeout) {
        case .message(let bytes): return try DNSTestClient.decode(bytes)
        case .closed: throw TestDaemonError("the server closed the TCP connection")
        case .timeout: throw TestDaemonError("no TCP reply within \(timeout)")
        }
    }

    /// Closes the connection.
    public func close() {
        self.socket.close()
    }
}

/// Bytes received on a stream and not yet consumed as frames.
private final class ByteQueue: @unchecked Sendable {
    // @unchecked: guarded by `lock`.
    private let lock = NSLock()
    private var bytes: [UInt8] = []

    func append(_ chunk: [UInt8]) { self.lock.withLock { self.bytes += chunk } }

    func takeFrame() -> [UInt8]? {
        self.lock.withLock {
            guard self.bytes.count >= 2 else { return nil }
            let length = Int(self.bytes[0]) << 8 | Int(self.bytes[1])
            guard self.bytes.count >= 2 + length else { return nil }
            let frame = Array(self.bytes[2..<(2 + length)])
            self.bytes.removeFirst(2 + length)
            return frame
        }
    }
}

/// Loopback ports and readiness probes.
public enum TestNetwork {
    /// Whether the IPv6 loopback address [::1] exists (some containers lack it).
    public static let hasIPv6Loopback: Bool = {
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
    /// - Throws: ``TestDaemonError`` when none is found.
    public static func freePort() async throws -> Int {
        for _ in 0..<50 {
            let tcp = try LoopbackSocket(.tcp)
            try tcp.bind(host: "127.0.0.1", port: 0)
            try tcp.listen()
            guard let port = tcp.localPort else { continue }
            let udp = try LoopbackSocket(.udp)
            let ok = (try? udp.bind(host: "127.0.0.1", port: port)) != nil
            udp.close()
            tcp.close()
            if ok { return port }
        }
        throw TestDaemonError("no free port found on 127.0.0.1")
    }

    /// A port on 127.0.0.1 where nothing listens (UDP or TCP): a "dead" upstream.
    ///
    /// Chosen below the kernel's ephemeral range (32768 and up on Linux), so no socket bound to port 0
    /// by a test running in parallel (client sockets, fake servers, daemons) can land on it.
    /// - Throws: ``TestDaemonError`` when none is found.
    public static func deadPort() async throws -> Int {
        for _ in 0..<50 {
            let port = Int.random(in: 20000..<32000)
            let tcp = try LoopbackSocket(.tcp)
            guard (try? tcp.bind(host: "127.0.0.1", port: port)) != nil else { continue }
            let udp = try LoopbackSocket(.udp)
            let ok = (try? udp.bind(host: "127.0.0.1", port: port)) != nil
            udp.close()
            tcp.close()
            if ok { return port }
        }
        throw TestDaemonError("no unused low port found on 127.0.0.1")
    }

    /// Sends one UDP query and returns the first decodable reply, or nil after `timeout`.
    public static func udpQuery(_ message: DNSMessage, to port: Int, timeout: Duration = .milliseconds(500)) async
        -> DNSMessage?
    {
        guard let bytes = try? await DNSTestClient.udpExchange(message.encode(), port: port,
            matchingID: message.header.id, timeout: timeout)
        else { return nil }
        return try? DNSMessage.decode(bytes)
    }

    /// Whether a TCP connection to 127.0.0.1:`port` succeeds.
    public static func canConnect(port: Int) async -> Bool {
        guard let c = try? await TCPTestConnection.connect(port: port, timeout: .milliseconds(200)) else { return false }
        c.close()
        return true
    }
}
