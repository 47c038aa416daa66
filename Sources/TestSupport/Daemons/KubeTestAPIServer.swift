import Foundation

/// A Kubernetes API server for tests (`Fixtures/kubernetes/apiserver.py`): pods only, but the real list and
/// watch protocol — paged lists, chunked watch streams, resource versions, bookmarks, 410 Gone — over HTTPS
/// with a CA made by openssl, serving recorded v1 Pod objects from `Fixtures/kubernetes/pods`.
///
/// No cluster exists on the test machines; this is what the Kubernetes source is tested against. Tests
/// change the pods through a control directory (``command(_:)``).
public final class KubeTestAPIServer: StoppableTestResource {
    /// The process.
    public let daemon: TestDaemon
    /// The bound port on 127.0.0.1.
    public let port: Int
    /// The bearer token it requires.
    public let token: String
    /// The test CA, server certificate and key (nil when started without TLS).
    public let certificates: TestCertificates?
    private let controlDirectory: String
    private let sequence = Counter()

    /// Whether python3 and openssl are installed.
    public static var isAvailable: Bool { TestBinaries.has("python3", "openssl") }

    private init(daemon: TestDaemon, port: Int, token: String, certificates: TestCertificates?, control: String) {
        self.daemon = daemon
        self.port = port
        self.token = token
        self.certificates = certificates
        self.controlDirectory = control
    }

    /// The base URL (`https://127.0.0.1:PORT`).
    public var url: String { "\(self.certificates == nil ? "http" : "https")://127.0.0.1:\(self.port)" }

    /// The requests it served so far (`GET /api/v1/pods?watch=1&…`), from its log.
    public var requests: [String] {
        self.daemon.log.split(separator: "\n").compactMap { line in
            guard let start = line.range(of: "\"GET ") else { return nil }
            let rest = line[start.upperBound...]
            return rest.split(separator: " ").first.map { String($0) }
        }
    }

    /// A recorded pod (`Fixtures/kubernetes/pods/NAME.json`) as JSON text.
    /// - Throws: ``Fixtures/MissingFixture``.
    public static func pod(_ name: String) throws -> String {
        String(decoding: try Fixtures.data("kubernetes/pods/\(name).json"), as: UTF8.self)
    }

    /// Starts the server with the given recorded pods.
    /// - Parameters:
    ///   - pods: fixture names (`web`, `db`, `node-exporter`, `migrate-job`).
    ///   - tls: serve HTTPS with a fresh test CA (else plain HTTP).
    ///   - bookmarkSeconds: how often a watch gets a BOOKMARK.
    ///   - goneAsHTTP: answer a too-old watch with HTTP 410 instead of an ERROR event.
    /// - Throws: ``TestDaemonError`` with its log when it does not come up.
    public static func start(pods: [String] = ["web", "db", "node-exporter", "migrate-job"], tls: Bool = true,
        bookmarkSeconds: Double = 1, goneAsHTTP: Bool = false) async throws -> KubeTestAPIServer
    {
        let dir = try TemporaryDirectory(prefix: "palisade-kube")
        do {
            let control = dir.file("control")
            try FileManager.default.createDirectory(atPath: control, withIntermediateDirectories: true)
            let token = "test-token-\(UInt64.random(in: 0...UInt64.max))"
            var args = [try Fixtures.path("kubernetes/apiserver.py"), "--port", "0", "--port-file", dir.file("port"),
                "--control", control, "--token", token, "--bookmark-seconds", "\(bookmarkSeconds)"]
            if goneAsHTTP { args.append("--gone-as-http") }
            args.append("--pods")
            for p in pods { args.append(try Fixtures.path("kubernetes/pods/\(p).json")) }
            var certificates: TestCertificates?
            if tls {
                let c = try await TestCertificates.generate(in: dir, serverName: "kubernetes.default.svc", includeIP: true)
                args += ["--cert", c.certificateFile, "--key", c.keyFile]
                certificates = c
            }
            var env = ProcessInfo.processInfo.environment
            env["PYTHONUNBUFFERED"] = "1"
            let daemon = try TestDaemon(name: "kube-apiserver", executable: "python3", arguments: args, directory: dir,
                environment: env)
            let portPath = dir.file("port")
            let port = await Poll.value(timeout: .seconds(20)) { () -> Int? in
                if let text = try? String(contentsOfFile: portPath, encoding: .utf8), let p = Int(text) { return p }
                return daemon.isRunning ? nil : -1
            }
            guard let port, port > 0 else {
                let log = daemon.log
                await daemon.stop()
                throw TestDaemonError("the test API server did not start:\n\(log)")
            }
            return KubeTestAPIServer(daemon: daemon, port: port, token: token, certificates: certificates, control: control)
        } catch {
            dir.remove()
            throw error
        }
    }

