import DNSPipeline
import Foundation
import QueryStore
import Testing
import TestSupport

/// Issue 4's acceptance test: real Podman containers query `palisade serve` on their network's gateway, and
/// the logged events name the container (name, image, labels), not just an address, also after the address
/// is reused by a new container.
@Suite("Container attribution end to end", .tags(.integration), .serialized,
    .enabled(if: PodmanService.isAvailable && Requirements.nsdAndDig,
        "needs root (port 53 on the gateway), podman, runc, busybox-static and nsd (scripts/test.sh installs them)"))
struct ContainerAttributionTests {
    static let blocked = ["malware.example.net", "c2.example.net", "phish.example.com"]

    /// Every stored event from `ip`, oldest first.
    static func events(_ store: QueryStore, ip: String) async throws -> [StoredEvent] {
        try await store.search(EventFilter(clientIP: ip, limit: 1_000)).events.reversed()
    }

    /// `GET path` on palisade's HTTP API, as a JSON object.
    static func api(_ palisade: PalisadeProcess, _ path: String) async throws -> [String: Any] {
        let port = try #require(palisade.httpPort)
        let r = try await HTTPTestClient.get(path, port: port)
        #expect(r.status == 200, "GET \(path): \(r.status) \(r.body)")
        let object = try JSONSerialization.jsonObject(with: Data(r.body.utf8))
        return try #require(object as? [String: Any], "GET \(path): not a JSON object: \(r.body)")
    }

    /// The `events` array of `GET /api/v1/events?…`.
    static func apiEvents(_ palisade: PalisadeProcess, _ query: String) async throws -> [[String: Any]] {
        try #require(try await Self.api(palisade, "/api/v1/events?limit=1000&" + query)["events"] as? [[String: Any]])
    }

    @Test("Events name the container that asked, and a reused address never relabels old events")
    func attribution() async throws {
        try await withDaemons { r in
            let podman = r.keep(try await PodmanService.start())
            let net = r.keep(try await PodmanService.createNetwork(prefix: "palattr"))
            let tag = UInt32.random(in: 0...UInt32.max)
            let webIP = net.prefix + "10"
            let workerIP = net.prefix + "11"
            // Containers first: the gateway address exists only while the bridge has a container on it.
            let web = r.keep(try await PodmanService.runContainer(name: "attr-web-\(tag)", network: net, ip: webIP,
                labels: ["app": "web", "team": "shop"], dns: net.gateway))
            let worker = r.keep(try await PodmanService.runContainer(name: "attr-worker-\(tag)", network: net,
                ip: workerIP, labels: ["app": "worker"], dns: net.gateway))

            let nsd = r.keep(try await NSDServer.start(zones: [exampleZone()]))
            let dir = try r.directory(prefix: "palisade-attr")
            let blocklist = try dir.write("blocked.txt", Self.blocked.joined(separator: "\n") + "\n")
            let palisade = r.keep(try await PalisadeProcess.start(
                arguments: ["--blocklist", blocklist, "--docker-socket", podman.socketPath],
                upstreams: ["127.0.0.1:\(nsd.port)"], listen: ["\(net.gateway):53"]))
            #expect(await Poll.until(timeout: .seconds(30)) { palisade.log.contains("following container events") },
                "palisade never listed the containers:\n\(palisade.log)")

            let blockedQuery = try await PodmanService.exec(web, ["nslookup", Self.blocked[0], net.gateway])
            #expect(blockedQuery.output.contains("NXDOMAIN") || blockedQuery.errorOutput.contains("NXDOMAIN"),
                "\(blockedQuery)")
            let clean = try await PodmanService.exec(web, ["nslookup", "www.example.org", net.gateway])
            #expect(clean.status == 0, "\(clean)")
            let workerClean = try await PodmanService.exec(worker, ["nslookup", "www.example.org", net.gateway])
            #expect(workerClean.status == 0, "\(workerClean)")

            let store = try QueryStore(path: palisade.queryLogPath)
            defer { try? store.close() }
            // The writer flushes in batches: wait until both clients' events are stored.
            let stored = await Poll.until(timeout: .seconds(20), every: .milliseconds(100)) {
                let w = (try? await Self.events(store, ip: webIP)) ?? []
                let k = (try? await Self.events(store, ip: workerIP)) ?? []
                return w.contains { $0.event.qname == Self.blocked[0] } && w.contains { $0.event.qname == "www.example.org" }
                    && k.contains { $0.event.qname == "www.example.org" }
            }
            #expect(stored, "events were not stored:\n\(palisade.log)")

