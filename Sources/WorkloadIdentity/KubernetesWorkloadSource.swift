import DNSPipeline
import DNSWire
import Foundation
public import Logging
import Metrics
public import ServiceLifecycle

/// Lists and watches the cluster's pods and keeps the ``IdentityHistory`` up to date with each pod's
/// addresses (host-network and finished pods excluded).
///
/// List, then watch from the list's resource version with bookmarks; a watch the server ends is resumed
/// from the last version seen; an expired version (410 Gone) triggers a relist. When the API server is
/// unreachable, the last known pods stay in force and the source retries with backoff, counting each
/// failure in `palisade_identity_source_errors_total{source="kubernetes"}`.
public struct KubernetesWorkloadSource: Service {
    /// The API client.
    public let client: KubernetesClient
    /// Where pods are published.
    public let history: IdentityHistory
    /// Delay between reconnect attempts.
    public let backoff: Backoff
    /// How long one watch request lasts before the server ends it (`timeoutSeconds`).
    public let watchTimeoutSeconds: Int
    private let logger: Logger
    private let onChange: (@Sendable (IdentitySourceChange) -> Void)?

    /// Creates the source.
    /// - Parameters:
    ///   - client: the API client.
    ///   - history: where pods are published.
    ///   - backoff: delay between reconnect attempts.
    ///   - watchTimeoutSeconds: length of one watch request.
    ///   - logger: for connection state changes.
    ///   - onChange: called after every change (tests and figures).
    public init(client: KubernetesClient, history: IdentityHistory, backoff: Backoff = Backoff(),
        watchTimeoutSeconds: Int = 300, logger: Logger = Logger(label: "palisade.identity.kubernetes"),
        onChange: (@Sendable (IdentitySourceChange) -> Void)? = nil)
    {
        self.client = client
        self.history = history
        self.backoff = backoff
        self.watchTimeoutSeconds = watchTimeoutSeconds
        self.logger = logger
        self.onChange = onChange
    }

    /// Runs until cancelled or graceful shutdown.
    public func run() async throws {
        let events = Counter(label: "palisade_identity_events_total", dimensions: [("source", "kubernetes")])
        let relists = Counter(label: "palisade_identity_relists_total", dimensions: [("source", "kubernetes")])
        let pods = Gauge(label: "palisade_identity_pods")
        try? await cancelWhenGracefulShutdown {
            var table = WorkloadTable()
            var attempt = 0
            var warned = false
            while !Task.isCancelled {
                do {
                    let (list, listVersion) = try await self.client.listPods()
                    table.replaceAll(list.compactMap { p in p.workload.map { ($0, p.addresses) } })
                    self.history.replace(.kubernetes, with: table.mapping)
                    pods.record(table.count)
                    self.onChange?(.listed(count: table.count))
                    var version = listVersion
                    if warned {
                        self.logger.notice("Kubernetes API reachable again", metadata: ["server": "\(self.client.connection.server)"])
                    }
                    warned = false
                    attempt = 0
                    while !Task.isCancelled {
                        let stream = try await self.client.watchPods(resourceVersion: version,
                            timeoutSeconds: self.watchTimeoutSeconds)
                        for try await item in stream {
                            let event: KubernetesWatchEvent
                            switch item {
                            case .failure(let e):
                                Self.countError(e)
                                self.onChange?(.skipped(e))
                                self.logger.debug("skipped a watch line", metadata: ["error": "\(e)"])
                                continue
                            case .success(let ev):
                                event = ev
                            }
                            events.increment()
                            if let v = try self.handle(event, &table) { version = v }
                            pods.record(table.count)
                        }
                        // The server ended this watch (timeoutSeconds): resume from the last version seen.
                    }
                } catch let e as WorkloadIdentityError where e.code == .gone {
                    // Too old to resume: relist at once (no backoff; the server is up).
                    relists.increment()
                    Self.countError(e)
                    self.onChange?(.failed(e))
                    self.logger.info("pod watch expired; relisting", metadata: ["error": "\(e)"])
                } catch {
                    if Task.isCancelled { break }
                    let e = (error as? WorkloadIdentityError)
                        ?? WorkloadIdentityError(code: .connect, message: self.client.connection.server,
                            underlying: UnderlyingError(error))
                    Self.countError(e)
                    self.onChange?(.failed(e))
                    if !warned {
                        warned = true
                        self.logger.warning("Kubernetes API unavailable; keeping the last known pods and retrying",
                            metadata: ["server": "\(self.client.connection.server)", "error": "\(e)"])
                    }
                    try await Task.sleep(for: self.backoff.delay(attempt: attempt))
                    attempt += 1
                }
            }
        }
        await self.client.shutdown()
    }

    private static func countError(_ e: WorkloadIdentityError) {
        Counter(label: "palisade_identity_source_errors_total", dimensions: [("source", "kubernetes"), ("reason", e.code.label)])
            .increment()
    }

    /// Applies one event; returns the resource version to resume from.
    /// - Throws: ``WorkloadIdentityError`` `.gone` for an ERROR with code 410; `.httpStatus` for other ERRORs.
    private func handle(_ event: KubernetesWatchEvent, _ table: inout WorkloadTable) throws -> String? {
        switch event.type {
        case "ADDED", "MODIFIED":
            guard let pod = event.pod else { return nil }
            if let w = pod.workload {
                let addresses = pod.addresses
                if addresses.isEmpty {
                    self.history.apply(.kubernetes, remove: table.remove(w.id))
                } else {
                    let (set, removed) = table.set(w, addresses: addresses)
                    self.history.apply(.kubernetes, set: set, remove: removed)
                }
                self.onChange?(.event(action: event.type, id: w.id))
            }
            return pod.metadata?.resourceVersion
        case "DELETED":
            guard let pod = event.pod else { return nil }
            if let uid = pod.metadata?.uid {
                self.history.apply(.kubernetes, remove: table.remove(uid))
                self.onChange?(.event(action: event.type, id: uid))
            }
            return pod.metadata?.resourceVersion
        case "BOOKMARK":
            self.onChange?(.event(action: event.type, id: ""))
            return event.pod?.metadata?.resourceVersion
        case "ERROR":
            let s = event.status
            if s?.code == 410 {
                throw WorkloadIdentityError(code: .gone, message: "watch ERROR 410: \(s?.message ?? s?.reason ?? "")")
            }
            throw WorkloadIdentityError(code: .httpStatus,
                message: "watch ERROR \(s?.code ?? 0): \(s?.message ?? s?.reason ?? "no status")")
        default:
            Self.countError(WorkloadIdentityError(code: .decode, message: "unknown watch event type \(event.type)"))
            return nil
        }
    }
}
