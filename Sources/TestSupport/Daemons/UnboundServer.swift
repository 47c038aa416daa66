import DNSWire
import Foundation

/// An Unbound resolver on 127.0.0.1 offering DNS over TLS and DNS over HTTPS (HTTP/2, needs an
/// Unbound built with nghttp2), forwarding one zone to a stub server (the test NSD), for tests.
public final class UnboundServer: StoppableTestResource {
    /// DoT port.
    public let tlsPort: Int
    /// DoH port (path `/dns-query`).
    public let httpsPort: Int
    /// Plain UDP/TCP port.
    public let plainPort: Int
    /// The certificates the server uses (trust `certificates.caFile`).
    public let certificates: TestCertificates
    /// The process.
    public let daemon: TestDaemon

    private init(tlsPort: Int, httpsPort: Int, plainPort: Int, certificates: TestCertificates, daemon: TestDaemon) {
        self.tlsPort = tlsPort
        self.httpsPort = httpsPort
        self.plainPort = plainPort
        self.certificates = certificates
        self.daemon = daemon
    }

    /// Whether the installed Unbound can serve DoH (`unbound -V` lists `--with-libnghttp2`).
    public static func supportsDoH() async -> Bool {
        guard let out = try? await ExternalTool.run("unbound", ["-V"]) else { return false }
        return (out.output + out.errorOutput).contains("nghttp2")
    }

    /// Starts Unbound with TLS and HTTPS listeners, sending `zone` to 127.0.0.1@`stubPort`.
    /// - Throws: ``TestDaemonError`` with Unbound's log when it does not become ready within ten seconds.
    /// - Parameter certificateNamesIP: whether the certificate also names 127.0.0.1 (needed for DoH to an IP
    ///   URL and for DoT without a server name); without it only `serverName` is in the certificate.
    public static func start(zone: String = "example.org.", stubPort: Int, serverName: String = "dns.example.org",
        certificateNamesIP: Bool = true) async throws -> UnboundServer
    {
        var lastLog = ""
        for _ in 0..<3 {
            let dir = try TemporaryDirectory(prefix: "palisade-unbound")
            let certs = try await TestCertificates.generate(in: dir, serverName: serverName, includeIP: certificateNamesIP)
            let tlsPort = try await TestNetwork.freePort()
            let httpsPort = try await TestNetwork.freePort()
            let plainPort = try await TestNetwork.freePort()
            // iterator only: no validation, no root priming beyond the stub; no privileges dropped.
            let conf = """
                server:
                  interface: 127.0.0.1@\(plainPort)
                  interface: 127.0.0.1@\(tlsPort)
                  interface: 127.0.0.1@\(httpsPort)
                  tls-port: \(tlsPort)
                  https-port: \(httpsPort)
                  http-endpoint: "/dns-query"
                  tls-service-key: "\(certs.keyFile)"
                  tls-service-pem: "\(certs.certificateFile)"
                \(Self.commonServerOptions(directory: dir))
                  module-config: "iterator"
                  qname-minimisation: no
                  outgoing-range: 64
                  incoming-num-tcp: 32
                  outgoing-num-tcp: 8
                remote-control:
                  control-enable: no
                stub-zone:
                  name: "\(zone)"
                  stub-addr: 127.0.0.1@\(stubPort)

                """
            let confPath = try dir.write("unbound.conf", conf)
            let daemon = try TestDaemon(name: "unbound", executable: "unbound", arguments: ["-d", "-c", confPath],
                directory: dir)
            let ready = await Poll.until {
                guard daemon.isRunning else { return true }
                let tls = await TestNetwork.canConnect(port: tlsPort)
                let https = await TestNetwork.canConnect(port: httpsPort)
                return tls && https
            }
            if ready, daemon.isRunning {
                return UnboundServer(tlsPort: tlsPort, httpsPort: httpsPort, plainPort: plainPort, certificates: certs,
                    daemon: daemon)
            }
            lastLog = daemon.log
            await daemon.stop()
        }
        throw TestDaemonError("unbound did not start:\n\(lastLog)")
    }

