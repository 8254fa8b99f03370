import AgentOS
import FixtureAgentOS
import Foundation
import JSON
import TestSupport
import Testing

/// Seed 003's procedures over tRPC's HTTP wire format, end to end.
@Suite("tRPC procedures of seed 003", .scoped)
struct TRPCTests {
    static let base = "/api/trpc/"

    func query(_ portal: Portal, _ path: String, _ input: String? = nil, token: String? = Portal.token()) async -> Reply {
        await portal.get(Self.base + path + (input.map { "?input=" + encoded($0) } ?? ""), token: token)
    }

    func mutate(_ portal: Portal, _ path: String, _ input: String, token: String? = Portal.token()) async -> Reply {
        await portal.send("POST", Self.base + path, token: token, body: input)
    }

    @Test func everyQueryAnswersInTheResultShape() async throws {
        let portal = try await Portal.start()
        let cases: [(String, String?, (JSONValue) -> Bool)] = [
            ("contractor.status", nil, { $0["status"] == .string("ok") }),
            ("contractor.account", nil, { $0["contractorId"] == .string("C-1001") }),
            ("contractor.contacts", nil, { $0.count == 3 }),
            ("contractor.maintenanceJobs", #"{"offset":0,"count":5}"#, { $0.count == 5 && $0[0]?["jobId"] == .string("J-0001") }),
            ("contractor.maintenanceJobs", nil, { $0.count == 50 }),
            ("contractor.maintenanceJobDetails", #"{"jobId":"J-0005"}"#, { $0["title"] == .string("Repair 5") }),
            ("contractor.maintenanceJobDetails", #"{"jobId":"J-9999"}"#, { $0 == .null }),
            ("contractor.maintenanceJobNotes", #"{"jobId":"J-0001"}"#, { $0.count == 2 && $0[1]?["text"] == .string("Needs a part") }),
            ("contractor.maintenanceJobNotes", #"{"jobId":"J-0010"}"#, { $0[0]?["text"] == .string("Embedded note for job 10") }),
            ("contractor.statements", #"{"dateFrom":"2026-02-01"}"#, { $0["entries"]?.count == 3 }),
            ("contractor.pendingStatements", nil, { $0.count == 10 }),
            ("contractor.insights", nil, { $0["totalAssignedJobs"] == .number("120") }),
        ]
        for (path, input, check) in cases {
            let reply = await query(portal, path, input)
            #expect(reply.status == 200, "\(path) \(reply.text.prefix(200))")
            #expect(reply.data.map(check) == true, "\(path) \(reply.text.prefix(300))")
        }
        let unknownAccount = await query(portal, "contractor.account", token: Portal.token("C-9999"))
        #expect(unknownAccount.status == 200)
        #expect(unknownAccount.data == .null, "seed 003: null when AgentOS says 404")
    }

    /// With TRPC_TRANSFORMER=none a superjson-encoded input is refused before anything runs: a client
    /// that could not read the answer never gets its write applied behind it.
    @Test func mutationsTakePlainInputsAndRefuseSuperjsonWhenTheTransformerIsNone() async throws {
        let portal = try await Portal.start()
        let note = await mutate(portal, "contractor.addJobNote", #"{"jobId":"J-0004","text":"On my way"}"#)
        #expect(note.status == 200)
        #expect(note.data?["text"] == .string("On my way"))
        let wrapped = await mutate(portal, "contractor.addJobNote", #"{"json":{"jobId":"J-0004","text":"Done"},"meta":{"values":{}}}"#)
        #expect(wrapped.status == 400)
        // Refused in the encoding the client speaks, so a superjson client can read why.
        #expect(wrapped.json["error"]?["json"]?["message"]?.string?.contains("TRPC_TRANSFORMER") == true)
        let completion = await mutate(portal, "contractor.toggleJobCompletion", #"{"jobId":"J-0004","completed":true}"#)
        #expect(completion.data?["completed"] == .bool(true))
        let noFlag = await mutate(portal, "contractor.toggleJobCompletion", #"{"jobId":"J-0004"}"#)
        #expect(noFlag.trpcCode == "BAD_REQUEST")
        let invoice = await mutate(portal, "contractor.submitInvoice", #"{"jobId":"J-0004","amount":99.99,"reference":"T-1"}"#)
        #expect(invoice.data?["success"] == .bool(true))
        let plainQuery = await query(portal, "contractor.maintenanceJobDetails", #"{"jobId":"J-0004"}"#)
        #expect(plainQuery.data?["status"] == .string("Completed"))
        let superjsonQuery = await query(portal, "contractor.maintenanceJobDetails", #"{"json":{"jobId":"J-0004"}}"#)
        #expect(superjsonQuery.json["error"]?["json"]?["data"]?["code"] == .string("BAD_REQUEST"))
        #expect(await portal.writes() == ["addNote": 1, "setCompletion": 1, "submitInvoice": 1])
    }

    @Test func errorsCarryTRPCCodes() async throws {
        // A hang ends in a second's attempt and three seconds' deadline.
        let portal = try await Portal.start(environment: ["AGENTOS_TIMEOUT_MS": "1000", "AGENTOS_DEADLINE_MS": "3000"])
        // A call's error names its path; a refusal of the whole request (no session, unreadable input) has none,
        // as tRPC writes it.
        let cases: [(Reply, String, Int, Int, perCall: Bool)] = [
            (await query(portal, "contractor.maintenanceJobs", #"{"count":500}"#), "BAD_REQUEST", -32600, 400, true),
            (await query(portal, "contractor.account", token: nil), "UNAUTHORIZED", -32001, 401, false),
            (await query(portal, "contractor.account", #"{"shortName":"other-agency"}"#), "FORBIDDEN", -32003, 403, true),
            (await query(portal, "contractor.nothing"), "NOT_FOUND", -32004, 404, true),
            (await mutate(portal, "contractor.account", "{}"), "METHOD_NOT_SUPPORTED", -32005, 405, true),
            (await query(portal, "contractor.addJobNote", #"{"jobId":"J-0001","text":"x"}"#), "METHOD_NOT_SUPPORTED", -32005, 405, true),
            (await query(portal, "contractor.maintenanceJobDetails", "{not json"), "PARSE_ERROR", -32700, 400, false),
            (await query(portal, "contractor.maintenanceJobDetails", "[1]"), "BAD_REQUEST", -32600, 400, true),
        ]
        for (reply, code, number, status, perCall) in cases {
            #expect(reply.status == status, "\(code) \(reply.text)")
            #expect(reply.trpcCode == code, "\(reply.text)")
            #expect(reply.json["error"]?["code"] == .number(String(number)))
            #expect(reply.json["error"]?["data"]?["httpStatus"] == .number(String(status)))
            #expect((reply.json["error"]?["data"]?["path"]?.string?.hasPrefix("contractor.") == true) == perCall, "\(reply.text)")
            #expect(reply.json["error"]?["message"]?.string?.isEmpty == false)
            #expect(reply.json["error"]?["data"]?["stack"] == nil, "never a stack")
        }
        #expect(await portal.writes().isEmpty, "a mutation sent as GET must not run")
        portal.faults(.on("contractor") { $0.hang = true })
        let slow = await query(portal, "contractor.account")
        #expect(slow.status == 504)
        #expect(slow.trpcCode == "GATEWAY_TIMEOUT")
        portal.faults(.on("contractor") { $0.status = 429; $0.retryAfter = "9" })
        let limited = await query(portal, "contractor.account")
        #expect(limited.trpcCode == "TOO_MANY_REQUESTS")
        #expect(limited.header("Retry-After") != nil)
    }

    @Test func batchesAnswerInOrderWith207WhenStatusesDiffer() async throws {
        let portal = try await Portal.start()
        let input = #"{"0":{"jobId":"J-0001"},"2":{"count":2}}"#
        let reply = await portal.get(Self.base + "contractor.maintenanceJobDetails,contractor.nothing,contractor.maintenanceJobs?batch=1&input=" + encoded(input))
        #expect(reply.status == 207)
        #expect(reply.json.count == 3)
        #expect(reply.json[0]?["result"]?["data"]?["jobId"] == .string("J-0001"))
        #expect(reply.json[1]?["error"]?["data"]?["code"] == .string("NOT_FOUND"))
        #expect(reply.json[2]?["result"]?["data"]?.count == 2)
        let same = await portal.get(Self.base + "contractor.status,contractor.account?batch=1")
        #expect(same.status == 200)
        #expect(same.json[1]?["result"]?["data"]?["contractorId"] == .string("C-1001"))
        let notBatched = await portal.get(Self.base + "contractor.status,contractor.account")
        #expect(notBatched.status == 400)
        let tooMany = await portal.get(Self.base + Array(repeating: "contractor.status", count: 11).joined(separator: ",") + "?batch=1")
        #expect(tooMany.status == 400)
        #expect(tooMany.json["error"]?["data"]?["code"] == .string("BAD_REQUEST"), "an oversized batch is refused whole, with one answer")
        let mutations = await portal.send("POST", Self.base + "contractor.addJobNote,contractor.addJobNote?batch=1",
                                          body: #"{"0":{"jobId":"J-0006","text":"first"},"1":{"jobId":"J-0006","text":"second"}}"#)
        #expect(mutations.status == 200)
        let notes = await query(portal, "contractor.maintenanceJobNotes", #"{"jobId":"J-0006"}"#)
        #expect(notes.data?[0]?["text"] == .string("first"))
        #expect(notes.data?[1]?["text"] == .string("second"))
        let unauthorised = await portal.get(Self.base + "contractor.status,contractor.account?batch=1", token: nil)
        #expect(unauthorised.status == 401)
        #expect(unauthorised.json["error"]?["data"]?["code"] == .string("UNAUTHORIZED"))
    }
}
