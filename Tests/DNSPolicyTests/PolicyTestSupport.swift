import DNSPipeline
@testable import DNSPolicy
import DNSWire
import Foundation
import Synchronization
import Testing

/// Paths of fixture files, found from this file's location (tests never depend on the working directory).
enum Fixture {
    static let repositoryRoot: String = {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)  // Tests/DNSPolicyTests/PolicyTestSupport.swift
        return parts.joined(separator: "/")
    }()

    static func rpz(_ name: String) -> String { "\(repositoryRoot)/Sources/TestSupport/Fixtures/rpz/\(name)" }
    static func list(_ name: String) -> String { "\(repositoryRoot)/Sources/TestSupport/Fixtures/lists/\(name)" }
    static var urlhaus: String { "\(repositoryRoot)/Sources/Runtime/Resources/feeds/urlhaus.txt" }
}

/// Compiles a source from text.
func compile(_ text: String, name: String = "test", kind: PolicySourceConfig.Kind = .auto,
    configure: (inout PolicySourceConfig) -> Void = { _ in }) throws -> CompiledPolicySource
{
    var config = PolicySourceConfig(name: name, kind: kind, location: "\(name).txt")
    configure(&config)
    return try PolicySourceLoader.compile(config, bytes: Array(text.utf8), fileName: "\(name).txt")
}

/// Compiles a fixture file.
func compileFile(_ path: String, name: String = "test", kind: PolicySourceConfig.Kind = .auto,
    configure: (inout PolicySourceConfig) -> Void = { _ in }) throws -> CompiledPolicySource
{
    var config = PolicySourceConfig(name: name, kind: kind, location: path)
    configure(&config)
    return try PolicySourceLoader.compile(config, path: path)
}

func name(_ s: String) -> DomainName {
    // Test names are literals; a typo should fail loudly in the test that uses it.
    (try? DomainName(s)) ?? .root
}

let ordinaryClient = IPAddress.v4(IPv4Address(192, 0, 2, 53))

func query(_ qname: String, _ type: RecordType = .a, client: IPAddress = ordinaryClient, transport: Transport = .udp)
    -> Query
{
    Query(message: .query(id: 7, name: name(qname), type: type), client: ClientInfo(address: client, transport: transport))
}

/// A terminal stage standing in for the upstream: records every question and answers with a fixed
/// address, or with scripted records per name.
final class RecordingUpstream: Stage, Sendable {
    let id: StageID = "upstream"
    private let asked = Mutex<[Question]>([])
    private let scripted: [DomainName: [ResourceRecord]]
    private let authority: [ResourceRecord]
    private let additional: [ResourceRecord]

    init(scripted: [DomainName: [ResourceRecord]] = [:], authority: [ResourceRecord] = [],
        additional: [ResourceRecord] = [])
    {
        self.scripted = scripted
        self.authority = authority
        self.additional = additional
    }

    var questions: [Question] { self.asked.withLock { $0 } }
    var names: [String] { self.questions.map { $0.name.description } }

    private func answer(_ query: Query) -> Resolution {
        let q = query.question
        self.asked.withLock { $0.append(q) }
        var m = query.message.makeResponse(rcode: .noError)
        m.answers = self.scripted[q.name]
            ?? [ResourceRecord(name: q.name, ttl: 30, rdata: .a(.init(address: IPv4Address(192, 0, 2, 10))))]
        m.authorities = self.authority
        m.additionals = self.additional
        return Resolution(reply: .message(m), source: .upstream("recorder"))
    }

    func resolve(_ query: Query, in context: QueryContext, next: Next) async throws -> Resolution {
        self.answer(query)
    }

    func resolveNow(_ query: Query, in context: QueryContext, next: NextNow) throws -> Resolution? {
        self.answer(query)
    }
}

/// A fetcher whose answers the test sets: bytes per location, or an error.
final class ScriptedFetcher: FeedFetcher, Sendable {
    private let bodies = Mutex<[String: Result<[UInt8], FeedFetchError>]>([:])
    private let calls = Mutex<Int>(0)

    func set(_ location: String, _ text: String) { self.bodies.withLock { $0[location] = .success(Array(text.utf8)) } }
    func fail(_ location: String, _ why: String) { self.bodies.withLock { $0[location] = .failure(FeedFetchError(why)) } }
    var fetchCount: Int { self.calls.withLock { $0 } }

    func fetch(_ location: String) async throws -> [UInt8] {
        self.calls.withLock { $0 += 1 }
        guard let r = self.bodies.withLock({ $0[location] }) else { throw FeedFetchError("no such feed \(location)") }
        return try r.get()
    }
}

/// A wall clock the test moves by hand.
final class ManualWallClock: Sendable {
    private let time = Mutex<Date>(Date(timeIntervalSince1970: 1_700_000_000))
    var now: Date { self.time.withLock { $0 } }
    func advance(_ seconds: Double) { self.time.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

/// A fresh temporary directory, removed by `cleanUp()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.path
        self.path = "\(base)/palisade-policy-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: self.path, withIntermediateDirectories: true)
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: self.path) }
}

extension Resolution {
    var ede: (code: ExtendedErrorCode, text: String)? { self.extendedErrors.first?.extendedErrorValue }
    var answerAddresses: [String] {
        (self.message?.answers ?? []).compactMap {
            switch $0.rdata {
            case .a(let a): a.address.description
            case .aaaa(let a): a.address.description
            default: nil
            }
        }
    }
    var isDrop: Bool {
        if case .drop = self.reply { return true }
        return false
    }
}
