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
        return out
    }
}
