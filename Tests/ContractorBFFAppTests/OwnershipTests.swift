import AgentOS
import FixtureAgentOS
import Foundation
import JSON
import TestSupport
import Testing

/// A session of contractor A naming B's ids or B's jobs reads and writes nothing of B's. The fixture's
/// counters prove no write reached AgentOS; a positive control proves the same calls work for B.
@Suite("Ownership matrix", .scoped)
struct OwnershipTests {
    /// Jobs of C-2002 (7001, WO-7002) and of 3003 (9001), as contractor C-1001 might name them.
    static let foreignJobs = ["7001", "WO-7002", "9001"]

    @Test(arguments: foreignJobs)
    func anotherContractorsJobIsNotFoundEverywhere(_ jobId: String) async throws {
        let portal = try await Portal.start()
        let rest: [(String, String, String?)] = [
            ("PATCH", "/api/contractor/jobs/\(jobId)/complete", #"{"completed":true}"#),
            ("PATCH", "/api/contractor/jobs/\(jobId)/complete", nil),
            ("POST", "/api/contractor/jobs/\(jobId)/notes", #"{"note":"mine now"}"#),
            ("POST", "/api/contractor/invoices", "{\"jobId\":\"\(jobId)\",\"amount\":50}"),
        ]
        for (method, path, body) in rest {
            let reply = await portal.send(method, path, body: body)
            #expect(reply.status == 404, "\(method) \(path)")
            #expect(reply.error == "Job not found")
        }
        let input = "{\"jobId\":\"\(jobId)\"}"
        let details = await portal.get("/api/trpc/contractor.maintenanceJobDetails?input=" + encoded(input))
        #expect(details.status == 200)
        #expect(details.data == .null)
        let notes = await portal.get("/api/trpc/contractor.maintenanceJobNotes?input=" + encoded(input))
        #expect(notes.trpcCode == "NOT_FOUND")
        for (procedure, body) in [("toggleJobCompletion", "{\"jobId\":\"\(jobId)\",\"completed\":true}"),
                                  ("addJobNote", "{\"jobId\":\"\(jobId)\",\"text\":\"x\"}"),
                                  ("submitInvoice", "{\"jobId\":\"\(jobId)\",\"amount\":5}")] {
            let reply = await portal.send("POST", "/api/trpc/contractor." + procedure, body: body)
            #expect(reply.trpcCode == "NOT_FOUND", "\(procedure)")
        }
        #expect(await portal.writes().isEmpty, "nothing may be written to another contractor's job")
        #expect(await portal.received("notes") == 0, "another contractor's notes are never read")
        let jobs = await portal.get("/api/contractor/jobs?count=200")
        #expect(jobs.json.arrayValue?.contains { $0["jobId"] == .string(jobId) } == false)
    }

    @Test func theOwnerCanDoAllOfIt() async throws {
        let portal = try await Portal.start()
        let owner = Portal.token("C-2002")
        #expect(await portal.send("PATCH", "/api/contractor/jobs/7001/complete", token: owner, body: #"{"completed":true}"#).status == 200)
        #expect(await portal.send("POST", "/api/contractor/jobs/7001/notes", token: owner, body: #"{"note":"done"}"#).status == 201)
        #expect(await portal.send("POST", "/api/contractor/invoices", token: owner, body: #"{"jobId":7001,"amount":50}"#).status == 201)
        let notes = await portal.get("/api/trpc/contractor.maintenanceJobNotes?input=" + encoded(#"{"jobId":"7001"}"#), token: owner)
        #expect(notes.data?.count == 2)
        #expect(await portal.writes() == ["setCompletion": 1, "addNote": 1, "submitInvoice": 1])
    }

    @Test(arguments: ["contractor.status", "contractor.insights", "contractor.account", "contractor.contacts", "contractor.maintenanceJobs",
                      "contractor.maintenanceJobDetails", "contractor.maintenanceJobNotes", "contractor.statements", "contractor.pendingStatements"])
    func inputNamingAnotherContractorIsForbidden(_ procedure: String) async throws {
        let portal = try await Portal.start()
        for input in [#"{"contractorId":"C-2002","jobId":"7001"}"#, #"{"shortName":"other","jobId":"J-0001"}"#, #"{"contractorId":3003,"jobId":"9001"}"#] {
            let reply = await portal.get("/api/trpc/\(procedure)?input=" + encoded(input))
            #expect(reply.status == 403, "\(procedure) \(input)")
            #expect(reply.trpcCode == "FORBIDDEN")
        }
        #expect(await portal.fixture.store.received.isEmpty, "a forbidden call reaches no AgentOS route")
        let own = await portal.get("/api/trpc/\(procedure)?input=" + encoded(#"{"contractorId":"C-1001","shortName":"demo","jobId":"J-0001"}"#))
        #expect(own.status == 200, "naming oneself is allowed: \(own.text.prefix(200))")
    }

    @Test(arguments: ["toggleJobCompletion", "addJobNote", "submitInvoice"])
    func mutationNamingAnotherContractorIsForbiddenAndWritesNothing(_ procedure: String) async throws {
        let portal = try await Portal.start()
        let body = #"{"contractorId":"C-2002","shortName":"demo","jobId":"7001","completed":true,"text":"x","amount":5}"#
        let reply = await portal.send("POST", "/api/trpc/contractor." + procedure, body: body)
        #expect(reply.status == 403)
        #expect(await portal.fixture.store.received.isEmpty)
        #expect(await portal.writes().isEmpty)
    }
}
