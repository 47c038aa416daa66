import DNSPipeline
import DNSWire
import Hummingbird
import NIOCore

/// RFC 8484 DNS-over-HTTPS endpoint: the same pipeline as UDP/TCP, with HTTP framing.
struct DoHController: Sendable {
    let processor: QueryProcessor

    static let mediaType = "application/dns-message"

    func get(_ request: Request, _ context: PalisadeRequestContext) async throws -> Response {
        guard let param = request.uri.queryParameters.get("dns"), let bytes = Base64URL.decode(param) else {
            return Response(status: .badRequest, body: .init(byteBuffer: ByteBuffer(string: "missing or bad ?dns= parameter\n")))
        }
        return await self.answer(bytes, context)
    }

    func post(_ request: Request, _ context: PalisadeRequestContext) async throws -> Response {
        guard request.headers[.contentType]?.lowercased().hasPrefix(Self.mediaType) == true else {
            return Response(status: .unsupportedMediaType,
                body: .init(byteBuffer: ByteBuffer(string: "content-type must be \(Self.mediaType)\n")))
        }
        let body = try await request.body.collect(upTo: 65535)
        return await self.answer(Array(body.readableBytesView), context)
    }

    private func answer(_ bytes: [UInt8], _ context: PalisadeRequestContext) async -> Response {
        let address = context.remoteAddress?.ipAddress.flatMap { IPAddress($0) } ?? .v4(IPv4Address(0))
        let client = ClientInfo(address: address.unmapped, port: UInt16(context.remoteAddress?.port ?? 0), transport: .doh)
        let out: [UInt8]?
        switch self.processor.processNow(bytes, client: client) {
        case .reply(let b): out = b
        case .drop: out = nil
        case .async(let q): out = await self.processor.process(q)
        }
        guard let out else {
            // RFC 8484 has no "no answer"; a dropped query becomes a gateway timeout.
            return Response(status: .gatewayTimeout)
        }
        // RFC 8484 §5.1: freshness lifetime is the smallest TTL in the answer.
        var headers: HTTPFields = [.contentType: Self.mediaType]
        if let m = try? DNSMessage.decode(out), let ttl = (m.answers + m.authorities).map(\.ttl).min() {
            headers[.cacheControl] = "max-age=\(ttl)"
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: out)))
    }
}

/// base64url without padding (RFC 4648 §5), as RFC 8484 §4.1 requires for GET.
enum Base64URL {
    static func decode(_ s: String) -> [UInt8]? {
        var lookup = [UInt8: UInt8]()
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        for (i, c) in alphabet.enumerated() { lookup[c] = UInt8(i) }
        var out: [UInt8] = []
        var acc: UInt32 = 0
        var bits = 0
        for c in s.utf8 {
            if c == UInt8(ascii: "=") { break }
            guard let v = lookup[c] else { return nil }
            acc = acc << 6 | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8((acc >> UInt32(bits)) & 0xFF))
            }
        }
        return out
    }
}
