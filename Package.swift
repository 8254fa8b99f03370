// swift-tools-version:6.0
import PackageDescription

// No package dependencies: Foundation, FoundationNetworking, Dispatch, Glibc and system libraries only.
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
        .target(name: "HTTPServer", dependencies: ["CLinux"]),
        .target(name: "AgentOS", dependencies: ["HTTPServer"]),
        .target(name: "FixtureAgentOS", dependencies: ["HTTPServer", "AgentOS"]),
        .target(name: "ContractorPortal", dependencies: ["AgentOS"]),
        .target(name: "ContractorBFFApp", dependencies: ["HTTPServer", "AgentOS", "FixtureAgentOS", "ContractorPortal", "COpenSSL", "CLinux"]),
        .executableTarget(name: "ContractorBFF", dependencies: ["ContractorBFFApp"]),
        // Raw-socket client and server fixtures shared by the test targets; never linked into the product.
        .target(name: "TestSupport", dependencies: ["HTTPServer", "CLinux"], path: "Tests/TestSupport"),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer", "TestSupport"]),
        .testTarget(name: "ContractorPortalTests", dependencies: ["ContractorPortal", "AgentOS"]),
        .testTarget(name: "AgentOSTests", dependencies: ["AgentOS", "FixtureAgentOS", "HTTPServer", "TestSupport"]),
        .testTarget(
            name: "ContractorBFFAppTests",
            dependencies: ["ContractorBFFApp", "ContractorBFF", "ContractorPortal", "AgentOS", "FixtureAgentOS", "HTTPServer", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
