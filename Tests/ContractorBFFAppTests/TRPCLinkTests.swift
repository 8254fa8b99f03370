import AgentOS
import FixtureAgentOS
import Foundation
import JSON
import TestSupport
import Testing

/// Every tRPC 11 link, with and without superjson, end to end on loopback: what the links send, what they
/// read back, and the gateway's own refusals in the same shape.
@Suite("tRPC links and transformers", .scoped)
struct TRPCLinkTests {
    static let base = "/api/trpc/"

    /// The JSON lines of a streamed batch, parsed (superjson's `{"json": line}` unwrapped).
    static func lines(_ text: String, superjson: Bool = false) -> [JSONValue] {
        text.split(separator: "\n").compactMap { line in
            guard let value = try? JSONText.parse(Array(line.utf8)) else { return nil }
            return superjson ? value["json"] : value
        }
    }

    /// What each call of a streamed batch settled to, rebuilt as the client does from the chunk lines.
    static func settled(_ lines: [JSONValue]) -> [Int: JSONValue] {
        var chunks: [Int: JSONValue] = [:]
        for line in lines.dropFirst() {
            guard let id = line[0]?.number.flatMap({ Int($0) }), let value = line[2]?[0]?[0] else { continue }
            chunks[id] = value
        }
        var out: [Int: JSONValue] = [:]
        guard case .object(let head)? = lines.first else { return out }
        for (key, _) in head {
            guard let index = Int(key), let item = chunks[index] else { continue }
            if let error = item["error"] { out[index] = .object(["error": error]); continue }
            // {"result":0} → chunk of {"data":0} → chunk of the data.
            guard let resultID = (lines.first { $0[0]?.number == String(index) }?[2]?[1]?[2]?.number).flatMap({ Int($0) }),
                  let dataID = (lines.first { $0[0]?.number == String(resultID) }?[2]?[1]?[2]?.number).flatMap({ Int($0) }),
                  let data = chunks[dataID] else { continue }
            out[index] = .object(["result": .object(["data": data])])
        }
        return out
    }

    @Test func streamedBatchAnswersEachCallAsItFinishes() async throws {
        let portal = try await Portal.start()
        // insights waits on the jobs list; account does not.
        portal.faults(.on("jobs") { $0.latencyMs = 700 })
        let client = try #require(portal.open("GET", Self.base + "contractor.insights,contractor.account?batch=1", headers: ["trpc-accept": "application/jsonl"]))
        #expect(await client.readHead())
        #expect(client.status == 200)
        #expect(client.header("Transfer-Encoding") == "chunked")
        #expect(client.header("Vary")?.contains("trpc-accept, accept") == true)
        #expect(await client.readToEnd(timeout: 15))
        let lines = Self.lines(client.text)
        #expect(String(decoding: lines[0].serialized(), as: UTF8.self) == #"{"0":[[0],[null,0,0]],"1":[[0],[null,0,1]]}"#)
        let results = Self.settled(lines)
        #expect(results[1]?["result"]?["data"]?["contractorId"] == .string("C-1001"))
        #expect(results[0]?["result"]?["data"]?["totalAssignedJobs"] == .number("120"))
        // The fast call is not held back by the slow one: its lines come first, and long before.
        let accountAt = try #require(client.arrival(of: "C-1001"))
        let insightsAt = try #require(client.arrival(of: "totalAssignedJobs"))
        #expect(accountAt + 1.0 < insightsAt, "account at \(accountAt) s, insights at \(insightsAt) s")
        // The head does not wait for the slow call either (timed against that call, not the wall clock, so a
        // loaded machine that is slow to read it all cannot make it look held back).
        let headAt = try #require(client.arrival(of: #"{"0":"#))
        #expect(headAt + 1.0 < insightsAt, "the head is sent at once: head at \(headAt) s, insights at \(insightsAt) s")

        // streamHeader: 'accept'.
        portal.faults()
        let viaAccept = try #require(portal.open("GET", Self.base + "contractor.account?batch=1", headers: ["Accept": "application/jsonl, */*"]))
        #expect(await viaAccept.readHead())
        #expect(await viaAccept.readToEnd())
        #expect(Self.settled(Self.lines(viaAccept.text))[0]?["result"]?["data"]?["contractorId"] == .string("C-1001"))
        // Streaming needs a batch, as tRPC says.
        let single = await portal.send("GET", Self.base + "contractor.account", headers: ["trpc-accept": "application/jsonl"])
        #expect(single.status == 400)
    }

