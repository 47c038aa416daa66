import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The built `palisade` executable running as a real process, for end-to-end tests.
///
/// Each instance gets its own temporary directory (data directory, configuration, ready file, log) and
/// binds port 0 everywhere; the ports it actually bound are read from its `--ready-file`. Every instance
/// runs with `PALISADE_POLICY__FETCH=false`, so no test ever fetches a feed from the network.
public final class PalisadeProcess: StoppableTestResource {
    /// The ports written to the ready file.
    public struct Ports: Sendable, Decodable, Equatable {
        /// Plain DNS ports (UDP and TCP share each).
        public var dns: [Int]
        /// The operations HTTP port; 0 when disabled.
        public var http: Int
        /// DNS-over-HTTPS ports.
        public var doh: [Int]
        /// DNS-over-TLS ports.
        public var dot: [Int]
    }

    /// The process.
    public let daemon: TestDaemon
    /// The bound ports.
    public let ports: Ports

    private init(daemon: TestDaemon, ports: Ports) {
        self.daemon = daemon
        self.ports = ports
    }

    /// The first plain DNS port.
    public var dnsPort: Int { self.ports.dns.first ?? 0 }

    /// The operations HTTP port (nil when HTTP is disabled).
    public var httpPort: Int? { self.ports.http == 0 ? nil : self.ports.http }

    /// The temporary directory holding the configuration, data directory and log.
    public var directory: TemporaryDirectory { self.daemon.directory }

    /// The data directory passed with `--data-dir`.
    public var dataDirectory: String { self.directory.file("data") }

    /// The query log database (`querylog.sqlite` in the data directory).
    public var queryLogPath: String { self.dataDirectory + "/querylog.sqlite" }

    /// The configuration file written by ``start(config:arguments:upstreams:environment:defaultFeeds:listen:http:readyTimeout:)``
    /// when a configuration text was given.
    public var configPath: String { self.directory.file("palisade.yaml") }

    /// Everything the process printed so far.
    public var log: String { self.daemon.log }

    /// The process id.
    public var pid: Int32 { self.daemon.pid }

    /// Whether the process is still running.
    public var isRunning: Bool { self.daemon.isRunning }

    /// Sends `signal` (SIGHUP to reload) to the process's PID.
    public func signal(_ signal: Int32) { self.daemon.signal(signal) }

    /// Stops the process (SIGTERM, SIGKILL after `grace`) and keeps its directory, so a test can read the
    /// data it flushed on the way out.
    /// - Returns: true when it exited on SIGTERM.
    @discardableResult
    public func terminate(grace: Duration = .seconds(15)) async -> Bool {
        await self.daemon.terminate(grace: grace)
    }

    /// Stops the process and removes its directory.
    public func stop() async {
        await self.daemon.stop()
    }

