import AgentOS
import ContractorBFFApp
import Foundation
import JSON
import TestSupport
import Testing

/// Sign-in over HTTP: login, cookies, refresh rotation and reuse detection, logout, lock-out, and the
/// browser protections (CSRF, Origin, CORS, security headers).
// One test at a time: each sign-in computes a 600,000-round hash, and the rest of the suite runs alongside.
@Suite("Sign-in and browser security", .scoped, .serialized)
struct AuthTests {
    static let password = "correct horse battery staple"
    static let email = "plumber@example.com"

    /// One hash for every test (600,000 rounds cost a good part of a second), computed off the cooperative
    /// pool, which the servers under test need.
    static let hash = Task { await offPool { PortalUser.passwordHash(password) } }

    static func start(_ environment: [String: String] = [:]) async throws -> Portal {
        let portal = try await Portal.start(environment: environment)
        try await portal.application.users.save(PortalUser(email: email, passwordHash: await hash.value, agency: "demo", contractorId: "C-1001"))
        return portal
    }

    static func login(_ portal: Portal, email: String = email, password: String = password, headers: [String: String] = [:]) async -> Reply {
        let body = JSONValue.object(["email": .string(email), "password": .string(password)]).serialized()
        return await portal.send("POST", "/api/auth/login", token: nil, body: String(decoding: body, as: UTF8.self), headers: headers)
    }

    static func cookieHeaders(_ reply: Reply) -> [String] {
        (reply.raw?.headers ?? []).filter { $0.name.lowercased() == "set-cookie" }.map(\.value)
    }

    static func cookies(_ reply: Reply) -> [String: String] {
        var jar: [String: String] = [:]
        for (name, value) in reply.raw?.headers ?? [] where name.lowercased() == "set-cookie" {
            let pair = value.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
            jar[String(pair[0])] = pair.count > 1 ? String(pair[1]) : ""
        }
        return jar
    }

    @Test func loginIssuesASessionUsableAsBearerAndAsCookies() async throws {
        let portal = try await Self.start()
        let reply = await Self.login(portal)
        #expect(reply.status == 200, "\(reply.text)")
        let access = try #require(reply.json["accessToken"]?.string)
        #expect(reply.json["tokenType"] == .string("Bearer"))
        #expect(reply.json["expiresIn"] == .number("900"))
        #expect(reply.json["refreshToken"]?.string?.count == 43, "256 random bits, base64url")
        #expect(reply.json["user"]?["contractorId"] == .string("C-1001"))
        #expect(reply.header("Cache-Control") == "no-store")
        let setCookies = reply.raw?.headers.filter { $0.name.lowercased() == "set-cookie" }.map(\.value) ?? []
        #expect(setCookies.count == 2)
        for cookie in setCookies {
            for flag in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] { #expect(cookie.contains(flag), "\(cookie) lacks \(flag)") }
        }
        #expect(setCookies.contains { $0.hasPrefix("session=\(access);") && $0.contains("Max-Age=900") })
        let account = await portal.get("/api/contractor/account", token: access)
        #expect(account.json["contractorId"] == .string("C-1001"))
        let me = await portal.send("GET", "/api/auth/me", token: nil, headers: ["Cookie": "session=\(access)"])
        #expect(me.status == 200)
        #expect(me.json["contractorId"] == .string("C-1001"))
        #expect(me.json["agency"] == .string("demo"))
        #expect(me.json["sessionId"]?.string?.isEmpty == false)
    }

    @Test func unknownAccountsAndWrongPasswordsAnswerAlike() async throws {
        let portal = try await Self.start()
        try await portal.application.users.save(PortalUser(
            email: "gone@example.com", passwordHash: await Self.hash.value, agency: "demo", contractorId: "C-2002", disabled: true))
        var replies: [(String, Reply)] = []
        for (label, email, password) in [("wrong password", Self.email, "not the password at all"), ("unknown account", "nobody@example.com", Self.password),
                                         ("disabled account", "gone@example.com", Self.password)] {
            let hashesBefore = portal.application.passwordHashesComputed
            let reply = await Self.login(portal, email: email, password: password)
            // Each refusal costs one full password hash, known account or not: no timing tells them apart.
            #expect(portal.application.passwordHashesComputed == hashesBefore + 1, "\(label)")
            replies.append((label, reply))
        }
        for (label, reply) in replies {
            #expect(reply.status == 401, "\(label)")
            #expect(reply.error == "Invalid email or password", "\(label)")
            #expect(Self.cookies(reply).isEmpty)
        }
        let audit = try String(contentsOfFile: portal.application.configuration.dataDirectory + "/audit.jsonl", encoding: .utf8)
        #expect(audit.components(separatedBy: "\"action\":\"auth.login\"").count == 4)
        #expect(!audit.contains(Self.password) && !audit.contains("not the password"), "no password reaches the audit log")
    }

