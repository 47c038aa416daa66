import Foundation

/// A minimal HTTP/1.1 client over a plain loopback socket, for `/healthz`, `/readyz` and `/metrics`.
///
/// It honours no proxy settings (a test's traffic must stay on 127.0.0.0/8) and needs no `curl`.
public enum HTTPTestClient {
    /// A response.
    public struct Response: Sendable {
        /// The status code.
        public var status: Int
        /// Header fields, names lowercased.
        public var headers: [String: String]
        /// The body (chunked transfer coding removed), as UTF-8 text.
        public var body: String
    }

    /// Sends `GET path` to `host:port` and reads the response until the server closes the connection.
    /// - Throws: ``TestDaemonError`` on a socket error, a timeout or a response that is not HTTP.
    public static func get(_ path: String, port: Int, host: String = "127.0.0.1", timeout: Duration = .seconds(5))
        async throws -> Response
    {
        let raw = try await Blocking.run { () -> [UInt8] in
            let socket = try LoopbackSocket(.tcp)
            defer { socket.close() }
            try socket.connect(host: host, port: port, timeout: timeout)
            let request = "GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nAccept: */*\r\nConnection: close\r\n\r\n"
            try socket.send(Array(request.utf8))
            let deadline = LoopbackSocket.deadline(timeout)
            var bytes: [UInt8] = []
            while true {
                guard let chunk = try socket.receive(until: deadline) else {
                    throw TestDaemonError("HTTP GET \(path) on port \(port): no complete response within \(timeout)")
                }
                if chunk.isEmpty { return bytes }
                bytes += chunk
            }
        }
        return try Self.parse(raw, what: "GET \(path) on port \(port)")
    }

    static func parse(_ raw: [UInt8], what: String) throws -> Response {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard let end = raw.firstRange(of: separator) else {
            throw TestDaemonError("HTTP \(what): no header end in \(String(decoding: raw, as: UTF8.self))")
        }
        let head = String(decoding: raw[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = (head.first ?? "").split(separator: " ")
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/"), let status = Int(statusParts[1]) else {
            throw TestDaemonError("HTTP \(what): bad status line '\(head.first ?? "")'")
        }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(raw[end.upperBound...])
        if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            body = try Self.dechunk(body, what: what)
        }
        return Response(status: status, headers: headers, body: String(decoding: body, as: UTF8.self))
    }

    /// Removes the chunked transfer coding (RFC 9112 §7.1).
    static func dechunk(_ bytes: [UInt8], what: String) throws -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        let crlf: [UInt8] = [13, 10]
        while i < bytes.count {
            guard let lineEnd = bytes[i...].firstRange(of: crlf) else { break }
            let sizeText = String(decoding: bytes[i..<lineEnd.lowerBound], as: UTF8.self)
                .split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            guard let size = Int(sizeText, radix: 16) else {
                throw TestDaemonError("HTTP \(what): bad chunk size '\(sizeText)'")
            }
            if size == 0 { break }
            let start = lineEnd.upperBound
            guard start + size <= bytes.count else { throw TestDaemonError("HTTP \(what): chunk runs past the end") }
            out += bytes[start..<(start + size)]
            i = start + size + 2
        }
        return out
    }
}
