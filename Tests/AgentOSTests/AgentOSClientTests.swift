@testable import AgentOS
import FixtureAgentOS
import Foundation
import HTTPServer
import JSON
import Logging
import TestSupport
import Testing

@Suite("AgentOS client: calls, envelopes and errors", .scoped)
struct AgentOSCallTests {
    @Test func recordAndEveryListEnvelopeAreRead() async throws {
        let upstream = try await Upstream.start()
        let client = upstream.client()
        let record = try await client.record(.contractor(shortName: "demo", contractorId: "C-1001"), context())
        let page = try await client.list(.jobs(shortName: "demo", contractorId: "C-1001", offset: 0, count: 50), context())
        let jobsEnvelope = try await client.list(.jobs(shortName: "demo", contractorId: "C-2002", offset: 0, count: 50), context())
        let bare = try await client.list(.jobs(shortName: "demo", contractorId: "3003", offset: 0, count: 50), context())
        let lastPage = try await client.list(.jobs(shortName: "demo", contractorId: "C-1001", offset: 100, count: 50), context())
        await upstream.stop()
        #expect(record?["CompanyName"] == .string("Northern Plumbing Ltd"))
        #expect(page.items.count == 50 && page.total == 120)
        #expect(lastPage.items.count == 20)
        #expect(jobsEnvelope.items.count == 2 && jobsEnvelope.total == nil)
        #expect(bare.items.count == 1 && bare.total == nil)
    }

    @Test func notFoundIsNilOrEmpty() async throws {
        let upstream = try await Upstream.start()
        let client = upstream.client()
        let missing = try await client.record(.contractor(shortName: "demo", contractorId: "nobody"), context())
        let notes = try await client.list(.notes(shortName: "demo", jobId: "no-such-job"), context())
        await upstream.stop()
        #expect(missing == nil)
        #expect(notes.items.isEmpty)
    }

    @Test func moneyLiteralsSurviveExactly() async throws {
        let upstream = try await Upstream.start()
        let pending = try await upstream.client().list(.pending(shortName: "demo", contractorId: "C-1001"), context())
        await upstream.stop()
        #expect(pending.items.first?["Amount"] == .number("0.1"), "the literal, not a binary float")
    }

    @Test func writesAreAppliedAndCounted() async throws {
        let upstream = try await Upstream.start()
        let client = upstream.client()
        let note = try await client.write(.addNote(shortName: "demo", jobId: "J-0001", text: "Fixed", author: "Alice"), context())
        let notes = try await client.list(.notes(shortName: "demo", jobId: "J-0001"), context())
        _ = try await client.write(.setCompletion(shortName: "demo", jobId: "J-0001", completed: true), context())
        let job = try await client.record(.job(shortName: "demo", jobId: "J-0001"), context())
        let invoice = try await client.write(.submitInvoice(shortName: "demo", contractorId: "C-1001", invoice: .object([
            "JobID": .string("J-0001"), "Amount": .number("120.50"), "Reference": .string("R-1"),
            "InvoiceDate": .string("2026-03-01"), "Description": .string("Parts"),
        ])), context())
        let pending = try await client.list(.pending(shortName: "demo", contractorId: "C-1001"), context())
        let writes = (await upstream.writes("addNote"), await upstream.writes("setCompletion"), await upstream.writes("submitInvoice"))
        await upstream.stop()
        #expect(note?["Text"] == .string("Fixed"))
        #expect(notes.items.count == 3)
        #expect(job?["Status"] == .string("Completed"))
        #expect(invoice?["Success"] == .bool(true))
        #expect(pending.items.count == 11)
        #expect(writes == (1, 1, 1))
    }

    @Test func notConfiguredFailsEveryCall() async throws {
        let client = AgentOSClient(configuration: AgentOSConfiguration(), logger: .discard)
        await #expect(throws: AgentOSError.notConfigured) { try await client.record(.contractor(shortName: "demo", contractorId: "x"), context()) }
        let keyless = AgentOSClient(configuration: AgentOSConfiguration(baseURL: "http://127.0.0.1:1", apiKey: ""), logger: .discard)
        await #expect(throws: AgentOSError.notConfigured) { try await keyless.list(.pending(shortName: "demo", contractorId: "x"), context()) }
    }

