// swift-tools-version: 6.1
import PackageDescription

/// Settings shared by every target (declared once, as swift-nio does).
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let nio = "swift-nio"

/// `PALISADE_TARGETS=DNSWire,DNSPolicy swift test` builds only those targets (and their `…Tests`),
/// so that work on one module does not rebuild the heavy server dependencies. Unset: everything.
let onlyTargets: Set<String>? = Context.environment["PALISADE_TARGETS"].map {
    Set($0.split(separator: ",").map { String($0).filter { $0 != " " } })
}

let package = Package(
    name: "Palisade",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "palisade", targets: ["CLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // Codec: no I/O, trusts nothing.
        .target(
            name: "DNSWire",
            dependencies: [.product(name: "NIOCore", package: nio)],
            swiftSettings: strictSettings
        ),
        .target(
            name: "DNSPipeline",
            dependencies: [
                "DNSWire",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Atomics", package: "swift-atomics"),
            ],
            swiftSettings: strictSettings
        ),
        // A prefetch hint (C, as Swift has no intrinsic): lets one read burst's index probes overlap their cache misses.
        .target(name: "CPrefetch"),
        // Batched UDP system calls (recvmmsg, sendmmsg) for the direct UDP engine: Swift's Glibc module lacks them.
        .target(name: "CDirectUDP"),
        .target(
            name: "DirectIO",
            dependencies: ["CDirectUDP", "DNSWire", .product(name: "NIOCore", package: nio)]
        ),
        // One SQLite process setting the query log's writer needs (C, as sqlite3_config is variadic).
        .target(name: "CSQLiteTuning", linkerSettings: [.linkedLibrary("sqlite3")]),
        .target(
            name: "DNSPolicy",
            dependencies: [
                "DNSWire", "DNSPipeline", "CPrefetch",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "DNSCache",
            dependencies: [
                "DNSWire", "DNSPipeline",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "DNSUpstream",
            dependencies: [
                "DNSWire", "DNSPipeline", "CDirectUDP", "DirectIO",
                .product(name: "NIOCore", package: nio),
                .product(name: "NIOPosix", package: nio),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "NIOTLS", package: nio),
                .product(name: "NIOHTTP1", package: nio),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        // Zone transfers (AXFR/IXFR, NOTIFY, TSIG) for policy feeds served by a primary.
        .target(
            name: "DNSZoneTransfer",
            dependencies: [
                "DNSWire",
                .product(name: "NIOCore", package: nio),
                .product(name: "NIOPosix", package: nio),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "QueryStore",
            dependencies: [
                "DNSPipeline",
                .product(name: "GRDB", package: "GRDB.swift"),
                // The SQLite C API GRDB links: the query-log writer binds its rows directly (QueryStore+Insert).
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                "CSQLiteTuning",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        // The query log on PostgreSQL, for a fleet of resolvers sharing one log: same schema, same queries.
        .target(
            name: "QueryStorePostgres",
            dependencies: [
                "DNSPipeline", "QueryStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "DNSServer",
            dependencies: [
                "DNSWire", "DNSPipeline", "CDirectUDP", "DirectIO",
                .product(name: "NIOCore", package: nio),
                .product(name: "NIOPosix", package: nio),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        // Who is behind a client address: Docker/Podman Engine API, Kubernetes list/watch, static files,
        // with a time-indexed history so that a reused IP never relabels past queries.
        .target(
            name: "WorkloadIdentity",
            dependencies: [
                "DNSWire", "DNSPipeline",
                .product(name: "NIOCore", package: nio),
                .product(name: "NIOPosix", package: nio),
                .product(name: "NIOHTTP1", package: nio),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        // Incidents and exports: webhooks on a workload's first block or detection, JSON event output.
        .target(
            name: "Incidents",
            dependencies: [
                "DNSWire", "DNSPipeline",
                .product(name: "NIOCore", package: nio),
                .product(name: "NIOPosix", package: nio),
                .product(name: "NIOHTTP1", package: nio),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "WebConsole",
            dependencies: [
                "DNSWire", "DNSPipeline", "QueryStore", "DNSPolicy",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdHTTP2", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Runtime",
            dependencies: [
                "DNSWire", "DNSPipeline", "DNSPolicy", "DNSCache", "DNSUpstream", "QueryStore",
                "DNSServer", "WebConsole", "DNSZoneTransfer", "WorkloadIdentity", "Incidents", "QueryStorePostgres",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: nio),
                .product(name: "NIOHTTP1", package: nio),
                .product(name: "NIOPosix", package: nio),
            ],
            exclude: ["Resources"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "CLI",
            dependencies: [
                "Runtime",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "TestSupport",
            dependencies: ["DNSWire", "DNSPipeline"],
            resources: [.copy("Fixtures")],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "DNSWireFuzz",
            dependencies: ["DNSWire"],
            swiftSettings: strictSettings
        ),
        .testTarget(name: "DNSWireTests", dependencies: ["DNSWire", "TestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "DNSPipelineTests", dependencies: ["DNSPipeline", "DNSCache", "TestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "DNSPolicyTests", dependencies: ["DNSPolicy", "TestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "DirectIOTests", dependencies: ["DirectIO", "TestSupport", .product(name: "NIOCore", package: nio)],
            swiftSettings: strictSettings),
        .testTarget(name: "DNSCacheTests", dependencies: ["DNSCache", "TestSupport"], swiftSettings: strictSettings),
        .testTarget(
            name: "DNSZoneTransferTests",
            dependencies: [
                "DNSZoneTransfer", "TestSupport",
                .product(name: "NIOCore", package: nio),
                .product(name: "NIOPosix", package: nio),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "QueryStoreTests",
            dependencies: [
                "QueryStore", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "QueryStorePostgresTests",
            dependencies: [
                "QueryStorePostgres", "QueryStore", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "DNSUpstreamTests",
            dependencies: [
                "DNSUpstream", "DirectIO", "CDirectUDP", "TestSupport",
                .product(name: "NIOCore", package: nio),
                .product(name: "NIOPosix", package: nio),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "WorkloadIdentityTests",
            dependencies: [
                "WorkloadIdentity", "TestSupport",
                .product(name: "NIOCore", package: nio),
                .product(name: "NIOPosix", package: nio),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "IncidentsTests",
            dependencies: [
                "Incidents", "TestSupport",
                .product(name: "NIOCore", package: nio),
                .product(name: "NIOPosix", package: nio),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "WebConsoleTests",
            dependencies: [
                "WebConsole", "QueryStore", "DNSPolicy", "TestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(name: "HouseRulesTests", dependencies: [], swiftSettings: strictSettings),
        .testTarget(name: "RuntimeTests", dependencies: ["Runtime", "DNSCache", "TestSupport"], swiftSettings: strictSettings),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["Runtime", "DNSServer", "DNSUpstream", "QueryStore", "WorkloadIdentity", "TestSupport",
                .product(name: "NIOCore", package: nio), .product(name: "NIOPosix", package: nio)],
            swiftSettings: strictSettings
        ),
    ]
)

if let only = onlyTargets {
    package.targets = package.targets.filter { t in
        only.contains(t.name)
            || ["DNSWire", "DNSPipeline", "TestSupport", "CPrefetch", "CDirectUDP", "DirectIO", "CSQLiteTuning"]
                .contains(t.name)
            || (t.type == .test && only.contains(String(t.name.dropLast(5))))
    }
    if !only.contains("CLI") { package.products = [] }
}
