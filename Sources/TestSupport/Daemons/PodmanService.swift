import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Real containers for tests: Podman with runc and cgroupfs, a busybox image, and `podman system service`
/// (the Docker Engine API v1.41) on a unix socket of the test's own.
///
/// The recipe is the one in `shared/notes/podman.md`: without `--runtime /usr/sbin/runc
/// --cgroup-manager=cgroupfs` and the two `--ulimit` flags a container start fails with an OCI permission
/// error on these machines. ``prepare()`` does the one-time setup idempotently (containers.conf, the
/// `localhost/bb:1` image built from the host's busybox), so CI on a fresh machine works after
/// `scripts/test.sh` installed the packages.
public final class PodmanService: StoppableTestResource {
    /// The image every test container runs: busybox with `sh`, `nslookup`, `sleep`.
    public static let image = "localhost/bb:1"
    /// Global flags every podman command gets.
    public static let globalFlags = ["--runtime", "/usr/sbin/runc", "--cgroup-manager=cgroupfs"]
    /// `podman run` flags the default rlimits need here.
    public static let runFlags = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000"]

    /// Whether Podman tests can run: root, podman, runc and busybox installed.
    public static var isAvailable: Bool {
        getuid() == 0 && TestBinaries.has("podman") && FileManager.default.isExecutableFile(atPath: "/usr/sbin/runc")
            && Self.busyboxPath != nil
    }

    /// The message shown when ``isAvailable`` is false.
    public static let unavailableMessage =
        "needs root, podman, runc and busybox-static (Debian: podman runc busybox-static; scripts/test.sh installs them)"

