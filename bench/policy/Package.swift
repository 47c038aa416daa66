// swift-tools-version: 6.1
// A standalone benchmark of the policy engine. It compiles the real DNSWire, DNSPipeline and DNSPolicy
// sources (symlinked) without the server's dependencies, so it builds in seconds in release mode.
import PackageDescription

let package = Package(
    name: "PolicyBench",
    platforms: [.macOS(.v15)],
    // DNSPipeline records metrics (the API only: without a backend bootstrapped they cost nothing here).
    dependencies: [
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
    ],
    targets: [
        .target(name: "DNSWire", path: "Sources/DNSWire"),
        .target(name: "DNSPipeline", dependencies: ["DNSWire", .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Atomics", package: "swift-atomics")], path: "Sources/DNSPipeline"),
        .target(name: "CPrefetch", path: "Sources/CPrefetch"),
        .target(name: "DNSPolicy", dependencies: ["DNSWire", "DNSPipeline", "CPrefetch",
            .product(name: "Metrics", package: "swift-metrics")], path: "Sources/DNSPolicy"),
        .executableTarget(name: "policy-bench", dependencies: ["DNSWire", "DNSPipeline", "DNSPolicy"],
            path: "Sources/policy-bench"),
    ]
)