    @Test func aStreamRefusedWholeAnswersOneErrorObject() async throws {
        let portal = try await Portal.start()
        let refused = await portal.send("GET", Self.base + "contractor.account,contractor.status?batch=1", token: nil, headers: ["trpc-accept": "application/jsonl"])
        #expect(refused.status == 401)
        #expect(refused.json["error"]?["data"]?["code"] == .string("UNAUTHORIZED"))
        #expect(refused.header("Transfer-Encoding") == nil)
        let tooMany = await portal.send("GET", Self.base + Array(repeating: "contractor.status", count: 11).joined(separator: ",") + "?batch=1",
                                        headers: ["trpc-accept": "application/jsonl"])
        #expect(tooMany.status == 400)
        #expect(tooMany.json["error"]?["code"] == .number("-32600"))
    }

    /// A client that hangs up mid-stream cancels what it no longer waits for: insights reads the jobs
    /// list page by page (three pages of 50 for 120 jobs); hung up on after the head, it reads no more.
    /// Pages take 1.5 s, so a loaded machine slow to read the head still hangs up before the third.
    @Test func hangingUpMidStreamCancelsTheRemainingCalls() async throws {
        let portal = try await Portal.start()
        portal.faults(.on("jobs") { $0.latencyMs = 1500 })
        let client = try #require(portal.open("GET", Self.base + "contractor.insights,contractor.account?batch=1", headers: ["trpc-accept": "application/jsonl"]))
        #expect(await client.readHead())
        #expect(await client.read { $0.contains("C-1001") })
        client.close()
        try await Task.sleep(for: .seconds(3))
        #expect(await portal.received("jobs") < 3, "insights kept reading pages for a client that left")
        // Left alone, the same batch reads every page.
        let whole = try #require(portal.open("GET", Self.base + "contractor.insights,contractor.account?batch=1", headers: ["trpc-accept": "application/jsonl"]))
        #expect(await whole.readHead())
        #expect(await whole.readToEnd(timeout: 15))
        #expect(await portal.received("jobs") >= 4)
    }

    @Test func aKeyedMutationReplaysThroughEveryLink() async throws {
        let portal = try await Portal.start()
        let body = #"{"0":{"jobId":"J-0002","text":"streamed once"}}"#
        let headers = ["trpc-accept": "application/jsonl", "Idempotency-Key": "stream-1"]
        let first = try #require(portal.open("POST", Self.base + "contractor.addJobNote?batch=1", body: body, headers: headers))
        #expect(await first.readHead())
        #expect(await first.readToEnd())
        #expect(first.header("Idempotent-Replayed") == nil)
        let again = try #require(portal.open("POST", Self.base + "contractor.addJobNote?batch=1", body: body, headers: headers))
        #expect(await again.readHead())
        #expect(await again.readToEnd())
        #expect(again.header("Idempotent-Replayed") == "true")
        #expect(again.text == first.text)
        #expect(Self.settled(Self.lines(again.text))[0]?["result"]?["data"]?["text"] == .string("streamed once"))
        // The same write retried by the batch link reads the same call element.
        let batch = await portal.send("POST", Self.base + "contractor.addJobNote?batch=1", body: body, headers: ["Idempotency-Key": "stream-1"])
        #expect(batch.header("Idempotent-Replayed") == "true")
        #expect(batch.json[0]?["result"]?["data"]?["text"] == .string("streamed once"))
        #expect(await portal.writes()["addNote"] == 1)
    }

