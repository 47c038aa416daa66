// swift-tools-version: 6.1
// The floor under Palisade's UDP path: a SwiftNIO datagram server with the listener's channel options that answers
// each query with its own bytes (QR set) and does nothing else. See run.sh.
import PackageDescription

let package = Package(
    name: "NIOFloor",
    dependencies: [.package(url: "https://github.com/apple/swift-nio.git", from: "2.65.0")],
    targets: [
        .executableTarget(name: "nio-floor", dependencies: [
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
        ]),
    ]
)
