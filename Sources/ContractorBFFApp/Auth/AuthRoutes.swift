import AgentOS
import ContractorPortal
import Foundation
import HTTPServer
import JSON

/// The portal's own sign-in: `POST /api/auth/login`, `/refresh`, `/logout`, `GET /api/auth/me`, and the
/// CSRF token of `GET /api/security/csrf-token`. Access tokens are the HS256 session tokens every contractor
/// route verifies (`sid` = the sign-in's refresh-token family); refresh tokens are random, stored hashed,
/// rotated on each use, and a replayed one ends its whole family.
struct AuthService: Sendable {
    let users: any UserStore
    let refreshTokens: any RefreshTokenStore
    let tokens: SessionTokens
    let sessions: SessionAuthenticator
    let limits: any RateLimitStore
    let passwords: PasswordWork
    let audit: AuditLog
    let csrf: CSRFTokens
    let settings: AppConfiguration.SecuritySettings
    let clientAddress: ClientAddress
    /// The answer each refresh token got, kept for the reuse grace, so a second tab refreshing with the
    /// same token at the same moment gets the same new pair.
    let rotations = RecentRotations()

    static let refreshCookie = "refresh"

    /// 128 bits of SHA-256, hex: what limiter keys are made of.
    static func digest(_ text: String) -> String { String(Crypto.hex(Crypto.sha256(Array(text.utf8))).prefix(32)) }

    /// Milliseconds since 1970.
    static func now() -> Int { Int(Date().timeIntervalSince1970 * 1000) }
    static let invalidCredentials = "Invalid email or password"

    func register(on router: inout Router) {
        router.post("/api/auth/login") { request in try await login(request) }
        router.post("/api/auth/refresh") { request in try await refresh(request) }
        router.post("/api/auth/logout") { request in try await logout(request) }
        router.get("/api/auth/me") { request in
            let session = try await requireSession(request)
            var fields: [String: JSONValue] = [
                "contractorId": .string(session.identity.contractorId), "agency": .string(session.identity.shortName),
                "role": session.role.map(JSONValue.string) ?? .null, "expiresAt": .number(String(session.claims.expiresAt)),
            ]
            if let sid = session.claims.sessionID { fields["sessionId"] = .string(sid) }
            return noStore(Response.json(JSONValue.object(fields).serialized()))
        }
        router.get("/api/security/csrf-token") { request in
            let session = try await requireSession(request)
            return noStore(Response.json(JSONValue.object(["csrfToken": .string(csrf.token(for: session.id))]).serialized()))
        }
    }

    // MARK: the routes

