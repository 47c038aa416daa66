import ArgumentParser
import Foundation
import Logging
import Runtime

/// The `palisade` command: a protective DNS resolver for containers.
@main
struct Palisade: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "palisade",
        abstract: "A protective DNS resolver for containers.",
        subcommands: [Serve.self, CheckConfig.self, PrintConfig.self, QueryCommand.self, Lists.self],
        defaultSubcommand: Serve.self
    )
}

/// Options shared by every subcommand.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "YAML configuration file (default: the embedded configuration).")
    var config: String?
}

/// Options that override the configuration file (outside tools depend on these names).
struct OverrideOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Listen address ADDR:PORT for UDP and TCP (repeatable).", valueName: "addr:port"))
    var listen: [String] = []

    @Option(name: .long, help: ArgumentHelp(
        "Upstream server (repeatable): ADDR:PORT, tcp://ADDR:PORT, tls://ADDR:PORT#name, https://host/dns-query.",
        valueName: "spec"))
    var upstream: [String] = []

    @Option(name: .long, help: ArgumentHelp("HTTP address for metrics, health and the console; '' disables it.",
        valueName: "addr:port"))
    var http: String?

    @Option(name: .long, help: "Event-loop threads (default: one per core).")
    var threads: Int?

    @Option(name: .long, help: "UDP engine: direct (recvmmsg/sendmmsg outside SwiftNIO) or nio (default: direct).")
    var udpEngine: String?

    @Option(name: .long, help: "Data directory (query database, feeds' last good copies).")
    var dataDir: String?

    @Option(name: .long, help: ArgumentHelp("RPZ source in precedence order (repeatable): file, http(s) URL.",
        valueName: "source"))
    var rpz: [String] = []

    @Option(name: .long, help: ArgumentHelp("Block list source (repeatable): domains, hosts or adblock file or URL.",
        valueName: "source"))
    var blocklist: [String] = []

    @Option(name: .long, help: ArgumentHelp("Allow list source (repeatable); wins over every block list.", valueName: "source"))
    var allowlist: [String] = []

    @Option(name: .long, help: ArgumentHelp("YAML file mapping addresses or prefixes to workload names and labels.",
        valueName: "path"))
    var identityFile: String?

    @Option(name: .long, help: ArgumentHelp(
        "Docker Engine API socket (Docker or podman system service): name queries by container.", valueName: "path"))
    var dockerSocket: String?

    @Option(name: .long, help: ArgumentHelp("kubeconfig of a cluster: name queries by pod.", valueName: "path"))
    var kubeconfig: String?

    @Flag(name: .long, help: "Do not load the bundled threat-feed snapshot.")
    var noDefaultFeeds = false

    @Option(name: .long, help: "Log format: text or json.")
    var logFormat: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String?

    func validate() throws {
        if let t = self.threads, t < 0 { throw ValidationError("--threads must be >= 0") }
        if let u = self.udpEngine, !ConfigurationLoader.udpEngines.contains(u) {
            throw ValidationError("--udp-engine '\(u)' is not one of \(ConfigurationLoader.udpEngines.joined(separator: ", "))")
        }
        for l in self.listen where HostPort(l) == nil {
            throw ValidationError("--listen '\(l)' is not ADDR:PORT (e.g. 127.0.0.1:5353 or [::1]:5353)")
        }
        if let h = self.http, !h.isEmpty, HostPort(h) == nil { throw ValidationError("--http '\(h)' is not ADDR:PORT") }
    }

    /// Applies the flags on top of a loaded configuration.
    func apply(to config: inout PalisadeConfiguration) {
        if !self.listen.isEmpty { config.listen = self.listen }
        if !self.upstream.isEmpty { config.upstreams.servers = self.upstream }
        if let h = self.http { config.http = h }
        if let t = self.threads { config.threads = t }
        if let u = self.udpEngine { config.udpEngine = u }
        if let d = self.dataDir { config.dataDir = d }
        if let i = self.identityFile { config.identityFile = i }
        if let d = self.dockerSocket { config.identity.dockerSocket = d }
        if let k = self.kubeconfig { config.identity.kubeconfig = k }
        if let f = self.logFormat { config.log.format = f }
        if let l = self.logLevel { config.log.level = l }
        config.applyPolicyFlags(rpz: self.rpz, blocklists: self.blocklist, allowlists: self.allowlist,
            noDefaultFeeds: self.noDefaultFeeds)
    }
}