    /// Starts `palisade serve` and waits until it has written its ready file.
    ///
    /// The command line is `serve --listen <listen>… --http <http> --data-dir DIR/data --ready-file
    /// DIR/ready.json [--config DIR/palisade.yaml] [--no-default-feeds] [--upstream U]… <arguments>`.
    /// - Parameters:
    ///   - config: YAML written to `DIR/palisade.yaml` and passed with `--config`; nil: no file.
    ///   - arguments: more flags, appended last.
    ///   - upstreams: `--upstream` specs.
    ///   - environment: extra environment variables (`PALISADE_…` overrides).
    ///   - defaultFeeds: false passes `--no-default-feeds`.
    ///   - listen: `--listen` addresses (empty: none passed, so the file or default decides).
    ///   - http: `--http` address; nil passes none.
    ///   - readyTimeout: how long to wait for the ready file.
    /// - Throws: ``TestDaemonError`` with the process's log when the binary is missing, the process
    ///   exits, or it is not ready in time.
    public static func start(config: String? = nil, arguments: [String] = [], upstreams: [String] = [],
        environment: [String: String] = [:], defaultFeeds: Bool = false, listen: [String] = ["127.0.0.1:0"],
        http: String? = "127.0.0.1:0", readyTimeout: Duration = .seconds(60)) async throws -> PalisadeProcess
    {
        let binary = try Self.binary()
        // With port 0 the listener takes the TCP port the kernel picks, then binds UDP on the same number;
        // a client socket that happens to hold that UDP port makes the start fail. Try again then.
        let retryable = listen.allSatisfy { $0.hasSuffix(":0") }
        for attempt in 1...3 {
            let dir = try TemporaryDirectory(prefix: "palisade-serve")
            do {
                var args = ["serve"]
                for l in listen { args += ["--listen", l] }
                if let http { args += ["--http", http] }
                args += ["--data-dir", dir.file("data"), "--ready-file", dir.file("ready.json")]
                if let config { args += ["--config", try dir.write("palisade.yaml", config)] }
                if !defaultFeeds { args.append("--no-default-feeds") }
                for u in upstreams { args += ["--upstream", u] }
                args += arguments
                let daemon = try TestDaemon(name: "palisade", executable: binary, arguments: args, directory: dir,
                    environment: Self.environment(environment))
                let readyPath = dir.file("ready.json")
                let ports = await Poll.value(timeout: readyTimeout, every: .milliseconds(20)) { () -> Ports? in
                    if let data = FileManager.default.contents(atPath: readyPath),
                        let ports = try? JSONDecoder().decode(Ports.self, from: data)
                    {
                        return ports
                    }
                    // Exited: stop waiting; reported below.
                    return daemon.isRunning ? nil : Ports(dns: [], http: 0, doh: [], dot: [])
                }
                if let ports, daemon.isRunning { return PalisadeProcess(daemon: daemon, ports: ports) }
                let log = daemon.log
                await daemon.terminate()
                if ports != nil, retryable, attempt < 3, log.contains("cannot listen") {
                    dir.remove()
                    continue
                }
                throw TestDaemonError(
                    "palisade \(ports == nil ? "was not ready within \(readyTimeout)" : "exited (status \(daemon.exitStatus ?? -1))") "
                        + "— \(args.joined(separator: " ")):\n\(log)")
            } catch {
                dir.remove()
                throw error
            }
        }
        throw TestDaemonError("palisade could not bind its listeners in three attempts")
    }

    /// Runs a one-shot subcommand (`check-config`, `print-config`, `query`, `lists status`) to completion,
    /// in a temporary working directory (so the default relative `palisade-data` lands there, not in the
    /// package), removed afterwards.
    /// - Parameters:
    ///   - arguments: the subcommand and its flags.
    ///   - environment: extra environment variables (`PALISADE_POLICY__FETCH=false` is always set).
    /// - Throws: ``TestDaemonError`` when the binary is missing or does not finish in time.
    public static func run(_ arguments: [String], environment: [String: String] = [:],
        timeout: Duration = .seconds(60)) async throws -> ToolOutput
    {
        let binary = try Self.binary()
        let dir = try TemporaryDirectory(prefix: "palisade-cli")
        defer { dir.remove() }
        return try await ExternalTool.run(binary, arguments, environment: Self.environment(environment),
            directory: dir.path, timeout: timeout)
    }

    /// The environment of every palisade child: the test process's, without any `PALISADE_` variable (each
    /// would override a configuration key), plus `PALISADE_POLICY__FETCH=false`, plus `extra`.
    public static func environment(_ extra: [String: String]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PALISADE_") }
        env["PALISADE_POLICY__FETCH"] = "false"
        env.merge(extra) { _, new in new }
        return env
    }

    /// The package root, derived from this file's location at build time
    /// (`Sources/TestSupport/Daemons/PalisadeProcess.swift`).
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The built `palisade` executable: `.build/debug/palisade` or `.build/<triple>/debug/palisade` (release
    /// first when the tests are a release build); nil when it has not been built.
    public static var binaryPath: String? {
        let build = Self.packageRoot.appendingPathComponent(".build")
        #if DEBUG
        let configurations = ["debug", "release"]
        #else
        let configurations = ["release", "debug"]
        #endif
        let triples = ((try? FileManager.default.contentsOfDirectory(atPath: build.path)) ?? [])
            .filter { $0.contains("-") }.sorted()
        for configuration in configurations {
            for dir in [configuration] + triples.map({ "\($0)/\(configuration)" }) {
                let candidate = build.appendingPathComponent(dir).appendingPathComponent("palisade").path
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            }
        }
        return nil
    }

    /// ``binaryPath``, or an error saying how to build it.
    /// - Throws: ``TestDaemonError`` when the executable has not been built.
    public static func binary() throws -> String {
        guard let path = Self.binaryPath else {
            throw TestDaemonError(
                "the palisade executable is not built: expected \(Self.packageRoot.path)/.build/debug/palisade "
                    + "(or .build/<triple>/debug/palisade). Run `swift build` (without PALISADE_TARGETS, which "
                    + "drops the executable) before `swift test --skip-build`.")
        }
        return path
    }
}
