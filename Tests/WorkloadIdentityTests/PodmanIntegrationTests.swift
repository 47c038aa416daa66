import DNSPipeline
import DNSWire
import Foundation
import Logging
import Synchronization
import Testing
import TestSupport
import WorkloadIdentity

extension Tag {
    /// Tests that start real processes (here: Podman and its containers).
    @Tag static var integration: Self
}

/// Records what the source did, for polling and timing.
final class ChangeLog: Sendable {
    private let items = Mutex<[(ContinuousClock.Instant, IdentitySourceChange)]>([])
    func record(_ c: IdentitySourceChange) { self.items.withLock { $0.append((ContinuousClock.now, c)) } }
    var failures: Int {
        self.items.withLock { $0.filter { if case .failed = $0.1 { true } else { false } }.count }
    }
    var skipped: Int {
        self.items.withLock { $0.filter { if case .skipped = $0.1 { true } else { false } }.count }
    }
    var lists: Int {
        self.items.withLock { $0.filter { if case .listed = $0.1 { true } else { false } }.count }
    }
}

/// Runs a Docker source against `socket` for the duration of `body`.
func withDockerSource<T>(socket: String, history: IdentityHistory, changes: ChangeLog,
    _ body: () async throws -> T) async throws -> T
{
    let source = DockerWorkloadSource(client: DockerEngineClient(socketPath: socket), history: history,
        backoff: Backoff(initial: .milliseconds(50), maximum: .milliseconds(200)), onChange: { changes.record($0) })
    let task = Task { try await source.run() }
    defer { task.cancel() }
    return try await body()
}

