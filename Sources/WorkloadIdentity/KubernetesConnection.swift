public import Foundation
import Yams

/// Where the Kubernetes API server is and how to authenticate, from a kubeconfig file or the in-cluster
/// service account.
public struct KubernetesConnection: Sendable, Equatable {
    /// API server base URL, `https://host:port`.
    public var server: String
    /// PEM of the CA that signs the server's certificate; nil uses the system roots.
    public var certificateAuthorityPEM: [UInt8]?
    /// Skip server certificate verification (`insecure-skip-tls-verify`; never the default).
    public var insecureSkipTLSVerify: Bool
    /// PEM client certificate (mutual TLS).
    public var clientCertificatePEM: [UInt8]?
    /// PEM client key.
    public var clientKeyPEM: [UInt8]?
    /// Bearer token.
    public var token: String?

    /// Creates a connection description.
    public init(server: String, certificateAuthorityPEM: [UInt8]? = nil, insecureSkipTLSVerify: Bool = false,
        clientCertificatePEM: [UInt8]? = nil, clientKeyPEM: [UInt8]? = nil, token: String? = nil)
    {
        self.server = server
        self.certificateAuthorityPEM = certificateAuthorityPEM
        self.insecureSkipTLSVerify = insecureSkipTLSVerify
        self.clientCertificatePEM = clientCertificatePEM
        self.clientKeyPEM = clientKeyPEM
        self.token = token
    }

