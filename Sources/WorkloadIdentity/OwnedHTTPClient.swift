import AsyncHTTPClient
import NIOCore
import Synchronization

/// An `HTTPClient` that its owner shuts down exactly once: by ``shutdown()``, or on release when nobody did.
///
/// Both the container-engine and the Kubernetes clients own one; AsyncHTTPClient traps when a client is
/// released unshut (e.g. a startup error after the client was made), so the release path lives here once.
final class OwnedHTTPClient: Sendable {
    /// The client the requests go through.
    let http: HTTPClient
    private let shutDown = Mutex(false)

    init(eventLoopGroup: any EventLoopGroup, configuration: HTTPClient.Configuration) {
        self.http = HTTPClient(eventLoopGroup: eventLoopGroup, configuration: configuration)
    }

    /// Closes the connections (idempotent).
    func shutdown() async {
        guard self.markShutDown() else { return }
        try? await self.http.shutdown()
    }

    /// True the first time: the HTTP client is shut down exactly once.
    private func markShutDown() -> Bool {
        self.shutDown.withLock { done in
            defer { done = true }
            return !done
        }
    }

    deinit {
        if self.markShutDown() { _ = self.http.shutdown() }
    }
}