    /// Stops Unbound and removes its directory (certificates included).
    public func stop() async {
        await self.daemon.stop()
    }
}

extension UnboundServer {
    /// An Unbound forwarder on 127.0.0.1 (plain UDP/TCP only) that sends every query to one upstream and
    /// applies one RPZ zone from a file, for differential tests of Palisade's policy against Unbound's.
    ///
    /// No DNSSEC validation (`module-config: "respip iterator"`: `respip` applies RPZ client-IP and
    /// response-IP triggers), `rpz-log: yes` so Unbound's log names every rule it applied.
    public final class RPZForwarder: StoppableTestResource {
        /// The UDP and TCP port.
        public let port: Int
        /// The process.
        public let daemon: TestDaemon

        private init(port: Int, daemon: TestDaemon) {
            self.port = port
            self.daemon = daemon
        }

        /// Everything Unbound logged (with `rpz: applied …` lines).
        public var log: String { self.daemon.log }

        /// Starts Unbound forwarding `.` to 127.0.0.1@`forwardPort` with the RPZ zone `rpzZone` (zone-file text
        /// whose apex is `rpzName`).
        /// - Throws: ``TestDaemonError`` with Unbound's log when it does not answer within ten seconds.
        public static func start(forwardPort: Int, rpzName: String, rpzZone: String) async throws -> RPZForwarder {
            var lastLog = ""
            for _ in 0..<3 {
                let dir = try TemporaryDirectory(prefix: "palisade-unbound-rpz")
                let port = try await TestNetwork.freePort()
                let zonePath = try dir.write("policy.rpz", rpzZone)
                let conf = """
                    server:
                      interface: 127.0.0.1@\(port)
                    \(UnboundServer.commonServerOptions(directory: dir))
                      module-config: "respip iterator"
                      qname-minimisation: no
                      ede: yes
                      outgoing-range: 64
                      incoming-num-tcp: 32
                      outgoing-num-tcp: 8
                    remote-control:
                      control-enable: no
                    forward-zone:
                      name: "."
                      forward-addr: 127.0.0.1@\(forwardPort)
                    rpz:
                      name: "\(rpzName)"
                      zonefile: "\(zonePath)"
                      rpz-log: yes
                      rpz-log-name: "\(rpzName)"

                    """
                let confPath = try dir.write("unbound.conf", conf)
                let daemon = try TestDaemon(name: "unbound", executable: "unbound", arguments: ["-d", "-c", confPath],
                    directory: dir)
                // Ready when it answers anything (the forwarded SOA of the root may be REFUSED: still an answer).
                let probe = DNSMessage.query(id: 1, name: .root, type: .soa)
                let ready = await Poll.until {
                    guard daemon.isRunning else { return true }
                    return await TestNetwork.udpQuery(probe, to: port, timeout: .milliseconds(200)) != nil
                }
                if ready, daemon.isRunning { return RPZForwarder(port: port, daemon: daemon) }
                lastLog = daemon.log
                await daemon.stop()
            }
            throw TestDaemonError("unbound (RPZ forwarder) did not start:\n\(lastLog)")
        }

        /// Stops Unbound and removes its directory.
        public func stop() async {
            await self.daemon.stop()
        }
    }

    /// The `server:` options every test Unbound shares: foreground, no privileges dropped, its own directory,
    /// one thread, queries to localhost allowed (the upstream is NSD on 127.0.0.1), loopback clients.
    static func commonServerOptions(directory dir: TemporaryDirectory) -> String {
        """
        do-daemonize: no
          username: ""
          chroot: ""
          directory: "\(dir.path)"
          pidfile: "\(dir.file("unbound.pid"))"
          use-syslog: no
          logfile: ""
          verbosity: 1
          num-threads: 1
          so-reuseport: no
          do-not-query-localhost: no
          access-control: 127.0.0.0/8 allow
        """
    }
}
