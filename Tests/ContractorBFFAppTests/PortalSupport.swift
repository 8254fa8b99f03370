import AgentOS
import ContractorBFFApp
import ContractorPortal
import FixtureAgentOS
import Foundation
import HTTPServer
import JSON
import Logging
import TestSupport
import Testing

/// The whole product on loopback: the fixture AgentOS on one ephemeral port, the BFF (its real
/// configuration file, overridden for test-sized times) on another, talking HTTP to each other.
struct Portal: Sendable {
    let fixture: FixtureAgentOS
    let upstream: HTTPServer
    /// False for a second replica: the fixture AgentOS is the first one's, stopped with it.
    var ownsUpstream = true
    let upstreamPort: Int
    let server: HTTPServer
    let port: Int
    let application: Application
    let log: LogCapture
    /// Requests go straight to the application's responder, no socket (domain tests: what the gateway
    /// answers, not how HTTP carries it); the fixture AgentOS is still a server on loopback.
    var inProcess = false
    private let stopping = Once()

    static let secret = "test-session-secret-of-at-least-32-bytes"

    /// The fixture enforces AgentOS's per-key limit like the real one: `fixtureLimit` requests per minute,
    /// or by default the very limit the BFF is configured to keep, so any call our budget lets through
    /// beyond it is answered 429, and `stop()` fails the test.
    static func start(
        upstream configured: Bool = true, fixtureLimit: Int? = nil, fixtureFile: String? = nil, environment: [String: String] = [:],
        sharingAgentOSWith other: Portal? = nil, inProcess: Bool = false, time: ManualTime? = nil,
        _ adjust: (inout AppConfiguration) -> Void = { _ in }
    ) async throws -> Portal {
        // A second replica talks to the first one's fixture AgentOS (one key, one limit for both).
        let fixture = try other?.fixture ?? FixtureAgentOS(
            file: fixtureFile ?? Paths.packageRoot.appendingPathComponent("Fixtures/agentos.json").path)
        let upstream = other?.upstream ?? fixture.makeServer(logger: .discard)
        let upstreamPort = try other?.upstreamPort ?? upstream.start()
        var overrides = [
            "HOST": "127.0.0.1", "PORT": "0", "EVENT_LOOPS": "2", "ACCESS_LOG": "false", "SESSION_SECRET": secret,
            // Times no healthy call reaches on a loaded two-core CI runner (every test runs at once), within the
            // test client's 10 s read; tests about hangs set short ones of their own.
            "AGENTOS_TIMEOUT_MS": "4000", "AGENTOS_DEADLINE_MS": "8000", "AGENTOS_BACKOFF_BASE_MS": "10", "AGENTOS_BACKOFF_CAP_MS": "40",
            "AGENTOS_BREAKER_COOLDOWN_MS": "400", "AGENTOS_RATE_LIMIT": "3000", "PORTAL_INSIGHTS_TIMEOUT_MS": "6000",
            // Reads go to the fixture every time, as the tests' call counts expect; the cache has its own tests.
            "CACHE_TTL_ACCOUNT_SECONDS": "0", "CACHE_TTL_JOBS_SECONDS": "0", "CACHE_TTL_STATEMENTS_SECONDS": "0", "CACHE_TTL_PENDING_SECONDS": "0",
            "PORTAL_NOTES_CALLS_PER_VIEW": "200", "AGENTOS_BUDGET_WARMUP_MS": "0",
            // Every test client is 127.0.0.1 with one session: the abuse limits get their own tests.
            "RATE_LIMIT_IP_PER_MINUTE": "1000000", "RATE_LIMIT_SESSION_PER_MINUTE": "1000000", "AGENTOS_CONTRACTOR_SHARE": "100000",
            // The contractor-scoped (modelled) calls these tests count; the mirror and status-based completion
            // have tests of their own, which turn them on.
            "MIRROR": "off", "COMPLETION_MODE": "modelled", "INVOICE_MODE": "modelled",
            "DATA_DIR": FileManager.default.temporaryDirectory.appendingPathComponent("contractor-bff-test-\(UUID().uuidString)").path,
        ]
        if configured {
            overrides["AGENTOS_BASE_URL"] = "http://127.0.0.1:\(upstreamPort)"
            overrides["AGENTOS_API_KEY"] = fixture.store.apiKey
        }
        var configuration = try AppConfiguration.load(
            file: Paths.packageRoot.appendingPathComponent(AppConfiguration.defaultFile).path,
            environment: overrides.merging(environment) { $1 })
        adjust(&configuration)
        if other == nil { fixture.keyLimit.settings.limit = fixtureLimit ?? configuration.agentOS.rateLimit }
        let log = LogCapture()
        // A test's clock drives the client's breaker, limiter, bulkhead and cache (the rest runs on real time).
        let client = configuration.agentOSClient(configuration.agentOS, logger: log.logger, time: time?.timekeeper ?? .system)
        // Opening the data directory's files is blocking I/O: off the cooperative pool the servers need.
        let opened = await offPool { [configuration] in
            Result { try Application(configuration: configuration, logger: log.logger, agentOS: client, upstreamMode: configured ? .configured : .notConfigured) }
        }
        let application = try opened.get()
        try await application.prepareStore()
        let server = HTTPServer(
            configuration: configuration.server, logger: log.logger, renderRefusal: application.renderRefusal, uncappedAddress: application.uncappedAddress
        ) {
            await application.responder.respond($0)
        }
        application.attach(server: server)
        let port = inProcess ? 0 : try server.start()
        let portal = Portal(
            fixture: fixture, upstream: upstream, ownsUpstream: other == nil, upstreamPort: upstreamPort, server: server, port: port,
            application: application, log: log, inProcess: inProcess)
        TestScope.onEnd { await portal.stop() }
        return portal
    }

