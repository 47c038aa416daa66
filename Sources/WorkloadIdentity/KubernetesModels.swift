public import DNSPipeline
public import DNSWire

/// An owner reference (`metadata.ownerReferences[]`).
public struct KubernetesOwnerReference: Decodable, Sendable, Hashable {
    /// `ReplicaSet`, `StatefulSet`, `DaemonSet`, `Job`, …
    public var kind: String?
    /// Owner name.
    public var name: String?
    /// Whether this owner is the managing controller.
    public var controller: Bool?
}

/// Object metadata (the fields Palisade uses).
public struct KubernetesObjectMeta: Decodable, Sendable, Hashable {
    /// Name.
    public var name: String?
    /// Namespace.
    public var namespace: String?
    /// Unique id for the object's lifetime.
    public var uid: String?
    /// Version for list/watch.
    public var resourceVersion: String?
    /// Labels.
    public var labels: [String: String]?
    /// Owners.
    public var ownerReferences: [KubernetesOwnerReference]?
}

/// A v1 Pod (the fields Palisade uses).
public struct KubernetesPod: Decodable, Sendable, Hashable {
    /// `spec`.
    public struct Spec: Decodable, Sendable, Hashable {
        /// One container.
        public struct Container: Decodable, Sendable, Hashable {
            /// Container name.
            public var name: String?
            /// Image reference.
            public var image: String?
        }
        /// The pod's containers, in order.
        public var containers: [Container]?
        /// A host-network pod shares the node's address: never identified by it.
        public var hostNetwork: Bool?
        /// Node the pod runs on.
        public var nodeName: String?
    }
    /// `status`.
    public struct Status: Decodable, Sendable, Hashable {
        /// One pod address.
        public struct PodIP: Decodable, Sendable, Hashable {
            /// The address.
            public var ip: String?
        }
        /// `Pending`, `Running`, `Succeeded`, `Failed`, `Unknown`.
        public var phase: String?
        /// Primary address.
        public var podIP: String?
        /// Every address (dual stack).
        public var podIPs: [PodIP]?
    }

    /// Metadata.
    public var metadata: KubernetesObjectMeta?
    /// Spec.
    public var spec: Spec?
    /// Status.
    public var status: Status?

    /// The addresses that identify this pod: none for host-network pods or finished pods (their address is
    /// free for reuse).
    public var addresses: [IPAddress] {
        if self.spec?.hostNetwork == true { return [] }
        if let phase = self.status?.phase, phase == "Succeeded" || phase == "Failed" { return [] }
        var texts = (self.status?.podIPs ?? []).compactMap(\.ip)
        if let p = self.status?.podIP, !texts.contains(p) { texts.append(p) }
        var out: [IPAddress] = []
        for t in texts { if let a = IPAddress(t)?.unmapped, !out.contains(a) { out.append(a) } }
        return out
    }

    /// The workload: id = uid, name = `namespace/name`, image = the first container's, labels = the pod's
    /// plus `palisade.namespace` and `palisade.owner` (`Deployment/web`, `StatefulSet/db`, …).
    /// Nil when the pod has no uid or name.
    public var workload: Workload? {
        guard let uid = self.metadata?.uid, !uid.isEmpty, let name = self.metadata?.name else { return nil }
        let ns = self.metadata?.namespace ?? "default"
        var labels = self.metadata?.labels ?? [:]
        labels["palisade.namespace"] = ns
        if let owner = self.owner { labels["palisade.owner"] = owner }
        return Workload(kind: .pod, id: uid, name: "\(ns)/\(name)", image: self.spec?.containers?.first?.image,
            labels: labels)
    }

    /// The owning workload as `Kind/name`: the controller owner reference, with a ReplicaSet named
    /// `<deployment>-<pod-template-hash>` mapped to its Deployment.
    public var owner: String? {
        let refs = self.metadata?.ownerReferences ?? []
        guard let ref = refs.first(where: { $0.controller == true }) ?? refs.first, let kind = ref.kind,
            let name = ref.name
        else { return nil }
        if kind == "ReplicaSet", let hash = self.metadata?.labels?["pod-template-hash"], !hash.isEmpty,
            name.hasSuffix("-" + hash)
        {
            return "Deployment/" + name.dropLast(hash.count + 1)
        }
        return "\(kind)/\(name)"
    }
}

/// `GET /api/v1/pods` (a PodList).
public struct KubernetesPodList: Decodable, Sendable {
    /// List metadata.
    public struct ListMeta: Decodable, Sendable {
        /// Version to watch from.
        public var resourceVersion: String?
        /// Token for the next page.
        public var `continue`: String?
    }
    /// List metadata.
    public var metadata: ListMeta?
    /// The pods.
    public var items: [KubernetesPod]
}

/// A v1 Status (the object of a watch ERROR event, or an error response body).
public struct KubernetesStatus: Decodable, Sendable, Hashable {
    /// HTTP-like code: 410 means the resource version is too old.
    public var code: Int?
    /// Machine-readable reason (`Expired`, `Gone`).
    public var reason: String?
    /// Human text.
    public var message: String?
}

/// One line of a watch stream: `{"type": "ADDED", "object": {...}}`.
public struct KubernetesWatchEvent: Decodable, Sendable {
    /// `ADDED`, `MODIFIED`, `DELETED`, `BOOKMARK`, `ERROR`.
    public var type: String
    /// A pod (ADDED/MODIFIED/DELETED; BOOKMARK carries only its resourceVersion).
    public var pod: KubernetesPod?
    /// The status of an ERROR event.
    public var status: KubernetesStatus?

    enum CodingKeys: String, CodingKey {
        case type, object
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.type = try c.decode(String.self, forKey: .type)
        if self.type == "ERROR" {
            self.status = try c.decodeIfPresent(KubernetesStatus.self, forKey: .object)
            self.pod = nil
        } else {
            self.pod = try c.decodeIfPresent(KubernetesPod.self, forKey: .object)
            self.status = nil
        }
    }
}
