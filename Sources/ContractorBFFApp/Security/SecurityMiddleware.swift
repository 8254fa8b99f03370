import AgentOS
import Foundation
import HTTPServer

/// The outermost layer: CORS for the configured portal origins (with credentials) including preflights,
/// and `Cache-Control: no-store` on authenticated answers; `standard` are the headers of every response
/// (OWASP's REST and HTTP headers cheat sheets). It turns errors thrown below into responses here, with
/// `renderError`, so error answers get the same treatment and each API its own error shape.
struct SecurityHeaders: Middleware {
    let origins: Set<String>
    /// What a preflight allows: the built-in list plus `CORS_EXTRA_HEADERS`.
    let allowedHeaders: String
    let renderError: @Sendable (Request, any Error) -> Response

    static let allowedMethods = "GET, POST, PATCH, OPTIONS"
    /// What the portal's own calls send, and what tRPC's links send: `trpc-accept` (httpBatchStreamLink),
    /// `x-trpc-source` (create-t3-app's links), `Last-Event-ID` (a resumed subscription), `Accept` with
    /// `application/jsonl` (the stream link's `streamHeader: 'accept'`), `Cache-Control` (EventSource).
    static let builtInHeaders = [
        "Authorization", "Content-Type", "Idempotency-Key", "X-CSRF-Token", "X-Request-Id",
        "trpc-accept", "x-trpc-source", "Last-Event-ID", "Accept", "Cache-Control",
    ]
    /// What a client must be able to read of an answer.
    static let exposedHeaders = "Retry-After, X-Request-Id, Idempotent-Replayed, X-Cache, Age"

    init(origins: Set<String>, extraHeaders: [String] = [], renderError: @escaping @Sendable (Request, any Error) -> Response) {
        self.origins = origins
        var seen = Set<String>()
        allowedHeaders = (Self.builtInHeaders + extraHeaders).filter { seen.insert($0.lowercased()).inserted }.joined(separator: ", ")
        self.renderError = renderError
    }

    func handle(_ request: Request, next: Handler) async throws -> Response {
        let origin = request.headers["Origin"]
        let allowed = origin.map(origins.contains) ?? false
        var response: Response
        if request.method == .options, origin != nil, request.headers["Access-Control-Request-Method"] != nil {
            // A preflight: answered here, never routed.
            if allowed {
                response = Response(status: 204)
                response.headers.set("Access-Control-Allow-Methods", Self.allowedMethods)
                response.headers.set("Access-Control-Allow-Headers", allowedHeaders)
                response.headers.set("Access-Control-Max-Age", "600")
            } else {
                response = renderError(request, GatewayRefusal.originNotAllowed)
            }
        } else {
            do { response = try await next(request) } catch { response = renderError(request, error) }
        }
        if let origin, allowed {
            response.headers.set("Access-Control-Allow-Origin", origin)
            response.headers.set("Access-Control-Allow-Credentials", "true")
            response.headers.set("Access-Control-Expose-Headers", Self.exposedHeaders)
        }
        // The answer depends on Origin, so caches must keep answers apart by it (beside what else it varies by).
        let vary = response.headers["Vary"].map { $0 + ", Origin" } ?? "Origin"
        response.headers.set("Vary", vary)
        if response.headers["Cache-Control"] == nil, request.headers["Authorization"] != nil || request.headers["Cookie"] != nil {
            response.headers.set("Cache-Control", "no-store")
        }
        return response
    }

    /// The headers of every response, written by the server core so that its own refusals (malformed
    /// requests, oversized heads and bodies, timeouts) carry them too.
    static func standard(hstsMaxAge: Int) -> HTTPHeaders {
        var headers: HTTPHeaders = [
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
            "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
        ]
        if hstsMaxAge > 0 { headers.set("Strict-Transport-Security", "max-age=\(hstsMaxAge); includeSubDomains") }
        return headers
    }
}

/// Token buckets per client address and per session on everything under /api/ (decoded, as the router
/// matches it; probes are never limited):
/// over either, 429 with Retry-After before any handler runs.
struct RateLimiting: Middleware {
    let limits: any RateLimitStore
    let sessions: SessionAuthenticator
    let clientAddress: ClientAddress
    let perIP: Int
    let perSession: Int

