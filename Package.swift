// swift-tools-version:6.0
import PackageDescription

// No package dependencies: Foundation, FoundationNetworking, Dispatch, Glibc and system libraries only.

// Every file imports the modules whose members it uses: an import elsewhere in the module is not enough.
let strict: [SwiftSetting] = [.enableUpcomingFeature("MemberImportVisibility")]

let package = Package(
    name: "ContractorBFF",
    products: [
        .executable(name: "contractor-bff", targets: ["ContractorBFF"]),
        .library(name: "HTTPServer", targets: ["HTTPServer"]),
    ],
    targets: [
        // glibc's epoll/eventfd/accept4 headers, which Swift's Glibc module map leaves out. Links nothing.
        .systemLibrary(name: "CLinux", path: "Sources/CLinux"),
        // OpenSSL's libcrypto (HMAC-SHA256, CRYPTO_memcmp, RAND_bytes); headers from libssl-dev.
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL"),
        // libpq, PostgreSQL's client (the shared store of several replicas); headers from libpq-dev.
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ"),
        // Leaves: the JSON value type, its parser and string escaping; the structured line logger.
        .target(name: "JSON", swiftSettings: strict),
        .target(name: "Logging", dependencies: ["JSON"], swiftSettings: strict),
        // SHA-256 by libcrypto, fed in pieces (uploaded files are hashed as they are read).
        .target(name: "Digest", dependencies: ["COpenSSL"], swiftSettings: strict),
        .target(name: "HTTPServer", dependencies: ["CLinux", "JSON", "Logging"], swiftSettings: strict),
        // A connection pool over libpq whose blocking calls run on queues of their own.
        .target(name: "PostgreSQL", dependencies: ["CLibPQ"], swiftSettings: strict),
        // The client knows nothing of the server; the fixture shares no code with the client it fakes.
        .target(name: "AgentOS", dependencies: ["JSON", "Logging"], swiftSettings: strict),
        .target(name: "FixtureAgentOS", dependencies: ["HTTPServer", "JSON", "Logging", "Digest"], swiftSettings: strict),
        .target(name: "ContractorPortal", dependencies: ["AgentOS", "JSON"], swiftSettings: strict),
        .target(
            name: "ContractorBFFApp",
            dependencies: ["HTTPServer", "AgentOS", "FixtureAgentOS", "ContractorPortal", "JSON", "Logging", "Digest", "COpenSSL", "CLinux", "PostgreSQL"],
            swiftSettings: strict),
        .executableTarget(name: "ContractorBFF", dependencies: ["ContractorBFFApp"], swiftSettings: strict),
        // Raw-socket client and server fixtures shared by the test targets; never linked into the product.
        .target(name: "TestSupport", dependencies: ["HTTPServer", "AgentOS", "CLinux"], path: "Tests/TestSupport", swiftSettings: strict),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer", "JSON", "Logging", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "PostgreSQLTests", dependencies: ["PostgreSQL", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "ContractorPortalTests", dependencies: ["ContractorPortal", "AgentOS", "JSON"], swiftSettings: strict),
        .testTarget(
            name: "AgentOSTests", dependencies: ["AgentOS", "FixtureAgentOS", "HTTPServer", "JSON", "Logging", "TestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "ContractorBFFAppTests",
            dependencies: [
                "ContractorBFFApp", "ContractorBFF", "ContractorPortal", "AgentOS", "FixtureAgentOS", "HTTPServer", "JSON", "Logging", "Digest", "PostgreSQL",
                "TestSupport",
            ],
            swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
