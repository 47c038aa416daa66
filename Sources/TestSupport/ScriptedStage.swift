import DNSPipeline
import DNSWire
import Synchronization

/// A terminal stage that answers from a script instead of the network, and counts what reached it.
///
/// Tests use it to prove, for example, that a blocked name never reaches upstream.
public final class ScriptedStage: Stage, Sendable {
    public let id: StageID = "scripted-upstream"
    private let state = Mutex<(answers: [String: [ResourceRecord]], rcodes: [String: ResponseCode], calls: [Question], failing: Bool)>(
        ([:], [:], [], false))

    /// An empty script: every name answers NXDOMAIN with an SOA.
    public init() {}

    private static func key(_ name: DomainName, _ type: RecordType) -> String { "\(name.lowercased) \(type)" }

    /// Scripts records for a name and type.
    public func answer(_ name: String, _ type: RecordType, _ records: [ResourceRecord]) throws {
        let n = try DomainName(name)
        self.state.withLock { $0.answers[Self.key(n, type)] = records }
    }

    /// Scripts an rcode for a name and type.
    public func rcode(_ name: String, _ type: RecordType, _ rcode: ResponseCode) throws {
        let n = try DomainName(name)
        self.state.withLock { $0.rcodes[Self.key(n, type)] = rcode }
    }

    /// When true every query fails like an unreachable upstream (SERVFAIL, source `.failure`).
    public func setFailing(_ failing: Bool) { self.state.withLock { $0.failing = failing } }

    /// Questions that reached this stage, in order.
    public var calls: [Question] { self.state.withLock { $0.calls } }

    public func resolve(_ query: Query, in context: QueryContext, next: @escaping Next) async throws -> Resolution {
        let q = query.question
        let (records, rcode, failing) = self.state.withLock { s in
            s.calls.append(q)
            return (s.answers[Self.key(q.name, q.type)], s.rcodes[Self.key(q.name, q.type)], s.failing)
        }
        if failing {
            return .failure(for: query, ede: .noReachableAuthority, text: "scripted failure")
        }
        var m = query.message.makeResponse(rcode: rcode ?? (records == nil ? .nxDomain : .noError))
        m.answers = records ?? []
        if records == nil || records?.isEmpty == true {
            let zone = q.name.parent ?? .root
            m.authorities = [
                ResourceRecord(name: zone, ttl: 300, rdata: .soa(.init(mname: zone, rname: zone, serial: 1, refresh: 1,
                    retry: 1, expire: 1, minimum: 60)))
            ]
        }
        return Resolution(reply: .message(m), source: .upstream("scripted"))
    }
}

/// Small builders for tests.
public enum TestMessages {
    /// A query message for `name`/`type` with EDNS.
    public static func query(_ name: String, _ type: RecordType = .a, id: UInt16 = 0x1234, edns: EDNS? = EDNS()) throws -> DNSMessage {
        DNSMessage.query(id: id, name: try DomainName(name), type: type, edns: edns)
    }

    /// An A record.
    public static func a(_ name: String, _ address: String, ttl: UInt32 = 300) throws -> ResourceRecord {
        guard let ip = IPv4Address(address) else { throw DecodeError(.badPresentation, field: "A", offset: 0) }
        return ResourceRecord(name: try DomainName(name), ttl: ttl, rdata: .a(.init(address: ip)))
    }
}