    /// Reads a kubeconfig file and resolves its current context (or `context`).
    /// - Throws: ``WorkloadIdentityError`` `.configuration` naming the file and the field.
    public static func kubeconfig(path: String, context: String? = nil) throws -> KubernetesConnection {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw WorkloadIdentityError(code: .configuration, message: "cannot read kubeconfig \(path)",
                underlying: UnderlyingError(error))
        }
        return try Self.kubeconfig(text: text, file: path, context: context)
    }

    /// Parses kubeconfig `text`; relative file references are relative to `file`'s directory.
    /// - Throws: ``WorkloadIdentityError`` `.configuration` naming the file and the field.
    public static func kubeconfig(text: String, file: String, context: String? = nil) throws -> KubernetesConnection {
        func fail(_ what: String) -> WorkloadIdentityError {
            WorkloadIdentityError(code: .configuration, message: "kubeconfig \(file): \(what)")
        }
        let config: Kubeconfig
        do {
            config = try YAMLDecoder().decode(Kubeconfig.self, from: text)
        } catch let e as DecodingError {
            throw fail(DockerEngineClient.describe(e))
        } catch {
            throw fail("\(error)")
        }
        guard let contextName = context ?? config.currentContext, !contextName.isEmpty else {
            throw fail("current-context: missing (and no context given)")
        }
        guard let ctxIndex = config.contexts?.firstIndex(where: { $0.name == contextName }),
            let ctx = config.contexts?[ctxIndex].context
        else { throw fail("contexts: no context named '\(contextName)'") }
        guard let clusterIndex = config.clusters?.firstIndex(where: { $0.name == ctx.cluster }),
            let cluster = config.clusters?[clusterIndex].cluster
        else { throw fail("contexts[\(ctxIndex)].context.cluster: no cluster named '\(ctx.cluster ?? "")'") }
        let cpath = "clusters[\(clusterIndex)].cluster"
        guard let server = cluster.server, server.hasPrefix("https://") || server.hasPrefix("http://") else {
            throw fail("\(cpath).server: missing or not an http(s) URL")
        }
        let base = URL(fileURLWithPath: file).deletingLastPathComponent()
        func load(_ data: String?, _ path: String?, _ field: String) throws -> [UInt8]? {
            if let data {
                guard let bytes = Data(base64Encoded: data.filter { !$0.isWhitespace }) else {
                    throw fail("\(field)-data: not valid base64")
                }
                return [UInt8](bytes)
            }
            if let path {
                let full = path.hasPrefix("/") ? path : base.appendingPathComponent(path).path
                guard let d = FileManager.default.contents(atPath: full) else { throw fail("\(field): cannot read '\(full)'") }
                return [UInt8](d)
            }
            return nil
        }
        var c = KubernetesConnection(server: server)
        c.certificateAuthorityPEM = try load(cluster.certificateAuthorityData, cluster.certificateAuthority,
            "\(cpath).certificate-authority")
        c.insecureSkipTLSVerify = cluster.insecureSkipTLSVerify ?? false
        if let userName = ctx.user, !userName.isEmpty {
            guard let userIndex = config.users?.firstIndex(where: { $0.name == userName }),
                let user = config.users?[userIndex].user
            else { throw fail("contexts[\(ctxIndex)].context.user: no user named '\(userName)'") }
            let upath = "users[\(userIndex)].user"
            c.clientCertificatePEM = try load(user.clientCertificateData, user.clientCertificate,
                "\(upath).client-certificate")
            c.clientKeyPEM = try load(user.clientKeyData, user.clientKey, "\(upath).client-key")
            if (c.clientCertificatePEM == nil) != (c.clientKeyPEM == nil) {
                throw fail("\(upath): client-certificate and client-key go together")
            }
            if let t = user.token {
                c.token = t
            } else if let tf = user.tokenFile {
                c.token = try load(nil, tf, "\(upath).tokenFile").map {
                    String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                }
            }
            if user.exec != nil && c.token == nil && c.clientCertificatePEM == nil {
                throw fail("\(upath).exec: exec credential plugins are not supported; use a token or client certificate")
            }
        }
        return c
    }

    /// The in-cluster connection: `KUBERNETES_SERVICE_HOST`/`KUBERNETES_SERVICE_PORT` and the service
    /// account's token and CA.
    /// - Parameters:
    ///   - environment: where the two variables are read.
    ///   - secretsDirectory: the mounted service account.
    /// - Throws: ``WorkloadIdentityError`` `.configuration` naming what is missing.
    public static func inCluster(environment: [String: String] = ProcessInfo.processInfo.environment,
        secretsDirectory: String = "/var/run/secrets/kubernetes.io/serviceaccount") throws -> KubernetesConnection
    {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
            let port = environment["KUBERNETES_SERVICE_PORT"], Int(port) != nil
        else {
            throw WorkloadIdentityError(code: .configuration,
                message: "in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set (is Palisade in a pod?)")
        }
        guard let token = FileManager.default.contents(atPath: secretsDirectory + "/token") else {
            throw WorkloadIdentityError(code: .configuration, message: "in-cluster: cannot read \(secretsDirectory)/token")
        }
        guard let ca = FileManager.default.contents(atPath: secretsDirectory + "/ca.crt") else {
            throw WorkloadIdentityError(code: .configuration, message: "in-cluster: cannot read \(secretsDirectory)/ca.crt")
        }
        let h = host.contains(":") ? "[\(host)]" : host
        return KubernetesConnection(server: "https://\(h):\(port)", certificateAuthorityPEM: [UInt8](ca),
            token: String(decoding: token, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// The parts of a kubeconfig Palisade reads (`kubectl config view` layout).
struct Kubeconfig: Decodable {
    struct NamedCluster: Decodable {
        var name: String
        var cluster: Cluster?
    }
    struct Cluster: Decodable {
        var server: String?
        var certificateAuthority: String?
        var certificateAuthorityData: String?
        var insecureSkipTLSVerify: Bool?
        enum CodingKeys: String, CodingKey {
            case server
            case certificateAuthority = "certificate-authority"
            case certificateAuthorityData = "certificate-authority-data"
            case insecureSkipTLSVerify = "insecure-skip-tls-verify"
        }
    }
    struct NamedUser: Decodable {
        var name: String
        var user: User?
    }
    struct User: Decodable {
        var token: String?
        var tokenFile: String?
        var clientCertificate: String?
        var clientCertificateData: String?
        var clientKey: String?
        var clientKeyData: String?
        var exec: Exec?
        struct Exec: Decodable { var command: String? }
        enum CodingKeys: String, CodingKey {
            case token, tokenFile, exec
            case clientCertificate = "client-certificate"
            case clientCertificateData = "client-certificate-data"
            case clientKey = "client-key"
            case clientKeyData = "client-key-data"
        }
    }
    struct NamedContext: Decodable {
        var name: String
        var context: Context?
    }
    struct Context: Decodable {
        var cluster: String?
        var user: String?
    }
    var clusters: [NamedCluster]?
    var users: [NamedUser]?
    var contexts: [NamedContext]?
    var currentContext: String?
    enum CodingKeys: String, CodingKey {
        case clusters, users, contexts
        case currentContext = "current-context"
    }
}
