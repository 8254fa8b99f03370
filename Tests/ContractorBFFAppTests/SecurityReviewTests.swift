import AgentOS
@testable import ContractorBFFApp
import FixtureAgentOS
import Foundation
@testable import HTTPServer
import Testing
import TestSupport
import JSON

/// One test per finding of the security review (issue 13), each replaying the attack against a running
/// server: every one ended in something other than a refusal before its fix.
@Suite("Security review: each attack replayed", .scoped, .serialized)
struct SecurityReviewTests {
    static func size(_ portal: Portal, _ file: String) -> Int {
        let path = portal.application.configuration.dataDirectory + "/" + file
        return ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
    }

    // 1. `/%61pi/…` is routed as `/api/…`, and now limited as `/api/…` too.
    @Test func encodedPathsMeetEveryPathRule() async throws {
        let portal = try await Portal.start(environment: ["RATE_LIMIT_IP_PER_MINUTE": "5"])
        for _ in 0..<5 { #expect(await portal.get("/%61pi/contractor/account").status == 200) }
        let limited = await portal.get("/%61pi/contractor/account")
        #expect(limited.status == 429)
        #expect(limited.header("Retry-After") != nil)
        let trpc = await portal.get("/api/%74rpc/contractor.status")
        #expect(trpc.status == 429)
        #expect(trpc.trpcCode == "TOO_MANY_REQUESTS", "the encoded tRPC path answers in tRPC's shape")
        // Sign-in's Origin check keys on its path too.
        let other = try await Portal.start()
        let login = await other.send("POST", "/api/auth/%6cogin", token: nil, body: #"{"email":"a@b.example","password":"x"}"#,
                                     headers: ["Origin": "https://evil.example"])
        #expect(login.status == 403)
    }

    // 2. 8,000 commas and no session: one small answer, not 8,001 errors.
    @Test func aCommaFloodIsOneSmallAnswer() async throws {
        let portal = try await Portal.start(environment: ["RATE_LIMIT_IP_PER_MINUTE": "2"])
        let target = "/api/trpc/" + String(repeating: ",", count: 8000) + "?batch=1"
        let first = await portal.send("GET", target, token: nil)
        #expect(first.status == 400)
        #expect(first.raw?.body.count ?? .max < 1024, "\(first.raw?.body.count ?? 0) bytes")
        #expect(first.json["error"]?["code"] == .number("-32600"))
        _ = await portal.send("GET", target, token: nil)
        let limited = await portal.send("GET", target, token: nil)
        #expect(limited.status == 429)
        #expect(limited.raw?.body.count ?? .max < 1024)
    }

    // 3. A 300 KB email never becomes a key, a file line or memory.
    @Test func oversizedEmailsAreRefusedBeforeAnyLimiter() async throws {
        let portal = try await AuthTests.start()
        let before = Self.size(portal, "lockouts.jsonl")
        let huge = String(repeating: "a", count: 300_000) + "@example.com"
        for _ in 0..<5 {
            let reply = await AuthTests.login(portal, email: huge, password: "wrong password")
            #expect(reply.status == 400)
        }
        #expect(Self.size(portal, "lockouts.jsonl") == before)
        // A failed sign-in of a normal address writes lines of a fixed size that do not name the address.
        _ = await AuthTests.login(portal, email: "someone.else@example.com", password: "wrong password")
        let lines = try String(contentsOfFile: portal.application.configuration.dataDirectory + "/lockouts.jsonl", encoding: .utf8)
            .split(separator: "\n")
        #expect(!lines.isEmpty)
        #expect(lines.allSatisfy { $0.utf8.count < 160 && !$0.contains("someone.else") })
    }

    @Test func lockoutsAreForgottenAndBounded() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lockouts-\(UUID().uuidString)").path
        let then = 1_800_000_000.0
        let store = try await offPool { Result { try FileRateLimitStore(directory: directory, clock: { then }) } }.get()
        #expect(await store.fail("k", maxSeconds: 60, threshold: 1) == 1)
        #expect(await store.lockedFor("k") != nil)
        let later = try await offPool { Result { try FileRateLimitStore(directory: directory, clock: { then + 2 * 86_400 }) } }.get()
        #expect(await later.lockoutCount == 0, "a streak is forgotten a day after its lock-out ended")
        #expect(FileRateLimitStore.maxLockouts <= 100_000)
    }

