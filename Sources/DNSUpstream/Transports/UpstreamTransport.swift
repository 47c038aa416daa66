import AsyncHTTPClient
import DNSWire
import NIOCore
import NIOPosix
import NIOSSL

/// Sends one question to one upstream and returns the matching reply.
///
/// A transport picks the message ID itself (random for UDP, unused-on-this-connection for TCP, 0 for DoH),
/// so callers restore their own ID on the reply.
package protocol UpstreamTransport: Sendable {
    /// Sends `query` and waits for the matching reply until `deadline`.
    /// - Throws: ``UpstreamError`` (`.timeout`, `.networkError`, `.tlsError`, `.httpError`, `.badReply`, `.shutdown`).
    func exchange(_ query: DNSMessage, deadline: NIODeadline) async throws(UpstreamError) -> DNSMessage

    /// Closes sockets and connections; later exchanges fail with `.shutdown`.
    func shutdown() async
}

/// A transport-internal failure, turned into an ``UpstreamError`` at the transport's edge.
enum TransportFailure: Error, Sendable {
    /// The deadline passed.
    case timeout
    /// A socket closed before the reply arrived.
    case closed
    /// A socket is already carrying a query (pool bookkeeping bug or shutdown race).
    case busy
    /// The transport was shut down.
    case shutdown
    /// The peer certificate's key matches no configured pin.
    case pinMismatch
    /// A stream reply could not be decoded or did not match.
    case badReply(String)
}

extension UpstreamError {
    /// Maps any error from NIO, NIOSSL or AsyncHTTPClient to an upstream error for `upstream`.
    static func wrapping(_ error: any Error, upstream: String) -> UpstreamError {
        if let e = error as? UpstreamError { return e }
        let code: Code
        let what: String
        switch error {
        case let f as TransportFailure:
            switch f {
            case .timeout: (code, what) = (.timeout, "no reply before the deadline")
            case .closed: (code, what) = (.networkError, "connection closed before the reply")
            case .busy: (code, what) = (.networkError, "socket busy")
            case .shutdown: (code, what) = (.shutdown, "transport shut down")
            case .pinMismatch: (code, what) = (.tlsError, "server key matches no configured pin")
            case .badReply(let s): (code, what) = (.badReply, s)
            }
        case let e as ChannelError:
            switch e {
            case .connectTimeout: (code, what) = (.timeout, "connect timed out")
            default: (code, what) = (.networkError, "channel error")
            }
        case is IOError:
            (code, what) = (.networkError, "socket error")
        case is NIOSSLError, is NIOSSLExtraError, is BoringSSLError:
            (code, what) = (.tlsError, "TLS failure")
        case let e as HTTPClientError:
            switch e {
            case .deadlineExceeded, .readTimeout, .connectTimeout, .getConnectionFromPoolTimeout:
                (code, what) = (.timeout, "HTTPS request timed out")
            case .alreadyShutdown:
                (code, what) = (.shutdown, "HTTP client shut down")
            default:
                (code, what) = (.networkError, "HTTPS request failed")
            }
        default:
            (code, what) = (.networkError, "unexpected error")
        }
        return UpstreamError(code, "\(upstream): \(what)", underlying: error)
    }
}

extension SocketAddress {
    /// The NIO socket address for an upstream address and port.
    /// - Throws: ``UpstreamError`` when the address cannot be represented (it always can for IP literals).
    static func upstream(_ address: IPAddress, port: UInt16) throws(UpstreamError) -> SocketAddress {
        do {
            return try SocketAddress(ipAddress: address.description, port: Int(port))
        } catch {
            throw UpstreamError(.networkError, "cannot make a socket address for \(address)", underlying: error)
        }
    }
}

extension IPAddress {
    /// Converts NIO's textual address form.
    init?(socketAddressText text: String) {
        // NIO renders IPv6 with a possible zone suffix (`fe80::1%eth0`); the zone never matters for a
        // comparison of two addresses on the same host.
        let bare = text.split(separator: "%", maxSplits: 1).first.map(String.init) ?? text
        self.init(bare)
    }
}
