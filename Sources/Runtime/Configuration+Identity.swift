import Foundation

/// Workload identity: which container or pod is behind a client address.
public struct IdentityConfiguration: Codable, Sendable, Equatable {
    /// Unix socket of a Docker Engine API (Docker, or `podman system service`), e.g. `/var/run/docker.sock`.
    /// Containers are listed at start and followed through the event stream. Default: none.
    public var dockerSocket: String?
    /// kubeconfig file whose current context names the cluster; pods are listed and watched by IP.
    /// Default: none.
    public var kubeconfig: String?
    /// Use the pod's service account (`KUBERNETES_SERVICE_HOST`/`PORT` and
    /// `/var/run/secrets/kubernetes.io/serviceaccount`) when Palisade runs inside the cluster. Default false.
    public var kubernetesInCluster: Bool
    /// How long the address history is kept (who held an address when), in hours. Default 24.
    public var historyHours: Int

    /// Defaults as documented.
    public init() {
        self.dockerSocket = nil
        self.kubeconfig = nil
        self.kubernetesInCluster = false
        self.historyHours = 24
    }

    public init(from decoder: any Decoder) throws {
        let d = IdentityConfiguration()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.dockerSocket = try c.decodeIfPresent(String.self, forKey: .dockerSocket)
        self.kubeconfig = try c.decodeIfPresent(String.self, forKey: .kubeconfig)
        self.kubernetesInCluster = try c.decodeIfPresent(Bool.self, forKey: .kubernetesInCluster) ?? d.kubernetesInCluster
        self.historyHours = try c.decodeIfPresent(Int.self, forKey: .historyHours) ?? d.historyHours
    }

    /// Whether any dynamic source is configured.
    var hasDynamicSource: Bool { self.dockerSocket != nil || self.kubeconfig != nil || self.kubernetesInCluster }

    /// Every problem, with its key path.
    func validate(path: String) -> [String] {
        var e: [String] = []
        if self.historyHours <= 0 { e.append("\(path).historyHours: must be > 0") }
        if let s = self.dockerSocket, s.isEmpty { e.append("\(path).dockerSocket: empty path") }
        if let k = self.kubeconfig, !FileManager.default.isReadableFile(atPath: k) {
            e.append("\(path).kubeconfig: cannot read '\(k)'")
        }
        if self.kubeconfig != nil && self.kubernetesInCluster {
            e.append("\(path).kubernetesInCluster: set either kubeconfig or kubernetesInCluster, not both")
        }
        return e
    }
}