            let webEvents = try await Self.events(store, ip: webIP)
            for e in webEvents {
                let w = try #require(e.event.workload, "event \(e.event.qname) from \(webIP) has no workload")
                #expect(w.kind == .container)
                #expect(w.id == web.id)
                #expect(w.name == web.name)
                #expect(w.image == PodmanService.image)
                #expect(w.labels == ["app": "web", "team": "shop"])
                #expect(e.workloadKey == "container:\(web.id)")
            }
            let webBlocked = webEvents.filter { $0.event.blocked }
            #expect(!webBlocked.isEmpty)
            #expect(webBlocked.allSatisfy { $0.event.qname == Self.blocked[0] && $0.event.rcode == "NXDOMAIN" })
            let workerEvents = try await Self.events(store, ip: workerIP)
            #expect(!workerEvents.isEmpty)
            #expect(workerEvents.allSatisfy { $0.event.workload?.name == worker.name && $0.event.workload?.labels["app"] == "worker" })
            let workerBlocked = workerEvents.filter { $0.event.blocked }
            #expect(workerBlocked.isEmpty, "the clean container has no blocks")
            let blockedPage = try await store.search(EventFilter(blockedOnly: true, limit: 100)).events
            #expect(Set(blockedPage.compactMap(\.event.workload?.name)) == [web.name])

            // The same through the HTTP API (api-contract.md): blocked events name the container, not an address.
            let apiBlocked = try await Self.apiEvents(palisade, "blocked=true")
            #expect(!apiBlocked.isEmpty)
            for e in apiBlocked {
                let w = try #require(e["workload"] as? [String: Any], "blocked event without workload: \(e)")
                #expect(w["key"] as? String == "container:\(web.id)")
                #expect(w["kind"] as? String == "container")
                #expect(w["name"] as? String == web.name)
                #expect(w["image"] as? String == PodmanService.image)
                #expect(w["labels"] as? [String: String] == ["app": "web", "team": "shop"])
                #expect(e["qname"] as? String == Self.blocked[0])
            }
            let apiWorker = try await Self.apiEvents(palisade, "client_ip=\(workerIP)")
            #expect(!apiWorker.isEmpty)
            #expect(apiWorker.allSatisfy { ($0["workload"] as? [String: Any])?["name"] as? String == worker.name })
            #expect(apiWorker.allSatisfy { $0["blocked"] as? Bool == false }, "the clean container has no blocks")

            // The same address, a new container with a new name. Attribution follows the engine's events, and
            // Podman's file event logger delivers them in batches every 250 ms: wait until Palisade has closed
            // the old container's address interval (docs/identity.md, "The query path").
            await web.stop()
            let closed = await Poll.until(timeout: .seconds(20), every: .milliseconds(100)) {
                let w = try? await Self.api(palisade, "/api/v1/workloads/container%3A\(web.id)")
                let addresses = w?["addresses"] as? [[String: Any]] ?? []
                return addresses.contains { $0["ip"] as? String == webIP && $0["until"] is String }
            }
            #expect(closed, "palisade never learned that \(web.name) stopped:\n\(palisade.log)")
            let successor = r.keep(try await PodmanService.runContainer(name: "attr-web2-\(tag)", network: net, ip: webIP,
                labels: ["app": "web2"], dns: net.gateway))
            // Query until an event from the address names the successor (its start event may still be in flight).
            let renamed = await Poll.until(timeout: .seconds(30), every: .milliseconds(200)) {
                _ = try? await PodmanService.exec(successor, ["nslookup", Self.blocked[1], net.gateway])
                let events = (try? await Self.events(store, ip: webIP)) ?? []
                return events.contains { $0.event.workload?.id == successor.id && $0.event.qname == Self.blocked[1] }
            }
            #expect(renamed, "no event names the successor:\n\(palisade.log)")
            let after = try await Self.events(store, ip: webIP)
            for e in after where e.event.qname == Self.blocked[0] || e.event.qname == "www.example.org" {
                #expect(e.event.workload?.name == web.name, "an old event was relabelled: \(e)")
            }
            let successorEvents = after.filter { $0.event.workload?.id == successor.id }
            #expect(successorEvents.allSatisfy { $0.event.workload?.name == successor.name
                && $0.event.workload?.labels == ["app": "web2"] && $0.event.qname == Self.blocked[1] })
            #expect(after.filter { $0.event.qname == Self.blocked[1] }.allSatisfy { $0.event.workload?.id != web.id },
                "a query made after the old container stopped is never attributed to it")
            // The API's workload view shows where the old container was, and until when.
            let old = try await Self.api(palisade, "/api/v1/workloads/container%3A\(web.id)")
            let addresses = try #require(old["addresses"] as? [[String: Any]], "no addresses: \(old)")
            let held = try #require(addresses.first { $0["ip"] as? String == webIP }, "\(addresses)")
            #expect(held["from"] is String)
            #expect(held["until"] is String, "the stopped container's address interval is closed: \(held)")
            let successorEventsAPI = try await Self.apiEvents(palisade, "workload=container%3A\(successor.id)")
            #expect(!successorEventsAPI.isEmpty)
            #expect(successorEventsAPI.allSatisfy { ($0["workload"] as? [String: Any])?["name"] as? String == successor.name })
            #expect(palisade.isRunning, "palisade stopped:\n\(palisade.log)")
        }
    }
}