/// Loads the configuration or exits with the problems listed.
func loadConfiguration(_ global: GlobalOptions, _ overrides: OverrideOptions?) throws -> PalisadeConfiguration {
    do {
        var c = try ConfigurationLoader.load(path: global.config)
        overrides?.apply(to: &c)
        let problems = ConfigurationLoader.validate(c)
        if !problems.isEmpty { throw ConfigurationError(problems: problems, file: global.config) }
        return c
    } catch let e as ConfigurationError {
        FileHandle.standardError.write(Data((e.description + "\n").utf8))
        throw ExitCode(2)
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the resolver (the default).")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var overrides: OverrideOptions
    @Option(name: .long, help: ArgumentHelp(
        "When ready, write the bound ports as JSON to this file (for orchestration with port 0).", valueName: "path"))
    var readyFile: String?

    func run() async throws {
        // Before anything starts: the allocator setting is read once, when the process begins (see MallocTuning).
        let mallocProblem = MallocTuning.reexecIfNeeded()
        let config = try loadConfiguration(self.global, self.overrides)
        LoggingSetup.bootstrap(format: config.log.format, level: config.log.level)
        let logger = Logger(label: "palisade")
        if let mallocProblem {
            logger.warning("running with glibc's default malloc cache: \(mallocProblem)")
        } else if let count = MallocTuning.inForce {
            logger.info("glibc malloc tcache_count=\(count)")
        }
        do {
            let readyFile = self.readyFile
            try await PalisadeRuntime(configuration: config, configPath: self.global.config,
                reloadOverrides: { self.overrides.apply(to: &$0) },
                onReady: { ports in
                    guard let readyFile else { return }
                    let json = "{\"dns\": \(ports.dns), \"http\": \(ports.http ?? 0), \"doh\": \(ports.doh), \"dot\": \(ports.dot)}\n"
                    // Written to a temporary name and renamed, so a reader never sees half a file.
                    try? json.write(toFile: readyFile + ".tmp", atomically: false, encoding: .utf8)
                    _ = rename(readyFile + ".tmp", readyFile)
                }).run()
        } catch let e as StartupError {
            FileHandle.standardError.write(Data("palisade: \(e)\n".utf8))
            throw ExitCode(1)
        }
    }
}

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check-config",
        abstract: "Validate a configuration (file + environment + flags) and report every problem.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var overrides: OverrideOptions

    func run() async throws {
        _ = try loadConfiguration(self.global, self.overrides)
        print("configuration OK\(self.global.config.map { ": \($0)" } ?? " (embedded default)")")
    }
}

struct PrintConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "print-config",
        abstract: "Print the effective configuration as YAML.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var overrides: OverrideOptions
    @Flag(name: .long, help: "Print the embedded defaults, ignoring file, environment and flags.")
    var defaults = false

    func run() async throws {
        let c = self.defaults ? PalisadeConfiguration() : try loadConfiguration(self.global, self.overrides)
        print(try ConfigurationPrinter.yaml(c), terminator: "")
    }
}

struct QueryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "query",
        abstract: "Send one question through the real pipeline and print the answer.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var overrides: OverrideOptions
    @Argument(help: "The name to look up.") var name: String
    @Argument(help: "Record type (default A).") var type: String = "A"
    @Flag(name: .long, help: "Print each stage's decision.") var trace = false
    @Option(name: .long, help: "Pretend the query came from this client address (for ACL and client-IP rules).")
    var client: String = "127.0.0.1"

    func run() async throws {
        var config = try loadConfiguration(self.global, self.overrides)
        config.queryLog.store = false
        LoggingSetup.bootstrap(format: config.log.format, level: "warning")
        let out = try await OneShotQuery.run(configuration: config, name: self.name, type: self.type,
            client: self.client, trace: self.trace)
        print(out, terminator: "")
    }
}

struct Lists: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Threat feeds and lists.",
        subcommands: [ListsStatus.self, ListsUpdate.self])
}

struct ListsStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status",
        abstract: "Show each policy source: state, rules, serial, age, last error.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var overrides: OverrideOptions

    func run() async throws {
        let config = try loadConfiguration(self.global, self.overrides)
        LoggingSetup.bootstrap(format: config.log.format, level: "warning")
        print(try await PolicyCommands.status(configuration: config), terminator: "")
    }
}

struct ListsUpdate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "update",
        abstract: "Fetch every policy source now and store the good copies in the data directory.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var overrides: OverrideOptions

    func run() async throws {
        let config = try loadConfiguration(self.global, self.overrides)
        LoggingSetup.bootstrap(format: config.log.format, level: "warning")
        let (text, ok) = try await PolicyCommands.update(configuration: config)
        print(text, terminator: "")
        if !ok { throw ExitCode(1) }
    }
}
