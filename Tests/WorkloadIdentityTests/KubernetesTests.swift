import DNSPipeline
import DNSWire
import Foundation
import Testing
import TestSupport
import WorkloadIdentity

/// Pod objects and kubeconfig files.
@Suite struct KubernetesModelTests {
    func pod(_ name: String) throws -> KubernetesPod {
        try JSONDecoder().decode(KubernetesPod.self, from: Fixtures.data("kubernetes/pods/\(name).json"))
    }

    @Test("A Deployment's pod is namespace/name with the first container's image and Deployment/<name> as owner")
    func deploymentPod() throws {
        let p = try self.pod("web")
        let w = try #require(p.workload)
        #expect(w.kind == .pod)
        #expect(w.id == "2f6d7c1a-5b7e-4c1e-9a51-0c6f3c2b8e11")
        #expect(w.name == "shop/web-7d9f8c6b5d-x2x4q")
        #expect(w.image == "registry.example.org/shop/web:2.4.1")
        #expect(w.labels["palisade.owner"] == "Deployment/web")
        #expect(w.labels["palisade.namespace"] == "shop")
        #expect(w.labels["app"] == "web")
        #expect(p.addresses.map(\.description) == ["10.244.2.17", "fd00:10:244:2::11"])
    }

    @Test("StatefulSet and Job owners are kept as they are")
    func otherOwners() throws {
        #expect(try self.pod("db").owner == "StatefulSet/db")
        #expect(try self.pod("migrate-job").owner == "Job/migrate-28869120")
    }

    @Test("Host-network and finished pods identify no address")
    func excluded() throws {
        #expect(try self.pod("node-exporter").addresses.isEmpty)
        #expect(try self.pod("migrate-job").addresses.isEmpty)
        #expect(try self.pod("db").addresses.map(\.description) == ["10.244.1.5"])
    }