    private static var busyboxPath: String? {
        ["/bin/busybox", "/usr/bin/busybox"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The `podman system service` process.
    public let daemon: TestDaemon
    /// Its Docker-compatible API socket.
    public let socketPath: String

    private init(daemon: TestDaemon, socketPath: String) {
        self.daemon = daemon
        self.socketPath = socketPath
    }

    /// Runs `podman <global flags> arguments`.
    /// - Throws: ``TestDaemonError`` when podman is missing or times out (a non-zero exit is in the output).
    public static func podman(_ arguments: [String], timeout: Duration = .seconds(60)) async throws -> ToolOutput {
        try await ExternalTool.run("podman", Self.globalFlags + arguments, timeout: timeout)
    }

    /// Runs podman and throws when it fails.
    /// - Returns: its standard output, trimmed.
    /// - Throws: ``TestDaemonError`` with the command and output.
    @discardableResult
    public static func podmanChecked(_ arguments: [String], timeout: Duration = .seconds(60)) async throws -> String {
        let out = try await Self.podman(arguments, timeout: timeout)
        guard out.status == 0 else { throw TestDaemonError("podman failed:\n\(out)") }
        return out.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// One-time machine setup, safe to repeat: `/etc/containers/containers.conf` with cgroupfs when there
    /// is none, and the `localhost/bb:1` image imported from the host's busybox when missing.
    /// - Throws: ``TestDaemonError`` when a step fails.
    public static func prepare() async throws {
        try await PrepareOnce.shared.run {
            let conf = "/etc/containers/containers.conf"
            if !FileManager.default.fileExists(atPath: conf) {
                try FileManager.default.createDirectory(atPath: "/etc/containers", withIntermediateDirectories: true)
                try "[engine]\ncgroup_manager=\"cgroupfs\"\n".write(toFile: conf, atomically: true, encoding: .utf8)
            }
            if try await Self.podman(["image", "exists", Self.image]).status == 0 { return }
            guard let busybox = Self.busyboxPath else { throw TestDaemonError("busybox is not installed") }
            let dir = try TemporaryDirectory(prefix: "palisade-bbroot")
            defer { dir.remove() }
            let bin = dir.file("root/bin")
            try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: busybox, toPath: bin + "/busybox")
            for tool in ["sh", "nslookup", "wget", "sleep", "cat", "echo", "true"] {
                try FileManager.default.createSymbolicLink(atPath: bin + "/" + tool, withDestinationPath: "busybox")
            }
            let tar = try await ExternalTool.run("tar", ["-C", dir.file("root"), "-cf", dir.file("bb.tar"), "."])
            guard tar.status == 0 else { throw TestDaemonError("tar failed:\n\(tar)") }
            // Another test process may import it at the same time: a failure is fine if the image is there.
            let imported = try await Self.podman(["import", dir.file("bb.tar"), Self.image], timeout: .seconds(120))
            if imported.status != 0, try await Self.podman(["image", "exists", Self.image]).status != 0 {
                throw TestDaemonError("podman import failed:\n\(imported)")
            }
        }
    }

    /// Prepares the machine and starts `podman system service -t 0` on a fresh socket; waits until the
    /// socket accepts connections.
    /// - Throws: ``TestDaemonError`` with the service log when it does not come up.
    public static func start() async throws -> PodmanService {
        try await Self.prepare()
        let dir = try TemporaryDirectory(prefix: "palisade-podman")
        let socket = dir.file("podman.sock")
        let daemon: TestDaemon
        do {
            daemon = try TestDaemon(name: "podman", executable: "podman",
                arguments: Self.globalFlags + ["system", "service", "-t", "0", "unix://\(socket)"], directory: dir)
        } catch {
            dir.remove()
            throw error
        }
        let up = await Poll.until(timeout: .seconds(30), every: .milliseconds(20)) {
            !daemon.isRunning || Self.canConnect(socket)
        }
        guard up, daemon.isRunning else {
            let log = daemon.log
            await daemon.stop()
            throw TestDaemonError("podman system service did not come up on \(socket):\n\(log)")
        }
        return PodmanService(daemon: daemon, socketPath: socket)
    }

    /// Kills the service by its PID and removes its directory (containers and networks are removed by
    /// their own resources).
    public func stop() async {
        await self.daemon.stop()
    }

    /// Whether a unix socket at `path` accepts a connection.
    public static func canConnect(_ path: String) -> Bool {
        #if canImport(Glibc)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_UNIX, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { return false }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return rc == 0
    }

    // MARK: - Networks and containers

    /// Creates a network with its own /24 in 10.89.100–249.x that no existing Podman network uses, and
    /// without aardvark-dns (so a test can bind port 53 on its gateway).
    /// - Parameter ipv6: also give it a ULA /64.
    /// - Throws: ``TestDaemonError`` when no subnet is free or podman fails.
    public static func createNetwork(prefix: String = "palitest", ipv6: Bool = false) async throws -> PodmanNetwork {
        try await Self.prepare()
        for _ in 0..<20 {
            let used = try await Self.podmanChecked(["network", "ls", "--format", "{{.Subnets}}"])
            let third = Int.random(in: 100...249)
            let subnet = "10.89.\(third).0/24"
            if used.contains("10.89.\(third).") { continue }
            let name = "\(prefix)-\(third)-\(UInt32.random(in: 0...UInt32.max))"
            var args = ["network", "create", "--disable-dns", "--subnet", subnet]
            if ipv6 { args += ["--ipv6", "--subnet", "fd00:89:\(third)::/64"] }
            let out = try await Self.podman(args + [name])
            if out.status == 0 {
                return PodmanNetwork(name: name, subnet: subnet, gateway: "10.89.\(third).1", prefix: "10.89.\(third).",
                    ipv6Prefix: ipv6 ? "fd00:89:\(third)::" : nil)
            }
            // Raced with another test for the subnet: pick again.
        }
        throw TestDaemonError("no free 10.89.x.0/24 subnet for a test network")
    }

    /// Starts a detached container running `command` (default: `sleep 600`).
    /// - Parameters:
    ///   - name: container name (made unique by the caller).
    ///   - network: network to attach.
    ///   - ip: fixed IPv4 address on it.
    ///   - labels: `--label k=v`.
    ///   - dns: `--dns` server.
    /// - Throws: ``TestDaemonError`` when podman fails.
    public static func runContainer(name: String, network: PodmanNetwork, ip: String? = nil,
        labels: [String: String] = [:], dns: String? = nil, command: [String] = ["sleep", "600"]) async throws
        -> PodmanContainer
    {
        var args = ["run", "-d", "--name", name] + Self.runFlags + ["--network", network.name]
        if let ip { args += ["--ip", ip] }
        if let dns { args += ["--dns", dns] }
        for (k, v) in labels.sorted(by: { $0.key < $1.key }) { args += ["--label", "\(k)=\(v)"] }
        let out = try await Self.podmanDetached(args + [Self.image] + command)
        guard out.status == 0 else { throw TestDaemonError("podman run failed:\n\(out)") }
        return PodmanContainer(name: name, id: out.output.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Runs a podman command that leaves a process behind (`run -d`).
    ///
    /// conmon, which podman leaves running for the container, inherits podman's file descriptors; with
    /// Foundation's `Process` (whose exit detection waits for a descriptor the child inherits to close) or
    /// a pipe for the output, the caller would wait until the container exits. So this spawns podman
    /// directly with output to files and every other descriptor closed, and waits for podman's own exit.
    static func podmanDetached(_ arguments: [String]) async throws -> ToolOutput {
        guard let path = TestBinaries.path("podman") else { throw TestDaemonError("podman is not installed") }
        let dir = try TemporaryDirectory(prefix: "palisade-podman-run")
        defer { dir.remove() }
        let outPath = dir.file("out")
        let errPath = dir.file("err")
        let all = Self.globalFlags + arguments
        let status = try await Blocking.run { try Self.spawnAndWait(path, all, stdout: outPath, stderr: errPath) }
        return ToolOutput(command: "podman " + all.joined(separator: " "), status: status,
            output: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            errorOutput: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
    }

    /// Closes descriptors 3 and up in the child: glibc's `posix_spawn_file_actions_addclosefrom_np` (looked
    /// up at run time: Swift does not import it), else one close action per descriptor open now.
    private static func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) {
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") {
            _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
            return
        }
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for fd in open.compactMap({ Int32($0) }) where fd > 2 { posix_spawn_file_actions_addclose(&actions, fd) }
    }

    private static func spawnAndWait(_ path: String, _ arguments: [String], stdout: String, stderr: String) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        Self.closeInheritedDescriptors(&actions)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Worker threads block most signals; the child gets an empty mask, as from a shell.
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, &attributes, argv, environ)
        guard rc == 0 else { throw TestDaemonError("cannot start \(path): error \(rc)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { throw TestDaemonError("waitpid failed for \(path): errno \(errno)") }
        }
        // WIFEXITED / WEXITSTATUS, spelled out (the C macros are not imported).
        return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// Runs `command` inside a running container.
    /// - Throws: ``TestDaemonError`` when podman cannot run it.
    public static func exec(_ container: PodmanContainer, _ command: [String], timeout: Duration = .seconds(30))
        async throws -> ToolOutput
    {
        try await Self.podman(["exec", container.name] + command, timeout: timeout)
    }

    /// The container's IPv4 address on `network`.
    /// - Throws: ``TestDaemonError`` when podman fails or the container is not on it.
    public static func address(of container: PodmanContainer, on network: PodmanNetwork) async throws -> String {
        let ip = try await Self.podmanChecked(["inspect", "--format",
            "{{(index .NetworkSettings.Networks \"\(network.name)\").IPAddress}}", container.name])
        guard !ip.isEmpty else { throw TestDaemonError("\(container.name) has no address on \(network.name)") }
        return ip
    }
}

/// A Podman network created by a test; ``stop()`` removes it (and any container still on it).
public struct PodmanNetwork: StoppableTestResource {
    /// Network name.
    public var name: String
    /// IPv4 subnet (`10.89.x.0/24`).
    public var subnet: String
    /// Gateway address (the host side: bind test servers here).
    public var gateway: String
    /// `10.89.x.`, for building host addresses.
    public var prefix: String
    /// `fd00:89:x::` when created with IPv6.
    public var ipv6Prefix: String?

    /// Removes the network and its containers.
    public func stop() async {
        _ = try? await PodmanService.podman(["network", "rm", "-f", self.name])
    }
}

/// A container started by a test; ``stop()`` removes it.
public struct PodmanContainer: StoppableTestResource {
    /// Container name.
    public var name: String
    /// Full id.
    public var id: String

    /// Removes the container (`podman rm -f`).
    public func stop() async {
        _ = try? await PodmanService.podman(["rm", "-f", "-t", "0", self.name])
    }
}

/// Serializes ``PodmanService/prepare()`` within one test process.
private actor PrepareOnce {
    static let shared = PrepareOnce()
    private var done = false

    func run(_ body: () async throws -> Void) async throws {
        if self.done { return }
        try await body()
        self.done = true
    }
}

extension Fixtures {
    /// The bytes of `Fixtures/<path>` (`podman/containers-list.json`, `kubernetes/pods/web.json`).
    /// - Throws: ``MissingFixture`` when there is no such file.
    public static func data(_ path: String) throws -> Data {
        guard let url = Bundle.module.resourceURL?.appendingPathComponent("Fixtures/\(path)"),
            let data = FileManager.default.contents(atPath: url.path)
        else { throw MissingFixture(path: path) }
        return data
    }

    /// The absolute path of `Fixtures/<path>` in the built bundle (for programs the tests start).
    /// - Throws: ``MissingFixture`` when there is no such file.
    public static func path(_ path: String) throws -> String {
        guard let url = Bundle.module.resourceURL?.appendingPathComponent("Fixtures/\(path)"),
            FileManager.default.fileExists(atPath: url.path)
        else { throw MissingFixture(path: path) }
        return url.path
    }
}