    // 4. Guessing from one address locks that address out, not the owner.
    @Test func oneAddressCannotLockAnAccountForEveryone() async throws {
        let portal = try await AuthTests.start(["TRUSTED_PROXIES": "127.0.0.1", "LOGIN_ACCOUNT_LOCKOUT_THRESHOLD": "8", "LOGIN_LIMIT_PER_MINUTE": "100"])
        let attacker = ["X-Forwarded-For": "203.0.113.5"], owner = ["X-Forwarded-For": "198.51.100.7"]
        for _ in 0..<4 { _ = await AuthTests.login(portal, password: "wrong guess", headers: attacker) }
        #expect(await AuthTests.login(portal, password: "wrong guess", headers: attacker).status == 429, "the guessing address is locked out")
        #expect(await AuthTests.login(portal, headers: owner).status == 200, "the owner is not")
        // Past the account's own ceiling, the account locks for everyone (failures from many addresses).
        for index in 0..<8 { _ = await AuthTests.login(portal, password: "wrong guess", headers: ["X-Forwarded-For": "203.0.113.\(100 + index)"]) }
        #expect(await AuthTests.login(portal, headers: owner).status == 429)
    }

    // 5. Sixty made-up job ids from one session take only that contractor's share of the budget.
    @Test func oneContractorCannotSpendTheAgencysBudget() async throws {
        let portal = try await Portal.start(environment: ["AGENTOS_RATE_LIMIT": "50", "AGENTOS_CONTRACTOR_SHARE": "12"])
        let attacker = Portal.token("C-1001")
        let replies = await withTaskGroup(of: Int.self) { group in
            for index in 0..<60 {
                group.addTask {
                    await portal.get("/api/trpc/contractor.maintenanceJobDetails?input=" + encoded("{\"jobId\":\"FAKE-\(index)\"}"), token: attacker).status
                }
            }
            return await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(replies.filter { $0 == 429 }.count >= 48, "\(replies)")
        #expect(await portal.received("job") <= 12)
        let other = await portal.get("/api/contractor/account", token: Portal.token("C-2002"))
        #expect(other.status == 200, "another contractor is served: \(other.text)")
    }

    // 6. Slow bodies from one address hold only that address's share of connections, for a bounded time.
    @Test func slowBodiesCannotHoldTheServer() async throws {
        let portal = try await Portal.start(environment: ["MAX_CONNECTIONS_PER_ADDRESS": "20", "BODY_DEADLINE_MS": "1500", "BODY_TIMEOUT_MS": "30000"])
        let head = "POST /api/contractor/invoices HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{"
        var slow: [RawConnection] = []
        for _ in 0..<20 {
            let connection = try #require(RawConnection(port: portal.port, source: "127.0.0.2"))
            connection.send(head)
            slow.append(connection)
        }
        try await Task.sleep(for: .milliseconds(200))
        let extra = try #require(RawConnection(port: portal.port, source: "127.0.0.2"))
        #expect(await offPool { extra.closedByServer(within: 2) }, "the 21st connection from that address is closed at once")
        #expect(await portal.get("/api/contractor/account").status == 200, "another address is served meanwhile")
        // However steadily it trickles, a body ends by its deadline: 408.
        let trickle = slow[0]
        let answered = await offPool { () -> Int in
            for _ in 0..<10 {
                trickle.send("\"")
                Thread.sleep(forTimeInterval: 0.3)
            }
            return trickle.readResponse(timeout: 3)?.status ?? 0
        }
        #expect(answered == 408)
        slow.forEach { shutdown($0.fd, Int32(SHUT_RDWR)) }
    }

    @Test func aBodyBufferGrowsWithWhatArrives() throws {
        var parser = RequestParser(limits: ParserLimits())
        let bytes = Array("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n0123456789".utf8)
        var index = 0
        while index < bytes.count, try parser.next(bytes, from: &index) != nil {}
        #expect(parser.body.capacity < 100_000, "a claimed megabyte is not reserved: \(parser.body.capacity)")
    }

    // 7. A new password ends the sign-ins made before it.
    @Test func aPasswordChangeEndsEarlierSignIns() async throws {
        let portal = try await AuthTests.start()
        let signedIn = await AuthTests.login(portal)
        let refresh = try #require(signedIn.json["refreshToken"]?.string)
        // What `contractor-bff users set-password` does, from a process of its own, on the same files.
        let directory = portal.application.configuration.dataDirectory
        let cli = try await offPool { Result { try FileUserStore(directory: directory) } }.get()
        var user = try #require(try await cli.user(email: AuthTests.email))
        user.setPassword(hash: await AuthTests.hash.value)
        try await cli.save(user)
        let refused = await portal.send("POST", "/api/auth/refresh", token: nil, body: "{\"refreshToken\":\"\(refresh)\"}")
        #expect(refused.status == 401)
        // A sign-in after the change works, and keeps working.
        let fresh = await AuthTests.login(portal)
        let next = try #require(fresh.json["refreshToken"]?.string)
        #expect(await portal.send("POST", "/api/auth/refresh", token: nil, body: "{\"refreshToken\":\"\(next)\"}").status == 200)
        // Disabling does the same.
        user.setDisabled(true)
        try await cli.save(user)
        #expect(await AuthTests.login(portal).status == 401)
    }

    // 8. 41 digits are not 1,000,000 with the rest dropped.
    @Test func overlongAmountLiteralsAreRefused() async throws {
        let portal = try await Portal.start()
        for amount in ["1000000.0000000000000000000000000000000000000000001", "123456789012345678901234567890123456789012.00", "12345678.00", "1.005"] {
            let rest = await portal.send("POST", "/api/contractor/invoices", body: "{\"jobId\":\"J-0001\",\"amount\":\(amount)}")
            #expect(rest.status == 400, "\(amount): \(rest.text)")
            let trpc = await portal.send("POST", "/api/trpc/contractor.submitInvoice", body: "{\"jobId\":\"J-0001\",\"amount\":\(amount)}")
            #expect(trpc.trpcCode == "BAD_REQUEST", "\(amount)")
        }
        #expect(await portal.send("POST", "/api/contractor/invoices", body: #"{"jobId":"J-0001","amount":1.50,"reference":"OK-1"}"#).status == 201)
        #expect(await portal.writes()["submitInvoice"] == 1)
    }

    // 9. 128 "characters" of combining marks are 77 KB: ids and notes are bounded in bytes.
    @Test func lengthsAreBoundedInBytes() async throws {
        let portal = try await Portal.start()
        let marks = String(repeating: "J" + String(repeating: "\u{0301}", count: 300), count: 128)
        let trpc = await portal.send("POST", "/api/trpc/contractor.addJobNote", body: String(decoding: JSONValue.object(["jobId": .string(marks), "text": .string("x")]).serialized(), as: UTF8.self))
        #expect(trpc.trpcCode == "BAD_REQUEST")
        for id in ["..", ".", "J 1", "J%2F1"] {
            let reply = await portal.get("/api/trpc/contractor.maintenanceJobDetails?input=" + encoded(String(decoding: JSONValue.object(["jobId": .string(id)]).serialized(), as: UTF8.self)))
            #expect(reply.trpcCode == "BAD_REQUEST", "\(id)")
        }
        let note = String(repeating: "a" + String(repeating: "\u{0301}", count: 40), count: 5000)
        let long = await portal.send("POST", "/api/contractor/jobs/J-0001/notes", body: String(decoding: JSONValue.object(["note": .string(note)]).serialized(), as: UTF8.self))
        #expect(long.status == 400)
        #expect(await portal.received("job") == 0, "nothing reached AgentOS")
    }

    // 10. Whether, and how long ago, someone read another contractor's job is not told.
    @Test func notFoundAnswersSayNothingOfTheCache() async throws {
        let portal = try await Portal.start(environment: ["CACHE_TTL_JOBS_SECONDS": "60"])
        let owner = await portal.get("/api/trpc/contractor.maintenanceJobDetails?input=" + encoded(#"{"jobId":"J-0001"}"#))
        #expect(owner.data?["jobId"] == .string("J-0001"))
        let cached = await portal.get("/api/trpc/contractor.maintenanceJobDetails?input=" + encoded(#"{"jobId":"J-0001"}"#))
        #expect(cached.header("X-Cache") == "HIT", "the owner sees the cache")
        for probe in ["contractor.maintenanceJobDetails", "contractor.maintenanceJobNotes"] {
            let other = await portal.get("/api/trpc/\(probe)?input=" + encoded(#"{"jobId":"J-0001"}"#), token: Portal.token("C-2002"))
            #expect(other.header("X-Cache") == nil && other.header("Age") == nil, "\(probe): \(other.raw?.headers ?? [])")
        }
    }

    // 11. One signature, one spelling.
    @Test func nonCanonicalBase64URLIsRefused() async throws {
        let portal = try await Portal.start()
        let token = Portal.token()
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        let last = try #require(token.last), index = try #require(alphabet.firstIndex(of: last))
        // A 32-byte signature is 43 characters: the last carries 4 bits and 2 unused ones.
        let spellings = (0..<4).map { token.dropLast() + String(alphabet[(index & ~3) | $0]) }
        var accepted = 0
        for spelling in spellings where await portal.get("/api/contractor/account", token: String(spelling)).status == 200 { accepted += 1 }
        #expect(accepted == 1)
        #expect(Base64URL.decode("QQ") != nil && Base64URL.decode("QR") == nil)
        let claims = SessionClaims(subject: "C-1001", agency: "demo", issuedAt: 1, expiresAt: 2)
        #expect(SessionAuthenticator.fallbackSessionID(claims) == SessionAuthenticator.fallbackSessionID(claims))
        #expect(throws: SessionTokenError.lifetimeTooLong) {
            let now = Int(Date().timeIntervalSince1970)
            let tokens = SessionTokens(secret: Portal.secret)
            try tokens.verify(tokens.sign(SessionClaims(subject: "C-1001", agency: "demo", issuedAt: now, expiresAt: Int.max)))
        }
    }

    // 12. A keyed write refused by ownership leaves no idempotency record or audit line behind.
    @Test func refusedKeyedWritesLeaveNoFilesBehind() async throws {
        let portal = try await Portal.start()
        let idempotency = Self.size(portal, "idempotency.jsonl"), audit = Self.size(portal, "audit.jsonl")
        for index in 0..<5 {
            let reply = await portal.send("POST", "/api/contractor/jobs/7001/notes", body: #"{"note":"not mine"}"#, headers: ["Idempotency-Key": "foreign-\(index)"])
            #expect(reply.status == 404)
        }
        #expect(Self.size(portal, "idempotency.jsonl") == idempotency)
        #expect(Self.size(portal, "audit.jsonl") == audit)
        #expect(await portal.writes().isEmpty)
    }

    // Hardening noticed on the way.
    @Test func refererProxiesRefreshGraceAndCookiePath() async throws {
        let portal = try await AuthTests.start()
        let unreadable = await portal.send("POST", "/api/auth/logout", token: nil, headers: ["Cookie": "session=x", "Referer": "::not a url::", "Content-Length": "0"])
        #expect(unreadable.status == 403, "a Referer that cannot be read fails the origin check")
        let proxies = ClientAddress(trustedProxies: ["127.0.0.1"])
        #expect(proxies.of(peer: "127.0.0.1", forwardedFor: ["10.0.0.0/8"]) == "127.0.0.1", "a CIDR block is not a client address")
        #expect(proxies.of(peer: "127.0.0.1", forwardedFor: ["203.0.113.9"]) == "203.0.113.9")
        let signedIn = await AuthTests.login(portal)
        #expect(AuthTests.cookieHeaders(signedIn).contains { $0.hasPrefix("refresh=") && $0.contains("Path=/api/auth;") })
        let token = try #require(signedIn.json["refreshToken"]?.string)
        // Two tabs refresh with the same token at once: both get the same new pair, and the sign-in lives on.
        async let first = portal.send("POST", "/api/auth/refresh", token: nil, body: "{\"refreshToken\":\"\(token)\"}")
        async let second = portal.send("POST", "/api/auth/refresh", token: nil, body: "{\"refreshToken\":\"\(token)\"}")
        let (a, b) = await (first, second)
        #expect(a.status == 200 && b.status == 200)
        #expect(a.json["refreshToken"] == b.json["refreshToken"])
        let next = try #require(a.json["refreshToken"]?.string)
        #expect(await portal.send("POST", "/api/auth/refresh", token: nil, body: "{\"refreshToken\":\"\(next)\"}").status == 200)
    }
}
