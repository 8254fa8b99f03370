import AgentOS
import ContractorBFFApp
import FixtureAgentOS
import Foundation
import JSON
import TestSupport
import Testing

/// Exactly-once writes over HTTP: Idempotency-Key replay, mismatch, concurrency, natural keys for invoices,
/// and recovery when an earlier attempt's outcome is unknown. The fixture's write counters are the truth.
@Suite("Idempotent writes", .scoped)
struct IdempotencyTests {
    static let invoice = #"{"jobId":"J-0003","amount":120.50,"reference":"NP-100","invoiceDate":"2026-04-01"}"#

    @Test func aKeyReplaysTheFirstAnswerForEveryWrite() async throws {
        let portal = try await Portal.start()
        let writes: [(String, String, String, String)] = [
            ("POST", "/api/contractor/jobs/J-0002/notes", #"{"note":"Parts ordered"}"#, "addNote"),
            ("PATCH", "/api/contractor/jobs/J-0001/complete", "", "setCompletion"),
            ("POST", "/api/contractor/invoices", Self.invoice, "submitInvoice"),
        ]
        for (method, path, body, operation) in writes {
            let key = "key-\(operation)"
            let first = await portal.send(method, path, body: body.isEmpty ? nil : body, headers: ["Idempotency-Key": key])
            #expect((200...201).contains(first.status), "\(path): \(first.text)")
            #expect(first.header("Idempotent-Replayed") == nil)
            for _ in 0..<3 {
                let again = await portal.send(method, path, body: body.isEmpty ? nil : body, headers: ["Idempotency-Key": key])
                #expect(again.status == first.status)
                #expect(again.raw?.body == first.raw?.body, "the replay is the first answer, byte for byte")
                #expect(again.header("Idempotent-Replayed") == "true")
            }
            #expect(await portal.writes()[operation] == 1, "\(operation) reached AgentOS once")
        }
        // The toggle was replayed, not toggled back and forth: the job stays completed.
        let job = await portal.get("/api/trpc/contractor.maintenanceJobDetails?input=\(encoded(#"{"jobId":"J-0001"}"#))")
        #expect(job.data?["status"] == .string("Completed"))
    }

    @Test func keysAreScopedToTheContractor() async throws {
        let portal = try await Portal.start()
        let mine = await portal.send("POST", "/api/contractor/jobs/J-0002/notes", body: #"{"note":"mine"}"#, headers: ["Idempotency-Key": "shared"])
        #expect(mine.status == 201)
        // Another contractor's same key is their own: it neither replays mine nor clashes with it.
        let theirs = await portal.send("POST", "/api/contractor/jobs/7001/notes", token: Portal.token("C-2002"),
                                       body: #"{"note":"theirs"}"#, headers: ["Idempotency-Key": "shared"])
        #expect(theirs.status == 201, "\(theirs.text)")
        #expect(theirs.header("Idempotent-Replayed") == nil)
        #expect(theirs.json["text"] == .string("theirs"))
        #expect(await portal.writes()["addNote"] == 2)
    }

    @Test func theSameKeyWithAnotherRequestIs422() async throws {
        let portal = try await Portal.start()
        let first = await portal.send("POST", "/api/contractor/jobs/J-0002/notes", body: #"{"note":"one"}"#, headers: ["Idempotency-Key": "k1"])
        #expect(first.status == 201)
        for (method, path, body) in [("POST", "/api/contractor/jobs/J-0002/notes", #"{"note":"two"}"#),
                                     ("POST", "/api/contractor/jobs/J-0001/notes", #"{"note":"one"}"#),
                                     ("POST", "/api/contractor/invoices", Self.invoice)] {
            let reused = await portal.send(method, path, body: body, headers: ["Idempotency-Key": "k1"])
            #expect(reused.status == 422, "\(path) \(body)")
            #expect(reused.error?.contains("Idempotency-Key") == true)
        }
        // Through tRPC the key is the same contractor's key too: another request, refused alike.
        let trpc = await portal.send("POST", "/api/trpc/contractor.addJobNote", body: #"{"jobId":"J-0002","text":"one"}"#, headers: ["Idempotency-Key": "k1"])
        #expect(trpc.status == 422)
        #expect(trpc.trpcCode == "UNPROCESSABLE_CONTENT")
        #expect(trpc.json["error"]?["code"] == .number("-32022"))
        #expect(await portal.writes()["addNote"] == 1)
        #expect(await portal.writes()["submitInvoice"] == nil)
    }

    @Test func aKeyStillInFlightIs409() async throws {
        // Timeouts far above the fixture's delay, so the first request surely ends with its answer.
        let portal = try await Portal.start(environment: ["AGENTOS_TIMEOUT_MS": "5000", "AGENTOS_DEADLINE_MS": "6000"])
        portal.faults(.on("addNote") { $0.latencyMs = 600 })
        async let first = portal.send("POST", "/api/contractor/jobs/J-0002/notes", body: #"{"note":"slow"}"#, headers: ["Idempotency-Key": "busy"])
        // The first is in flight once AgentOS holds its call.
        while await portal.received("addNote") == 0 { try await Task.sleep(for: .milliseconds(10)) }
        let second = await portal.send("POST", "/api/contractor/jobs/J-0002/notes", body: #"{"note":"slow"}"#, headers: ["Idempotency-Key": "busy"])
        #expect(second.status == 409)
        #expect(second.header("Retry-After") != nil)
        #expect(await first.status == 201)
        let third = await portal.send("POST", "/api/contractor/jobs/J-0002/notes", body: #"{"note":"slow"}"#, headers: ["Idempotency-Key": "busy"])
        #expect(third.status == 201)
        #expect(third.header("Idempotent-Replayed") == "true")
        #expect(await portal.writes()["addNote"] == 1)
    }

    @Test func malformedKeysAndBadInputClaimNothing() async throws {
        let portal = try await Portal.start()
        let long = await portal.send("POST", "/api/contractor/jobs/J-0002/notes", body: #"{"note":"x"}"#,
                                     headers: ["Idempotency-Key": String(repeating: "k", count: 256)])
        #expect(long.status == 400)
        #expect(long.error?.contains("Idempotency-Key") == true)
        let longest = await portal.send("POST", "/api/contractor/jobs/J-0002/notes", body: #"{"note":"x"}"#,
                                        headers: ["Idempotency-Key": String(repeating: "k", count: 255)])
        #expect(longest.status == 201)
        // A request refused by validation stores nothing: the key is still free for the corrected request.
        let blank = await portal.send("POST", "/api/contractor/jobs/J-0002/notes", body: #"{"note":"   "}"#, headers: ["Idempotency-Key": "fix-me"])
        #expect(blank.status == 400)
        let fixed = await portal.send("POST", "/api/contractor/jobs/J-0002/notes", body: #"{"note":"fixed"}"#, headers: ["Idempotency-Key": "fix-me"])
        #expect(fixed.status == 201)
        #expect(fixed.header("Idempotent-Replayed") == nil)
        // So does a write refused before AgentOS was called (not this contractor's job).
        let foreign = await portal.send("POST", "/api/contractor/jobs/7001/notes", body: #"{"note":"x"}"#, headers: ["Idempotency-Key": "foreign"])
        #expect(foreign.status == 404)
        #expect(await portal.writes()["addNote"] == 2)
    }

    @Test func invoicesWithoutAKeyAreProtectedByJobAndReference() async throws {
        let portal = try await Portal.start()
        let first = await portal.send("POST", "/api/contractor/invoices", body: Self.invoice)
        #expect(first.status == 201)
        let invoiceId = try #require(first.json["invoiceId"]?.string)
        let again = await portal.send("POST", "/api/contractor/invoices", body: #"{"jobId":"J-0003","amount":99,"reference":"NP-100"}"#)
        #expect(again.status == 409)
        #expect(again.error?.contains(invoiceId) == true, "the refusal names the existing submission: \(again.text)")
        let viaTRPC = await portal.send("POST", "/api/trpc/contractor.submitInvoice", body: Self.invoice)
        #expect(viaTRPC.status == 409)
        #expect(viaTRPC.trpcCode == "CONFLICT")
        // Another reference, or another job, is another invoice.
        #expect(await portal.send("POST", "/api/contractor/invoices", body: #"{"jobId":"J-0003","amount":120.50,"reference":"NP-101"}"#).status == 201)
        #expect(await portal.send("POST", "/api/contractor/invoices", body: #"{"jobId":"J-0001","amount":120.50,"reference":"NP-100"}"#).status == 201)
        // Without a reference, the same job, amount and date is the same invoice.
        #expect(await portal.send("POST", "/api/contractor/invoices", body: #"{"jobId":"J-0001","amount":40,"invoiceDate":"2026-05-01"}"#).status == 201)
        #expect(await portal.send("POST", "/api/contractor/invoices", body: #"{"jobId":"J-0001","amount":40,"invoiceDate":"2026-05-01"}"#).status == 409)
        #expect(await portal.send("POST", "/api/contractor/invoices", body: #"{"jobId":"J-0001","amount":40,"invoiceDate":"2026-05-02"}"#).status == 201)
        #expect(await portal.writes()["submitInvoice"] == 5)
    }

    @Test func anInvoiceAgentOSRefusedMayBeSentAgain() async throws {
        let portal = try await Portal.start()
        portal.faults(.on("submitInvoice") { $0.status = 422; $0.times = 1 })
        let refused = await portal.send("POST", "/api/contractor/invoices", body: Self.invoice)
        #expect(refused.status == 502)
        let accepted = await portal.send("POST", "/api/contractor/invoices", body: Self.invoice)
        #expect(accepted.status == 201, "\(accepted.text)")
        #expect(await portal.writes()["submitInvoice"] == 1)
    }

    /// AgentOS applied the invoice and then failed (500 after applying): the answer is unknown. A retry with
    /// the key looks at the pending entries, finds it, and answers it without sending it again.
    @Test func anUnknownOutcomeIsCheckedAtAgentOSBeforeAnythingIsResent() async throws {
        let portal = try await Portal.start()
        portal.faults(.on("submitInvoice") { $0.status = 500; $0.afterApplying = true; $0.times = 1 })
        let failed = await portal.send("POST", "/api/contractor/invoices", body: Self.invoice, headers: ["Idempotency-Key": "inv-1"])
        #expect(failed.status == 502)
        #expect(await portal.writes()["submitInvoice"] == 1)
        let retried = await portal.send("POST", "/api/contractor/invoices", body: Self.invoice, headers: ["Idempotency-Key": "inv-1"])
        #expect(retried.status == 201, "\(retried.text)")
        #expect(retried.header("Idempotent-Replayed") == "true")
        #expect(retried.json["invoiceId"]?.string?.hasPrefix("INV-new") == true)
        #expect(await portal.writes()["submitInvoice"] == 1, "found at AgentOS, not sent twice")
        // From now on the found answer is the stored one.
        let third = await portal.send("POST", "/api/contractor/invoices", body: Self.invoice, headers: ["Idempotency-Key": "inv-1"])
        #expect(third.raw?.body == retried.raw?.body)

        // A note lost the same way is found by its text; one that never arrived is sent once.
        portal.faults(.on("addNote") { $0.status = 502; $0.afterApplying = true; $0.times = 1 })
        let hung = await portal.send("POST", "/api/contractor/jobs/J-0002/notes", body: #"{"note":"Arrived"}"#, headers: ["Idempotency-Key": "n-1"])
        #expect(hung.status == 502)
        let found = await portal.send("POST", "/api/contractor/jobs/J-0002/notes", body: #"{"note":"Arrived"}"#, headers: ["Idempotency-Key": "n-1"])
        #expect(found.status == 201)
        #expect(found.json["text"] == .string("Arrived"))
        #expect(await portal.writes()["addNote"] == 1)
        portal.faults(.on("addNote") { $0.status = 503; $0.times = 1 })
        let lost = await portal.send("POST", "/api/contractor/jobs/J-0002/notes", body: #"{"note":"Never arrived"}"#, headers: ["Idempotency-Key": "n-2"])
        #expect(lost.status == 502)
        let sent = await portal.send("POST", "/api/contractor/jobs/J-0002/notes", body: #"{"note":"Never arrived"}"#, headers: ["Idempotency-Key": "n-2"])
        #expect(sent.status == 201)
        #expect(sent.header("Idempotent-Replayed") == nil)
        #expect(await portal.writes()["addNote"] == 2)
    }

    /// AgentOS has not answered in time, and goes on to apply the write after our call gave up. A retry
    /// that looked at once would find nothing and send it again; it is held ("in flight") for one upstream
    /// deadline after the first call gave up, and once AgentOS has the note, the retry finds it.
    @Test func aWriteThatTimedOutIsNotLookedForUntilItsCallCouldHaveEnded() async throws {
        // Our call gives up after 0.6 s; AgentOS applies the note 1.2 s after it arrived; the hold is 3 s.
        let portal = try await Portal.start(environment: ["AGENTOS_TIMEOUT_MS": "600", "AGENTOS_DEADLINE_MS": "3000"])
        portal.faults(.on("addNote") { $0.latencyMs = 1_200; $0.times = 1 })
        func send() async -> Reply {
            await portal.send("POST", "/api/contractor/jobs/J-0002/notes", body: #"{"note":"Late"}"#, headers: ["Idempotency-Key": "late"])
        }
        let timedOut = await send()
        #expect(timedOut.status == 504)
        #expect(await portal.received("addNote") == 1, "the first call reached AgentOS")
        let held = await send()
        #expect(held.status == 409, "held while AgentOS may still apply the first call")
        #expect(held.header("Retry-After") == "1")
        #expect(await portal.writes()["addNote"] == nil, "held before AgentOS had applied it: a look now would have found nothing")
        let started = ContinuousClock.now
        while await portal.writes()["addNote"] == nil, ContinuousClock.now - started < .seconds(10) { try await Task.sleep(for: .milliseconds(50)) }
        var retry = await send()
        while retry.status == 409, ContinuousClock.now - started < .seconds(15) {
            try await Task.sleep(for: .milliseconds(200))
            retry = await send()
        }
        #expect(retry.status == 201)
        #expect(retry.header("Idempotent-Replayed") == "true", "found at AgentOS: the late first call")
        #expect(retry.json["text"] == .string("Late"))
        #expect(await portal.writes()["addNote"] == 1)
    }

    @Test func whenAgentOSCannotBeCheckedNothingIsResent() async throws {
        let portal = try await Portal.start()
        portal.faults(.on("submitInvoice") { $0.status = 500; $0.afterApplying = true; $0.times = 1 })
        #expect(await portal.send("POST", "/api/contractor/invoices", body: Self.invoice, headers: ["Idempotency-Key": "inv-2"]).status == 502)
        portal.faults(.on("pending") { $0.status = 500 })
        let unknown = await portal.send("POST", "/api/contractor/invoices", body: Self.invoice, headers: ["Idempotency-Key": "inv-2"])
        #expect(unknown.status == 503)
        #expect(unknown.header("Retry-After") != nil)
        #expect(await portal.writes()["submitInvoice"] == 1)
        portal.faults()
        let settled = await portal.send("POST", "/api/contractor/invoices", body: Self.invoice, headers: ["Idempotency-Key": "inv-2"])
        #expect(settled.status == 201)
        #expect(await portal.writes()["submitInvoice"] == 1)
    }

    @Test func trpcMutationsTakeKeysOnePerRequest() async throws {
        let portal = try await Portal.start()
        let body = #"{"jobId":"J-0002","text":"via trpc"}"#
        let first = await portal.send("POST", "/api/trpc/contractor.addJobNote", body: body, headers: ["Idempotency-Key": "t-1"])
        #expect(first.status == 200)
        let again = await portal.send("POST", "/api/trpc/contractor.addJobNote", body: body, headers: ["Idempotency-Key": "t-1"])
        #expect(again.raw?.body == first.raw?.body)
        #expect(again.header("Idempotent-Replayed") == "true")
        // In a batch, the replay is the call's element in its place.
        let batch = await portal.send("POST", "/api/trpc/contractor.addJobNote?batch=1", body: #"{"0":{"jobId":"J-0002","text":"via trpc"}}"#,
                                      headers: ["Idempotency-Key": "t-2"])
        #expect(batch.status == 200)
        #expect(batch.json[0]?["result"]?["data"]?["text"] == .string("via trpc"))
        let two = await portal.send("POST", "/api/trpc/contractor.addJobNote,contractor.addJobNote?batch=1",
                                    body: #"{"0":{"jobId":"J-0002","text":"a"},"1":{"jobId":"J-0002","text":"b"}}"#, headers: ["Idempotency-Key": "t-3"])
        #expect(two.status == 400)
        // Refused as a whole: one error, which the link applies to both calls.
        #expect(two.json["error"]?["message"]?.string?.contains("one mutation") == true)
        // A key used through REST is another request through tRPC (its stored answer has REST's shape).
        let rest = await portal.send("POST", "/api/contractor/jobs/J-0002/notes", body: #"{"note":"via trpc"}"#, headers: ["Idempotency-Key": "t-1"])
        #expect(rest.status == 422)
        #expect(await portal.writes()["addNote"] == 2)
    }

    @Test func everyWriteIsAuditedWithoutItsText() async throws {
        let portal = try await Portal.start()
        #expect(await portal.send("POST", "/api/contractor/jobs/J-0002/notes", body: #"{"note":"secret repair details"}"#, headers: ["Idempotency-Key": "a-1"]).status == 201)
        #expect(await portal.send("POST", "/api/contractor/jobs/J-0002/notes", body: #"{"note":"secret repair details"}"#, headers: ["Idempotency-Key": "a-1"]).status == 201)
        #expect(await portal.send("POST", "/api/contractor/invoices", body: Self.invoice).status == 201)
        #expect(await portal.send("POST", "/api/contractor/invoices", body: Self.invoice).status == 409)
        let text = try String(contentsOfFile: portal.application.configuration.dataDirectory + "/audit.jsonl", encoding: .utf8)
        let lines = text.split(separator: "\n").compactMap { try? JSONText.parse(Array($0.utf8)) }
        #expect(lines.map { $0["outcome"]?.string ?? "" } == ["ok", "replayed", "ok", "duplicate"])
        #expect(lines.map { $0["action"]?.string ?? "" } == ["note.add", "note.add", "invoice.submit", "invoice.submit"])
        for line in lines {
            #expect(line["contractor"] == .string("C-1001"))
            #expect(line["agency"] == .string("demo"))
            #expect(line["requestId"]?.string?.isEmpty == false)
            #expect(line["time"]?.string?.hasPrefix("20") == true)
        }
        #expect(lines[0]["target"] == .string("J-0002"))
        #expect(!text.contains("secret repair"), "note text never reaches the audit log")
    }
}
