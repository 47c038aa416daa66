public import DNSWire
import Synchronization

/// Holds the chain in force; a reload swaps in a new one atomically.
public final class ChainReference: Sendable {
    private let current: Mutex<Chain>

    /// Starts with `chain`.
    public init(_ chain: Chain) { self.current = Mutex(chain) }

    /// The chain in force now.
    public var chain: Chain { self.current.withLock { $0 } }

    /// Replaces the chain; queries already running finish on the old one.
    public func swap(_ chain: Chain) { self.current.withLock { $0 = chain } }
}

/// What the server should do with one received message.
public enum ProcessOutcome: Sendable {
    /// Send these bytes.
    case reply([UInt8])
    /// Send nothing.
    case drop
    /// Run ``QueryProcessor/process(_:)`` in a task and send its result.
    case async(Query)
}

/// What an event-loop server should do with one received message (see ``QueryProcessor/processOnLoop(_:client:)``).
public enum LoopOutcome: Sendable {
    /// Send these bytes.
    case reply([UInt8])
    /// Send nothing.
    case drop
    /// Run ``QueryProcessor/process(_:context:)`` in a task and send its result.
    case async(Query)
    /// Call ``QueryProcessor/resume(_:completion:)`` on this event loop and send what it delivers.
    case deferred(DeferredQuery)
}

/// A query whose first synchronous pass registered I/O to run on the event loop.
public struct DeferredQuery: Sendable {
    /// The parsed query.
    public let query: Query
    /// The registered I/O and, later, its result.
    public let deferral: Deferral
}

/// Bytes in, bytes out: parsing, the chain (sync fast path first) and encoding, with no I/O.
///
/// Listeners of every transport share it. An unreadable header is dropped; a readable header
/// with a bad body gets FORMERR (STYLE §7). A message with QR=1 is never answered.
public final class QueryProcessor: Sendable {
    /// The chain in force.
    public let chains: ChainReference
    /// Largest UDP response we send, whatever the client advertises.
    public let maxUDPResponse: Int

    /// Creates a processor.
    public init(chains: ChainReference, maxUDPResponse: Int = Int(ResponseEncoder.ednsPayloadSize)) {
        self.chains = chains
        self.maxUDPResponse = maxUDPResponse
    }

    /// Parses `bytes` and tries the synchronous path.
    public func processNow(_ bytes: [UInt8], client: ClientInfo) -> ProcessOutcome {
        switch self.parse(bytes, client: client) {
        case .reply(let out): return .reply(out)
        case .drop: return .drop
        case .query(let query):
            if let r = self.chains.chain.resolveNow(query, in: QueryContext()) {
                guard let out = ResponseEncoder.encode(r, for: query) else { return .drop }
                return .reply(out)
            }
            return .async(query)
        }
    }

    /// Lets the chain's stages prefetch for a burst of datagrams about to go through ``processOnLoop(_:client:)`` one by
    /// one (``Stage/prefetch(_:)``). Worth it from two datagrams on: the point is to overlap their cache misses.
    public func prefetch(_ packets: [[UInt8]]) {
        self.prefetch(packets[...])
    }

    /// ``prefetch(_:)`` for a part of an array of datagrams.
    public func prefetch(_ packets: ArraySlice<[UInt8]>) {
        guard packets.count > 1 else { return }
        let names = QueryNameBatch(packets)
        guard names.count > 1 else { return }
        self.chains.chain.prefetch(names)
    }

    /// Parses `bytes` and tries the synchronous path, letting the terminal stage defer its I/O to the
    /// caller's event loop (see ``Deferral``). Call it on an event loop thread and resume a `.deferred`
    /// outcome with ``resume(_:completion:)`` on the same thread; or, from a thread that is no event loop, pass the
    /// loop as `home` and resume there.
    public func processOnLoop(_ bytes: [UInt8], client: ClientInfo, home: (any Sendable)? = nil) -> LoopOutcome {
        switch self.parse(bytes, client: client) {
        case .reply(let out): return .reply(out)
        case .drop: return .drop
        case .query(let query):
            let deferral = Deferral(home: home)
            if let r = self.chains.chain.resolveNow(query, in: QueryContext(deferral: deferral)) {
                guard let out = ResponseEncoder.encode(r, for: query) else { return .drop }
                return .reply(out)
            }
            guard deferral.isRequested else { return .async(query) }
            return .deferred(DeferredQuery(query: query, deferral: deferral))
        }
    }

    /// Starts the I/O of a deferred query, replays the synchronous chain with its result and calls
    /// `completion` with the bytes to send (nil: send nothing).
    ///
    /// `completion` runs on the thread that completes the I/O (the event loop that started it) when the
    /// replay finishes synchronously, or in a task when a stage needs the async path after all.
    public func resume(_ deferred: DeferredQuery, completion: @escaping @Sendable ([UInt8]?) -> Void) {
        let query = deferred.query
        let deferral = deferred.deferral
        let started = deferral.start { resolution in
            deferral.complete(resolution)
            let context = QueryContext(ingressChecked: true, deferral: deferral)
            if let r = self.chains.chain.resolveNow(query, in: context) {
                completion(ResponseEncoder.encode(r, for: query))
                return
            }
            Task { completion(await self.process(query, context: context)) }
        }
        if !started {
            Task { completion(await self.process(query)) }
        }
    }

    private enum Parsed {
        case reply([UInt8])
        case drop
        case query(Query)
    }

    private func parse(_ bytes: [UInt8], client: ClientInfo) -> Parsed {
        guard bytes.count >= 12 else { return .drop }
        // QR=1: a response sent to us (or a reflection attempt); never answer it.
        guard bytes[2] & 0x80 == 0 else { return .drop }
        let message: DNSMessage
        do {
            message = try DNSMessage.decode(bytes)
        } catch {
            return .reply(self.formErr(bytes))
        }
        let maxSize: Int
        switch client.transport {
        case .udp:
            let advertised = Int(message.edns?.udpPayloadSize ?? 512)
            maxSize = max(512, min(advertised, self.maxUDPResponse))
        default:
            maxSize = 65535
        }
        return .query(Query(message: message, client: client, maxResponseSize: maxSize))
    }

    /// Runs the full async chain for a query that the fast path could not answer.
    public func process(_ query: Query, context: QueryContext = QueryContext(ingressChecked: true)) async -> [UInt8]? {
        let r = await self.chains.chain.resolve(query, in: context)
        return ResponseEncoder.encode(r, for: query)
    }

    /// FORMERR for a message whose header is readable but whose body is not.
    func formErr(_ bytes: [UInt8]) -> [UInt8] {
        // ID, opcode and RD copied from the query; no question (it could not be read).
        var out = [UInt8](repeating: 0, count: 12)
        out[0] = bytes[0]
        out[1] = bytes[1]
        out[2] = 0x80 | (bytes[2] & 0x79)
        out[3] = 0x80 | ResponseCode.formErr.rawValue.lowByte
        return out
    }
}

extension UInt16 {
    var lowByte: UInt8 { UInt8(self & 0xFF) }
}