/// The identity settings through the real command line: file keys, environment, flags.
@Suite("Identity configuration", .tags(.integration))
struct IdentityConfigurationTests {
    func checkConfig(_ yaml: String?, _ flags: [String] = [], environment: [String: String] = [:]) async throws
        -> ToolOutput
    {
        let dir = try TemporaryDirectory(prefix: "palisade-idconf")
        defer { dir.remove() }
        var args = ["check-config"]
        if let yaml { args += ["--config", try dir.write("palisade.yaml", yaml)] }
        return try await PalisadeProcess.run(args + flags, environment: environment)
    }

    @Test("identity keys, --docker-socket and --kubeconfig are accepted")
    func accepted() async throws {
        let dir = try TemporaryDirectory(prefix: "palisade-idconf")
        defer { dir.remove() }
        let kubeconfig = try dir.write("kubeconfig", "current-context: x\n")
        let ok = try await self.checkConfig("identity:\n  dockerSocket: /run/podman/podman.sock\n  historyHours: 6\n")
        #expect(ok.status == 0, "\(ok)")
        let flags = try await self.checkConfig(nil, ["--docker-socket", "/var/run/docker.sock", "--kubeconfig", kubeconfig])
        #expect(flags.status == 0, "\(flags)")
    }

    @Test("A misspelt identity key, a zero history and an unreadable kubeconfig are named")
    func rejected() async throws {
        let typo = try await self.checkConfig("identity:\n  dockerSockit: /x\n")
        #expect(typo.status != 0)
        #expect(typo.errorOutput.contains("identity.dockerSockit"), "\(typo)")
        let zero = try await self.checkConfig(nil, environment: ["PALISADE_IDENTITY__HISTORY_HOURS": "0"])
        #expect(zero.status != 0)
        #expect(zero.errorOutput.contains("identity.historyHours"), "\(zero)")
        let missing = try await self.checkConfig(nil, ["--kubeconfig", "/nonexistent/palisade-kubeconfig"])
        #expect(missing.status != 0)
        #expect(missing.errorOutput.contains("identity.kubeconfig"), "\(missing)")
    }
}

/// `palisade serve --kubeconfig`: the pod source runs in the real process, over HTTPS with the test CA and
/// a bearer token, against the list/watch test API server (no cluster exists here). The pod is given the
/// loopback address dig sends from, so a real query is attributed to it.
@Suite("Pod attribution end to end", .tags(.integration),
    .enabled(if: KubeTestAPIServer.isAvailable && Requirements.nsdAndDig, "needs python3, openssl, nsd and dig"))
struct PodAttributionTests {
    @Test("A query from a pod's address is logged under namespace/name with the owner Deployment")
    func podAttribution() async throws {
        try await withDaemons { r in
            let kube = r.keep(try await KubeTestAPIServer.start(pods: ["db"]))
            let pod = try KubeTestAPIServer.pod("web").replacingOccurrences(of: "10.244.2.17", with: DigClient.defaultSource)
                .replacingOccurrences(of: "{\"ip\": \"fd00:10:244:2::11\"}", with: "{\"ip\": \"::1\"}")
            try await kube.put(pod: pod)
            let dir = try r.directory(prefix: "palisade-kube-e2e")
            let kubeconfig = try kube.writeKubeconfig(in: dir)
            let nsd = r.keep(try await NSDServer.start(zones: [exampleZone()]))
            let palisade = r.keep(try await PalisadeProcess.start(arguments: ["--kubeconfig", kubeconfig],
                upstreams: ["127.0.0.1:\(nsd.port)"]))
            let port = try #require(palisade.httpPort)
            // The watch may still be connecting for the first queries: ask until one is attributed.
            let podEvent = await Poll.value(timeout: .seconds(30), every: .milliseconds(200)) { () -> [String: Any]? in
                _ = try? await DigClient.dig("www.example.org", port: palisade.dnsPort)
                let events = (try? await ContainerAttributionTests.apiEvents(palisade, "workload_name=web")) ?? []
                return events.first { ($0["workload"] as? [String: Any])?["name"] as? String == "shop/web-7d9f8c6b5d-x2x4q" }
            }
            let event = try #require(podEvent, "no event names the pod:\n\(palisade.log)\n\(kube.daemon.log)")
            let w = try #require(event["workload"] as? [String: Any])
            #expect(w["kind"] as? String == "pod")
            #expect(w["key"] as? String == "pod:2f6d7c1a-5b7e-4c1e-9a51-0c6f3c2b8e11")
            #expect(w["image"] as? String == "registry.example.org/shop/web:2.4.1")
            let labels = try #require(w["labels"] as? [String: String])
            #expect(labels["palisade.owner"] == "Deployment/web")
            #expect(labels["palisade.namespace"] == "shop")
            #expect(event["client_ip"] as? String == DigClient.defaultSource)
            #expect(kube.requests.contains { $0.contains("watch=1") }, "the pod source never watched")
            let metrics = try await HTTPTestClient.get("/metrics", port: port)
            #expect(metrics.body.contains("palisade_identity_pods"), "\(metrics.body.prefix(2000))")
        }
    }
}