    /// Stops both servers; a 429 or 403 the fixture had to answer fails the test that caused it.
    func stop() async {
        guard stopping.first else { return }
        await server.shutdown(whileDraining: { application.drainEventStreams() })
        await application.stop()
        guard ownsUpstream else { return }
        await upstream.shutdown()
        let limits = fixture.keyLimit.counters
        if limits.limited > 0 || limits.blocked > 0 {
            Issue.record("AgentOS had to refuse this test's calls: \(limits.limited) × 429, \(limits.blocked) × 403 (peak \(limits.peakInWindow) a minute)")
        }
    }

    static func token(_ contractor: String = "C-1001", agency: String = "demo", expiresIn: Int = 900, secret: String = secret) -> String {
        let now = Int(Date().timeIntervalSince1970)
        return SessionTokens(secret: secret).sign(SessionClaims(subject: contractor, agency: agency, issuedAt: now, expiresAt: now + expiresIn))
    }

    /// One request on its own connection; `token` becomes a bearer header.
    func send(_ method: String, _ target: String, token: String? = Portal.token(), body: String? = nil, headers: [String: String] = [:]) async -> Reply {
        if inProcess { return await respond(method, target, token: token, body: body, headers: headers) }
        let request = Self.request(method, target, token: token, body: body, headers: headers.merging(["Connection": "close"]) { $1 })
        let (response, _) = await exchange(port: port, request, readTimeout: 10, closeWithin: 0)
        return Reply(raw: response)
    }

    /// The in-process exchange: the request as the server would hand it over, the response as it left the
    /// responder (a streamed body is read to its end).
    private func respond(_ method: String, _ target: String, token: String?, body: String?, headers: [String: String]) async -> Reply {
        var fields: HTTPHeaders = ["Host": "test"]
        if let token { fields.set("Authorization", "Bearer \(token)") }
        if let body, headers["Content-Type"] == nil { fields.set("Content-Type", "application/json") }
        if let body { fields.set("Content-Length", String(body.utf8.count)) }
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { fields.set(name, value) }
        guard let request = try? Request(method: HTTPMethod(method), target: target, headers: fields, body: Array((body ?? "").utf8)) else {
            return Reply(raw: RawResponse(status: 400, headers: [], body: []))
        }
        let response = await application.responder.respond(request)
        var bytes: [UInt8] = []
        switch response.body {
        case .bytes(let all): bytes = all
        case .stream(let chunks): for await chunk in chunks { bytes += chunk }
        case .abort, .cutOff: return Reply(raw: nil)
        }
        return Reply(raw: RawResponse(status: response.status, headers: response.headers.fields, body: bytes))
    }

    /// A request's text; a body is sent as JSON unless `headers` say otherwise.
    static func request(_ method: String, _ target: String, token: String?, body: String?, headers: [String: String]) -> String {
        var head = "\(method) \(target) HTTP/1.1\r\nHost: test\r\n"
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        var headers = headers
        if let body {
            if headers["Content-Type"] == nil { headers["Content-Type"] = "application/json" }
            headers["Content-Length"] = String(body.utf8.count)
        }
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { head += "\(name): \(value)\r\n" }
        return head + "\r\n" + (body ?? "")
    }

    func get(_ target: String, token: String? = Portal.token()) async -> Reply { await send("GET", target, token: token) }

    func received(_ operation: String) async -> Int { await fixture.store.received[operation] ?? 0 }
    func writes() async -> [String: Int] { await fixture.store.writes }
    func faults(_ rules: FaultRule...) { fixture.faults.set(rules) }
}

/// A response with its body parsed as JSON (by our own strict parser, so the literal of every number is
/// kept: 1.00 and 0.9999999999999999 stay apart).
struct Reply: Sendable {
    let raw: RawResponse?
    var status: Int { raw?.status ?? 0 }
    var text: String { raw?.text ?? "" }
    var json: JSONValue { (try? JSONText.parse(raw?.body ?? [])) ?? .null }
    func header(_ name: String) -> String? { raw?.header(name) }

    /// tRPC: the data of a single call.
    var data: JSONValue? { json["result"]?["data"] }
    var trpcCode: String? { if case .string(let code)? = json["error"]?["data"]?["code"] { code } else { nil } }
    var error: String? { if case .string(let message)? = json["error"] { message } else { nil } }
}

extension JSONValue {
    subscript(_ index: Int) -> JSONValue? {
        guard case .array(let items) = self, items.indices.contains(index) else { return nil }
        return items[index]
    }

    var string: String? { if case .string(let text) = self { text } else { nil } }
    var number: String? { if case .number(let literal) = self { literal } else { nil } }
    var count: Int { arrayValue?.count ?? -1 }
}

func encoded(_ json: String) -> String {
    json.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
}
