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
    public let users: any UserStore
    public let responder: Responder
    private let passwords: PasswordWork
    /// Password hashes computed for sign-ins so far.
    public var passwordHashesComputed: Int { passwords.computed.current }

    /// Opens the durable stores under DATA_DIR (idempotency records, audit log, users, refresh tokens,
    /// lock-outs); throws when they cannot be opened, since writes and sign-in must not run without them.
    public init(configuration: AppConfiguration, logger: Logger, agentOS: AgentOSClient, upstreamMode: UpstreamMode) throws {
        self.configuration = configuration
        self.agentOS = agentOS
        self.upstreamMode = upstreamMode
        let security = configuration.security
        let directory = configuration.dataDirectory
        service = ContractorService(agentOS: agentOS, logger: logger, settings: configuration.portal)
        let refreshTokens = try FileRefreshTokenStore(directory: directory, lifetimeSeconds: security.refreshTokenTTL)
        let tokens = SessionTokens(secret: configuration.sessionSecret)
        sessions = SessionAuthenticator(tokens: tokens, revocations: refreshTokens, logger: logger)
        users = try FileUserStore(directory: directory)
        let audit = try AuditLog(directory: directory, logger: logger)
        let limits = try FileRateLimitStore(directory: directory)
        let deadline = configuration.agentOS.deadline.components
        let idempotency = try FileIdempotencyStore(
            directory: directory, ttlSeconds: configuration.idempotencyTTLSeconds,
            upstreamDeadlineMs: Int(deadline.seconds) * 1000 + Int(deadline.attoseconds / 1_000_000_000_000_000))
        let writes = PortalWrites(service: service, writeGuard: WriteGuard(store: idempotency, audit: audit))
        let csrf = CSRFTokens(secret: configuration.sessionSecret)
        let clientAddress = ClientAddress(trustedProxies: security.trustedProxies)
        passwords = PasswordWork(limit: security.passwordHashConcurrency)
        let auth = AuthService(
            users: users, refreshTokens: refreshTokens, tokens: tokens, sessions: sessions, limits: limits,
            passwords: passwords, audit: audit, csrf: csrf, settings: security,
            clientAddress: clientAddress)
        var router = Router()
        SystemRoutes.register(on: &router, agentOS: agentOS, mode: upstreamMode)
        auth.register(on: &router)
        ContractorRoutes.register(on: &router, service: service, writes: writes, sessions: sessions)
        TRPCRoutes.register(on: &router, TRPCRoutes.Services(service: service, writes: writes, sessions: sessions, maxBatch: configuration.trpcMaxBatch))
        let origins = Set(security.portalOrigins)
        responder = Responder(router: router, middleware: [
            SecurityHeaders(origins: origins, renderError: { request, error in
                // tRPC clients read tRPC's error shape, also for refusals made before the procedure ran.
                request.path.hasPrefix(TRPCRoutes.prefix) ? TRPCRoutes.refusal(request, error) : ErrorResponse.make(for: error, requestID: request.requestID)
            }),
            RateLimiting(limits: limits, sessions: sessions, clientAddress: clientAddress, perIP: security.perIPPerMinute, perSession: security.perSessionPerMinute),
            CSRFProtection(origins: origins, sessions: sessions, csrf: csrf),
        ])
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