    @Test("Watch events decode: a pod, a bookmark, and an ERROR carrying a 410 Status")
    func watchEvents() throws {
        let bookmark = try JSONDecoder().decode(KubernetesWatchEvent.self, from: Data(
            #"{"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"12345"}}}"#.utf8))
        #expect(bookmark.pod?.metadata?.resourceVersion == "12345")
        let error = try JSONDecoder().decode(KubernetesWatchEvent.self, from: Data(
            #"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version: 1 (5)","reason":"Expired","code":410}}"#.utf8))
        #expect(error.status?.code == 410)
        #expect(error.pod == nil)
    }

    @Test("A kubeconfig with inline CA, client certificate and key, and a token resolves its current context")
    func kubeconfigInline() throws {
        let pem = Data("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".utf8).base64EncodedString()
        let text = """
            apiVersion: v1
            kind: Config
            current-context: prod
            clusters:
            - name: other
              cluster: {server: "https://192.0.2.1:6443"}
            - name: c1
              cluster:
                server: https://192.0.2.10:6443
                certificate-authority-data: \(pem)
            contexts:
            - name: prod
              context: {cluster: c1, user: u1}
            users:
            - name: u1
              user:
                client-certificate-data: \(pem)
                client-key-data: \(pem)
                token: abc
            """
        let c = try KubernetesConnection.kubeconfig(text: text, file: "/etc/kube/config")
        #expect(c.server == "https://192.0.2.10:6443")
        #expect(c.certificateAuthorityPEM.map { String(decoding: $0, as: UTF8.self) }?.hasPrefix("-----BEGIN") == true)
        #expect(c.clientCertificatePEM != nil && c.clientKeyPEM != nil)
        #expect(c.token == "abc")
    }

    @Test("File references are relative to the kubeconfig; a token file is read and trimmed")
    func kubeconfigFiles() throws {
        let dir = try TemporaryDirectory(prefix: "palisade-kubeconfig")
        defer { dir.remove() }
        try dir.write("ca.pem", "CA")
        try dir.write("token", "secret-token\n")
        let path = try dir.write("config", """
            current-context: x
            clusters: [{name: k, cluster: {server: "https://127.0.0.1:1", certificate-authority: ca.pem}}]
            contexts: [{name: x, context: {cluster: k, user: u}}]
            users: [{name: u, user: {tokenFile: token}}]
            """)
        let c = try KubernetesConnection.kubeconfig(path: path)
        #expect(c.certificateAuthorityPEM == Array("CA".utf8))
        #expect(c.token == "secret-token")
    }

    @Test("Broken kubeconfigs name the file and the field", arguments: [
        ("clusters: []\ncontexts: []\n", "current-context"),
        ("current-context: a\ncontexts: []\n", "no context named 'a'"),
        ("current-context: a\ncontexts: [{name: a, context: {cluster: k}}]\nclusters: [{name: k, cluster: {server: ftp://x}}]\n",
            "clusters[0].cluster.server"),
        ("current-context: a\ncontexts: [{name: a, context: {cluster: k}}]\nclusters: [{name: k, cluster: {server: \"https://x\", certificate-authority-data: \"%%%\"}}]\n",
            "clusters[0].cluster.certificate-authority-data: not valid base64"),
        ("current-context: a\ncontexts: [{name: a, context: {cluster: k, user: u}}]\nclusters: [{name: k, cluster: {server: \"https://x\"}}]\nusers: [{name: u, user: {exec: {command: aws}}}]\n",
            "users[0].user.exec"),
        ("current-context: [oops\n", "/tmp/k.yaml"),
    ])
    func kubeconfigErrors(text: String, mentions: String) throws {
        do {
            _ = try KubernetesConnection.kubeconfig(text: text, file: "/tmp/k.yaml")
            Issue.record("accepted a broken kubeconfig")
        } catch let e as WorkloadIdentityError {
            #expect(e.code == .configuration)
            #expect(e.message.contains("/tmp/k.yaml"))
            #expect(e.description.contains(mentions), "\(e)")
        }
    }

    @Test("In-cluster configuration reads the service host, port, token and CA")
    func inCluster() throws {
        let dir = try TemporaryDirectory(prefix: "palisade-sa")
        defer { dir.remove() }
        try dir.write("token", "sa-token\n")
        try dir.write("ca.crt", "CA")
        let c = try KubernetesConnection.inCluster(
            environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"],
            secretsDirectory: dir.path)
        #expect(c.server == "https://10.96.0.1:443")
        #expect(c.token == "sa-token")
        #expect(throws: WorkloadIdentityError.self) {
            try KubernetesConnection.inCluster(environment: [:], secretsDirectory: dir.path)
        }
    }
}

/// Runs a Kubernetes source for the duration of `body`.
func withKubernetesSource<T>(_ server: KubeTestAPIServer, history: IdentityHistory, changes: ChangeLog,
    watchTimeoutSeconds: Int = 300, _ body: () async throws -> T) async throws -> T
{
    let dir = try TemporaryDirectory(prefix: "palisade-kubeconfig")
    defer { dir.remove() }
    let connection = try KubernetesConnection.kubeconfig(path: try server.writeKubeconfig(in: dir))
    let source = KubernetesWorkloadSource(client: try KubernetesClient(connection: connection), history: history,
        backoff: Backoff(initial: .milliseconds(50), maximum: .milliseconds(200)), watchTimeoutSeconds: watchTimeoutSeconds,
        onChange: { changes.record($0) })
    let task = Task { try await source.run() }
    defer { task.cancel() }
    return try await body()
}

/// Against the test API server (real list/watch protocol over HTTPS, recorded pods).
@Suite(.tags(.integration), .enabled(if: KubeTestAPIServer.isAvailable, "needs python3 and openssl"))
struct KubernetesSourceTests {
    /// 10.244.2.17, the web pod's address.
    static let webIP = IPAddress.v4(IPv4Address(0x0AF4_0211))

    func ip(_ s: String) throws -> IPAddress { try #require(IPAddress(s)) }

    @Test("List then watch: pods appear, move, and leave; host-network pods never map the node address")
    func listAndWatch() async throws {
        try await TestResources.with { r in
            let server = r.keep(try await KubeTestAPIServer.start())
            let history = IdentityHistory()
            let changes = ChangeLog()
            try await withKubernetesSource(server, history: history, changes: changes) {
                #expect(await Poll.until(timeout: .seconds(20)) { history.directory.lookup(Self.webIP) != nil },
                    "the list was not applied:\n\(server.daemon.log)")
                #expect(history.directory.lookup(Self.webIP)?.labels["palisade.owner"] == "Deployment/web")
                #expect(history.directory.lookup(try self.ip("fd00:10:244:2::11"))?.name == "shop/web-7d9f8c6b5d-x2x4q")
                #expect(history.directory.lookup(try self.ip("10.244.1.5"))?.name == "shop/db-0")
                #expect(history.directory.lookup(try self.ip("192.0.2.11")) == nil, "host-network pod mapped the node IP")
                #expect(history.directory.lookup(try self.ip("10.244.2.30")) == nil, "a finished pod holds no address")

                // A new pod through the watch.
                let api = try KubeTestAPIServer.pod("db").replacingOccurrences(of: "db-0", with: "db-1")
                    .replacingOccurrences(of: "6b1e4d2c-0f3a-4b8e-b7d9-5e2c1a0f9d33", with: "11111111-2222-3333-4444-555555555555")
                    .replacingOccurrences(of: "10.244.1.5", with: "10.244.1.6")
                try await server.put(pod: api)
                #expect(await Poll.until(timeout: .seconds(10)) {
                    history.directory.lookup((try? self.ip("10.244.1.6")) ?? Self.webIP)?.name == "shop/db-1"
                })
                // MODIFIED with a new address: the old one is released.
                try await server.put(pod: api.replacingOccurrences(of: "10.244.1.6", with: "10.244.1.7"))
                #expect(await Poll.until(timeout: .seconds(10)) {
                    history.directory.lookup((try? self.ip("10.244.1.7")) ?? Self.webIP)?.name == "shop/db-1"
                })
                #expect(history.directory.lookup(try self.ip("10.244.1.6")) == nil)
                // DELETED.
                try await server.delete(uid: "2f6d7c1a-5b7e-4c1e-9a51-0c6f3c2b8e11")
                #expect(await Poll.until(timeout: .seconds(10)) { history.directory.lookup(Self.webIP) == nil })
                #expect(history.addresses(ofWorkload: "pod:2f6d7c1a-5b7e-4c1e-9a51-0c6f3c2b8e11").allSatisfy { $0.until != nil })
                let lists = server.requests.filter { !$0.contains("watch=1") }
                #expect(lists.count == 1, "one list, then only watches: \(server.requests)")
                #expect(server.requests.contains { $0.contains("watch=1") && $0.contains("allowWatchBookmarks=true") })
            }
        }
    }

    @Test("Bookmarks advance the resource version a resumed watch starts from")
    func bookmarks() async throws {
        try await TestResources.with { r in
            let server = r.keep(try await KubeTestAPIServer.start(bookmarkSeconds: 0.2))
            let history = IdentityHistory()
            let changes = ChangeLog()
            try await withKubernetesSource(server, history: history, changes: changes, watchTimeoutSeconds: 1) {
                // Watches end after 1 s; resumed ones must carry the bookmarked version, never relist.
                #expect(await Poll.until(timeout: .seconds(15)) {
                    server.requests.filter { $0.contains("watch=1") }.count >= 3
                })
                let versions = server.requests.filter { $0.contains("watch=1") }.compactMap { r -> String? in
                    r.split(separator: "&").first { $0.hasPrefix("resourceVersion=") }.map { String($0.dropFirst(16)) }
                }
                #expect(versions.allSatisfy { !$0.isEmpty })
                #expect(server.requests.filter { !$0.contains("watch=1") }.count == 1, "\(server.requests)")
                #expect(changes.failures == 0)
            }
        }
    }

    @Test("410 Gone, as an ERROR event or as an HTTP status, makes the source relist", arguments: [false, true])
    func goneRelists(asHTTP: Bool) async throws {
        try await TestResources.with { r in
            let server = r.keep(try await KubeTestAPIServer.start(goneAsHTTP: asHTTP))
            let history = IdentityHistory()
            let changes = ChangeLog()
            try await withKubernetesSource(server, history: history, changes: changes) {
                #expect(await Poll.until(timeout: .seconds(20)) { changes.lists == 1 })
                try await server.expire()
                try await server.delete(uid: "6b1e4d2c-0f3a-4b8e-b7d9-5e2c1a0f9d33")
                #expect(await Poll.until(timeout: .seconds(20)) { changes.lists >= 2 }, "no relist:\n\(server.daemon.log)")
                #expect(await Poll.until(timeout: .seconds(10)) { history.directory.lookup((try? self.ip("10.244.1.5")) ?? Self.webIP) == nil })
                #expect(history.directory.lookup(Self.webIP) != nil)
                if asHTTP {
                    #expect(server.daemon.log.contains("\" 410 "), "the resumed watch was not refused with HTTP 410")
                }
            }
        }
    }

    @Test("A garbage line in the watch is counted and skipped; the next event still applies")
    func garbage() async throws {
        try await TestResources.with { r in
            let server = r.keep(try await KubeTestAPIServer.start())
            let history = IdentityHistory()
            let changes = ChangeLog()
            try await withKubernetesSource(server, history: history, changes: changes) {
                #expect(await Poll.until(timeout: .seconds(20)) { changes.lists == 1 })
                #expect(await Poll.until(timeout: .seconds(10)) { server.requests.contains { $0.contains("watch=1") } })
                try await server.garbage("{\"type\": \"ADDED\", \"object\": ")
                try await server.garbage("\u{1}\u{2}not json at all")
                try await server.delete(uid: "2f6d7c1a-5b7e-4c1e-9a51-0c6f3c2b8e11")
                #expect(await Poll.until(timeout: .seconds(10)) { history.directory.lookup(Self.webIP) == nil },
                    "the watch died on a bad line")
                #expect(changes.lists == 1, "a bad line must not force a relist")
                #expect(changes.skipped == 2, "each bad line is reported")
            }
        }
    }
}
