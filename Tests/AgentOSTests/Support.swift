import AgentOS
import FixtureAgentOS
import Foundation
import HTTPServer
import TestSupport

/// A fixture AgentOS on an ephemeral port and a client pointed at it with short, test-sized times.
struct Upstream: Sendable {
    let fixture: FixtureAgentOS
    let server: HTTPServer
    let port: Int
    let log: LogCapture

    static func start() async throws -> Upstream {
        let fixture = try FixtureAgentOS(file: Paths.packageRoot.appendingPathComponent("Fixtures/agentos.json").path)
        let log = LogCapture()
        let server = fixture.makeServer(logger: .discard)
        let port = try server.start()
        return Upstream(fixture: fixture, server: server, port: port, log: log)
    }

    static func testConfiguration(port: Int) -> AgentOSConfiguration {
        var configuration = AgentOSConfiguration(baseURL: "http://127.0.0.1:\(port)", apiKey: "fixture-key")
        configuration.attemptTimeout = .seconds(1)
        configuration.deadline = .seconds(4)
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

    func stop() async { await server.shutdown() }
}

func context(_ seconds: Double = 5) -> CallContext {
    CallContext(requestID: "test-req", deadline: .now + .milliseconds(Int(seconds * 1000)))
}

