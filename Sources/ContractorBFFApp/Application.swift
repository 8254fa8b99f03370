import AgentOS
import ContractorPortal
import HTTPServer
import JSON
import Logging
import PostgreSQL
import Synchronization

/// Wires the process together: the routes of every module behind the server's middleware chain.
public struct Application: Sendable {
    /// Where AgentOS calls go, as /readyz reports it.
    public enum UpstreamMode: String, Sendable, CaseIterable {
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
    let metrics: MetricsSources
    public let responder: Responder
    /// The server core's own refusals in the shape of the API their target names.
    public let renderRefusal: RefusalRenderer
    /// Addresses the server core does not cap by connection count: the trusted proxies, which carry many
    /// clients each.
    public let uncappedAddress: @Sendable (String) -> Bool
    let events: JobEventHub
    let mirrors: MirrorRunner?
    /// Hears other replicas' revocations of sign-ins (with DATABASE_URL).
    private let revocationListener: PGListener?
    /// Every route the router has (method and pattern), and every operation the API description
    /// describes: a test holds the two equal.
    let routes: [(method: HTTPMethod, pattern: String)]
    let apiDescription: OpenAPIDocument
    var apiOperations: [APIOperation] { apiDescription.operations }
    /// Whether the portal page is served at /portal (the start banner names it).
    public let servesPortalPage: Bool
    /// The shared store's connections, when DATABASE_URL names one.
    let database: PGPool?
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
        let events = JobEventHub(settings: configuration.events)
        self.events = events
        // PostgreSQL when DATABASE_URL names it (shared by the replicas), else the embedded files.
        database = configuration.database.map { PGPool(conninfo: $0.url, size: $0.poolSize, statementTimeoutMs: $0.statementTimeoutMs) }
        var mirrorAccess: ContractorService.MirrorAccess?
        if configuration.mirror.enabled {
            let mirror = AgencyMirror(slaTargets: configuration.portal.slaTargets)
            // One import per agency across the replicas: the lock holder imports, the others follow its snapshots.
            let snapshots = database.map { PostgresMirrorPersistence(pool: $0) }
            let persistence: any MirrorPersistence = snapshots ?? FileMirrorPersistence(directory: directory)
            let leadership = configuration.database.flatMap { settings in
                snapshots.map { MirrorLeadership(conninfo: settings.url, statementTimeoutMs: settings.statementTimeoutMs, snapshots: $0) }
            }
            let runner = MirrorRunner(
                mirror: mirror, agentOS: agentOS, persistence: persistence, settings: configuration.mirror.sync,
                logger: logger, events: events, leadership: leadership)
            mirrors = runner
            mirrorAccess = ContractorService.MirrorAccess(
                mirror: mirror, ensure: { runner.ensure($0) }, cutOff: { leadership.map { !$0.hearsChanges } ?? false })
        } else {
            mirrors = nil
        }
        service = ContractorService(agentOS: agentOS, logger: logger, settings: configuration.portal, observer: events, mirror: mirrorAccess)
        revocationListener = configuration.database.map { PGListener(conninfo: $0.url) }
        let refreshTokens: any RefreshTokenStore = if let database {
            PostgresRefreshTokenStore(
                pool: database, lifetimeSeconds: security.refreshTokenTTL, reuseGraceSeconds: security.refreshReuseGrace,
                listener: revocationListener)
        } else {
            try FileRefreshTokenStore(directory: directory, lifetimeSeconds: security.refreshTokenTTL, reuseGraceSeconds: security.refreshReuseGrace)
        }
        let tokens = SessionTokens(secret: configuration.sessionSecret, maxLifetimeSeconds: security.sessionMaxLifetime)
        sessions = SessionAuthenticator(tokens: tokens, revocations: refreshTokens, logger: logger)
        users = try database.map { PostgresUserStore(pool: $0) } ?? FileUserStore(directory: directory)
        let audit = try AuditLog(directory: directory, logger: logger, database: database)
        let exactLimits = database.map { PostgresRateLimitStore(pool: $0) }
        let limits: any RateLimitStore = try exactLimits ?? FileRateLimitStore(directory: directory)
        // Every request's limits: without a round trip per request when the store is shared.
        let requestLimits: any RateLimitStore = exactLimits.map { BatchedRequestLimits(exact: $0) } ?? limits
        let deadline = configuration.agentOS.deadline.components
        let upstreamDeadlineMs = Int(deadline.seconds) * 1000 + Int(deadline.attoseconds / 1_000_000_000_000_000)
        let idempotency: any IdempotencyStore = if let database {
            PostgresIdempotencyStore(pool: database, ttlSeconds: configuration.idempotencyTTLSeconds, upstreamDeadlineMs: upstreamDeadlineMs)
        } else {
            try FileIdempotencyStore(directory: directory, ttlSeconds: configuration.idempotencyTTLSeconds, upstreamDeadlineMs: upstreamDeadlineMs)
        }
        let writes = PortalWrites(
            service: service, writeGuard: WriteGuard(store: idempotency, audit: audit), events: events,
            invoiceDocumentRequired: configuration.uploads.invoiceDocumentRequired)
        let csrf = CSRFTokens(secret: configuration.sessionSecret)
        let clientAddress = ClientAddress(trustedProxies: security.trustedProxies)
        uncappedAddress = { clientAddress.isTrusted($0) }
        passwords = PasswordWork(limit: security.passwordHashConcurrency)
        let auth = AuthService(
            users: users, refreshTokens: refreshTokens, tokens: tokens, sessions: sessions, limits: limits,
            passwords: passwords, audit: audit, csrf: csrf, settings: security,
            clientAddress: clientAddress)
        var router = Router()
        let mirrorsForStatus = mirrors
        let mirrorStatus: @Sendable () async -> JSONValue = { await mirrorsForStatus?.status() ?? .null }
        let sharedStore = database
        // Writes and sign-in wait for the shared store; reads do not, so the replica stays ready without it.
        let storeStatus: @Sendable () async -> JSONValue = {
            guard let sharedStore else { return ["kind": "embedded"] }
            let reachable = (try? await sharedStore.execute("SELECT 1", deadline: .now + .seconds(1))) != nil
            return ["kind": "postgresql", "reachable": .bool(reachable), "writes": reachable ? "accepted" : "refused until it is back"]
        }
        SystemRoutes.register(on: &router, agentOS: agentOS, mode: upstreamMode, mirror: mirrorStatus, store: storeStatus)
        let requestMetrics = RequestMetrics()
        metrics = MetricsSources(requests: requestMetrics, agentOS: agentOS, audit: audit, events: events, mirror: mirrorStatus)
        MetricsRoute.register(on: &router, token: configuration.metricsToken, sources: metrics)
        auth.register(on: &router)
        ContractorRoutes.register(on: &router, service: service, writes: writes, sessions: sessions, uploads: configuration.uploads)
        EventRoutes.register(on: &router, events: events, sessions: sessions, settings: configuration.events)
        TRPCRoutes.register(on: &router, TRPCRoutes.Services(
            service: service, writes: writes, sessions: sessions, settings: configuration.trpc, events: events, eventSettings: configuration.events,
            uploads: configuration.uploads))
        let servesPage = PortalPage.isServed(configuration.portalPage, mode: upstreamMode)
        if servesPage { PortalPage.register(on: &router) }
        let document = OpenAPIDocument(
            rest: RESTOperations.all(.fixture, metrics: configuration.metricsToken?.isEmpty == false, portalPage: servesPage),
            procedures: Procedure.all, transformer: configuration.trpc.transformer)
        DescriptionRoutes.register(on: &router, document)
        routes = router.table
        apiDescription = document
        self.servesPortalPage = servesPage
        let origins = Set(security.portalOrigins)
        let wire = TRPCWire(transformer: configuration.trpc.transformer)
        // tRPC clients read tRPC's error shape, also for refusals made before the procedure ran; which API
        // a request is for is read from its decoded path, as the router reads it.
        let renderError: @Sendable (Request, any Error) -> Response = { request, error in
            APIPath.isTRPC(request.pathSegments)
                ? wire.refusal(TRPCError.wholeRequest(error), requestID: request.requestID)
                : RESTError.response(for: error, requestID: request.requestID)
        }
        renderRefusal = { refusal, context in
            APIPath.segments(ofTarget: context.target).map(APIPath.isTRPC) == true
                ? wire.refusal(TRPCError(refusal), requestID: context.requestID)
                : ErrorResponse.refusals(refusal, context)
        }
        responder = Responder(router: router, middleware: [
            DatabaseDeadline(),
            MeasureRequests(router: router, metrics: requestMetrics),
            SecurityHeaders(origins: origins, extraHeaders: security.corsExtraHeaders, renderError: renderError),
            SessionResolution(sessions: sessions),
            RateLimiting(limits: requestLimits, sessions: sessions, clientAddress: clientAddress, perIP: security.perIPPerMinute, perSession: security.perSessionPerMinute),
            CSRFProtection(origins: origins, sessions: sessions, csrf: csrf, allowsOwnOrigin: servesPage),
        ])
        for agency in configuration.mirror.agencies { mirrors?.ensure(agency) }
    }
}