    @Test func wrongKeyIsUnauthorizedAndNotRetried() async throws {
        let upstream = try await Upstream.start()
        let client = upstream.client { $0.apiKey = "wrong" }
        await #expect(throws: AgentOSError.unauthorized) { try await client.record(.contractor(shortName: "demo", contractorId: "C-1001"), context()) }
        let received = await upstream.received("contractor")
        await upstream.stop()
        #expect(received == 1)
    }

    @Test func keyMayGoInAnotherHeaderOrTheQuery() async throws {
        let upstream = try await Upstream.start()
        let header = try await upstream.client { $0.keyHeader = "ApiKey" }.record(.contractor(shortName: "demo", contractorId: "C-1001"), context())
        let query = try await upstream.client { $0.keyPlacement = .query }.record(.contractor(shortName: "demo", contractorId: "C-1001"), context())
        await upstream.stop()
        #expect(header != nil && query != nil)
    }

    @Test func unknownAgencyIsForbidden() async throws {
        let upstream = try await Upstream.start()
        await #expect(throws: AgentOSError.forbidden) {
            try await upstream.client().record(.contractor(shortName: "elsewhere", contractorId: "C-1001"), context())
        }
        await upstream.stop()
    }

    @Test func keyNeverAppearsInLogsAndOneLinePerCall() async throws {
        let upstream = try await Upstream.start()
        let client = upstream.client { $0.keyPlacement = .query }
        _ = try await client.list(.statement(shortName: "demo", contractorId: "C-1001", dateFrom: "2026-01-01", dateTo: "2026-02-01"), context())
        await upstream.stop()
        let lines = upstream.log.events("agentos_call")
        #expect(lines.count == 1)
        #expect(lines.first?["requestId"] as? String == "test-req")
        #expect(lines.first?["path"] as? String == "/v4/accounts/demo/contractors/C-1001/statement")
        #expect(lines.first?["attempts"] as? Int == 1)
        #expect(lines.first?["breaker"] as? String == "closed")
        let all = upstream.log.all.joined()
        #expect(!all.contains("fixture-key"))
        #expect(!all.contains("2026-01-01"), "query values stay out of the log")
    }

    @Test func idsCannotStepOutOfTheirSegment() {
        let (path, _, _) = Operation.job(shortName: "demo", jobId: "../contractors/C-2002").request(OperationPaths())
        #expect(path == "/v4/maintenance/demo/jobs/..%2Fcontractors%2FC-2002")
    }

    @Test func unreadableBodyIsTyped() async throws {
        let upstream = try await Upstream.start()
        upstream.faults(.on("contractor") { $0.malformed = true })
        await #expect(throws: AgentOSError.unreadableBody) {
            try await upstream.client().record(.contractor(shortName: "demo", contractorId: "C-1001"), context())
        }
        let received = await upstream.received("contractor")
        await upstream.stop()
        #expect(received == 1, "a malformed answer is not retried")
    }

    @Test func bodyCutOffMidwayIsRetriedForReadsOnly() async throws {
        let upstream = try await Upstream.start()
        upstream.faults(.on("contractor") { $0.truncate = true; $0.times = 1 }, .on("addNote") { $0.truncate = true; $0.afterApplying = true })
        let record = try await upstream.client().record(.contractor(shortName: "demo", contractorId: "C-1001"), context())
        await #expect(throws: AgentOSError.self) {
            try await upstream.client().write(.addNote(shortName: "demo", jobId: "J-0001", text: "cut", author: "A"), context())
        }
        let counts = (await upstream.received("contractor"), await upstream.received("addNote"), await upstream.writes("addNote"))
        await upstream.stop()
        #expect(record != nil)
        #expect(counts == (2, 1, 1), "the read was sent again; the write, which AgentOS got, was not")
    }
}
