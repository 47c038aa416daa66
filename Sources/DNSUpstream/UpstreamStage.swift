public import DNSPipeline
import DirectIO
import DNSWire
import NIOCore
import NIOPosix

/// The terminal stage: forwards the client's question to an upstream and returns its reply.
///
/// The upstream query is built fresh: the client's question, DO and CD bits, our own EDNS buffer
/// size, a new ID, and none of the client's EDNS options (they can carry identifying data such as
/// ECS or cookies, which are hop-by-hop anyway). The reply goes back with the client's ID, question
/// and RD bit restored; a client without EDNS gets no OPT record (RFC 6891 §7).
///
/// When every upstream fails the answer is SERVFAIL with EDE 22 (No Reachable Authority) after
/// timeouts, or EDE 23 (Network Error) after connection, TLS or HTTP errors (RFC 8914 §4.23, §4.24).
public struct UpstreamStage: Stage {
    /// `upstream`.
    public let id: StageID = "upstream"
    private let router: UpstreamRouter

    /// Creates the stage over a router (conditional forwarding).
    public init(router: UpstreamRouter) {
        self.router = router
    }

    /// Creates the stage over a single pool.
    public init(pool: UpstreamPool) {
        self.router = UpstreamRouter(defaultPool: pool)
    }

    /// EDNS options that belong to one hop and are never passed from upstream to client.
    package static let hopByHopOptions: Set<EDNSOptionCode> = [.cookie, .tcpKeepalive, .padding]

    /// Forwards the query and returns the upstream's reply, or SERVFAIL with EDE 22/23; never calls `next`.
    public func resolve(_ query: Query, in context: QueryContext, next: Next) async throws -> Resolution {
        // The async fallback after an event-loop exchange: the answer is already here.
        if let r = context.deferral?.result(for: query.question) { return r }
        let (zone, pool) = self.router.route(query.question.name)
        let outgoing = Self.upstreamQuery(for: query, bufferSize: pool.configuration.upstream.ednsBufferSize)
        let result: Result<UpstreamAnswer, UpstreamError>
        do {
            result = .success(try await pool.query(outgoing))
        } catch {
            result = .failure(error)
        }
        return self.resolution(result, for: query, zone: zone, in: context)
    }

    /// The cache-miss path without a task (see ``Deferral``), on an event loop or a direct UDP listener's thread.
    ///
    /// In the replay pass it returns the result of the exchange. In the first pass, when the caller offers a
    /// deferral, runs on an event loop or names a home (an event loop, or a direct listener's ``DirectLoop``), and the
    /// query's pool has only UDP upstreams, it registers the exchange (run there with
    /// ``UpstreamPool/query(_:at:completion:)``) and returns nil. Anything else (no deferral, TCP/DoT/DoH upstreams)
    /// returns nil for the async path.
    public func resolveNow(_ query: Query, in context: QueryContext, next: NextNow) throws -> Resolution? {
        guard let deferral = context.deferral else { return nil }
        if let r = deferral.result(for: query.question) { return r }
        let (zone, pool) = self.router.route(query.question.name)
        guard pool.runsOnEventLoop else { return nil }
        let home: UpstreamPool.ExchangeHome
        if let direct = deferral.home as? DirectLoop {
            home = .direct(direct)
        } else if let loop = MultiThreadedEventLoopGroup.currentEventLoop ?? deferral.home as? any EventLoop {
            home = .eventLoop(loop)
        } else {
            return nil
        }
        let outgoing = Self.upstreamWire(for: query, bufferSize: pool.configuration.upstream.ednsBufferSize)
        deferral.request(query.question) { complete in
            pool.query(outgoing, at: home) { result in
                complete(self.resolution(result, for: query, zone: zone, in: context))
            }
        }
        return nil
    }

    /// The resolution for an upstream outcome: the reply made into the client's, or SERVFAIL with EDE 22/23.
    private func resolution(_ result: Result<UpstreamAnswer, UpstreamError>, for query: Query, zone: DomainName?,
        in context: QueryContext) -> Resolution
    {
        switch result {
        case .success(let answer):
            let via = zone.map { " (zone \($0))" } ?? ""
            context.note(self.id, "answered by \(answer.upstream)\(via): \(answer.rcode)")
            switch answer.received {
            case .message(let reply):
                return Resolution(reply: .message(Self.clientReply(reply, for: query)),
                    source: .upstream(answer.upstream))
            case .packet(let packet):
                // Taken as bytes: answered as a cached packet of age 0 is (the encoder writes the client's ID, flags,
                // question case and OPT), and the cache stage stores it as it is.
                return Resolution(reply: .cached(packet, age: 0), source: .upstream(answer.upstream))
            }
        case .failure(let error):
            let ede: ExtendedErrorCode =
                switch error.code {
                case .timeout, .unavailable: .noReachableAuthority
                default: .networkError
                }
            context.note(self.id, "no upstream answered: \(error)")
            return .failure(for: query, ede: ede, text: Self.failureText(error))
        }
    }

    /// The message sent upstream for a client query.
    package static func upstreamQuery(for query: Query, bufferSize: UInt16) -> DNSMessage {
        var header = Header(id: 0, opcode: query.message.header.opcode, recursionDesired: true)
        header.checkingDisabled = query.checkingDisabled
        return DNSMessage(header: header, questions: [query.question],
            edns: EDNS(udpPayloadSize: bufferSize, dnssecOK: query.dnssecOK))
    }

    /// ``upstreamQuery(for:bufferSize:)`` in wire form, written without building the message (the event-loop path
    /// sends one per cache miss).
    package static func upstreamWire(for query: Query, bufferSize: UInt16) -> QueryWire {
        QueryWire(question: query.question, opcode: query.message.header.opcode,
            checkingDisabled: query.checkingDisabled, dnssecOK: query.dnssecOK, bufferSize: bufferSize)
    }

    /// The upstream reply, made into the reply to the client.
    package static func clientReply(_ reply: DNSMessage, for query: Query) -> DNSMessage {
        var out = reply
        out.header.id = query.message.header.id
        out.header.recursionDesired = query.message.header.recursionDesired
        // The client's question with its own case (RFC 1035 §7.1; 0x20 clients check it).
        out.questions = query.message.questions
        if let clientEDNS = query.message.edns {
            let rcode = reply.rcode
            var edns = reply.edns ?? EDNS()
            edns.udpPayloadSize = 1232
            edns.dnssecOK = clientEDNS.dnssecOK
            edns.options.removeAll { Self.hopByHopOptions.contains($0.code) }
            out.edns = edns
            out.rcode = rcode
        } else {
            let rcode = reply.rcode
            out.edns = nil
            // An extended rcode cannot be expressed without OPT; SERVFAIL is the honest fallback.
            out.rcode = rcode.rawValue > 0x0F ? .servFail : rcode
        }
        return out
    }

    private static func failureText(_ error: UpstreamError) -> String {
        switch error.code {
        case .timeout, .unavailable: "no upstream answered in time"
        case .tlsError: "upstream TLS failure"
        case .httpError: "upstream HTTP failure"
        case .badReply: "upstream reply unusable"
        default: "upstream network error"
        }
    }
}
