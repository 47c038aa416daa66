import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import DNSPolicy
import DNSWire
import WebConsole
import WorkloadIdentity

/// Builds the container and pod watchers from the `identity` configuration.
enum IdentitySources {
    /// One service per configured source; each publishes into `history`.
    /// - Throws: ``StartupError`` when the kubeconfig or the in-cluster service account is unusable.
    static func services(_ c: IdentityConfiguration, history: IdentityHistory, group: any EventLoopGroup) throws
        -> [any Service]
    {
        var out: [any Service] = []
        if let socket = c.dockerSocket {
            out.append(DockerWorkloadSource(client: DockerEngineClient(socketPath: socket, eventLoopGroup: group),
                history: history, logger: Logger(label: "palisade.identity.docker")))
        }
        if c.kubeconfig != nil || c.kubernetesInCluster {
            let connection: KubernetesConnection
            do {
                connection = try c.kubeconfig.map { try KubernetesConnection.kubeconfig(path: $0) }
                    ?? KubernetesConnection.inCluster()
            } catch {
                throw StartupError(message: "\(error). Fix identity.kubeconfig (or --kubeconfig), or unset "
                    + "identity.kubernetesInCluster when Palisade does not run in a pod.")
            }
            let client: KubernetesClient
            do {
                client = try KubernetesClient(connection: connection, eventLoopGroup: group)
            } catch {
                throw StartupError(message: "\(error). Check the certificates in the kubeconfig.")
            }
            out.append(KubernetesWorkloadSource(client: client, history: history,
                logger: Logger(label: "palisade.identity.kubernetes")))
        }
        return out
    }
}

/// The identity history as the API's `addresses` of a workload.
struct IdentityAddressHistory: WorkloadAddressHistory {
    let history: IdentityHistory

    func addresses(ofWorkload workloadKey: String) async -> [WorkloadAddress] {
        self.history.addresses(ofWorkload: workloadKey).map {
            WorkloadAddress(ip: $0.address.description, fromMicros: Int64($0.from.timeIntervalSince1970 * 1_000_000),
                untilMicros: $0.until.map { Int64($0.timeIntervalSince1970 * 1_000_000) })
        }
    }
}

/// Quarantine's container actions through the Docker Engine API (`container:<id>` keys only).
struct DockerWorkloadActuator: WorkloadActuator {
    let client: DockerEngineClient

    private func containerID(_ key: String) throws -> String {
        guard key.hasPrefix("container:"), key.count > "container:".count else {
            throw WorkloadIdentityError(code: .invalidArgument, message: "'\(key)' is not a container workload")
        }
        return String(key.dropFirst("container:".count))
    }

    func pause(workloadKey: String) async throws { try await self.client.pause(containerID: try self.containerID(workloadKey)) }
    func unpause(workloadKey: String) async throws {
        try await self.client.unpause(containerID: try self.containerID(workloadKey))
    }
    func stop(workloadKey: String) async throws { try await self.client.stop(containerID: try self.containerID(workloadKey)) }
}