    @Test func refreshRotatesAndAReplayedTokenEndsTheWholeSignIn() async throws {
        let portal = try await Self.start()
        let first = await Self.login(portal)
        let r1 = try #require(first.json["refreshToken"]?.string), a1 = try #require(first.json["accessToken"]?.string)
        let second = await portal.send("POST", "/api/auth/refresh", token: nil, body: #"{"refreshToken":"\#(r1)"}"#)
        #expect(second.status == 200)
        let r2 = try #require(second.json["refreshToken"]?.string), a2 = try #require(second.json["accessToken"]?.string)
        #expect(r2 != r1)
        #expect(await portal.get("/api/auth/me", token: a2).status == 200)
        // The refresh cookie works the same way (and rotates too).
        let viaCookie = await portal.send("POST", "/api/auth/refresh", token: nil, headers: ["Cookie": "refresh=\(r2)"])
        #expect(viaCookie.status == 200)
        let r3 = try #require(viaCookie.json["refreshToken"]?.string)
        // r1 again: it was spent, so it was copied. Every token and session of this sign-in ends.
        let replayed = await portal.send("POST", "/api/auth/refresh", token: nil, body: #"{"refreshToken":"\#(r1)"}"#)
        #expect(replayed.status == 401)
        #expect(Self.cookies(replayed)["session"] == "", "the cookies are cleared")
        #expect(await portal.send("POST", "/api/auth/refresh", token: nil, body: #"{"refreshToken":"\#(r3)"}"#).status == 401)
        for access in [a1, a2] { #expect(await portal.get("/api/auth/me", token: access).status == 401) }
        #expect(await portal.get("/api/contractor/account", token: a2).status == 401)
        // A new sign-in is a new family, untouched.
        let again = await Self.login(portal)
        #expect(await portal.get("/api/auth/me", token: again.json["accessToken"]?.string).status == 200)
        #expect(await portal.send("POST", "/api/auth/refresh", token: nil, body: #"{"refreshToken":"garbage"}"#).status == 401)
    }

    @Test func logoutEndsTheSessionAndItsRefreshToken() async throws {
        let portal = try await Self.start()
        let reply = await Self.login(portal)
        let access = try #require(reply.json["accessToken"]?.string), refresh = try #require(reply.json["refreshToken"]?.string)
        let out = await portal.send("POST", "/api/auth/logout", token: access)
        #expect(out.status == 204)
        #expect(Self.cookies(out) == ["session": "", "refresh": ""])
        #expect(await portal.get("/api/auth/me", token: access).status == 401)
        #expect(await portal.send("POST", "/api/auth/refresh", token: nil, body: #"{"refreshToken":"\#(refresh)"}"#).status == 401)
        // A disabled account's refresh token stops working at its next use.
        let other = await Self.login(portal)
        var user = try #require(try await portal.application.users.user(email: Self.email))
        user.disabled = true
        try await portal.application.users.save(user)
        #expect(await portal.send("POST", "/api/auth/refresh", token: nil, body: #"{"refreshToken":"\#(other.json["refreshToken"]?.string ?? "")"}"#).status == 401)
        #expect(await portal.get("/api/auth/me", token: other.json["accessToken"]?.string).status == 401, "and its session with it")
    }

    @Test func failedSignInsLockTheAccountOutForLongerEachTime() async throws {
        let portal = try await Self.start(["LOGIN_LIMIT_PER_MINUTE": "50"])
        #expect(await Self.login(portal, password: "wrong wrong wrong").status == 401)
        let locked = await Self.login(portal)
        #expect(locked.status == 429, "even the right password waits out the lock-out")
        #expect(locked.header("Retry-After") == "1")
        #expect(locked.error?.contains("Too many") == true)
        try await Task.sleep(for: .milliseconds(1_100))
        #expect(await Self.login(portal, password: "wrong wrong wrong").status == 401)
        #expect(await Self.login(portal).header("Retry-After") == "2", "the second failure doubles it")
        try await Task.sleep(for: .milliseconds(2_100))
        #expect(await Self.login(portal).status == 200, "a success after the lock-out ends the streak")
        #expect(await Self.login(portal, password: "wrong wrong wrong").status == 401)
        #expect(await Self.login(portal).header("Retry-After") == "1")
    }

    @Test func signInIsLimitedPerAddressAndPerAccount() async throws {
        let portal = try await Self.start()
        // Five attempts a minute from one address, whatever accounts they name: a bucket of five refilled
        // one every 12 s, so however slowly a loaded run sends them, no more than five plus the refill of
        // the time they took are answered before the 429.
        let began = ContinuousClock.now
        var answered = 0
        var limited = await Self.login(portal, email: "guess0@example.com")
        while limited.status == 401 && answered < 20 {
            answered += 1
            limited = await Self.login(portal, email: "guess\(answered)@example.com")
        }
        let refilled = Int(began.duration(to: .now).components.seconds / 12)
        #expect(answered >= 5 && answered <= 5 + refilled, "\(answered) attempts answered before the limit (\(refilled) refilled)")
        #expect(limited.status == 429)
        #expect(Int(limited.header("Retry-After") ?? "") ?? 0 >= 1)
        #expect(limited.json["requestId"]?.string?.isEmpty == false, "the standard error body")
    }

    @Test func cookieWritesNeedTheSessionsCSRFTokenAndAPortalOrigin() async throws {
        let portal = try await Self.start()
        let login = await Self.login(portal)
        let access = try #require(login.json["accessToken"]?.string)
        let cookie = ["Cookie": "session=\(access)"]
        let note = #"{"note":"via the browser"}"#
        func post(_ headers: [String: String]) async -> Reply {
            await portal.send("POST", "/api/contractor/jobs/J-0002/notes", token: nil, body: note, headers: cookie.merging(headers) { $1 })
        }
        #expect(await post([:]).status == 403, "no CSRF token")
        let csrf = await portal.send("GET", "/api/security/csrf-token", token: nil, headers: cookie)
        #expect(csrf.status == 200)
        let token = try #require(csrf.json["csrfToken"]?.string)
        let tampered = (token.first == "A" ? "B" : "A") + token.dropFirst()
        #expect(await post(["X-CSRF-Token": tampered]).status == 403, "a tampered token")
        let other = await Self.login(portal)
        let otherToken = await portal.send("GET", "/api/security/csrf-token", token: other.json["accessToken"]?.string).json["csrfToken"]?.string ?? ""
        #expect(!otherToken.isEmpty && otherToken != token)
        #expect(await post(["X-CSRF-Token": otherToken]).status == 403, "another session's token")
        #expect(await post(["X-CSRF-Token": token, "Origin": "https://evil.example"]).status == 403, "a foreign origin")
        #expect(await post(["X-CSRF-Token": token, "Referer": "https://evil.example/page"]).status == 403, "a foreign referer")
        #expect(await post(["X-CSRF-Token": token, "Origin": "http://localhost:5173"]).status == 201)
        #expect(await post(["X-CSRF-Token": token]).status == 201, "no Origin or Referer at all: the token decides")
        // tRPC mutations and logout are cookie writes too.
        let trpc = await portal.send("POST", "/api/trpc/contractor.addJobNote", token: nil, body: #"{"jobId":"J-0002","text":"x"}"#, headers: cookie)
        #expect(trpc.status == 403)
        #expect(trpc.trpcCode == "FORBIDDEN", "tRPC's error shape, even for a refusal made before the procedure: \(trpc.text)")
        #expect(await portal.send("POST", "/api/auth/logout", token: nil, headers: cookie).status == 403)
        // Reads need no token; bearer calls carry no ambient credential and need none.
        #expect(await portal.send("GET", "/api/contractor/account", token: nil, headers: cookie).status == 200)
        #expect(await portal.send("POST", "/api/contractor/jobs/J-0002/notes", token: access, body: note).status == 201)
        // Signing in from a foreign page is refused (login CSRF).
        #expect(await Self.login(portal, headers: ["Origin": "https://evil.example"]).status == 403)
        #expect(await Self.login(portal, headers: ["Origin": "http://localhost:3000"]).status == 200)
        #expect(await portal.writes()["addNote"] == 3)
    }

    @Test func corsAnswersThePortalOriginsOnly() async throws {
        let portal = try await Self.start()
        let preflight = await portal.send("OPTIONS", "/api/contractor/invoices", token: nil, headers: [
            "Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, idempotency-key, x-csrf-token",
        ])
        #expect(preflight.status == 204)
        #expect(preflight.header("Access-Control-Allow-Origin") == "http://localhost:3000")
        #expect(preflight.header("Access-Control-Allow-Credentials") == "true")
        let allowedHeaders = preflight.header("Access-Control-Allow-Headers")?.lowercased() ?? ""
        for header in ["content-type", "idempotency-key", "x-csrf-token", "authorization"] { #expect(allowedHeaders.contains(header)) }
        #expect(preflight.header("Access-Control-Allow-Methods")?.contains("PATCH") == true)
        let foreign = await portal.send("OPTIONS", "/api/contractor/invoices", token: nil, headers: [
            "Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
        ])
        #expect(foreign.status == 403)
        #expect(foreign.header("Access-Control-Allow-Origin") == nil)
        let simple = await portal.send("GET", "/api/contractor/account", headers: ["Origin": "http://localhost:5173"])
        #expect(simple.header("Access-Control-Allow-Origin") == "http://localhost:5173")
        #expect(simple.header("Access-Control-Expose-Headers")?.contains("Retry-After") == true)
        #expect(simple.header("Vary") == "Origin")
        let notAllowed = await portal.send("GET", "/api/contractor/account", headers: ["Origin": "https://evil.example"])
        #expect(notAllowed.header("Access-Control-Allow-Origin") == nil)
    }

    @Test func everyResponseCarriesTheSecurityHeaders() async throws {
        let portal = try await Self.start(["HSTS_MAX_AGE_SECONDS": "31536000"])
        let replies = [
            await portal.get("/api/contractor/account"), await portal.get("/api/contractor/account", token: nil),
            await portal.get("/api/nothing-here"), await portal.send("GET", "/healthz", token: nil),
            await portal.send("POST", "/api/contractor/invoices", body: "{"),
        ]
        #expect(replies.map(\.status) == [200, 401, 404, 200, 400])
        for reply in replies {
            #expect(reply.header("X-Content-Type-Options") == "nosniff")
            #expect(reply.header("Referrer-Policy") == "no-referrer")
            #expect(reply.header("X-Frame-Options") == "DENY")
            #expect(reply.header("Strict-Transport-Security") == "max-age=31536000; includeSubDomains")
        }
        // The server's own refusal of a malformed request, made before any handler, carries them too.
        let malformed = Reply(raw: await exchange(port: portal.port, "GARBAGE\r\n\r\n", readTimeout: 5, closeWithin: 0).response)
        #expect(malformed.status == 400)
        #expect(malformed.header("X-Content-Type-Options") == "nosniff")
        #expect(malformed.header("Strict-Transport-Security") == "max-age=31536000; includeSubDomains")
        #expect(replies[0].header("Cache-Control") == "no-store")
        #expect(replies[2].header("Cache-Control") == "no-store", "an authenticated request's error is not cached either")
        let plain = try await Portal.start()
        #expect(await plain.send("GET", "/healthz", token: nil).header("Strict-Transport-Security") == nil, "HSTS only when configured")
    }

    @Test func requestsAreLimitedPerAddressAndPerSession() async throws {
        let portal = try await Self.start(["RATE_LIMIT_IP_PER_MINUTE": "6", "RATE_LIMIT_SESSION_PER_MINUTE": "3"])
        let token = Portal.token()
        for _ in 0..<3 { #expect(await portal.get("/api/auth/me", token: token).status == 200) }
        let perSession = await portal.get("/api/auth/me", token: token)
        #expect(perSession.status == 429)
        #expect(perSession.header("Retry-After") != nil)
        #expect(perSession.error?.contains("session") == true)
        #expect(await portal.get("/api/auth/me", token: Portal.token("C-2002")).status == 200, "another session has its own bucket")
        // Six from this address so far, the 429 included: the next session from it waits on the address.
        #expect(await portal.get("/api/auth/me", token: Portal.token("3003")).status == 200)
        let perAddress = await portal.get("/api/auth/me", token: Portal.token("3003"))
        #expect(perAddress.status == 429)
        #expect(perAddress.error?.contains("session") == false)
        let trpc = await portal.get("/api/trpc/contractor.status,contractor.account?batch=1&input=%7B%7D")
        #expect(trpc.status == 429)
        #expect(trpc.json["error"]?["data"]?["code"] == .string("TOO_MANY_REQUESTS"))
        #expect(trpc.json["error"]?["code"] == .number("-32029"))
        #expect(trpc.header("Retry-After") != nil)
        #expect(await portal.send("GET", "/healthz", token: nil).status == 200, "probes are never limited")
    }

    @Test func forwardedForIsBelievedFromTrustedProxiesOnly() async throws {
        let untrusted = try await Self.start(["RATE_LIMIT_IP_PER_MINUTE": "2"])
        for index in 0..<2 { #expect(await untrusted.send("GET", "/api/auth/me", headers: ["X-Forwarded-For": "203.0.113.\(index)"]).status == 200) }
        #expect(await untrusted.send("GET", "/api/auth/me", headers: ["X-Forwarded-For": "203.0.113.9"]).status == 429,
                "a client cannot pick a fresh address by sending the header")
        let proxied = try await Self.start(["RATE_LIMIT_IP_PER_MINUTE": "2", "TRUSTED_PROXIES": "127.0.0.0/8"])
        for _ in 0..<2 { #expect(await proxied.send("GET", "/api/auth/me", headers: ["X-Forwarded-For": "198.51.100.1, 203.0.113.7"]).status == 200) }
        #expect(await proxied.send("GET", "/api/auth/me", headers: ["X-Forwarded-For": "198.51.100.2, 203.0.113.7"]).status == 429,
                "the client is the address the trusted proxy saw, not what the client wrote before it")
        #expect(await proxied.send("GET", "/api/auth/me", headers: ["X-Forwarded-For": "203.0.113.8"]).status == 200)
    }
}
