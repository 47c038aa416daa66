import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An error from starting or talking to a test daemon or client, with what went wrong in words
/// (and usually the daemon's log).
public struct TestDaemonError: Error, CustomStringConvertible {
    /// What went wrong.
    public var description: String

    /// Creates an error with a message.
    public init(_ description: String) { self.description = description }
}

/// Where the external test programs live, and whether they are installed.
///
/// Tests that need one use `.enabled(if: TestBinaries.has("nsd"), "…")` so a machine without it skips
/// them with a clear message; `scripts/test.sh` installs them.
public enum TestBinaries {
    /// Directories searched besides `PATH` (daemons live in sbin, often not on a user's `PATH`).
    public static let extraDirectories = ["/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/bin", "/usr/local/bin"]

    /// The full path of an executable, or nil when it is not installed.
    public static func path(_ name: String) -> String? {
        let pathDirs = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        for dir in pathDirs + Self.extraDirectories {
            let candidate = dir + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Whether every named executable is installed.
    public static func has(_ names: String...) -> Bool {
        names.allSatisfy { Self.path($0) != nil }
    }
}

/// A temporary directory, removed by ``remove()``.
public struct TemporaryDirectory: Sendable {
    /// Absolute path, without a trailing slash.
    public let path: String

    /// Creates a fresh, uniquely named directory under the system temporary directory.
    /// - Throws: when the directory cannot be created.
    public init(prefix: String = "palisade-test") throws {
        let tmp = NSTemporaryDirectory()
        let base = tmp.hasSuffix("/") ? tmp : tmp + "/"
        let path = base + "\(prefix)-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        self.path = path
    }

    /// The path of a file inside the directory.
    public func file(_ name: String) -> String { self.path + "/" + name }

    /// Writes a text file inside the directory and returns its path.
    /// - Throws: when the file cannot be written.
    @discardableResult
    public func write(_ name: String, _ text: String) throws -> String {
        let p = self.file(name)
        try text.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }

    /// Removes the directory and everything in it.
    public func remove() {
        try? FileManager.default.removeItem(atPath: self.path)
    }
}

/// Polls a condition until it holds or a deadline passes.
///
/// Never a fixed sleep used as synchronization: the wait ends as soon as the condition is true, and the
/// deadline only bounds how long a broken system can keep a test waiting.
public enum Poll {
    /// Returns true as soon as `condition` does; false when `timeout` passes first.
    public static func until(timeout: Duration = .seconds(10), every interval: Duration = .milliseconds(20),
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

    /// Returns the first non-nil value `produce` gives, or nil when `timeout` passes first.
    public static func value<T>(timeout: Duration = .seconds(10), every interval: Duration = .milliseconds(20),
        _ produce: () async -> T?) async -> T?
    {
        let clock = ContinuousClock()
        let end = clock.now.advanced(by: timeout)
        while clock.now < end {
            if let v = await produce() { return v }
            try? await Task.sleep(for: interval)
        }
        return await produce()
    }
}

/// Runs blocking work (a socket read with a timeout, waiting for a child process) on a thread outside
/// Swift's cooperative pool, so that tests running in parallel on a small machine do not starve each
/// other's tasks.
public enum Blocking {
    /// Runs `work` on a dispatch thread and returns its result.
    /// - Throws: what `work` throws.
    public static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try work() })
            }
        }
    }
}

/// Starts child processes with no signal blocked.
///
/// A child inherits the signal mask of the thread that spawns it, and Foundation's `Process` does not
/// reset it. Dispatch and Swift concurrency worker threads block most signals, so a daemon started from
/// a test would ignore SIGTERM until its own code unblocked it (NSD never does: it then takes until the
/// SIGKILL deadline to stop). Spawning from a fresh thread with an empty mask gives the child the mask a
/// shell would.
public enum ProcessLauncher {
    /// Calls `process.run()` on a new thread whose signal mask is empty.
    /// - Throws: what `run()` throws.
    public static func run(_ process: Process) throws {
        let box = LaunchResult(process)
        let thread = Thread {
            var none = sigset_t()
            sigemptyset(&none)
            pthread_sigmask(SIG_SETMASK, &none, nil)
            box.launch()
        }
        thread.start()
        box.wait()
        if let error = box.error { throw error }
    }
}

private final class LaunchResult: @unchecked Sendable {
    // @unchecked: `process` is used only by the launching thread while `wait()` blocks the caller, and
    // `error` is written before `done` is signalled and read after.
    private let process: Process
    private let done = DispatchSemaphore(value: 0)
    var error: (any Error)?

    init(_ process: Process) { self.process = process }

    func launch() {
        do {
            try self.process.run()
        } catch {
            self.error = error
        }
        self.done.signal()
    }

    func wait() { self.done.wait() }
}

