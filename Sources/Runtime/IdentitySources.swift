import Foundation
import Logging
import NIOCore
import ServiceLifecycle
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
