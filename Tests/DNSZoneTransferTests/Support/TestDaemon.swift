import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Errors from starting test daemons.
struct TestDaemonError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Where the external test daemons live, and whether they are installed.
///
/// Tests that need one use `.enabled(if: TestBinaries.has("nsd"), …)` so a machine without it skips
/// them with a clear message; `.ci/run` installs them.
enum TestBinaries {
    /// Directories searched besides `PATH` (the daemons live in sbin, often not on a user's PATH).
    static let extraDirectories = ["/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/bin", "/usr/local/bin"]

    /// The full path of an executable, or nil.
    static func path(_ name: String) -> String? {
        let pathDirs = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        for dir in pathDirs + Self.extraDirectories {
            let candidate = dir + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Whether every named executable is installed.
    static func has(_ names: String...) -> Bool {
        names.allSatisfy { Self.path($0) != nil }
    }
}

/// A temporary directory removed by ``remove()``.
struct TemporaryDirectory: Sendable {
    /// Absolute path, without a trailing slash.
    let path: String

    /// Creates a fresh directory under the system temp dir.
    init(prefix: String = "palisade-test") throws {
        let base = NSTemporaryDirectory().hasSuffix("/") ? NSTemporaryDirectory() : NSTemporaryDirectory() + "/"
        let path = base + "\(prefix)-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        self.path = path
    }

    /// The path of a file inside the directory.
    func file(_ name: String) -> String { self.path + "/" + name }

    /// Writes a text file inside the directory and returns its path.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let p = self.file(name)
        try text.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }

    /// Removes the directory and everything in it.
    func remove() {
        try? FileManager.default.removeItem(atPath: self.path)
    }
}

/// Polls a condition until it holds or a deadline passes (never a fixed sleep: the wait ends as soon
/// as the condition is true).
enum Poll {
    /// Returns true as soon as `condition` does; false when `timeout` passes first.
    static func until(timeout: Duration = .seconds(10), every interval: Duration = .milliseconds(20),
        _ condition: () async -> Bool) async -> Bool
    {
        let clock = ContinuousClock()
        let end = clock.now.advanced(by: timeout)
        while clock.now < end {
            if await condition() { return true }
            try? await Task.sleep(for: interval)
        }
        return await condition()
    }
}

/// A daemon process started by a test: its own temp directory, its log, stopped by PID.
final class TestDaemon: @unchecked Sendable {
    /// What was started (for messages).
    let name: String
    /// The temp directory holding its configuration, data and log.
    let directory: TemporaryDirectory
    /// The process (owned: only this object signals it).
    private let process: Process
    /// Standard output and error of the daemon.
    let logPath: String

    /// Starts `executable` with `arguments`, output to `daemon.log` in `directory`.
    /// - Throws: ``TestDaemonError`` when the binary is missing or cannot be started.
    init(name: String, executable: String, arguments: [String], directory: TemporaryDirectory) throws {
        guard let path = TestBinaries.path(executable) else {
            throw TestDaemonError("\(executable) is not installed")
        }
        self.name = name
        self.directory = directory
        self.logPath = directory.file("daemon.log")
        _ = FileManager.default.createFile(atPath: self.logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: self.logPath))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        p.currentDirectoryURL = URL(fileURLWithPath: directory.path)
        p.standardOutput = log
        p.standardError = log
        p.standardInput = FileHandle.nullDevice
        try p.run()
        self.process = p
    }

    /// The process id.
    var pid: Int32 { self.process.processIdentifier }

    /// Whether the process is still running.
    var isRunning: Bool { self.process.isRunning }

    /// The daemon's output so far (for failure messages).
    var log: String { (try? String(contentsOfFile: self.logPath, encoding: .utf8)) ?? "" }

    /// Stops the daemon: SIGTERM to its PID, SIGKILL if it has not exited within five seconds; then
    /// removes its directory.
    func stop() async {
        if self.process.isRunning {
            kill(self.process.processIdentifier, SIGTERM)
            if !(await Poll.until(timeout: .seconds(5), every: .milliseconds(10), { !self.process.isRunning })) {
                kill(self.process.processIdentifier, SIGKILL)
                _ = await Poll.until(timeout: .seconds(5), every: .milliseconds(10), { !self.process.isRunning })
            }
        }
        self.directory.remove()
    }
}
