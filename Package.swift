// swift-tools-version:6.1
import PackageDescription

// Data-plane targets drop dynamic exclusivity checks in release builds only
// (measured: the largest single cost in class-based dispatch; see
// shared/reference/swift-perf.md §3.3). Debug and test builds keep them.
let dataPlaneRelease: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "Sluice",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sluice", targets: ["sluice"]),
        // An LD_PRELOAD allocation counter for the allocation test and scripts (not part of sluice).
        .library(name: "SluiceAllocCount", type: .dynamic, targets: ["CAllocCount"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // C shims and system libraries.
        .target(name: "CSysShim", cSettings: [.define("_GNU_SOURCE")]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .target(name: "CTLSShim", dependencies: ["COpenSSL"]),
        .target(name: "CAllocCount"),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        // Pure modules: no I/O, no Foundation.
        .target(name: "SluiceCore"),
        .target(name: "HTTP1", dependencies: ["SluiceCore"]),
        .target(name: "Routing", dependencies: ["SluiceCore"]),
        .target(name: "Telemetry", dependencies: ["SluiceCore"]),

        // YAML into a validated config (Foundation allowed here).
        .target(name: "Config", dependencies: ["SluiceCore", "Routing", .product(name: "Yams", package: "Yams")]),

        // Wrappers over the system libraries.
        .target(name: "TLS", dependencies: ["COpenSSL", "CTLSShim"]),
        .target(name: "Compression", dependencies: ["CZlib"]),

        // The only module that makes socket/epoll calls.
        .target(name: "EventLoop", dependencies: ["CSysShim", "SluiceCore"], swiftSettings: dataPlaneRelease),

        // The data plane.
        .target(name: "Proxy", dependencies: ["CSysShim", "SluiceCore", "HTTP1", "Routing", "EventLoop", "Config", "Telemetry", "TLS"],
                swiftSettings: dataPlaneRelease),

        // The admin port; reaches the data plane only through closures (never imports Proxy).
        .target(name: "Admin", dependencies: ["SluiceCore", "HTTP1", "EventLoop", "Compression"]),

        // Per-request records to the monitor (push) and the access log, off the request path.
        .target(name: "Monitor", dependencies: ["CSysShim", "SluiceCore", "HTTP1", "EventLoop", "Compression", "Telemetry"],
                swiftSettings: dataPlaneRelease),

        // One running Sluice: data plane plus admin port, wired together.
        .target(name: "Runtime", dependencies: ["SluiceCore", "EventLoop", "Config", "Routing", "Proxy", "Admin", "Telemetry", "Monitor"]),

        // Loopback backends and an HTTP client for the demo, tests and benchmarks.
        .target(name: "Harness", dependencies: ["SluiceCore", "HTTP1", "EventLoop"]),
        // Shared by test targets only (Foundation's Process, a test PKI): never linked into sluice.
        .target(name: "TestSupport", dependencies: ["SluiceCore"]),

        .executableTarget(name: "sluice", dependencies: [
            "SluiceCore", "HTTP1", "EventLoop", "TLS", "Compression", "Config", "Routing", "Proxy", "Harness", "Admin", "Telemetry", "Runtime",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // libFuzzer entry points; built by scripts/fuzz with -sanitize=fuzzer.
        .executableTarget(name: "FuzzHTTP1Request", dependencies: ["HTTP1"]),
        .executableTarget(name: "FuzzHTTP1Response", dependencies: ["HTTP1"]),
        // Parser micro-benchmark (scripts/parser-bench).
        .executableTarget(name: "ParserBench", dependencies: ["HTTP1"]),

        .testTarget(name: "SluiceCoreTests", dependencies: ["SluiceCore"]),
        .testTarget(name: "HTTP1Tests", dependencies: ["HTTP1"]),
        .testTarget(name: "RoutingTests", dependencies: ["Routing", "SluiceCore"]),
        .testTarget(name: "ConfigTests", dependencies: ["Config", "Routing"]),
        .testTarget(name: "TelemetryTests", dependencies: ["Telemetry"]),
        .testTarget(name: "CLITests", dependencies: ["Harness", "TestSupport", "TLS", "HTTP1"]),
        .testTarget(name: "AdminTests", dependencies: ["Runtime", "Admin", "Harness", "Config", "Routing", "HTTP1", "SluiceCore", "TestSupport",
                                                       "Telemetry", "Monitor", "Compression", "EventLoop"]),
        .testTarget(name: "ProxyTests", dependencies: ["Proxy", "Harness", "Config", "Routing", "HTTP1", "EventLoop", "SluiceCore", "TLS", "Telemetry", "TestSupport"]),
        .testTarget(name: "EventLoopTests", dependencies: ["EventLoop", "SluiceCore", "CSysShim", "TestSupport"]),
        .testTarget(name: "TLSTests", dependencies: ["TLS"]),
        .testTarget(name: "CompressionTests", dependencies: ["Compression", "TestSupport"]),
    ]
)