    func handle(_ request: Request, next: Handler) async throws -> Response {
        guard APIPath.isAPI(request.pathSegments) else { return try await next(request) }
        let client = clientAddress.of(peer: request.remoteAddress, forwardedFor: request.headers.values("X-Forwarded-For"))
        if let wait = await limits.take("ip:" + client, perMinute: perIP) {
            throw GatewayRefusal.rateLimited(retryAfterSeconds: wait, scope: .address)
        }
        if SessionAuthenticator.token(in: request) != nil, case .success(let session) = await sessions.session(of: request),
           let wait = await limits.take("session:" + session.id, perMinute: perSession) {
            throw GatewayRefusal.rateLimited(retryAfterSeconds: wait, scope: .session)
        }
        return try await next(request)
    }
}

/// Cross-site request forgery, two layers (OWASP's CSRF cheat sheet). A request that changes state and
/// comes with the browser's cookies must (1) come from a configured portal origin, judged by Origin (or,
/// without it, Referer), and (2) when it carries a session cookie, send `X-CSRF-Token` as issued for that
/// session by GET /api/security/csrf-token. Requests with an Authorization header carry no ambient
/// credentials and are exempt; GET and HEAD never change state here, so they are not checked.
struct CSRFProtection: Middleware {
    let origins: Set<String>
    let sessions: SessionAuthenticator
    let csrf: CSRFTokens
    /// When the gateway serves the portal page itself, the page's origin (the one whose authority is the
    /// request's Host) is a portal origin too. A browser never lets another site send that Origin.
    var allowsOwnOrigin = false

    func handle(_ request: Request, next: Handler) async throws -> Response {
        // Compared one by one: an array literal here was an allocation on every request.
        let readOnly = request.method == .get || request.method == .head || request.method == .options
        guard !readOnly, request.headers["Authorization"] == nil else { return try await next(request) }
        let hasCookies = SessionAuthenticator.cookie(SessionAuthenticator.cookieName, in: request) != nil
            || SessionAuthenticator.cookie(AuthService.refreshCookie, in: request) != nil
        // Sign-in itself has no cookie yet; its Origin is still checked when a browser sends one (login CSRF).
        let segments = request.pathSegments
        let signingIn = APIPath.is(segments, "/api/auth/login")
        guard hasCookies || request.headers["Origin"] != nil || signingIn else { return try await next(request) }
        switch Self.origin(of: request) {
        case .some(let origin) where !origins.contains(origin) && !(allowsOwnOrigin && Self.isOwn(origin, request)): throw GatewayRefusal.originNotAllowed
        case nil where request.headers["Referer"] != nil: throw GatewayRefusal.originNotAllowed  // unreadable: not proof of anything
        default: break
        }
        // Signing in and refreshing act on no session (only on the credentials sent): the Origin check suffices.
        let actsOnSession = !signingIn && !APIPath.is(segments, "/api/auth/refresh")
        if actsOnSession, SessionAuthenticator.cookie(SessionAuthenticator.cookieName, in: request) != nil,
           case .success(let session) = await sessions.session(of: request) {
            guard let presented = request.headers["X-CSRF-Token"], csrf.verify(presented, for: session.id) else {
                throw GatewayRefusal.csrfInvalid
            }
        }
        return try await next(request)
    }

    /// Whether `origin` is the gateway's own as the browser reached it: its authority is the Host asked for.
    static func isOwn(_ origin: String, _ request: Request) -> Bool {
        guard let host = request.headers["Host"], let range = origin.range(of: "://") else { return false }
        return origin[range.upperBound...].lowercased() == host.lowercased()
    }

    /// The request's origin: the Origin header, else the scheme and authority of Referer. "null" (a sandboxed
    /// or privacy-stripped origin) is never a portal origin.
    static func origin(of request: Request) -> String? {
        if let origin = request.headers["Origin"] { return origin }
        guard let referer = request.headers["Referer"], let url = URL(string: referer), let scheme = url.scheme, let host = url.host else { return nil }
        return "\(scheme)://\(host)" + (url.port.map { ":\($0)" } ?? "")
    }
}
