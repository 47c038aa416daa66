import Foundation

/// A PostgreSQL server from Debian on 127.0.0.1, for tests: a fresh cluster (`initdb`, trust authentication,
/// superuser `palisade`) in its own temp directory, on a free port, stopped by PID.
///
/// PostgreSQL refuses to run as root; as root the cluster belongs to the `postgres` system user and the
/// programs run through `setpriv` (which execs them, so the PID the test holds is the server's own).
public final class PostgresServer: StoppableTestResource {
    /// The TCP port on 127.0.0.1.
    public let port: Int
    /// The login role (a superuser, trust authentication on loopback).
    public let username = "palisade"
    /// The server process.
    public let daemon: TestDaemon

    private init(port: Int, daemon: TestDaemon) {
        self.port = port
        self.daemon = daemon
    }

    /// The directory holding `initdb` and `postgres` (Debian: /usr/lib/postgresql/<version>/bin).
    public static var binDirectory: String? {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .compactMap(Int.init).sorted(by: >)
        for v in versions where FileManager.default.isExecutableFile(atPath: "\(root)/\(v)/bin/postgres") {
            return "\(root)/\(v)/bin"
        }
        return nil
    }

    /// Whether a server can be started here.
    public static var isAvailable: Bool {
        Self.binDirectory != nil && (getuid() != 0 || TestBinaries.has("setpriv"))
    }

    /// The command prefix that runs a program as the cluster's owner.
    private static func asOwner(_ program: String) -> (String, [String]) {
        if getuid() == 0, let setpriv = TestBinaries.path("setpriv") {
            return (setpriv, ["--reuid=postgres", "--regid=postgres", "--init-groups", "--", program])
        }
        return (program, [])
    }

    /// Creates a cluster and starts the server.
    /// - Throws: ``TestDaemonError`` with the server's log when it does not accept connections in 20 s.
    public static func start() async throws -> PostgresServer {
        guard let bin = Self.binDirectory else { throw TestDaemonError("PostgreSQL is not installed (apt-get install postgresql)") }
        let dir = try TemporaryDirectory(prefix: "palisade-pg")
        // The server runs as `postgres` when we are root: it must reach and own its directory.
        chmod(dir.path, 0o755)
        if getuid() == 0 {
            let chown = try await ExternalTool.run("/bin/chown", ["-R", "postgres:postgres", dir.path], timeout: .seconds(10))
            guard chown.status == 0 else { throw TestDaemonError("chown failed: \(chown)") }
        }
        let data = dir.file("data")
        let (initdb, initdbPrefix) = Self.asOwner(bin + "/initdb")
        let created = try await ExternalTool.run(
            initdb, initdbPrefix + ["-D", data, "-A", "trust", "-U", "palisade", "--no-sync", "-E", "UTF8"],
            timeout: .seconds(60))
        guard created.status == 0 else {
            dir.remove()
            throw TestDaemonError("initdb failed: \(created)")
        }
        var lastLog = ""
        for _ in 0..<3 {
            let port = try await TestNetwork.freePort()
            let (postgres, prefix) = Self.asOwner(bin + "/postgres")
            let daemon = try TestDaemon(
                name: "postgres", executable: postgres,
                arguments: prefix + [
                    "-D", data, "-h", "127.0.0.1", "-p", "\(port)", "-k", dir.path,
                    // A test database: durability is not the point, speed is.
                    "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                ], directory: dir)
            let ready = await Poll.until(timeout: .seconds(20), every: .milliseconds(100)) {
                guard daemon.isRunning else { return true }
                return await TestNetwork.canConnect(port: port)
            }
            if ready, daemon.isRunning {
                return PostgresServer(port: port, daemon: daemon)
            }
            lastLog = daemon.log
            await daemon.terminate()
        }
        dir.remove()
        throw TestDaemonError("postgres did not start:\n\(lastLog)")
    }

    /// Creates a database (as the superuser) and returns its name.
    public func createDatabase(_ name: String) async throws -> String {
        guard let psql = TestBinaries.path("psql") else { throw TestDaemonError("psql is not installed") }
        let out = try await ExternalTool.run(
            psql, ["-h", "127.0.0.1", "-p", "\(self.port)", "-U", self.username, "-d", "postgres", "-v",
                "ON_ERROR_STOP=1", "-c", "CREATE DATABASE \"\(name)\""], timeout: .seconds(20))
        guard out.status == 0 else { throw TestDaemonError("CREATE DATABASE \(name) failed: \(out)") }
        return name
    }

    /// Runs SQL with psql and returns its unaligned, tuples-only output.
    public func psql(_ sql: String, database: String) async throws -> String {
        guard let psql = TestBinaries.path("psql") else { throw TestDaemonError("psql is not installed") }
        let out = try await ExternalTool.run(
            psql, ["-h", "127.0.0.1", "-p", "\(self.port)", "-U", self.username, "-d", database, "-At", "-v",
                "ON_ERROR_STOP=1", "-c", sql], timeout: .seconds(20))
        guard out.status == 0 else { throw TestDaemonError("psql failed: \(out)") }
        return out.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Stops the server and removes its cluster.
    public func stop() async {
        await self.daemon.stop()
    }
}
