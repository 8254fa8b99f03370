import AgentOS
import FixtureAgentOS
import Foundation
import JSON
import TestSupport
import Testing

/// Seed 002's routes end to end: the BFF over HTTP, the fixture AgentOS behind it over HTTP.
@Suite("REST routes of seed 002", .scoped)
struct RESTRoutesTests {
    @Test func accountIsTheSignedInContractors() async throws {
        let portal = try await Portal.start()
        let reply = await portal.get("/api/contractor/account")
        #expect(reply.status == 200)
        #expect(reply.json["contractorId"] == .string("C-1001"))
        #expect(reply.json["companyName"] == .string("Northern Plumbing Ltd"))
        #expect(reply.json["metadata"]?["Rating"] == .number("4.8"))
        #expect(reply.header("Cache-Control") == "no-store")
        let other = await portal.get("/api/contractor/account", token: Portal.token("C-2002"))
        #expect(other.json["contractorId"] == .string("C-2002"))
        #expect(other.json["isActive"] == .bool(true))
    }

    @Test func unknownContractorIs404() async throws {
        let portal = try await Portal.start()
        let reply = await portal.get("/api/contractor/account", token: Portal.token("C-9999"))
        #expect(reply.status == 404)
        #expect(reply.error == "Contractor not found")
        #expect(reply.json["requestId"]?.string?.isEmpty == false)
    }

