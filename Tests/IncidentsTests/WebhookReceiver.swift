import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// A real HTTP/1.1 receiver on 127.0.0.1 port 0, for the webhook tests (no Hummingbird in this target).
///
/// It reads one request per connection (headers, then `Content-Length` bytes), records it, answers with the
/// next scripted status (200 once the script is used up) and closes the connection.
final class WebhookReceiver: Sendable {
    /// One received request.
    struct Request: Sendable {
        var method: String
        var path: String
        /// Header fields, names lowercased.
        var headers: [String: String]
        var body: [UInt8]
        var bodyText: String { String(decoding: self.body, as: UTF8.self) }
    }

    struct State {
        var statuses: [Int]
        var requests: [Request] = []
    }

    private let box: StateBox
    private let channel: any Channel
    /// The bound port.
    let port: Int

    /// Every request so far.
    var requests: [Request] { self.box.state.withLock { $0.requests } }

    /// The URL of `path` on this receiver.
    func url(_ path: String = "/hook") -> String { "http://127.0.0.1:\(self.port)\(path)" }

    private init(channel: any Channel, box: StateBox) {
        self.channel = channel
        self.box = box
        // Invariant: a bound TCP server channel always has a local address with a port.
        self.port = channel.localAddress?.port ?? 0
    }

    /// Starts a receiver answering `statuses` in order, then 200.
    static func start(statuses: [Int] = []) async throws -> WebhookReceiver {
        let box = StateBox(statuses: statuses)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHandler(RequestHandler(box: box))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return WebhookReceiver(channel: channel, box: box)
    }

    /// Stops listening.
    func stop() async {
        try? await self.channel.close()
    }

    /// Shares the state with the handlers (Mutex is not copyable, so it travels in a class).
    final class StateBox: Sendable {
        let state: Mutex<State>
        init(statuses: [Int]) { self.state = Mutex(State(statuses: statuses)) }

        func record(_ r: Request) -> Int {
            self.state.withLock { s in
                s.requests.append(r)
                return s.statuses.isEmpty ? 200 : s.statuses.removeFirst()
            }
        }
    }

    final class RequestHandler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        private var buffer: [UInt8] = []
        private var done = false
        private let box: StateBox

        init(box: StateBox) { self.box = box }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var b = Self.unwrapInboundIn(data)
            self.buffer += b.readBytes(length: b.readableBytes) ?? []
            guard !self.done, let request = Self.parse(self.buffer) else { return }
            self.done = true
            let status = self.box.record(request)
            let reason = status == 200 ? "OK" : "Status"
            let response = "HTTP/1.1 \(status) \(reason)\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            context.writeAndFlush(Self.wrapOutboundOut(ByteBuffer(string: response))).whenComplete { _ in
                context.close(promise: nil)
            }
        }

        static func parse(_ bytes: [UInt8]) -> Request? {
            let separator: [UInt8] = [13, 10, 13, 10]
            guard bytes.count >= 4,
                let end = (0...(bytes.count - 4)).first(where: { Array(bytes[$0..<($0 + 4)]) == separator })
            else { return nil }
            let head = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
            guard let line = head.first?.split(separator: " "), line.count >= 2 else { return nil }
            var headers: [String: String] = [:]
            for h in head.dropFirst() {
                guard let colon = h.firstIndex(of: ":") else { continue }
                headers[h[..<colon].lowercased()] = h[h.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            let length = Int(headers["content-length"] ?? "0") ?? 0
            let bodyStart = end + 4
            guard bytes.count >= bodyStart + length else { return nil }
            return Request(method: String(line[0]), path: String(line[1]), headers: headers,
                body: Array(bytes[bodyStart..<(bodyStart + length)]))
        }
    }
}
