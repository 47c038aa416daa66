import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A plain POSIX IPv4 socket for tests: deliberately independent of SwiftNIO and of the code under test,
/// so a bug in Palisade's networking cannot hide itself in the client that checks it.
///
/// Every call blocks (with a deadline); async callers go through ``Blocking/run(_:)``.
final class LoopbackSocket: @unchecked Sendable {
    // @unchecked: a socket is used by one test at a time; the descriptor is closed once, under `lock`.
    private let lock = NSLock()
    private var fd: Int32

    enum Kind {
        case udp, tcp
    }

    /// Creates a socket, bound to `source` (an IPv4 address, port 0) when given.
    init(_ kind: Kind, source: String? = nil) throws {
        #if canImport(Glibc)
        let type = Int32(kind == .udp ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue)
        #else
        let type = kind == .udp ? SOCK_DGRAM : SOCK_STREAM
        #endif
        let fd = socket(AF_INET, type, 0)
        guard fd >= 0 else { throw TestDaemonError("socket(): \(Self.errorText())") }
        self.fd = fd
        if let source {
            var one: Int32 = 1
            _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            try self.bind(host: source, port: 0)
        }
    }

    deinit { self.close() }

    /// Closes the descriptor (idempotent).
    func close() {
        self.lock.withLock {
            if self.fd >= 0 {
                _ = posixClose(self.fd)
                self.fd = -1
            }
        }
    }

    /// Binds to `host:port`.
    func bind(host: String, port: Int) throws {
        var addr = try Self.address(host, port)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                posixBind(self.fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else { throw TestDaemonError("bind(\(host):\(port)): \(Self.errorText())") }
    }

    /// The locally bound port.
    var localPort: Int? {
        var addr = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(self.fd, $0, &len) }
        }
        return rc == 0 ? Int(UInt16(bigEndian: addr.sin_port)) : nil
    }

    /// Starts listening (TCP), so the port counts as taken.
    func listen() throws {
        guard posixListen(self.fd, 1) == 0 else { throw TestDaemonError("listen(): \(Self.errorText())") }
    }

    /// Connects to `host:port` within `timeout` (TCP), or sets the default peer (UDP).
    func connect(host: String, port: Int, timeout: Duration) throws {
        var addr = try Self.address(host, port)
        let flags = fcntl(self.fd, F_GETFL, 0)
        _ = fcntl(self.fd, F_SETFL, flags | O_NONBLOCK)
        defer { _ = fcntl(self.fd, F_SETFL, flags) }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                posixConnect(self.fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if rc == 0 { return }
        guard errno == EINPROGRESS else { throw TestDaemonError("connect(\(host):\(port)): \(Self.errorText())") }
        guard try self.wait(for: Int16(POLLOUT), until: Self.deadline(timeout)) else {
            throw TestDaemonError("connect(\(host):\(port)): timed out")
        }
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        _ = getsockopt(self.fd, SOL_SOCKET, SO_ERROR, &err, &len)
        guard err == 0 else { throw TestDaemonError("connect(\(host):\(port)): \(String(cString: strerror(err)))") }
    }

    /// Sends every byte (TCP) or one datagram (UDP, connected or to `to`).
    func send(_ bytes: [UInt8], to: (host: String, port: Int)? = nil) throws {
        if let to {
            var addr = try Self.address(to.host, to.port)
            let n = bytes.withUnsafeBytes { buf in
                withUnsafePointer(to: &addr) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(self.fd, buf.baseAddress, buf.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
            }
            guard n == bytes.count else { throw TestDaemonError("sendto(): \(Self.errorText())") }
            return
        }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { buf in
                posixSend(self.fd, buf.baseAddress.map { $0 + offset }, buf.count - offset, Self.noSignal)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw TestDaemonError("send(): \(Self.errorText())")
            }
            offset += n
        }
    }

    /// Receives one datagram, or up to `maximum` stream bytes; nil when the deadline passes first.
    /// An empty array means the peer closed the stream.
    /// - Throws: on a socket error (a reset connection among them).
    func receive(maximum: Int = 65_535, until deadline: ContinuousClock.Instant) throws -> [UInt8]? {
        while true {
            guard try self.wait(for: Int16(POLLIN), until: deadline) else { return nil }
            var buffer = [UInt8](repeating: 0, count: maximum)
            let n = buffer.withUnsafeMutableBytes { posixRecv(self.fd, $0.baseAddress, maximum, 0) }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw TestDaemonError("recv(): \(Self.errorText())")
            }
            return Array(buffer.prefix(n))
        }
    }

    /// Waits until the socket is ready for `events`; false at the deadline.
    private func wait(for events: Int16, until deadline: ContinuousClock.Instant) throws -> Bool {
        while true {
            let left = ContinuousClock.now.duration(to: deadline)
            if left <= .zero { return false }
            let ms = Int32(clamping: left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1)
            var p = pollfd(fd: self.fd, events: events, revents: 0)
            let rc = poll(&p, 1, ms)
            if rc > 0 { return true }
            if rc < 0 && errno != EINTR { throw TestDaemonError("poll(): \(Self.errorText())") }
        }
    }

    static func deadline(_ timeout: Duration) -> ContinuousClock.Instant { ContinuousClock.now.advanced(by: timeout) }

    static func address(_ host: String, _ port: Int) throws -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(clamping: port).bigEndian)
        guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else {
            throw TestDaemonError("'\(host)' is not an IPv4 address")
        }
        return addr
    }

    static func errorText() -> String { String(cString: strerror(errno)) }

    #if canImport(Glibc)
    static let noSignal = Int32(MSG_NOSIGNAL)
    #else
    static let noSignal: Int32 = 0
    #endif
}

// The POSIX functions share their names with this type's methods; these aliases keep the calls unambiguous.
private func posixClose(_ fd: Int32) -> Int32 { close(fd) }
private func posixBind(_ fd: Int32, _ a: UnsafePointer<sockaddr>, _ l: socklen_t) -> Int32 { bind(fd, a, l) }
private func posixListen(_ fd: Int32, _ n: Int32) -> Int32 { listen(fd, n) }
private func posixConnect(_ fd: Int32, _ a: UnsafePointer<sockaddr>, _ l: socklen_t) -> Int32 { connect(fd, a, l) }
private func posixSend(_ fd: Int32, _ b: UnsafeRawPointer?, _ n: Int, _ f: Int32) -> Int { send(fd, b, n, f) }
private func posixRecv(_ fd: Int32, _ b: UnsafeMutableRawPointer?, _ n: Int, _ f: Int32) -> Int { recv(fd, b, n, f) }