    @Test(arguments: [
        ("no token", nil as String?),
        ("wrong secret", Portal.token(secret: "another-secret-that-is-long-enough-1234")),
        ("expired", Portal.token(expiresIn: -5)),
        ("garbage", "not.a.token"),
    ])
    func everyRouteNeedsASession(_ label: String, _ token: String?) async throws {
        let portal = try await Portal.start()
        for (method, path) in [("GET", "/api/contractor/account"), ("GET", "/api/contractor/contacts"), ("GET", "/api/contractor/jobs"),
                               ("PATCH", "/api/contractor/jobs/J-0001/complete"), ("POST", "/api/contractor/jobs/J-0001/notes"),
                               ("GET", "/api/contractor/statements/historical"), ("GET", "/api/contractor/statements/pending"),
                               ("POST", "/api/contractor/invoices")] {
            let reply = await portal.send(method, path, token: token, body: method == "GET" ? nil : #"{"note":"x","jobId":"J-0001","amount":1}"#)
            #expect(reply.status == 401, "\(label) \(method) \(path)")
            #expect(reply.header("WWW-Authenticate")?.hasPrefix("Bearer") == true)
            #expect(reply.error != nil)
        }
        #expect(await portal.fixture.store.received.isEmpty, "AgentOS must not be called for \(label)")
    }

    @Test func sessionCookieIsAccepted() async throws {
        let portal = try await Portal.start()
        let reply = await portal.send("GET", "/api/contractor/account", token: nil, headers: ["Cookie": "theme=dark; session=\(Portal.token("C-2002"))"])
        #expect(reply.status == 200)
        #expect(reply.json["contractorId"] == .string("C-2002"))
    }

    @Test func contactsAreMappedAndFailuresSwallowed() async throws {
        let portal = try await Portal.start()
        let reply = await portal.get("/api/contractor/contacts")
        #expect(reply.status == 200)
        #expect(reply.json.count == 3)
        #expect(reply.json[1]?["name"] == .string("Bob Pipe"))
        portal.faults(.on("contacts") { $0.status = 500 })
        let failed = await portal.get("/api/contractor/contacts")
        #expect(failed.status == 200)
        #expect(failed.text == "[]")
        // seed 003's captureError: swallowed, but logged with the request id.
        let logged = portal.log.events("portal_error_swallowed")
        #expect(logged.contains { $0["operation"] as? String == "contacts" && ($0["requestId"] as? String)?.isEmpty == false })
    }

    @Test func jobsCarryTheirNotesEmbeddedOrFetched() async throws {
        let portal = try await Portal.start()
        let reply = await portal.get("/api/contractor/jobs?count=10")
        #expect(reply.status == 200)
        #expect(reply.json.count == 10)
        #expect(reply.json[0]?["notes"]?.count == 2, "J-0001's notes come from the notes call")
        #expect(reply.json[9]?["notes"]?[0]?["text"] == .string("Embedded note for job 10"))
        #expect(reply.json[9]?["notes"]?[0]?["jobId"] == .string("J-0010"))
        // Ten jobs, one of them with embedded notes: nine notes calls, not ten.
        #expect(await portal.received("notes") == 9)
        let page = await portal.get("/api/contractor/jobs?offset=100&count=50")
        #expect(page.json.count == 20)
    }

    @Test(arguments: [
        ("/api/contractor/jobs?count=0", "count"), ("/api/contractor/jobs?count=201", "count"), ("/api/contractor/jobs?count=abc", "count"),
        ("/api/contractor/jobs?offset=-1", "offset"),
        ("/api/contractor/statements/historical?dateFrom=2026-02-30", "dateFrom"),
        ("/api/contractor/statements/historical?dateFrom=2026-03-01&dateTo=2026-02-01", "dateFrom"),
        ("/api/contractor/statements/historical?dateTo=yesterday", "dateTo"),
    ])
    func badQueryIs400NamingTheField(_ target: String, _ field: String) async throws {
        let portal = try await Portal.start()
        let reply = await portal.get(target)
        #expect(reply.status == 400)
        #expect(reply.error?.hasPrefix(field) == true, "\(reply.text)")
        #expect(await portal.fixture.store.received.isEmpty)
    }

    @Test func completionSetsOrTogglesAndWrites() async throws {
        let portal = try await Portal.start()
        let set = await portal.send("PATCH", "/api/contractor/jobs/J-0001/complete", body: #"{"completed":true}"#)
        #expect(set.status == 200)
        #expect(set.json["completed"] == .bool(true))
        #expect(set.json["job"]?["status"] == .string("Completed"))
        // Empty body: seed 002's toggle, from the status just read.
        let toggled = await portal.send("PATCH", "/api/contractor/jobs/J-0001/complete")
        #expect(toggled.json["completed"] == .bool(false))
        #expect(await portal.writes()["setCompletion"] == 2)
        let bad = await portal.send("PATCH", "/api/contractor/jobs/J-0001/complete", body: #"{"completed":"yes"}"#)
        #expect(bad.status == 400)
        #expect(bad.error?.hasPrefix("completed") == true)
        let notJSON = await portal.send("PATCH", "/api/contractor/jobs/J-0001/complete", body: "completed=true", headers: ["Content-Type": "application/x-www-form-urlencoded"])
        #expect(notJSON.status == 400)
        #expect(await portal.writes()["setCompletion"] == 2)
    }

    @Test func noteIsTrimmedBoundedAndCreated() async throws {
        let portal = try await Portal.start()
        let created = await portal.send("POST", "/api/contractor/jobs/J-0002/notes", body: #"{"note":"  Parts ordered \n"}"#)
        #expect(created.status == 201)
        #expect(created.json["text"] == .string("Parts ordered"))
        #expect(created.json["jobId"] == .string("J-0002"))
        for body in [#"{"note":"   "}"#, #"{}"#, #"{"note":5}"#, "{\"note\":\"\(String(repeating: "a", count: 5_001))\"}", "[1]", "{bad json"] {
            let reply = await portal.send("POST", "/api/contractor/jobs/J-0002/notes", body: body)
            #expect(reply.status == 400, "\(body.prefix(20))")
        }
        let longest = await portal.send("POST", "/api/contractor/jobs/J-0002/notes", body: "{\"note\":\"\(String(repeating: "é", count: 5_000))\"}")
        #expect(longest.status == 201)
        #expect(await portal.writes()["addNote"] == 2)
    }

    @Test func statementsAndPendingAreExact() async throws {
        let portal = try await Portal.start()
        let statement = await portal.get("/api/contractor/statements/historical?dateFrom=2026-02-01&dateTo=2026-02-28")
        #expect(statement.status == 200)
        #expect(statement.json["entries"]?.count == 3)
        #expect(statement.json["closingBalance"] == .number("1500"))
        let pending = await portal.get("/api/contractor/statements/pending")
        #expect(pending.json.count == 10)
        #expect(pending.json[0]?["amount"] == .number("0.1"))
        let spark = await portal.get("/api/contractor/statements/historical", token: Portal.token("C-2002"))
        // No totals from AgentOS: summed from the entries, exactly. Credits 120.10; debits 5.00 + 20.05.
        #expect(spark.json["totalCredits"] == .number("120.1"))
        #expect(spark.json["totalDebits"] == .number("25.05"))
    }

    @Test func invoiceIsValidatedThenCreatedOnce() async throws {
        let portal = try await Portal.start()
        for (body, field) in [(#"{"jobId":"J-0001","amount":0}"#, "amount"), (#"{"jobId":"J-0001","amount":-5}"#, "amount"),
                              (#"{"jobId":"J-0001","amount":10.001}"#, "amount"), (#"{"jobId":"J-0001","amount":1000000.01}"#, "amount"),
                              (#"{"jobId":"J-0001","amount":"12.00"}"#, "amount"), (#"{"amount":12}"#, "jobId"),
                              (#"{"jobId":"J-0001","amount":12,"invoiceDate":"03/04/2026"}"#, "invoiceDate")] {
            let reply = await portal.send("POST", "/api/contractor/invoices", body: body)
            #expect(reply.status == 400, "\(body)")
            #expect(reply.error?.hasPrefix(field) == true, "\(reply.text)")
        }
        #expect(await portal.writes()["submitInvoice"] == nil)
        let created = await portal.send("POST", "/api/contractor/invoices",
                                         body: #"{"jobId":"J-0003","amount":1000000,"reference":"NP-77","invoiceDate":"2026-04-01","description":"Boiler"}"#)
        #expect(created.status == 201)
        #expect(created.json["success"] == .bool(true))
        #expect(created.json["invoiceId"]?.string?.hasPrefix("INV-new") == true)
        #expect(await portal.writes()["submitInvoice"] == 1)
        // AgentOS received the amount as the exact literal.
        let pending = await portal.get("/api/contractor/statements/pending")
        #expect(pending.json[10]?["amount"] == .number("1000000"))
        #expect(pending.json[10]?["invoiceNumber"] == .string("NP-77"))
    }

    @Test func upstreamFailuresMapToGatewayStatuses() async throws {
        // A hang ends in a second's attempt and three seconds' deadline.
        let portal = try await Portal.start(environment: ["AGENTOS_TIMEOUT_MS": "1000", "AGENTOS_DEADLINE_MS": "3000"])
        portal.faults(.on("contractor") { $0.status = 500 })
        let failed = await portal.get("/api/contractor/account")
        #expect(failed.status == 502)
        #expect(failed.error == "AgentOS failed to answer")
        portal.faults(.on("contractor") { $0.status = 401 })
        let keyRefused = await portal.get("/api/contractor/account")
        #expect(keyRefused.status == 502, "AgentOS refusing our key is our failure, not the contractor's 401")
        portal.faults(.on("contractor") { $0.hang = true })
        let slow = await portal.get("/api/contractor/account")
        #expect(slow.status == 504)
        portal.faults(.on("pending") { $0.status = 429; $0.retryAfter = "7" })
        let limited = await portal.get("/api/contractor/statements/pending")
        #expect(limited.status == 503)
        #expect(limited.header("Retry-After") != nil)
    }

    @Test func openBreakerIs503WithRetryAfter() async throws {
        let portal = try await Portal.start(environment: ["AGENTOS_BREAKER_FAILURES": "2", "AGENTOS_MAX_ATTEMPTS": "1", "AGENTOS_BREAKER_COOLDOWN_MS": "30000"])
        portal.faults(.on("contractor") { $0.status = 503 })
        _ = await portal.get("/api/contractor/account")
        _ = await portal.get("/api/contractor/account")
        let before = await portal.received("contractor")
        let refused = await portal.get("/api/contractor/account")
        #expect(refused.status == 503)
        #expect(Int(refused.header("Retry-After") ?? "") ?? 0 >= 1)
        #expect(await portal.received("contractor") == before, "an open breaker fails fast")
    }

    @Test func notConfiguredIs503() async throws {
        let portal = try await Portal.start(upstream: false)
        for path in ["/api/contractor/account", "/api/contractor/contacts", "/api/contractor/jobs"] {
            let reply = await portal.get(path)
            #expect(reply.status == 503, "\(path)")
            #expect(reply.error == "AgentOS is not configured")
            #expect(reply.header("Retry-After") != nil)
        }
        let ready = await portal.get("/readyz", token: nil)
        #expect(ready.status == 503)
        #expect(ready.json["agentos"]?["configured"] == .bool(false))
    }
}