extension Application {
    /// Brings the shared store's schema up to date (under an advisory lock, so replicas starting
    /// together apply each migration once); nothing to do with the embedded files.
    public func prepareStore() async throws {
        guard let database else { return }
        try await Migrations.apply(database, deadline: .now + .seconds(120))
    }

    /// Starts the mirror of these agencies now (others start at their first contractor's page).
    public func startMirrors(_ agencies: [String]) {
        for agency in agencies { mirrors?.ensure(agency) }
    }

    /// Ends the background work (the mirror's imports); the stores stay open until the process ends.
    public func stop() async {
        await mirrors?.stop()
        agentOS.close()
        revocationListener?.stop()
    }

    /// The server is stopping: every open event stream ends with its API's end frame (tRPC's `return`),
    /// so clients reconnect to another replica rather than read a cut connection.
    public func drainEventStreams() {
        events.drain()
    }

    /// The server whose connections `/metrics` counts.
    public func attach(server: HTTPServer) {
        metrics.server.withLock { $0 = server }
    }

    /// Event streams open right now.
    public var openEventStreams: Int { events.subscriberCount }
}

/// Liveness and readiness, for load balancers and orchestrators.
enum SystemRoutes {
    static func register(
        on router: inout Router, agentOS: AgentOSClient, mode: Application.UpstreamMode, mirror: @escaping @Sendable () async -> JSONValue,
        store: @escaping @Sendable () async -> JSONValue
    ) {
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
                "mirror": await mirror(),
                "store": await store(),
            ])
            var response = Response.json(status: ready ? 200 : 503, body.serialized())
            if !ready { response.headers.set("Retry-After", "5") }
            return response
        }
    }
}
