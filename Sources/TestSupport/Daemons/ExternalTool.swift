import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a command-line program printed and how it exited.
public struct ToolOutput: Sendable, CustomStringConvertible {
    /// The command line (for messages).
    public var command: String
    /// Exit status (128 + signal when it was killed).
    public var status: Int32
    /// Standard output.
    public var output: String
    /// Standard error.
    public var errorOutput: String

    /// Everything, for failure messages.
    public var description: String {
        "$ \(self.command)\n[exit \(self.status)]\n\(self.output)\(self.errorOutput.isEmpty ? "" : "\n[stderr]\n" + self.errorOutput)"
    }
}

/// Runs real programs (`dig`, `kdig`, `curl`, `sqlite3`, the `palisade` CLI) to completion and collects
/// their output.
public enum ExternalTool {
    /// Runs `executable` (a name looked up with ``TestBinaries/path(_:)``, or an absolute path).
    /// - Parameters:
    ///   - environment: the child's environment; nil inherits the test process's.
    ///   - directory: the child's working directory; nil inherits the test process's.
    ///   - timeout: the program is killed (by its PID) when it runs longer.
    /// - Throws: ``TestDaemonError`` when the program is missing, cannot start or times out.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        directory: String? = nil, timeout: Duration = .seconds(30)) async throws -> ToolOutput
    {
        let path = executable.hasPrefix("/") ? executable : TestBinaries.path(executable)
        guard let path, FileManager.default.isExecutableFile(atPath: path) else {
            throw TestDaemonError("\(executable) is not installed")
        }
        let command = ([executable] + arguments).map { $0.contains(" ") || $0.isEmpty ? "'\($0)'" : $0 }
            .joined(separator: " ")
        return try await Blocking.run {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: path)
            p.arguments = arguments
            if let environment { p.environment = environment }
            if let directory { p.currentDirectoryURL = URL(fileURLWithPath: directory) }
            let out = Pipe()
            let err = Pipe()
            p.standardOutput = out
            p.standardError = err
            p.standardInput = FileHandle.nullDevice
            try ProcessLauncher.run(p)
            let watch = ProcessWatch(pid: p.processIdentifier)
            let c = timeout.components
            DispatchQueue.global().asyncAfter(
                deadline: .now() + .milliseconds(Int(c.seconds) * 1000 + Int(c.attoseconds / 1_000_000_000_000_000)),
                execute: { watch.killIfRunning() })
            // Both pipes are drained at once, so a program that fills one cannot block on it.
            let errData = ErrorDrain(err.fileHandleForReading)
            let outData = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            watch.finished()
            let result = ToolOutput(command: command, status: p.terminationStatus,
                output: String(decoding: outData, as: UTF8.self), errorOutput: String(decoding: errData.wait(), as: UTF8.self))
            if watch.timedOut { throw TestDaemonError("timed out after \(timeout):\n\(result)") }
            return result
        }
    }
}

/// Kills a child that overruns its deadline, by PID, but never once it has been reaped (its PID could
/// then belong to someone else).
private final class ProcessWatch: @unchecked Sendable {
    // @unchecked: the flags are guarded by `lock`.
    private let lock = NSLock()
    private let pid: Int32
    private var done = false
    private var killed = false

    init(pid: Int32) { self.pid = pid }

    func killIfRunning() {
        self.lock.withLock {
            guard !self.done else { return }
            self.killed = true
            kill(self.pid, SIGKILL)
        }
    }

    func finished() { self.lock.withLock { self.done = true } }

    var timedOut: Bool { self.lock.withLock { self.killed } }
}

/// Reads a pipe to its end on another thread.
private final class ErrorDrain: @unchecked Sendable {
    // @unchecked: `data` is written once before `done` is signalled and read after waiting on it.
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        DispatchQueue.global().async {
            self.data = handle.readDataToEndOfFile()
            self.done.signal()
        }
    }

    func wait() -> Data {
        self.done.wait()
        return self.data
    }
}

/// One DNS reply as a real client (`dig` or `kdig`) printed it, parsed just enough for assertions.
public struct DigAnswer: Sendable, CustomStringConvertible {
    /// The program's whole output.
    public var text: String
    /// The rcode mnemonic (`NOERROR`, `NXDOMAIN`, …), nil when no reply was printed.
    public var status: String?
    /// Header flags as printed (`qr`, `aa`, `tc`, `rd`, `ra`, …).
    public var flags: Set<String>
    /// Answer-section records, one line each, whitespace collapsed: `name ttl class type rdata`.
    public var answers: [String]
    /// Authority-section records, same form.
    public var authorities: [String]
    /// Extended DNS Error lines (`EDE: 15 (Blocked): (text)`), as printed.
    public var extendedErrors: [String]

