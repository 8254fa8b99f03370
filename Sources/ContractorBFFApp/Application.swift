import AgentOS
import ContractorPortal
import HTTPServer

/// Wires the process together: the routes of every module behind the server's middleware chain.
public struct Application: Sendable {
    /// Where AgentOS calls go, as /readyz reports it.
    public enum UpstreamMode: String, Sendable {
        case configured
        case fixture
        case notConfigured = "not-configured"
    }

    public let configuration: AppConfiguration
    public let agentOS: AgentOSClient
    public let upstreamMode: UpstreamMode
    public let service: ContractorService
    public let sessions: SessionAuthenticator
    public let responder: Responder

    /// Opens the durable files under DATA_DIR (idempotency records, audit log); throws when they cannot be
    /// opened, since writes must not run without them.
    public init(configuration: AppConfiguration, logger: Logger, agentOS: AgentOSClient, upstreamMode: UpstreamMode) throws {
        self.configuration = configuration
        self.agentOS = agentOS
        self.upstreamMode = upstreamMode
        service = ContractorService(agentOS: agentOS, logger: logger, settings: configuration.portal)
        sessions = SessionAuthenticator(tokens: SessionTokens(secret: configuration.sessionSecret), logger: logger)
        let audit = try AuditLog(directory: configuration.dataDirectory, logger: logger)
        let deadline = configuration.agentOS.deadline.components
        let idempotency = try FileIdempotencyStore(
            directory: configuration.dataDirectory, ttlSeconds: configuration.idempotencyTTLSeconds,
            upstreamDeadlineMs: Int(deadline.seconds) * 1000 + Int(deadline.attoseconds / 1_000_000_000_000_000))
        let writes = PortalWrites(service: service, writeGuard: WriteGuard(store: idempotency, audit: audit))
        var router = Router()
        SystemRoutes.register(on: &router, agentOS: agentOS, mode: upstreamMode)
        ContractorRoutes.register(on: &router, service: service, writes: writes, sessions: sessions)
        TRPCRoutes.register(on: &router, TRPCRoutes.Services(service: service, writes: writes, sessions: sessions, maxBatch: configuration.trpcMaxBatch))
        responder = Responder(router: router)
    }
}

/// Liveness and readiness, for load balancers and orchestrators.
enum SystemRoutes {
    static func register(on router: inout Router, agentOS: AgentOSClient, mode: Application.UpstreamMode) {
        // Alive: the process answers HTTP. Nothing else is checked, so a slow upstream never gets it killed.
        router.get("/healthz") { _ in Response.json(Array(#"{"status":"ok"}"#.utf8)) }
        // Ready: able to serve contractor traffic, which needs AgentOS configured and its breaker not open.
        router.get("/readyz") { _ in
            let breaker = await agentOS.breakerState
            let ready = mode != .notConfigured && breaker != .open
            let body = JSONValue.object([
                "status": .string(ready ? "ready" : "not ready"),
                "agentos": .object([
                    "configured": .bool(mode != .notConfigured), "mode": .string(mode.rawValue), "breaker": .string(breaker.rawValue),
                ]),
            ])
            var response = Response.json(status: ready ? 200 : 503, body.serialized())
            if !ready { response.headers.set("Retry-After", "5") }
            return response
        }
    }
}