    func login(_ request: Request) async throws -> Response {
        let input = try RESTInput.object(request)
        guard case .string(let rawEmail)? = input["email"], case .string(let password)? = input["password"] else {
            throw HTTPError(400, "email and password are required strings")
        }
        // Refused before any limiter: no key, file line or hash is made from an oversized field.
        guard rawEmail.utf8.count <= 254 else { throw HTTPError(400, "email must be at most 254 bytes") }
        guard password.utf8.count <= Passwords.maximumLength * 4 else { throw HTTPError(400, "password must be at most \(Passwords.maximumLength) bytes") }
        let email = PortalUser.normalize(rawEmail)
        let client = clientAddress.of(peer: request.remoteAddress, forwardedFor: request.headers.values("X-Forwarded-For"))
        func event(_ outcome: String, _ status: Int, _ user: PortalUser?, _ detail: String? = nil) async {
            await audit.record(AuditLog.Event(
                action: "auth.login", agency: user?.agency, contractor: user?.contractorId, target: nil, outcome: outcome, status: status,
                requestID: request.requestID, detail: detail, client: client))
        }
        // Keys are fixed-size digests of the normalised email (and of the address with it), never the text.
        // Per address; then per account *and* address, so that one address guessing at an account locks
        // only itself out (OWASP: a lock-out must not become a denial of service for the owner); the
        // account as a whole locks only after LOGIN_ACCOUNT_LOCKOUT_THRESHOLD failures from everywhere.
        if let wait = await limits.take("login-ip:" + client, perMinute: settings.loginPerMinute) {
            await event("rate_limited", 429, nil, "address")
            throw tooMany("Too many sign-in attempts; try again later", wait)
        }
        let account = "login-account:" + Self.digest(email)
        let pair = "login-pair:" + Self.digest(email + "\u{0}" + client)
        for (key, what) in [(pair, "account locked for this address"), (account, "account locked")] {
            if let wait = await limits.lockedFor(key) {
                await event("locked", 429, nil, what)
                throw tooMany("Too many sign-in attempts; try again later", wait)
            }
        }
        if let wait = await limits.take(pair, perMinute: settings.loginPerMinute) {
            await event("rate_limited", 429, nil, "account")
            throw tooMany("Too many sign-in attempts; try again later", wait)
        }
        let user: PortalUser?
        do { user = PortalUser.isValidEmail(email) ? try await users.user(email: email) : nil } catch {
            throw HTTPError(503, "Sign-in is unavailable; try again shortly", headers: ["Retry-After": "5"])
        }
        // An unknown or disabled account still costs one full hash: the answer and its timing are the same.
        let hash = user.flatMap { $0.disabled ? nil : $0.passwordHash } ?? Passwords.decoy
        let candidate = String(password.prefix(Passwords.maximumLength))
        guard let matches = await passwords.run({ Passwords.verify(candidate, against: hash) }) else {
            throw HTTPError(503, "Sign-in is busy; try again shortly", headers: ["Retry-After": "1"])
        }
        guard matches, let user, !user.disabled, password.utf8.count <= Passwords.maximumLength else {
            let locked = await limits.fail(pair, maxSeconds: settings.lockoutMaxSeconds, threshold: 1)
            _ = await limits.fail(account, maxSeconds: settings.lockoutMaxSeconds, threshold: settings.loginAccountLockoutThreshold)
            await event("failed", 401, user, user == nil ? "unknown account" : user?.disabled == true ? "disabled" : "wrong password; locked \(locked)s")
            throw HTTPError(401, Self.invalidCredentials)
        }
        await limits.succeed(pair)
        await limits.succeed(account)
        let family = Base64URL.encode(Crypto.randomBytes(16))
        let response = try await signedIn(RefreshGrant(
            email: user.email, agency: user.agency, contractorId: user.contractorId, role: user.role, family: family, signedInAt: Self.now()))
        await event("ok", 200, user)
        return response
    }

    func refresh(_ request: Request) async throws -> Response {
        guard let token = try presentedRefreshToken(request), !token.isEmpty, token.utf8.count <= 256 else {
            throw HTTPError(401, "A refresh token is required")
        }
        func event(_ outcome: String, _ grant: RefreshGrant?, _ detail: String? = nil) async {
            await audit.record(AuditLog.Event(
                action: "auth.refresh", agency: grant?.agency, contractor: grant?.contractorId, target: grant?.family, outcome: outcome,
                status: outcome == "ok" ? 200 : 401, requestID: request.requestID, detail: detail))
        }
        let redemption: Redemption
        do { redemption = try await refreshTokens.redeem(token) } catch { throw HTTPError(503, "Sign-in is unavailable; try again shortly", headers: ["Retry-After": "5"]) }
        switch redemption {
        case .invalid:
            await event("invalid", nil)
            throw signedOut(HTTPError(401, "Invalid or expired refresh token"))
        case .justSpent(let family):
            if let answer = await rotations.answer(for: token, within: settings.refreshReuseGrace) {
                await event("grace", RefreshGrant(email: "", agency: "", contractorId: "", role: "", family: family, signedInAt: 0), "same pair again")
                return answer
            }
            throw HTTPError(401, "Invalid or expired refresh token")
        case .reused(let family):
            // A spent token came back: it was copied. Everything of this sign-in ends (OWASP).
            await event("reused", RefreshGrant(email: "", agency: "", contractorId: "", role: "", family: family, signedInAt: 0), "family revoked")
            throw signedOut(HTTPError(401, "Invalid or expired refresh token"))
        case .valid(let grant):
            // A sign-in from before the password was set or the account disabled ends here, for good.
            let found: PortalUser?
            do { found = try await users.user(email: grant.email) } catch {
                throw HTTPError(503, "Sign-in is unavailable; try again shortly", headers: ["Retry-After": "5"])
            }
            guard let user = found, !user.disabled, user.contractorId == grant.contractorId, user.agency == grant.agency,
                  grant.signedInAt > user.sessionsNotBefore else {
                await refreshTokens.revoke(family: grant.family)
                await event("refused", grant, "account disabled, changed or its password set since this sign-in")
                throw signedOut(HTTPError(401, "Invalid or expired refresh token"))
            }
            let response = try await signedIn(RefreshGrant(
                email: user.email, agency: user.agency, contractorId: user.contractorId, role: user.role, family: grant.family, signedInAt: grant.signedInAt))
            await rotations.remember(response, for: token)
            await event("ok", grant)
            return response
        }
    }

