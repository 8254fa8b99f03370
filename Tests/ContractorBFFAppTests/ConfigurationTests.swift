import AgentOS
import ContractorBFFApp
import Foundation
import HTTPServer
import Logging
import TestSupport
import Testing

@Suite("Configuration: one file, environment overrides, refusals that name the key", .scoped)
struct ConfigurationTests {
    let defaultFile = Paths.packageRoot.appendingPathComponent("config/default.json").path

    func file(_ json: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("bff-config-\(UUID().uuidString).json")
        try Data(json.utf8).write(to: url)
        return url.path
    }

    @Test func defaultFileMatchesTheDocumentedServerDefaults() throws {
        let configuration = try AppConfiguration.load(file: defaultFile, environment: [:])
        var expected = ServerConfiguration()
        // The app adds the security headers every response carries; HSTS only when configured.
        expected.standardHeaders = configuration.server.standardHeaders
        // The upload routes take UPLOAD_MAX_REQUEST_BYTES (25 MiB), spooled past 64 KiB; no other route does.
        expected.limits.bodyRoutes = [
            "/api/contractor/invoices", "/api/contractor/jobs/:jobId/documents", "/api/trpc/contractor.submitInvoice",
            "/api/trpc/contractor.attachJobDocument",
        ].map { BodyRoute(method: "POST", path: $0, maxBytes: 25 * 1024 * 1024, spoolAboveBytes: 64 * 1024) }
        expected.limits.spoolDirectory = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        #expect(configuration.server == expected)
        #expect(configuration.server.standardHeaders["X-Content-Type-Options"] == "nosniff")
        #expect(configuration.server.standardHeaders["Strict-Transport-Security"] == nil)
        #expect(configuration.logLevel == .info)
    }

    @Test func agentOSDefaultsAreTheDocumentedOnesAndUnconfigured() throws {
        let configuration = try AppConfiguration.load(file: defaultFile, environment: [:])
        #expect(configuration.agentOS == AgentOSConfiguration())
        #expect(!configuration.agentOS.isConfigured)
        #expect(configuration.fixtureWhenUnconfigured)
    }

    @Test func agentOSIsConfiguredFromTheEnvironment() throws {
        let configuration = try AppConfiguration.load(file: defaultFile, environment: [
            "AGENTOS_BASE_URL": "https://live-api.letmc.com", "AGENTOS_API_KEY": "k", "AGENTOS_KEY_IN": "query",
            "AGENTOS_TIMEOUT_MS": "1500", "AGENTOS_RETRY_BUDGET_PERCENT": "10",
        ])
        #expect(configuration.agentOS.isConfigured)
        #expect(configuration.agentOS.keyPlacement == .query)
        #expect(configuration.agentOS.attemptTimeout == .milliseconds(1500))
        #expect(configuration.agentOS.retryBudgetRatio == 0.1)
    }

    @Test(arguments: [("AGENTOS_BASE_URL", "ftp://example.com"), ("AGENTOS_BASE_URL", "not a url"), ("AGENTOS_KEY_IN", "body"),
                      ("AGENTOS_MAX_ATTEMPTS", "0"), ("FIXTURE_MODE", "sometimes")])
    func badAgentOSValueIsRefused(key: String, value: String) throws {
        #expect(throws: ConfigError.self) { try AppConfiguration.load(file: defaultFile, environment: [key: value]) }
    }

    @Test func everyKeyHasAValueInTheDefaultFile() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: defaultFile))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(Set(object.keys) == Set(ConfigKey.all.map(\.name)))
    }

    @Test func environmentOverridesTheFile() throws {
        let configuration = try AppConfiguration.load(
            file: defaultFile, environment: ["PORT": "9123", "HEADER_TIMEOUT_MS": "250", "ACCESS_LOG": "false", "UNRELATED": "x"])
        #expect(configuration.server.port == 9123)
        #expect(configuration.server.headerTimeout == .milliseconds(250))
        #expect(configuration.server.accessLog == false)
        #expect(configuration.sources["PORT"] == "environment")
    }

    @Test(arguments: [
        ("PORT", "abc"), ("PORT", "70000"), ("PORT", "-1"), ("MAX_CONNECTIONS", "0"), ("HEADER_TIMEOUT_MS", "1.5"),
        ("ACCESS_LOG", "maybe"), ("LOG_LEVEL", "loud"), ("HOST", ""), ("MAX_BODY_BYTES", "1e6"),
    ])
    func badEnvironmentValueIsRefusedNamingTheKey(key: String, value: String) throws {
        do {
            _ = try AppConfiguration.load(file: defaultFile, environment: [key: value])
            Issue.record("\(key)=\(value) was accepted")
        } catch {
            guard case .badValue(let named, _, _, let source) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(named == key)
            #expect(source == "environment")
            #expect(error.description.contains(key))
        }
    }

    @Test func unknownKeyInTheFileIsRefused() throws {
        let path = try file(#"{"PORT": 1, "PROT": 2}"#)
        #expect(throws: ConfigError.unknownKey("PROT", path: path)) {
            try AppConfiguration.load(file: path, environment: [:])
        }
    }

    @Test func missingKeyIsRefused() throws {
        let path = try file(#"{"PORT": 1}"#)
        #expect(throws: ConfigError.self) { try AppConfiguration.load(file: path, environment: [:]) }
    }

    @Test func wrongTypeInTheFileIsRefused() throws {
        let original = try String(contentsOfFile: defaultFile, encoding: .utf8)
        let path = try file(original.replacingOccurrences(of: "\"PORT\": 8080", with: "\"PORT\": 80.5"))
        #expect(throws: ConfigError.badValue(key: "PORT", value: "80.5", expected: "a whole number in 0...65535", source: path)) {
            try AppConfiguration.load(file: path, environment: [:])
        }
    }

    @Test func missingFileAndMalformedJSONAreRefused() throws {
        #expect(throws: ConfigError.self) { try AppConfiguration.load(file: "/nonexistent/bff.json", environment: [:]) }
        let path = try file("[1, 2]")
        #expect(throws: ConfigError.self) { try AppConfiguration.load(file: path, environment: [:]) }
    }
}