    /// Parses the last reply in `text` (dig prints only the final reply after a TCP retry).
    public init(text: String) {
        self.text = text
        self.status = nil
        self.flags = []
        self.answers = []
        self.authorities = []
        self.extendedErrors = []
        var section: String?
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.contains("->>HEADER<<-") {
                // A new reply starts: forget what an earlier one (a truncated UDP reply) said.
                self.answers = []
                self.authorities = []
                self.extendedErrors = []
                self.flags = []
                if let r = line.range(of: "status: ") {
                    self.status = String(line[r.upperBound...].prefix { $0.isLetter || $0.isNumber })
                }
                section = nil
                continue
            }
            let lower = line.lowercased()
            if lower.hasPrefix(";; flags:") {
                let body = line.dropFirst(";; flags:".count).prefix { $0 != ";" }
                self.flags = Set(body.split(separator: " ").map { String($0).lowercased() })
                continue
            }
            if line.hasPrefix("; EDE:") || line.hasPrefix(";; EDE:") || line.hasPrefix("EDE:") {
                self.extendedErrors.append(String(line.drop { $0 == ";" || $0 == " " }))
                continue
            }
            if line.hasPrefix(";; ANSWER SECTION") {
                section = "answer"
                continue
            }
            if line.hasPrefix(";; AUTHORITY SECTION") {
                section = "authority"
                continue
            }
            // A blank line or another ";;" heading ends a section; a single ";" line is a question.
            if line.isEmpty || line.hasPrefix(";;") {
                section = nil
                continue
            }
            if line.hasPrefix(";") { continue }
            let record = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
            switch section {
            case "answer": self.answers.append(record)
            case "authority": self.authorities.append(record)
            default: break
            }
        }
    }

    /// Answer records without their TTL (`name class type rdata`), lowercased owner, sorted: what two
    /// servers must agree on.
    public var answerSet: [String] { Self.withoutTTL(self.answers) }

    /// The TTLs of the answer records.
    public var answerTTLs: [UInt32] {
        self.answers.compactMap { $0.split(separator: " ").dropFirst().first.flatMap { UInt32($0) } }
    }

    /// Whether an Extended DNS Error with `code` was printed.
    public func hasExtendedError(_ code: Int) -> Bool {
        self.extendedErrors.contains { $0.hasPrefix("EDE: \(code) ") || $0 == "EDE: \(code)" || $0.hasPrefix("EDE: \(code):") }
    }

    /// `records` without TTLs, owner names lowercased, sorted.
    public static func withoutTTL(_ records: [String]) -> [String] {
        records.map { r in
            var f = r.split(separator: " ").map(String.init)
            if f.count > 1 { f.remove(at: 1) }
            if !f.isEmpty { f[0] = f[0].lowercased() }
            return f.joined(separator: " ")
        }.sorted()
    }

    public var description: String { self.text }
}

/// The real clients from BIND (`dig`) and Knot (`kdig`), run as programs.
public enum DigClient {
    /// The address `dig` sends from unless told otherwise.
    ///
    /// dig sets SO_REUSEPORT on its UDP socket and so does Palisade's listener; as the same user, the
    /// kernel may then give dig's socket the listener's own port. Bound to 0.0.0.0 and connected to
    /// 127.0.0.1:P from port P, dig would receive its own query back (QR=0: "query response not set").
    /// Sending from another loopback address makes that impossible.
    public static let defaultSource = "127.0.0.3"

    /// Runs `dig @host -p port name type` with extra `options` (`+norec`, `+tcp`, `+noedns`, …), sending
    /// from `source` (see ``defaultSource``; nil lets dig choose).
    /// - Throws: ``TestDaemonError`` when dig is missing or does not finish.
    public static func dig(_ name: String, _ type: String = "A", port: Int, host: String = "127.0.0.1",
        source: String? = DigClient.defaultSource, options: [String] = []) async throws -> DigAnswer
    {
        let from = source.map { ["-b", $0] } ?? []
        let out = try await ExternalTool.run("dig",
            ["@\(host)", "-p", "\(port)"] + from + [name, type, "+time=5", "+tries=1"] + options)
        return DigAnswer(text: out.output + out.errorOutput)
    }

    /// Runs `kdig @host -p port name type` with extra `options` (`+tls`, `+https`, `+tls-ca=FILE`, …).
    /// - Throws: ``TestDaemonError`` when kdig is missing or does not finish.
    public static func kdig(_ name: String, _ type: String = "A", port: Int, host: String = "127.0.0.1",
        options: [String] = []) async throws -> DigAnswer
    {
        let out = try await ExternalTool.run("kdig",
            ["@\(host)", "-p", "\(port)", name, type, "+time=5", "+retry=0"] + options)
        return DigAnswer(text: out.output + out.errorOutput)
    }
}
