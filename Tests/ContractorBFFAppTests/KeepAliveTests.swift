import Foundation
import JSON
import TestSupport
import Testing

/// Every other application test closes its connection after one request; a browser does not. Here one
/// kept-alive connection carries a contractor's whole visit (sign-in, cookie session and CSRF, REST, tRPC
/// single and batched, an idempotent write and its replay, errors), and pipelined requests are answered
/// in order, each on the same socket.
@Suite("Keep-alive and pipelining through the whole application", .scoped)
struct KeepAliveTests {
    /// One socket, requests one after another; fails the test if the server closes it early.
    final class Visit: @unchecked Sendable {
        let connection: RawConnection

        init(port: Int) throws {
            connection = try #require(RawConnection(port: port))
        }

        func send(_ method: String, _ target: String, token: String? = nil, body: String? = nil, headers: [String: String] = [:]) async -> Reply {
            let request = Portal.request(method, target, token: token, body: body, headers: headers)
            let connection = connection
            return await offPool {
                connection.send(request)
                return Reply(raw: connection.readResponse(timeout: 10))
            }
        }
    }

    static func isKeptOpen(_ reply: Reply) -> Bool {
        reply.raw != nil && reply.header("Connection")?.lowercased() != "close"
    }

    @Test func oneConnectionCarriesAWholeVisit() async throws {
        let portal = try await AuthTests.start()
        let visit = try Visit(port: portal.port)
        let credentials = #"{"email":"\#(AuthTests.email)","password":"\#(AuthTests.password)"}"#
        let login = await visit.send("POST", "/api/auth/login", body: credentials)
        #expect(login.status == 200, "\(login.text)")
        let access = try #require(login.json["accessToken"]?.string)
        let cookie = ["Cookie": "session=\(access)"]
        let account = await visit.send("GET", "/api/contractor/account", token: access)
        #expect(account.json["contractorId"] == .string("C-1001"))
        let me = await visit.send("GET", "/api/auth/me", headers: cookie)
        #expect(me.json["contractorId"] == .string("C-1001"))
        let csrf = try #require(await visit.send("GET", "/api/security/csrf-token", headers: cookie).json["csrfToken"]?.string)
        let viaCookie = await visit.send(
            "POST", "/api/contractor/jobs/J-0002/notes", body: #"{"note":"kept alive"}"#,
            headers: cookie.merging(["X-CSRF-Token": csrf, "Origin": "http://localhost:5173"]) { $1 })
        #expect(viaCookie.status == 201, "\(viaCookie.text)")
        let trpc = await visit.send("GET", "/api/trpc/contractor.account", token: access)
        #expect(trpc.data?["contractorId"] == .string("C-1001"))
        let batch = await visit.send("GET", "/api/trpc/contractor.status,contractor.contacts?batch=1&input=%7B%7D", token: access)
        #expect(batch.json[0]?["result"]?["data"]?["status"] == .string("ok"))
        #expect(batch.json[1]?["result"]?["data"]?.count == 3)
        let keyed = ["Idempotency-Key": "keep-alive-\(UUID().uuidString)"]
        let first = await visit.send("POST", "/api/contractor/jobs/J-0003/notes", token: access, body: #"{"note":"once"}"#, headers: keyed)
        let again = await visit.send("POST", "/api/contractor/jobs/J-0003/notes", token: access, body: #"{"note":"once"}"#, headers: keyed)
        #expect(first.status == 201)
        #expect(again.status == 201)
        #expect(again.header("Idempotent-Replayed") == "true", "the replay is answered from the record: \(again.raw?.headers ?? [])")
        let missing = await visit.send("GET", "/api/contractor/nowhere", token: access)
        let refused = await visit.send("GET", "/api/contractor/account", token: "not-a-token")
        let trpcError = await visit.send("GET", "/api/trpc/contractor.nothing", token: access)
        #expect(missing.status == 404)
        #expect(refused.status == 401)
        #expect(trpcError.trpcCode == "NOT_FOUND")
        let last = await visit.send("GET", "/api/contractor/contacts", token: access)
        #expect(last.status == 200)
        let replies = [login, account, me, viaCookie, trpc, batch, first, again, missing, refused, trpcError, last]
        #expect(replies.allSatisfy(Self.isKeptOpen), "every answer keeps the connection: \(replies.map(\.status))")
        #expect(Set(replies.compactMap { $0.header("X-Request-Id") }).count == replies.count, "each request its own id")
        #expect(await portal.writes()["addNote"] == 2, "the cookie note and the keyed one once")
        await portal.stop()
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        let portal = try await Portal.start()
        let token = Portal.token()
        let requests = [
            Portal.request("GET", "/api/contractor/account", token: token, body: nil, headers: [:]),
            Portal.request("GET", "/api/trpc/contractor.maintenanceJobDetails?input=" + encoded(#"{"jobId":"J-0005"}"#), token: token, body: nil, headers: [:]),
            Portal.request("POST", "/api/contractor/jobs/J-0004/notes", token: token, body: #"{"note":"pipelined"}"#, headers: [:]),
            Portal.request("GET", "/api/trpc/contractor.maintenanceJobNotes?input=" + encoded(#"{"jobId":"J-0004"}"#), token: token, body: nil, headers: [:]),
            Portal.request("POST", "/api/trpc/contractor.addJobNote", token: token, body: #"{"jobId":"J-0004","text":"second"}"#, headers: [:]),
            Portal.request("GET", "/healthz", token: nil, body: nil, headers: [:]),
        ]
        let port = portal.port
        let replies = await offPool { () -> [Reply] in
            guard let connection = RawConnection(port: port) else { return [] }
            // All six in one write: the server must read them one at a time and answer in order.
            connection.send(requests.joined())
            return requests.indices.map { _ in Reply(raw: connection.readResponse(timeout: 10)) }
        }
        try #require(replies.count == 6)
        #expect(replies[0].json["contractorId"] == .string("C-1001"))
        #expect(replies[1].data?["jobId"] == .string("J-0005"))
        #expect(replies[2].status == 201)
        #expect(replies[3].data?.arrayValue?.contains { $0["text"] == .string("pipelined") } == true, "the note written just before is read: \(replies[3].text.prefix(300))")
        #expect(replies[4].data != nil, "\(replies[4].text)")
        #expect(replies[5].text == #"{"status":"ok"}"#)
        #expect(replies.allSatisfy(Self.isKeptOpen))
        #expect(await portal.writes()["addNote"] == 2)
        await portal.stop()
    }

    @Test func aMalformedRequestAfterGoodOnesClosesOnlyItsConnection() async throws {
        let portal = try await Portal.start()
        let visit = try Visit(port: portal.port)
        let good = await visit.send("GET", "/api/contractor/account", token: Portal.token())
        #expect(Self.isKeptOpen(good))
        let port = portal.port
        let (bad, closed) = await offPool { () -> (RawResponse?, Bool) in
            visit.connection.send("GET /api/contractor/account HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n")
            return (visit.connection.readResponse(timeout: 5), visit.connection.closedByServer(within: 5))
        }
        #expect(bad?.status == 400)
        #expect(closed)
        // Another connection is untouched.
        let other = try Visit(port: port)
        #expect(await other.send("GET", "/api/contractor/account", token: Portal.token()).status == 200)
        await portal.stop()
    }
}