    /// Applies one control command and waits until the server has (see apiserver.py for the commands).
    /// - Throws: ``TestDaemonError`` when the server does not pick it up.
    public func command(_ json: String) async throws {
        let n = self.sequence.next()
        let name = String(format: "%06d", n)
        let tmp = self.controlDirectory + "/\(name).tmp"
        try json.write(toFile: tmp, atomically: false, encoding: .utf8)
        try FileManager.default.moveItem(atPath: tmp, toPath: self.controlDirectory + "/\(name).json")
        let done = self.controlDirectory + "/\(name).done"
        guard await Poll.until(timeout: .seconds(10), { FileManager.default.fileExists(atPath: done) }) else {
            throw TestDaemonError("the test API server did not apply \(json):\n\(self.daemon.log)")
        }
    }

    /// Adds or modifies a pod (JSON text of a v1 Pod).
    /// - Throws: ``TestDaemonError``.
    public func put(pod json: String) async throws { try await self.command("{\"op\": \"add\", \"pod\": \(json)}") }

    /// Deletes the pod with `uid`.
    /// - Throws: ``TestDaemonError``.
    public func delete(uid: String) async throws { try await self.command("{\"op\": \"delete\", \"uid\": \"\(uid)\"}") }

    /// Compacts the history: every open watch gets ERROR 410, and older versions are gone.
    /// - Throws: ``TestDaemonError``.
    public func expire() async throws { try await self.command("{\"op\": \"expire\"}") }

    /// Sends a raw line (hostile input) to every open watch.
    /// - Throws: ``TestDaemonError``.
    public func garbage(_ line: String) async throws {
        let data = try JSONSerialization.data(withJSONObject: ["op": "garbage", "line": line])
        try await self.command(String(decoding: data, as: UTF8.self))
    }

    /// Writes a kubeconfig for this server into `directory`: CA as data, the token as the user.
    /// - Returns: its path.
    /// - Throws: when it cannot be written.
    public func writeKubeconfig(in directory: TemporaryDirectory) throws -> String {
        var cluster = "    server: \(self.url)\n"
        if let c = self.certificates {
            let ca = try Data(contentsOf: URL(fileURLWithPath: c.caFile)).base64EncodedString()
            cluster += "    certificate-authority-data: \(ca)\n"
        }
        let text = """
            apiVersion: v1
            kind: Config
            clusters:
            - name: test
              cluster:
            \(cluster)contexts:
            - name: test
              context:
                cluster: test
                user: tester
                namespace: default
            current-context: test
            users:
            - name: tester
              user:
                token: \(self.token)

            """
        return try directory.write("kubeconfig", text)
    }

    /// Kills the server by PID and removes its directory.
    public func stop() async { await self.daemon.stop() }
}

private final class Counter: @unchecked Sendable {
    // @unchecked: `value` is guarded by `lock`.
    private let lock = NSLock()
    private var value = 0
    func next() -> Int { self.lock.withLock { self.value += 1; return self.value } }
}
