import TestSupport
import DNSPipeline
import DNSUpstream
import DNSWire
import Logging

/// Shortcuts for integration tests: pools over real sockets, queries, stage calls.
enum Fixtures {
    /// A quiet logger (health transitions would clutter the test output).
    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// A pool over real sockets on the shared event loop group.
    static func pool(_ specs: [String], configuration: UpstreamPoolConfiguration = UpstreamPoolConfiguration(),
        metrics: TestMetrics = TestMetrics(), clock: ManualClock = ManualClock()) throws -> UpstreamPool
    {
        try UpstreamPool(specs: specs, configuration: configuration, group: TestNetwork.group,
            clock: UpstreamClock(clock), metrics: metrics, logger: Self.logger)
    }

    /// Pool settings for tests. The defaults leave room for a loaded 2-core machine running daemons in
    /// parallel; tests of the timeout paths pass short durations (real time: they are what is under test).
    static func fast(strategy: SelectionStrategy = .sequential, timeout: Duration = .seconds(2),
        deadline: Duration = .seconds(4), sockets: UDPSocketStrategy = .perQuery) -> UpstreamPoolConfiguration
    {
        UpstreamPoolConfiguration(strategy: strategy, queryDeadline: deadline,
            upstream: UpstreamOptions(timeout: timeout, udpSockets: sockets))
    }

    /// A query message for `name`/`type` (ID 0: transports choose their own).
    static func query(_ name: String, _ type: RecordType = .a) throws -> DNSMessage {
        DNSMessage.query(id: 0, name: try DomainName(name), type: type)
    }

    /// A client query as the pipeline would hand it to the stage.
    static func clientQuery(_ name: String, _ type: RecordType = .a, id: UInt16 = 0x5A5A) throws -> Query {
        Query(message: DNSMessage.query(id: id, name: try DomainName(name), type: type),
            client: ClientInfo(address: .v4(IPv4Address(127, 0, 0, 1)), port: 40000, transport: .udp))
    }

    /// The stage's `next`, which a terminal stage never calls.
    static let terminal: Next = { query, _ in .rcode(.refused, for: query, source: .failure) }

    /// The TXT strings of a reply, joined per record.
    static func txt(_ reply: DNSMessage?) -> [String] {
        (reply?.answers ?? []).compactMap {
            if case .txt(let t) = $0.rdata { return t.strings.map { String(decoding: $0, as: UTF8.self) }.joined() }
            return nil
        }
    }

    /// The socket strategies compared by the tests and the benchmark.
    static let socketStrategies: [UDPSocketStrategy] = [.perQuery, .pooled(size: 4, usesPerSocket: 64)]
}

extension Result where Failure == any Error {
    /// Runs an async throwing body and captures its outcome, so a test can clean up before asserting.
    init(catching body: () async throws -> Success) async {
        do {
            self = .success(try await body())
        } catch {
            self = .failure(error)
        }
    }
}
