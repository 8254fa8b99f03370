import AgentOS
import FixtureAgentOS
import Foundation
import HTTPServer
import Logging
import TestSupport
import Testing

/// A fixture AgentOS on an ephemeral port and a client pointed at it with short, test-sized times.
struct Upstream: Sendable {
    let fixture: FixtureAgentOS
    let server: HTTPServer
    let port: Int
    let log: LogCapture

    static func start() async throws -> Upstream {
        // Enforcing the limit the clients are configured with, so one that overspends is answered 429.
        let fixture = try FixtureAgentOS(
            file: Paths.packageRoot.appendingPathComponent("Fixtures/agentos.json").path,
            keyLimit: KeyLimit.Settings(limit: testConfiguration(port: 0).rateLimit))
        let log = LogCapture()
        let server = fixture.makeServer(logger: .discard)
        let port = try server.start()
        TestScope.onEnd { await server.shutdown() }
        return Upstream(fixture: fixture, server: server, port: port, log: log)
    }

    static func testConfiguration(port: Int) -> AgentOSConfiguration {
        var configuration = AgentOSConfiguration(baseURL: "http://127.0.0.1:\(port)", apiKey: "fixture-key")
        // Generous enough that no call times out on a loaded two-core CI runner (the suite runs every test
        // at once); the tests about timeouts set short ones of their own.
        configuration.attemptTimeout = .seconds(5)
        configuration.deadline = .seconds(20)
        configuration.backoffBase = .milliseconds(10)
        configuration.backoffCap = .milliseconds(40)
        configuration.breakerCoolDown = .milliseconds(400)
        configuration.rateLimit = 10_000
        configuration.retryBudgetMinimum = 100
        // The retry policy's tests count every call: no read cache in front of them.
        configuration.cache = .disabled
        return configuration
    }

    func client(_ configure: (inout AgentOSConfiguration) -> Void = { _ in }) -> AgentOSClient {
        var configuration = Self.testConfiguration(port: port)
        configure(&configuration)
        return AgentOSClient(configuration: configuration, logger: log.logger)
    }

    func faults(_ rules: FaultRule...) { fixture.faults.set(rules) }

    func received(_ operation: String) async -> Int { await fixture.store.received[operation] ?? 0 }
    func writes(_ operation: String) async -> Int { await fixture.store.writes[operation] ?? 0 }

    /// Stops the fixture; a 429 or 403 it had to answer (rather than one a fault rule made) fails the test.
    func stop() async {
        await server.shutdown()
        let limits = fixture.keyLimit.counters
        if limits.limited > 0 || limits.blocked > 0 {
            Issue.record("AgentOS had to refuse this test's calls: \(limits.limited) × 429, \(limits.blocked) × 403")
        }
    }
}

func context(_ seconds: Double = 20) -> CallContext {
    CallContext(requestID: "test-req", deadline: .now + .milliseconds(Int(seconds * 1000)))
}

