public import DNSPipeline
public import DNSWire

/// One endpoint of a container on a network (`NetworkSettings.Networks[name]`), as the Docker Engine API
/// v1.41 and Podman's compatible service report it.
public struct DockerEndpoint: Decodable, Sendable, Hashable {
    /// IPv4 address; empty when none.
    public var ipAddress: String?
    /// Global IPv6 address; empty when none.
    public var globalIPv6Address: String?

    enum CodingKeys: String, CodingKey {
        case ipAddress = "IPAddress"
        case globalIPv6Address = "GlobalIPv6Address"
    }

    /// The endpoint's addresses (IPv4 and IPv6), skipping empty or unparsable ones.
    public var addresses: [IPAddress] {
        [self.ipAddress, self.globalIPv6Address].compactMap { text in
            guard let text, !text.isEmpty else { return nil }
            return IPAddress(text)?.unmapped
        }
    }
}

/// `NetworkSettings` of a container.
public struct DockerNetworkSettings: Decodable, Sendable, Hashable {
    /// Endpoints by network name.
    public var networks: [String: DockerEndpoint]?
    /// The legacy top-level IPv4 address (default bridge network on Docker).
    public var ipAddress: String?
    /// The legacy top-level IPv6 address.
    public var globalIPv6Address: String?

    enum CodingKeys: String, CodingKey {
        case networks = "Networks"
        case ipAddress = "IPAddress"
        case globalIPv6Address = "GlobalIPv6Address"
    }

    /// Every address on every network, deduplicated, sorted by text.
    public var addresses: [IPAddress] {
        var set = Set<IPAddress>()
        for e in (self.networks ?? [:]).values { set.formUnion(e.addresses) }
        set.formUnion(DockerEndpoint(ipAddress: self.ipAddress, globalIPv6Address: self.globalIPv6Address).addresses)
        return set.sorted { $0.description < $1.description }
    }
}

/// One entry of `GET /containers/json`.
public struct DockerContainerSummary: Decodable, Sendable, Hashable {
    /// Full container id.
    public var id: String
    /// Names, each with a leading `/`.
    public var names: [String]?
    /// Image reference the container was created from.
    public var image: String?
    /// Labels.
    public var labels: [String: String]?
    /// `running`, `paused`, `exited`, …
    public var state: String?
    /// Network endpoints.
    public var networkSettings: DockerNetworkSettings?

    enum CodingKeys: String, CodingKey {
        case id = "Id", names = "Names", image = "Image", labels = "Labels", state = "State"
        case networkSettings = "NetworkSettings"
    }

    /// The workload this container is.
    public var workload: Workload {
        DockerContainer.workload(id: self.id, name: self.names?.first ?? self.id, image: self.image, labels: self.labels)
    }
}

/// `GET /containers/{id}/json` (the fields Palisade uses).
public struct DockerContainer: Decodable, Sendable, Hashable {
    /// `State` of a container.
    public struct State: Decodable, Sendable, Hashable {
        /// `running`, `paused`, `exited`, …
        public var status: String?
        /// Whether its processes run (a paused container is still running and keeps its address).
        public var running: Bool?
        /// Whether it is paused.
        public var paused: Bool?

        enum CodingKeys: String, CodingKey {
            case status = "Status", running = "Running", paused = "Paused"
        }
    }

    /// `Config` of a container.
    public struct Config: Decodable, Sendable, Hashable {
        /// Image reference as given at creation (`localhost/bb:1`).
        public var image: String?
        /// Labels.
        public var labels: [String: String]?

        enum CodingKeys: String, CodingKey {
            case image = "Image", labels = "Labels"
        }
    }

    /// Full container id.
    public var id: String
    /// Name with a leading `/`.
    public var name: String?
    /// Run state.
    public var state: State?
    /// Image and labels.
    public var config: Config?
    /// Network endpoints.
    public var networkSettings: DockerNetworkSettings?

    enum CodingKeys: String, CodingKey {
        case id = "Id", name = "Name", state = "State", config = "Config", networkSettings = "NetworkSettings"
    }

    /// Whether the container runs (and so holds its addresses).
    public var isRunning: Bool { self.state?.running ?? (self.state?.status == "running") }

    /// The workload this container is.
    public var workload: Workload {
        Self.workload(id: self.id, name: self.name ?? self.id, image: self.config?.image, labels: self.config?.labels)
    }

    static func workload(id: String, name: String, image: String?, labels: [String: String]?) -> Workload {
        let n = name.hasPrefix("/") ? String(name.dropFirst()) : name
        return Workload(kind: .container, id: id, name: n, image: image.flatMap { $0.isEmpty ? nil : $0 },
            labels: labels ?? [:])
    }
}

/// One line of `GET /events`.
public struct DockerEvent: Decodable, Sendable, Hashable {
    /// The object the event is about.
    public struct Actor: Decodable, Sendable, Hashable {
        /// Container id (container events; Podman's network events too), or network id (Docker's network events).
        public var id: String?
        /// Name, image, labels, and for Docker's network events `container`.
        public var attributes: [String: String]?

        enum CodingKeys: String, CodingKey {
            case id = "ID", attributes = "Attributes"
        }
    }

    /// `container`, `network`, `image`, …
    public var type: String?
    /// `start`, `die`, `rename`, `connect`, …
    public var action: String?
    /// The object.
    public var actor: Actor?
    /// The legacy id field.
    public var id: String?
    /// Event time, nanoseconds since the Unix epoch.
    public var timeNano: Int64?

    enum CodingKeys: String, CodingKey {
        case type = "Type", action = "Action", actor = "Actor", id, timeNano
    }

    /// The container the event is about: `Actor.Attributes.container` for Docker's network events, else
    /// `Actor.ID`, else the legacy `id`.
    public var containerID: String? {
        if self.type == "network" {
            return self.actor?.attributes?["container"] ?? self.actor?.id ?? self.id
        }
        return self.actor?.id ?? self.id
    }

    /// What the event means for the address map.
    public var effect: Effect {
        switch (self.type ?? "container", self.action ?? "") {
        case ("container", "start"), ("container", "restart"), ("container", "unpause"), ("container", "rename"),
            ("container", "update"), ("network", "connect"), ("network", "disconnect"):
            return .reinspect
        case ("container", "die"), ("container", "stop"), ("container", "destroy"), ("container", "remove"):
            return .remove
        default:
            return .ignore
        }
    }

    /// What to do for an event.
    public enum Effect: Sendable, Hashable {
        /// Read the container's current state (start, rename, network changes).
        case reinspect
        /// The container no longer holds its addresses (die, destroy).
        case remove
        /// Nothing changes (create, exec, health, …).
        case ignore
    }
}
