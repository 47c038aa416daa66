import DNSPipeline
import DNSWire
import Foundation
public import Logging
import Metrics
public import ServiceLifecycle

/// Follows a Docker or Podman engine and keeps the ``IdentityHistory`` up to date with every running
/// container's addresses (every network, IPv4 and IPv6).
///
/// On start (and after every reconnect) it lists the running containers, then follows the event stream
/// from just before the list, so nothing that happens in between is lost. An event is never trusted for
/// state: a start, rename or network change re-inspects the container; a die or destroy removes it.
/// When the socket goes away, the last known mapping stays in force (queries are never affected) and the
/// source reconnects with backoff, counting each failure in `palisade_identity_source_errors_total`.
public struct DockerWorkloadSource: Service {
    /// The engine client.
    public let client: DockerEngineClient
    /// Where containers are published.
    public let history: IdentityHistory
    /// Delay between reconnect attempts.
    public let backoff: Backoff
    private let logger: Logger
    private let onChange: (@Sendable (IdentitySourceChange) -> Void)?

    /// Creates the source.
    /// - Parameters:
    ///   - client: the engine client (its socket is not touched until ``run()``).
    ///   - history: where containers are published.
    ///   - backoff: delay between reconnect attempts.
    ///   - logger: for connection state changes (a failure streak logs once, at `.warning`).
    ///   - onChange: called after every change is published (tests and figures use it).
    public init(client: DockerEngineClient, history: IdentityHistory, backoff: Backoff = Backoff(),
        logger: Logger = Logger(label: "palisade.identity.docker"),
        onChange: (@Sendable (IdentitySourceChange) -> Void)? = nil)
    {
        self.client = client
        self.history = history
        self.backoff = backoff
        self.logger = logger
        self.onChange = onChange
    }

    /// Runs until cancelled or graceful shutdown.
    public func run() async throws {
        let events = Counter(label: "palisade_identity_events_total", dimensions: [("source", "docker")])
        let containers = Gauge(label: "palisade_identity_containers")
        try? await cancelWhenGracefulShutdown {
            var state = WorkloadTable()
            var attempt = 0
            var warned = false
            while !Task.isCancelled {
                do {
                    // Events are replayed from a second before the list, so a change racing the list is seen.
                    let since = Date().addingTimeInterval(-1)
                    let list = try await self.client.listContainers()
                    state.replaceAll(list.filter { ($0.state ?? "running") != "exited" && ($0.state ?? "") != "created" }
                        .map { ($0.workload, $0.networkSettings?.addresses ?? []) })
                    self.history.replace(.docker, with: state.mapping)
                    containers.record(state.count)
                    self.onChange?(.listed(count: state.count))
                    let stream = try await self.client.events(since: since)
                    if warned {
                        self.logger.notice("container engine reachable again", metadata: ["socket": "\(self.client.socketPath)"])
                    }
                    warned = false
                    attempt = 0
                    self.logger.info("following container events",
                        metadata: ["socket": "\(self.client.socketPath)", "containers": "\(state.count)"])
                    for try await item in stream {
                        switch item {
                        case .failure(let e):
                            Self.countError(e)
                            self.onChange?(.skipped(e))
                            self.logger.debug("skipped an event line", metadata: ["error": "\(e)"])
                        case .success(let event):
                            events.increment()
                            try await self.handle(event, &state)
                            containers.record(state.count)
                        }
                    }
                    throw WorkloadIdentityError(code: .streamEnded, message: "the engine closed the event stream")
                } catch {
                    if Task.isCancelled { break }
                    let e = (error as? WorkloadIdentityError)
                        ?? WorkloadIdentityError(code: .connect, message: "\(self.client.socketPath)", underlying: UnderlyingError(error))
                    Self.countError(e)
                    self.onChange?(.failed(e))
                    if !warned {
                        warned = true
                        self.logger.warning("container engine unavailable; keeping the last known containers and retrying",
                            metadata: ["socket": "\(self.client.socketPath)", "error": "\(e)"])
                    }
                    try await Task.sleep(for: self.backoff.delay(attempt: attempt))
                    attempt += 1
                }
            }
        }
        await self.client.shutdown()
    }

    private static func countError(_ e: WorkloadIdentityError) {
        Counter(label: "palisade_identity_source_errors_total", dimensions: [("source", "docker"), ("reason", e.code.label)])
            .increment()
    }

    private func handle(_ event: DockerEvent, _ state: inout WorkloadTable) async throws {
        guard let id = event.containerID else { return }
        switch event.effect {
        case .ignore:
            return
        case .remove:
            let removed = state.remove(id)
            self.history.apply(.docker, remove: removed)
        case .reinspect:
            let c: DockerContainer?
            do {
                c = try await self.client.inspectContainer(id)
            } catch let e as WorkloadIdentityError where e.code == .invalidArgument || e.code == .decode {
                // One odd container never stops the watch.
                Self.countError(e)
                return
            }
            if let c, c.isRunning {
                let (set, removed) = state.set(c.workload, addresses: c.networkSettings?.addresses ?? [])
                self.history.apply(.docker, set: set, remove: removed)
            } else {
                self.history.apply(.docker, remove: state.remove(id))
            }
        }
        self.onChange?(.event(action: event.action ?? "", id: id))
    }
}

/// What a ``DockerWorkloadSource`` or ``KubernetesWorkloadSource`` just did (for tests and measurements).
public enum IdentitySourceChange: Sendable {
    /// Listed the running containers after a (re)connect.
    case listed(count: Int)
    /// Applied an event.
    case event(action: String, id: String)
    /// Lost the engine or the stream; will retry.
    case failed(WorkloadIdentityError)
    /// Skipped one stream line that was not a valid event (the stream goes on).
    case skipped(WorkloadIdentityError)
}

/// The containers the source knows and which addresses each holds, with per-address ownership so that a
/// late `die` of an old container cannot remove the address a new container already took over.
struct WorkloadTable {
    private var byID: [String: (workload: Workload, addresses: [IPAddress])] = [:]
    private var owner: [IPAddress: String] = [:]

    var count: Int { self.byID.count }

    /// Every owned address and its workload.
    var mapping: [IPAddress: Workload] {
        var m: [IPAddress: Workload] = [:]
        for (a, id) in self.owner { if let w = self.byID[id]?.workload { m[a] = w } }
        return m
    }

    mutating func replaceAll(_ items: [(Workload, [IPAddress])]) {
        self.byID = [:]
        self.owner = [:]
        for (w, a) in items { _ = self.set(w, addresses: a) }
    }

    /// Records `workload` with `addresses`; returns what to set and which addresses it no longer owns.
    mutating func set(_ workload: Workload, addresses: [IPAddress]) -> (set: [IPAddress: Workload], removed: [IPAddress]) {
        let old = self.byID[workload.id]?.addresses ?? []
        self.byID[workload.id] = (workload, addresses)
        var set: [IPAddress: Workload] = [:]
        for a in addresses {
            self.owner[a] = workload.id
            set[a] = workload
        }
        let removed = old.filter { !addresses.contains($0) && self.owner[$0] == workload.id }
        for a in removed { self.owner[a] = nil }
        return (set, removed)
    }

    /// Forgets container `id`; returns the addresses it still owned.
    mutating func remove(_ id: String) -> [IPAddress] {
        guard let entry = self.byID.removeValue(forKey: id) else { return [] }
        let removed = entry.addresses.filter { self.owner[$0] == id }
        for a in removed { self.owner[a] = nil }
        return removed
    }
}