/// Against the real Podman service (Docker Engine API v1.41 over a unix socket), with real containers.
@Suite(.tags(.integration), .serialized, .enabled(if: PodmanService.isAvailable, "needs root, podman, runc and busybox-static (scripts/test.sh installs them)"))
struct PodmanIntegrationTests {
    @Test("Containers are named by address: start, network connect, rename, stop; IPv4 and IPv6")
    func followsContainers() async throws {
        try await TestResources.with { r in
            let podman = r.keep(try await PodmanService.start())
            let net = r.keep(try await PodmanService.createNetwork(prefix: "palid", ipv6: true))
            let net2 = r.keep(try await PodmanService.createNetwork(prefix: "palid2"))
            let history = IdentityHistory()
            let changes = ChangeLog()
            try await withDockerSource(socket: podman.socketPath, history: history, changes: changes) {
                #expect(await Poll.until(timeout: .seconds(20)) { changes.lists > 0 }, "the source never listed")
                let name = "palid-web-\(UInt32.random(in: 0...UInt32.max))"
                let started = ContinuousClock.now
                let c = r.keep(try await PodmanService.runContainer(name: name, network: net,
                    ip: net.prefix + "23", labels: ["app": "web", "team": "blue"]))
                let v4 = try #require(IPAddress(net.prefix + "23"))
                let known = await Poll.until(timeout: .seconds(20), every: .milliseconds(5)) {
                    history.directory.lookup(v4) != nil
                }
                let delay = ContinuousClock.now - started
                let knownAt = Date()
                #expect(known, "the container's address never appeared")
                // The engine's own start time: what is left is the event stream, one inspect and the publish.
                let startedAt = try await PodmanService.podmanChecked(["inspect", "--format",
                    "{{.State.StartedAt.Format \"2006-01-02T15:04:05.000Z07:00\"}}", name])
                let f = ISO8601DateFormatter()
                f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
                let sinceStart = f.date(from: startedAt).map { knownAt.timeIntervalSince($0) }
                print("identity known \(delay) after `podman run -d` was started; "
                    + "\(sinceStart.map { String(format: "%.3f s", $0) } ?? startedAt) after the container started (upper bound)")
                let w = try #require(history.directory.lookup(v4))
                #expect(w.kind == .container)
                #expect(w.id == c.id)
                #expect(w.name == name)
                #expect(w.image == PodmanService.image)
                #expect(w.labels == ["app": "web", "team": "blue"])
                let v6 = try #require(history.addresses(ofWorkload: "container:\(c.id)").first { $0.address.description.contains(":") })
                #expect(v6.address.description.hasPrefix(try #require(net.ipv6Prefix)))

                try await PodmanService.podmanChecked(["network", "connect", net2.name, name])
                let second = try #require(IPAddress(try await PodmanService.address(of: c, on: net2)))
                #expect(await Poll.until(timeout: .seconds(20)) { history.directory.lookup(second)?.id == c.id },
                    "network connect was not followed")

                let renamed = name + "-renamed"
                try await PodmanService.podmanChecked(["rename", name, renamed])
                #expect(await Poll.until(timeout: .seconds(20)) { history.directory.lookup(v4)?.name == renamed },
                    "rename was not followed")

                try await PodmanService.podmanChecked(["stop", "-t", "0", renamed])
                #expect(await Poll.until(timeout: .seconds(20)) { history.directory.lookup(v4) == nil },
                    "stop was not followed")
                let intervals = history.intervals(of: v4)
                #expect(intervals.map(\.workload.name) == [name, renamed])
                #expect(intervals.allSatisfy { $0.until != nil })
                #expect(changes.failures == 0)
            }
        }
    }

    @Test("A new container that reuses an address gets it; the history keeps who held it before")
    func addressReuse() async throws {
        try await TestResources.with { r in
            let podman = r.keep(try await PodmanService.start())
            let net = r.keep(try await PodmanService.createNetwork(prefix: "palreuse"))
            let history = IdentityHistory()
            let changes = ChangeLog()
            try await withDockerSource(socket: podman.socketPath, history: history, changes: changes) {
                let addr = net.prefix + "40"
                let a = try #require(IPAddress(addr))
                let first = r.keep(try await PodmanService.runContainer(name: "palreuse-a-\(UInt32.random(in: 0...UInt32.max))",
                    network: net, ip: addr))
                #expect(await Poll.until(timeout: .seconds(20)) { history.directory.lookup(a)?.id == first.id })
                let during = Date()
                await first.stop()
                #expect(await Poll.until(timeout: .seconds(20)) { history.directory.lookup(a) == nil })
                let second = r.keep(try await PodmanService.runContainer(name: "palreuse-b-\(UInt32.random(in: 0...UInt32.max))",
                    network: net, ip: addr))
                #expect(await Poll.until(timeout: .seconds(20)) { history.directory.lookup(a)?.id == second.id })
                #expect(history.lookup(a, at: during)?.id == first.id)
                #expect(history.lookup(a, at: Date())?.id == second.id)
            }
        }
    }

    @Test("When the engine goes away the last mapping stays, errors are counted, and the source reconnects")
    func reconnects() async throws {
        try await TestResources.with { r in
            let podman = r.keep(try await PodmanService.start())
            let net = r.keep(try await PodmanService.createNetwork(prefix: "palrc"))
            let c = r.keep(try await PodmanService.runContainer(name: "palrc-\(UInt32.random(in: 0...UInt32.max))",
                network: net, ip: net.prefix + "9"))
            let a = try #require(IPAddress(net.prefix + "9"))
            let history = IdentityHistory()
            let changes = ChangeLog()
            try await withDockerSource(socket: podman.socketPath, history: history, changes: changes) {
                #expect(await Poll.until(timeout: .seconds(20)) { history.directory.lookup(a)?.id == c.id },
                    "the running container was not listed")
                await podman.daemon.terminate()
                #expect(await Poll.until(timeout: .seconds(20)) { changes.failures >= 2 }, "no reconnect attempts counted")
                #expect(history.directory.lookup(a)?.id == c.id, "a dead socket must not drop known containers")
                // A new service on the same socket path: the source finds it again and relists.
                let dir = podman.daemon.directory
                let again = r.keep(try TestDaemon(name: "podman", executable: "podman",
                    arguments: PodmanService.globalFlags + ["system", "service", "-t", "0", "unix://\(podman.socketPath)"],
                    directory: dir))
                _ = again
                let listsBefore = changes.lists
                #expect(await Poll.until(timeout: .seconds(30)) { changes.lists > listsBefore }, "never reconnected")
                #expect(history.directory.lookup(a)?.id == c.id)
            }
        }
    }

    @Test("pause and stop through the API act on the real container")
    func pauseAndStop() async throws {
        try await TestResources.with { r in
            let podman = r.keep(try await PodmanService.start())
            let net = r.keep(try await PodmanService.createNetwork(prefix: "palps"))
            let c = r.keep(try await PodmanService.runContainer(name: "palps-\(UInt32.random(in: 0...UInt32.max))", network: net))
            let client = DockerEngineClient(socketPath: podman.socketPath)
            do {
                try await client.pause(containerID: c.id)
                #expect(try await client.inspectContainer(c.id)?.state?.status == "paused")
                try await client.unpause(containerID: c.id)
                #expect(try await client.inspectContainer(c.id)?.state?.status == "running")
                try await client.stop(containerID: c.id, timeoutSeconds: 0)
                let stopped = try #require(try await client.inspectContainer(c.id))
                #expect(!stopped.isRunning)
                try await client.stop(containerID: c.id, timeoutSeconds: 0)  // already stopped: 304 is success
                await #expect(throws: WorkloadIdentityError.self) {
                    try await client.pause(containerID: "palisade-no-such-container")
                }
                #expect(try await client.inspectContainer("palisade-no-such-container") == nil)
            } catch {
                await client.shutdown()
                throw error
            }
            await client.shutdown()
        }
    }
}
