import DNSPipeline
import DNSWire
import Foundation
import Logging
import NIOCore
import NIOPosix

/// `palisade query NAME TYPE [--trace]`: one question through the real pipeline.
public enum OneShotQuery {
    /// Runs the query and returns what to print.
    public static func run(configuration: PalisadeConfiguration, name: String, type: String, client: String, trace: Bool)
        async throws -> String
    {
        guard let qtype = RecordType(mnemonic: type) else { throw StartupError(message: "unknown record type '\(type)'") }
        let qname: DomainName
        do {
            qname = try DomainName(name.hasSuffix(".") ? name : name + ".")
        } catch {
            throw StartupError(message: "bad name '\(name)': \(error)")
        }
        guard let ip = IPAddress(client) else { throw StartupError(message: "bad --client address '\(client)'") }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        // The server's quarantine and operator rules apply to the traced query too (read only here).
        let operatorState = try OperatorState(dataDirectory: configuration.dataDir)
        let assembly = try await Assembly(configuration: configuration, group: group, operatorState: operatorState,
            logger: Logger(label: "palisade"))
        let chain = try assembly.chain(events: nil)
        let recorder = TraceRecorder()
        let message = DNSMessage.query(id: UInt16.random(in: 0...UInt16.max), name: qname, type: qtype)
        let query = Query(message: message, client: ClientInfo(address: ip, transport: .udp), maxResponseSize: 65535)
        let r = await chain.resolve(query, in: QueryContext(trace: trace ? recorder : nil))
        await assembly.shutdown()
        try? await group.shutdownGracefully()
        var out = ""
        if trace {
            for e in recorder.entries { out += ";; \(e.stage): \(e.decision)\n" }
        }
        out += ";; answer source: \(r.source.label)"
        if let p = r.policy { out += " (\(p.source): \(p.rule) -> \(p.action))" }
        out += "\n"
        for ede in r.extendedErrors.compactMap(\.extendedErrorValue) { out += ";; EDE \(ede.code.rawValue): \(ede.text)\n" }
        if let m = r.message {
            out += m.description
        } else {
            out += ";; dropped (no answer is sent)\n"
        }
        return out
    }
}