/// A daemon process started by a test: its own temporary directory, its log, stopped by PID.
public final class TestDaemon: @unchecked Sendable {
    // @unchecked: `process` is only read after `run()` (its pid and state are safe to query from any
    // thread), and only this object signals it.

    /// What was started (for messages).
    public let name: String
    /// The temporary directory holding its configuration, data and log.
    public let directory: TemporaryDirectory
    /// Standard output and error of the daemon.
    public let logPath: String
    private let process: Process

    /// Starts `executable` (a name looked up with ``TestBinaries/path(_:)``, or an absolute path) with
    /// `arguments`, in `directory`, output to `daemon.log` there.
    /// - Parameter environment: the child's environment; nil inherits the test process's.
    /// - Throws: ``TestDaemonError`` when the binary is missing or cannot be started.
    public init(name: String, executable: String, arguments: [String], directory: TemporaryDirectory,
        environment: [String: String]? = nil) throws
    {
        let path = executable.hasPrefix("/") ? executable : TestBinaries.path(executable)
        guard let path, FileManager.default.isExecutableFile(atPath: path) else {
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
        if let environment { p.environment = environment }
        p.standardOutput = log
        p.standardError = log
        p.standardInput = FileHandle.nullDevice
        try ProcessLauncher.run(p)
        try? log.close()
        self.process = p
    }

    /// The process id.
    public var pid: Int32 { self.process.processIdentifier }

    /// Whether the process is still running.
    public var isRunning: Bool { self.process.isRunning }

    /// The exit status once the process has exited, else nil.
    public var exitStatus: Int32? { self.process.isRunning ? nil : self.process.terminationStatus }

    /// The daemon's output so far (for failure messages).
    public var log: String { (try? String(contentsOfFile: self.logPath, encoding: .utf8)) ?? "" }

    /// Sends `signal` to the daemon's PID (nothing when it has exited).
    public func signal(_ signal: Int32) {
        if self.process.isRunning { kill(self.process.processIdentifier, signal) }
    }

    /// Stops the process and keeps its directory: SIGTERM to its PID, SIGKILL if it has not exited within
    /// `grace`.
    /// - Returns: true when it exited on SIGTERM (a graceful stop), false when it had to be killed.
    @discardableResult
    public func terminate(grace: Duration = .seconds(10)) async -> Bool {
        guard self.process.isRunning else { return true }
        kill(self.process.processIdentifier, SIGTERM)
        if await Poll.until(timeout: grace, every: .milliseconds(10), { !self.process.isRunning }) { return true }
        kill(self.process.processIdentifier, SIGKILL)
        _ = await Poll.until(timeout: .seconds(5), every: .milliseconds(10), { !self.process.isRunning })
        return false
    }

    /// Stops the daemon (``terminate(grace:)``) and removes its directory.
    public func stop() async {
        await self.terminate()
        self.directory.remove()
    }
}

/// Something a test starts and must stop however the test ends.
public protocol StoppableTestResource: Sendable {
    /// Stops it and removes its files.
    func stop() async
}

extension TestDaemon: StoppableTestResource {}

extension TemporaryDirectory: StoppableTestResource {
    /// Removes the directory.
    public func stop() async { self.remove() }
}

/// Stops everything a test started, in reverse order, whether the test body returns or throws.
///
/// ```swift
/// try await TestResources.with { r in
///     let nsd = try await r.keep(NSDServer.start())
///     let palisade = try await r.keep(PalisadeProcess.start(upstreams: ["127.0.0.1:\(nsd.port)"]))
///     …
/// }
/// ```
public final class TestResources: @unchecked Sendable {
    // @unchecked: `items` is guarded by `lock`.
    private let lock = NSLock()
    private var items: [any StoppableTestResource] = []

    private init() {}

    /// Runs `body`, then stops every resource it kept.
    /// - Throws: what `body` throws (after cleaning up).
    public static func with<T>(_ body: (TestResources) async throws -> T) async throws -> T {
        let r = TestResources()
        do {
            let value = try await body(r)
            await r.stopAll()
            return value
        } catch {
            await r.stopAll()
            throw error
        }
    }

    /// Registers `resource` to be stopped when the scope ends, and returns it.
    @discardableResult
    public func keep<R: StoppableTestResource>(_ resource: R) -> R {
        self.lock.withLock { self.items.append(resource) }
        return resource
    }

    /// A new temporary directory removed when the scope ends.
    /// - Throws: when it cannot be created.
    public func directory(prefix: String = "palisade-test") throws -> TemporaryDirectory {
        self.keep(try TemporaryDirectory(prefix: prefix))
    }

    private func stopAll() async {
        let all = self.lock.withLock {
            defer { self.items = [] }
            return self.items
        }
        for item in all.reversed() { await item.stop() }
    }
}