    func logout(_ request: Request) async throws -> Response {
        var family: String?
        if case .success(let session) = await sessions.session(of: request) { family = session.claims.sessionID }
        if family == nil, let presented = try presentedRefreshToken(request), case .valid(let grant)? = try? await refreshTokens.redeem(presented) {
            family = grant.family
        }
        if let family { await refreshTokens.revoke(family: family) }
        await audit.record(AuditLog.Event(
            action: "auth.logout", agency: nil, contractor: nil, target: family, outcome: family == nil ? "no_session" : "ok", status: 204,
            requestID: request.requestID, detail: nil))
        // Signing out is idempotent: without a session it still clears the cookies.
        var response = Response(status: 204)
        clearCookies(&response.headers)
        return noStore(response)
    }

    // MARK: steps

    /// The next access and refresh tokens of a sign-in, as cookies and in the body (for non-browser clients).
    func signedIn(_ grant: RefreshGrant) async throws -> Response {
        let issued: (token: String, expiresAt: Int)
        do { issued = try await refreshTokens.issue(grant) } catch { throw HTTPError(503, "Sign-in is unavailable; try again shortly", headers: ["Retry-After": "5"]) }
        let now = Int(Date().timeIntervalSince1970)
        let access = tokens.sign(SessionClaims(
            subject: grant.contractorId, agency: grant.agency, issuedAt: now, expiresAt: now + settings.accessTokenTTL, role: grant.role,
            sessionID: grant.family))
        let body = JSONValue.object([
            "accessToken": .string(access), "tokenType": .string("Bearer"), "expiresIn": .number(String(settings.accessTokenTTL)),
            "refreshToken": .string(issued.token), "refreshExpiresIn": .number(String(issued.expiresAt - now)),
            "user": .object([
                "email": .string(grant.email), "contractorId": .string(grant.contractorId), "agency": .string(grant.agency), "role": .string(grant.role),
            ]),
        ])
        var response = Response.json(body.serialized())
        response.headers.add("Set-Cookie", Self.cookie(SessionAuthenticator.cookieName, access, maxAge: settings.accessTokenTTL))
        response.headers.add("Set-Cookie", Self.cookie(Self.refreshCookie, issued.token, maxAge: issued.expiresAt - now, path: Self.refreshPath))
        return noStore(response)
    }

    /// The refresh token of a request: `{"refreshToken": …}` in the body (non-browser clients), else the cookie.
    func presentedRefreshToken(_ request: Request) throws -> String? {
        let input = request.body.isEmpty ? [:] : try RESTInput.object(request)
        if case .string(let token)? = input["refreshToken"] { return token }
        return SessionAuthenticator.cookie(Self.refreshCookie, in: request)
    }

    func requireSession(_ request: Request) async throws -> Session {
        switch await sessions.session(of: request) {
        case .success(let session): return session
        case .failure(let refusal): throw RESTError.from(refusal)
        }
    }

    func signedOut(_ error: HTTPError) -> HTTPError {
        var error = error
        clearCookies(&error.headers)
        return error
    }