    @Test func superjsonOnEveryLinkAndEveryRefusal() async throws {
        let portal = try await Portal.start(environment: ["TRPC_TRANSFORMER": "superjson", "MAX_BODY_BYTES": "4096", "MAX_HEADER_BYTES": "2048"])
        func q(_ input: String) -> String { "?input=" + encoded(input) }
        func q(_ batch: String, _ input: String) -> String { batch + "input=" + encoded(input) }
        // httpLink: the query tRPC's client sends without input, and one with input.
        let status = await portal.get(Self.base + "contractor.status" + q(#"{"json":null,"meta":{"values":["undefined"],"v":1}}"#))
        #expect(status.status == 200)
        #expect(status.json["result"]?["data"]?["json"]?["status"] == .string("ok"))
        let job = await portal.get(Self.base + "contractor.maintenanceJobDetails" + q(#"{"json":{"jobId":"J-0001","extra":null},"meta":{"values":{"extra":["undefined"]},"v":1}}"#))
        #expect(job.json["result"]?["data"]?["json"]?["jobId"] == .string("J-0001"))
        let dated = await portal.get(Self.base + "contractor.statements" + q(#"{"json":{"dateFrom":"2026-02-01T00:00:00.000Z"},"meta":{"values":{"dateFrom":["Date"]},"v":1}}"#))
        #expect(dated.status == 200, "\(dated.text)")
        #expect(dated.json["result"]?["data"]?["json"]?["entries"] != nil)
        // A call's error: the whole shape wrapped.
        let missing = await portal.get(Self.base + "contractor.nothing" + q(#"{"json":null}"#))
        #expect(missing.status == 404)
        #expect(missing.json["error"]?["json"]?["data"]?["code"] == .string("NOT_FOUND"))
        #expect(missing.json["error"]?["json"]?["code"] == .number("-32004"))
        // httpBatchLink.
        let batch = await portal.get(Self.base + "contractor.status,contractor.nothing" + q("?batch=1&", #"{"0":{"json":null},"1":{"json":null}}"#))
        #expect(batch.status == 207, "\(batch.text)")
        #expect(batch.json[0]?["result"]?["data"]?["json"]?["status"] == .string("ok"))
        #expect(batch.json[1]?["error"]?["json"]?["data"]?["code"] == .string("NOT_FOUND"))
        // httpBatchStreamLink: every line wrapped.
        let stream = try #require(portal.open("GET", Self.base + "contractor.account,contractor.nothing" + q("?batch=1&", #"{"0":{"json":null},"1":{"json":null}}"#),
                                              headers: ["trpc-accept": "application/jsonl"]))
        #expect(await stream.readHead())
        #expect(await stream.readToEnd(), "\(stream.status) \(stream.text)")
        #expect(stream.text.split(separator: "\n").allSatisfy { $0.hasPrefix(#"{"json":"#) })
        let settled = Self.settled(Self.lines(stream.text, superjson: true))
        #expect(settled[0]?["result"]?["data"]?["contractorId"] == .string("C-1001"))
        #expect(settled[1]?["error"]?["data"]?["code"] == .string("NOT_FOUND"))
        // Mutations: superjson in, superjson out; a plain input is refused before anything is written.
        let note = await portal.send("POST", Self.base + "contractor.addJobNote", body: #"{"json":{"jobId":"J-0004","text":"sj"}}"#)
        #expect(note.json["result"]?["data"]?["json"]?["text"] == .string("sj"))
        let plain = await portal.send("POST", Self.base + "contractor.addJobNote", body: #"{"jobId":"J-0004","text":"plain"}"#)
        #expect(plain.status == 400)
        #expect(plain.json["error"]?["message"]?.string?.contains("superjson") == true, "refused in the plain JSON the client speaks")
        let map = await portal.send("POST", Self.base + "contractor.addJobNote", body: #"{"json":{"jobId":"J-0004","text":[]},"meta":{"values":{"text":["map"]},"v":1}}"#)
        #expect(map.status == 400)
        #expect(map.json["error"]?["json"]?["message"]?.string?.contains("input.text") == true)
        #expect(await portal.writes()["addNote"] == 1)
        // The gateway's own refusals, each wrapped: 401, 403, 415, 413 and 431 (the server core's), 405.
        let unauthorized = await portal.get(Self.base + "contractor.account", token: nil)
        #expect(unauthorized.status == 401)
        #expect(unauthorized.json["error"]?["json"]?["data"]?["code"] == .string("UNAUTHORIZED"))
        let forbidden = await portal.send("POST", Self.base + "contractor.addJobNote", token: nil, body: #"{"json":{}}"#,
                                          headers: ["Origin": "https://evil.example", "Cookie": "session=x"])
        #expect(forbidden.status == 403)
        #expect(forbidden.json["error"]?["json"]?["data"]?["code"] == .string("FORBIDDEN"))
        let media = await portal.send("POST", Self.base + "contractor.addJobNote", body: "x", headers: ["Content-Type": "text/plain"])
        #expect(media.status == 415)
        #expect(media.json["error"]?["json"]?["data"]?["code"] == .string("UNSUPPORTED_MEDIA_TYPE"))
        let large = await portal.send("POST", Self.base + "contractor.addJobNote", body: String(repeating: "x", count: 5000))
        #expect(large.status == 413)
        #expect(large.json["error"]?["json"]?["data"]?["code"] == .string("PAYLOAD_TOO_LARGE"))
        let header = await portal.send("GET", Self.base + "contractor.account", headers: ["X-Big": String(repeating: "y", count: 3000)])
        #expect(header.status == 431)
        #expect(header.json["error"]?["json"]?["data"]?["httpStatus"] == .number("431"))
        let wrongRoute = await portal.send("PATCH", Self.base + "contractor.account")
        #expect(wrongRoute.status == 405)
        #expect(wrongRoute.json["error"]?["json"]?["data"]?["code"] == .string("METHOD_NOT_SUPPORTED"))
        #expect(wrongRoute.header("Allow") != nil)
    }

    @Test func contentTypesMethodsAndHead() async throws {
        let portal = try await Portal.start()
        // An empty Content-Type is a field like any other: refused, never a crash.
        for type in ["text/plain", "application/octet-stream", ""] {
            let reply = await portal.send("POST", Self.base + "contractor.addJobNote", body: "{}", headers: ["Content-Type": type])
            #expect(reply.status == 415, "\(type)")
            #expect(reply.trpcCode == "UNSUPPORTED_MEDIA_TYPE")
            #expect(reply.json["error"]?["code"] == .number("-32015"))
        }
        let noType = await portal.send("POST", Self.base + "contractor.addJobNote", headers: ["Content-Length": "0"])
        #expect(noType.status == 415)
        #expect(noType.json["error"]?["message"] == .string("Missing content-type header"))
        let head = await portal.send("HEAD", Self.base + "contractor.account")
        #expect(head.status == 204)
        #expect(head.raw?.body.isEmpty == true)
        // tRPC 10's clients send content-type on GET too.
        let v10 = await portal.send("GET", Self.base + "contractor.status", headers: ["Content-Type": "application/json"])
        #expect(v10.status == 200)
        let posted = await portal.send("POST", Self.base + "contractor.account", body: "{}")
        #expect(posted.status == 405)
        #expect(posted.trpcCode == "METHOD_NOT_SUPPORTED")
        #expect(await portal.writes().isEmpty)

        let overriding = try await Portal.start(environment: ["TRPC_ALLOW_METHOD_OVERRIDE": "true"])
        let query = await overriding.send("POST", Self.base + "contractor.maintenanceJobDetails", body: #"{"jobId":"J-0001"}"#)
        #expect(query.status == 200)
        #expect(query.data?["jobId"] == .string("J-0001"))
        let mutationByGet = await overriding.get(Self.base + "contractor.addJobNote?input=" + encoded(#"{"jobId":"J-0001","text":"x"}"#))
        #expect(mutationByGet.status == 405, "a mutation by GET is never accepted")
    }

    /// The server core's refusals under the tRPC prefix reach the client in tRPC's shape, decided from the
    /// decoded path as the router decides it; under REST, REST's.
    @Test func serverCoreRefusalsTakeTheShapeOfTheirAPI() async throws {
        let portal = try await Portal.start(environment: ["MAX_HEADER_BYTES": "1024", "MAX_REQUEST_TARGET_BYTES": "256"])
        let big = ["X-Big": String(repeating: "y", count: 2000)]
        for target in [Self.base + "contractor.account", "/%61pi/trpc/contractor.account", "/api/%74rpc/contractor.status?batch=1"] {
            let reply = await portal.send("GET", target, headers: big)
            #expect(reply.status == 431, "\(target)")
            #expect(reply.json["error"]?["code"] == .number("-32600"), "\(target): \(reply.text)")
            #expect(reply.json["error"]?["data"]?["httpStatus"] == .number("431"))
            #expect(reply.header("Connection") == "close")
        }
        let long = await portal.send("GET", Self.base + "contractor.status?input=" + String(repeating: "a", count: 400))
        #expect(long.status == 414)
        #expect(long.json["error"]?["data"]?["httpStatus"] == .number("414"))
        let rest = await portal.send("GET", "/api/contractor/account", headers: big)
        #expect(rest.status == 431)
        #expect(rest.error?.isEmpty == false, "REST keeps its {error, requestId}")
        // A rule keyed on a path prefix follows the decoded path too: the encoded tRPC path is tRPC-shaped.
        let encodedPath = await portal.send("GET", "/%61pi/trpc/contractor.account", token: nil)
        #expect(encodedPath.status == 401)
        #expect(encodedPath.trpcCode == "UNAUTHORIZED")
    }

    /// The session is verified once per request and handed to the rate limiter, the CSRF check and the
    /// handler (each used to verify it again): one refusal logged per request, whatever the route.
    @Test func theSessionIsVerifiedOncePerRequest() async throws {
        let portal = try await Portal.start()
        let expired = Portal.token(expiresIn: -120)
        for (index, (method, target)) in [("GET", Self.base + "contractor.account"), ("POST", Self.base + "contractor.addJobNote"), ("GET", "/api/contractor/account")].enumerated() {
            let id = "once-\(index)"
            let reply = await portal.send(method, target, token: expired, body: method == "POST" ? "{}" : nil, headers: ["X-Request-Id": id])
            #expect(reply.status == 401)
            #expect(portal.log.events("session_refused").filter { $0["requestId"] as? String == id }.count == 1, "\(target)")
        }
    }

    @Test func crossOriginPortalsMaySendWhatTheLinksSend() async throws {
        let portal = try await Portal.start(environment: ["CORS_EXTRA_HEADERS": "X-Portal-Build"])
        let preflight = await portal.send("OPTIONS", Self.base + "contractor.account?batch=1", token: nil, headers: [
            "Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "trpc-accept, x-trpc-source, last-event-id, x-portal-build",
        ])
        #expect(preflight.status == 204)
        let allowed = Set((preflight.header("Access-Control-Allow-Headers") ?? "").lowercased().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        for name in ["trpc-accept", "x-trpc-source", "last-event-id", "idempotency-key", "x-csrf-token", "x-portal-build"] {
            #expect(allowed.contains(name), "\(name) in \(allowed)")
        }
        let call = await portal.send("GET", Self.base + "contractor.status", headers: ["Origin": "http://localhost:3000"])
        let exposed = (call.header("Access-Control-Expose-Headers") ?? "").lowercased()
        for name in ["retry-after", "idempotent-replayed", "x-request-id", "x-cache", "age"] { #expect(exposed.contains(name)) }
        #expect(call.header("Vary")?.contains("Origin") == true)
        #expect(call.header("Vary")?.contains("trpc-accept") == true)
    }
}