    func clearCookies(_ headers: inout HTTPHeaders) {
        headers.add("Set-Cookie", Self.cookie(SessionAuthenticator.cookieName, "", maxAge: 0))
        headers.add("Set-Cookie", Self.cookie(Self.refreshCookie, "", maxAge: 0, path: Self.refreshPath))
        // A refresh cookie set before it was scoped to /api/auth is cleared where it was set.
        headers.add("Set-Cookie", Self.cookie(Self.refreshCookie, "", maxAge: 0))
    }

    func tooMany(_ message: String, _ seconds: Int) -> HTTPError {
        HTTPError(429, message, headers: ["Retry-After": String(seconds)])
    }

    func noStore(_ response: Response) -> Response {
        var response = response
        response.headers.set("Cache-Control", "no-store")
        return response
    }

    /// OWASP's session cookie: not readable by scripts, HTTPS only, not sent on cross-site subrequests.
    static func cookie(_ name: String, _ value: String, maxAge: Int, path: String = "/") -> String {
        "\(name)=\(value); Path=\(path); Max-Age=\(maxAge); HttpOnly; Secure; SameSite=Lax"
    }

    /// The refresh token is needed by the sign-in routes only, so it is sent to them only.
    static let refreshPath = "/api/auth"
}

/// Answers to recent refreshes, by the hash of the token spent, held for the reuse grace only (in memory:
/// the new refresh token is never written anywhere in the clear).
actor RecentRotations {
    private var answers: [String: (response: Response, at: ContinuousClock.Instant)] = [:]
    private var waiting: [String: [CheckedContinuation<Void, Never>]] = [:]

    func remember(_ response: Response, for token: String) {
        let now = ContinuousClock.now
        answers = answers.filter { now - $0.value.at < .seconds(60) }
        let key = FileRefreshTokenStore.hash(token)
        answers[key] = (response, now)
        waiting.removeValue(forKey: key)?.forEach { $0.resume() }
    }

    /// The answer the token's first use got; waits a moment for it when that use is still being answered.
    func answer(for token: String, within grace: Int) async -> Response? {
        let key = FileRefreshTokenStore.hash(token)
        if answers[key] == nil {
            await withCheckedContinuation { continuation in
                waiting[key, default: []].append(continuation)
                Task { [weak self] in
                    try? await Task.sleep(for: .seconds(2))
                    await self?.giveUp(key)
                }
            }
        }
        guard let (response, at) = answers[key], ContinuousClock.now - at <= .seconds(grace) else { return nil }
        return response
    }

    private func giveUp(_ key: String) {
        waiting.removeValue(forKey: key)?.forEach { $0.resume() }
    }
}

/// A small JSON object body reader for routes outside the portal (its errors are plain 400s).
enum RESTInput {
    static func object(_ request: Request) throws -> [String: JSONValue] {
        if let type = request.headers["Content-Type"], !type.lowercased().hasPrefix("application/json") {
            throw HTTPError(400, "body must be sent as application/json")
        }
        guard let value = try? JSONText.parse(request.body, maxDepth: 8), case .object(let fields) = value else {
            throw HTTPError(400, "body must be a JSON object")
        }
        return fields
    }
}

/// CSRF tokens bound to a session (OWASP's signed double-submit): HMAC-SHA256 over the session id with a key
/// derived from SESSION_SECRET, so a token is worthless for any other session and cannot be forged.
struct CSRFTokens: Sendable {
    private let key: [UInt8]

    init(secret: String) { key = Crypto.hmacSHA256(key: Array(secret.utf8), Array("contractor-bff csrf key".utf8)) }

    func token(for sessionID: String) -> String { Base64URL.encode(Crypto.hmacSHA256(key: key, Array(sessionID.utf8))) }

    func verify(_ presented: String, for sessionID: String) -> Bool {
        guard let bytes = Base64URL.decode(Substring(presented)) else { return false }
        return Crypto.constantTimeEqual(bytes, Crypto.hmacSHA256(key: key, Array(sessionID.utf8)))
    }
}
