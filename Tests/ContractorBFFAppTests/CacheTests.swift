import AgentOS
import ContractorBFFApp
import FixtureAgentOS
import Foundation
import JSON
import TestSupport
import Testing

/// The read cache over HTTP: single flight, fresh hits, stale-while-revalidate, stale-if-error, bounds, and
/// every write forgetting what it changed so a contractor sees their own write at once.
@Suite("Read cache", .scoped)
struct CacheTests {
    static func start(
        ttl: Int = 60, revalidate: Int = 300, ifError: Int = 86_400, _ more: [String: String] = [:], fixtureLimit: Int? = nil, time: ManualTime? = nil
    ) async throws -> Portal {
        try await Portal.start(fixtureLimit: fixtureLimit, environment: [
            "CACHE_TTL_ACCOUNT_SECONDS": String(ttl), "CACHE_TTL_JOBS_SECONDS": String(ttl), "CACHE_TTL_STATEMENTS_SECONDS": String(ttl),
            "CACHE_TTL_PENDING_SECONDS": String(ttl), "CACHE_STALE_WHILE_REVALIDATE_SECONDS": String(revalidate),
            "CACHE_STALE_IF_ERROR_SECONDS": String(ifError),
        ].merging(more) { $1 }, time: time)
    }

    @Test func concurrentIdenticalReadsShareOneUpstreamCall() async throws {
        let portal = try await Self.start()
        portal.faults(.on("contractor") { $0.latencyMs = 300 })
        let replies = await withTaskGroup(of: Reply.self) { group in
            for _ in 0..<100 { group.addTask { await portal.get("/api/contractor/account") } }
            return await group.reduce(into: [Reply]()) { $0.append($1) }
        }
        #expect(replies.allSatisfy { $0.status == 200 && $0.json["contractorId"] == .string("C-1001") })
        #expect(await portal.received("contractor") == 1, "100 concurrent reads, one AgentOS call")
        #expect(portal.application.agentOS.cacheCounters.snapshot.servedByAge.first == 100, "all fresh from AgentOS: age 0")
        #expect(await portal.get("/api/contractor/account").header("X-Cache") == "HIT")
        let ages = portal.application.agentOS.cacheCounters.snapshot.servedByAge
        #expect(ages[1] == 1 && ages.reduce(0, +) == 101, "the hit is under 10 s old: \(ages)")
        let again = await portal.get("/api/contractor/account")
        #expect(again.header("X-Cache") == "HIT")
        #expect(again.header("Age") != nil)
        #expect(await portal.received("contractor") == 1)
        // Another contractor is another entry.
        #expect(await portal.get("/api/contractor/account", token: Portal.token("C-2002")).header("X-Cache") == "MISS")
        #expect(await portal.received("contractor") == 2)
    }

    @Test func pastItsTTLAnEntryIsServedWhileOneRefreshRuns() async throws {
        // A TTL that outlasts the polling below on a loaded run: a refreshed entry that went stale again
        // before it was asked for would start a second refresh and look like a duplicate.
        let time = ManualTime()
        let portal = try await Self.start(ttl: 4, time: time)
        #expect(await portal.get("/api/contractor/account").header("X-Cache") == "MISS")
        time.advance(by: .milliseconds(4_100))
        // The refresh takes 2 s: an answer that waited for it could not come within 1 s, however loaded
        // the machine (a narrower gap made a slow moment look like waiting).
        portal.faults(.on("contractor") { $0.latencyMs = 2000 })
        let started = ContinuousClock.now
        let stale = await portal.get("/api/contractor/account")
        #expect(ContinuousClock.now - started < .milliseconds(1000), "answered at once, not after the refresh")
        #expect(stale.status == 200)
        #expect(stale.header("X-Cache") == "STALE")
        #expect(Int(stale.header("Age") ?? "") ?? 0 >= 4)
        #expect(await portal.get("/api/contractor/account").header("X-Cache") == "STALE", "still stale while the refresh runs")
        // Once the refresh has stored its answer the entry is fresh again; asked meanwhile, it stays stale
        // and starts no second refresh (waited for by its outcome, not a guess of how long a loaded
        // machine takes).
        var fresh = false
        while !fresh, ContinuousClock.now < started + .seconds(15) {
            fresh = await portal.get("/api/contractor/account").header("X-Cache") == "HIT"
            if !fresh { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(fresh, "the refreshed entry is served as a hit")
        #expect(ContinuousClock.now - started >= .seconds(2), "not before the refresh could have answered")
        #expect(await portal.received("contractor") == 2, "one background refresh, however many stale answers")
    }

    @Test func whenAgentOSFailsTheLastGoodDataIsServedMarkedStale() async throws {
        let time = ManualTime()
        let portal = try await Self.start(ttl: 1, revalidate: 0, time: time)
        let first = await portal.get("/api/trpc/contractor.account")
        #expect(first.header("X-Cache") == "MISS")
        time.advance(by: .milliseconds(1_100))
        portal.faults(.on("contractor") { $0.status = 503 })
        let stale = await portal.get("/api/trpc/contractor.account")
        #expect(stale.status == 200)
        #expect(stale.header("X-Cache") == "STALE")
        #expect(stale.raw?.body == first.raw?.body, "the body does not change shape")
        #expect(await portal.received("contractor") >= 2, "AgentOS was asked first")
        let rest = await portal.get("/api/contractor/account")
        #expect(rest.status == 200 && rest.header("X-Cache") == "STALE")
        // With no good data to fall back on, the failure shows.
        let uncached = await portal.get("/api/contractor/account", token: Portal.token("C-2002"))
        #expect([502, 503].contains(uncached.status), "AgentOS failing (or its breaker open by now): \(uncached.status)")
        #expect(uncached.header("X-Cache") == nil)
    }

    @Test func stalenessIsBoundedByStaleIfError() async throws {
        let time = ManualTime()
        let portal = try await Self.start(ttl: 1, revalidate: 0, ifError: 1, time: time)
        #expect(await portal.get("/api/contractor/account").status == 200)
        time.advance(by: .milliseconds(2_100))
        portal.faults(.on("contractor") { $0.status = 503 })
        #expect(await portal.get("/api/contractor/account").status == 502, "too old to stand in for AgentOS")
    }

    @Test func everyWriteForgetsWhatItChanged() async throws {
        let portal = try await Self.start()
        let notesPath = "/api/trpc/contractor.maintenanceJobNotes?input=\(encoded(#"{"jobId":"J-0002"}"#))"
        let detailsPath = "/api/trpc/contractor.maintenanceJobDetails?input=\(encoded(#"{"jobId":"J-0001"}"#))"
        let notes = await portal.get(notesPath)
        let details = await portal.get(detailsPath)
        let pending = await portal.get("/api/contractor/statements/pending")
        for path in [notesPath, detailsPath, "/api/contractor/statements/pending"] { #expect(await portal.get(path).header("X-Cache") == "HIT") }

        #expect(await portal.send("POST", "/api/contractor/jobs/J-0002/notes", body: #"{"note":"seen at once"}"#).status == 201)
        let notesAfter = await portal.get(notesPath)
        #expect(notesAfter.data?.count == (notes.data?.count ?? 0) + 1)
        #expect(notesAfter.data?.arrayValue?.contains { $0["text"] == .string("seen at once") } == true)

        #expect(details.data?["status"] != .string("Completed"))
        #expect(await portal.send("PATCH", "/api/contractor/jobs/J-0001/complete", body: #"{"completed":true}"#).status == 200)
        #expect(await portal.get(detailsPath).data?["status"] == .string("Completed"))

        #expect(await portal.send("POST", "/api/contractor/invoices", body: #"{"jobId":"J-0003","amount":12.5,"reference":"CACHE-1"}"#).status == 201)
        let pendingAfter = await portal.get("/api/contractor/statements/pending")
        #expect(pendingAfter.json.count == pending.json.count + 1)
        #expect(pendingAfter.header("X-Cache") == "MISS")
        // What a write did not touch stays cached.
        #expect(await portal.get("/api/contractor/account").header("X-Cache") == "MISS")
        #expect(await portal.get("/api/contractor/account").header("X-Cache") == "HIT")
    }

    @Test func theCacheIsBoundedLeastRecentlyUsedOut() async throws {
        let portal = try await Self.start(ttl: 60, ["CACHE_MAX_ENTRIES": "4"])
        for job in 1...8 {
            #expect(await portal.get("/api/trpc/contractor.maintenanceJobDetails?input=\(encoded(#"{"jobId":"J-000\#(job)"}"#))").status == 200)
            #expect(await portal.application.agentOS.cachedEntries <= 4)
        }
        #expect(portal.application.agentOS.cacheCounters.snapshot.evictions > 0)
        // The most recent one is still there; the first is gone.
        let before = await portal.received("job")
        _ = await portal.get("/api/trpc/contractor.maintenanceJobDetails?input=\(encoded(#"{"jobId":"J-0008"}"#))")
        #expect(await portal.received("job") == before)
        _ = await portal.get("/api/trpc/contractor.maintenanceJobDetails?input=\(encoded(#"{"jobId":"J-0001"}"#))")
        #expect(await portal.received("job") == before + 1)
    }

    /// AgentOS allows 20 a minute here (and answers 429 past it). A flood of contractors' reads takes what
    /// is theirs and is then refused by our own budget (503 with Retry-After, TOO_MANY_REQUESTS in tRPC),
    /// never by AgentOS; a write still finds its reserved slot.
    @Test func writesKeepTheirReserveUnderAReadFloodAndNo429IsCaused() async throws {
        let portal = try await Self.start(ttl: 60, [
            "AGENTOS_RATE_LIMIT": "20", "AGENTOS_WRITE_RESERVE": "4", "AGENTOS_BUDGET_WAIT_MS": "100",
        ], fixtureLimit: 20)
        var statuses: [Int] = []
        for job in 1...30 {
            let reply = await portal.get("/api/trpc/contractor.maintenanceJobDetails?input=\(encoded(#"{"jobId":"J-\#(String(format: "%04d", job))"}"#))")
            statuses.append(reply.status)
            if reply.status == 429 {
                #expect(reply.trpcCode == "TOO_MANY_REQUESTS")
                #expect(reply.header("Retry-After") != nil)
            }
        }
        #expect(statuses.filter { $0 == 200 }.count == 16, "20 a minute, 4 kept for writes: \(statuses)")
        #expect(statuses.filter { $0 == 429 }.count == 14)
        #expect(portal.application.agentOS.counterSnapshot.budgetRefusals["interactive"] == 14, "counted for the metrics")
        let rest = await portal.get("/api/contractor/account", token: Portal.token("C-2002"))
        #expect(rest.status == 503)
        #expect(rest.header("Retry-After") != nil)
        // Cached reads still answer (HIT), budget or not.
        #expect(await portal.get("/api/trpc/contractor.maintenanceJobDetails?input=\(encoded(#"{"jobId":"J-0001"}"#))").header("X-Cache") == "HIT")
        // The write, its ownership read included (J-0020 was refused above, so not cached), from the reserve.
        let note = await portal.send("POST", "/api/contractor/jobs/J-0020/notes", body: #"{"note":"through the reserve"}"#)
        #expect(note.status == 201, "\(note.text)")
        #expect(portal.fixture.keyLimit.counters.limited == 0, "AgentOS never had to say 429")
        #expect(portal.fixture.keyLimit.counters.blocked == 0)
    }

    /// The jobs view spends at most PORTAL_NOTES_CALLS_PER_VIEW notes calls; the other jobs' notes are
    /// marked not loaded and queued, then loaded from spare budget (each job's once) for the next view.
    /// A warm view costs nothing.
    @Test func theJobsViewSpendsABoundedNumberOfNotesCallsAndSpareBudgetLoadsTheRest() async throws {
        let portal = try await Self.start(ttl: 60, ["PORTAL_NOTES_CALLS_PER_VIEW": "10"])
        let first = await portal.get("/api/contractor/jobs")
        #expect(first.status == 200)
        let jobs = first.json.arrayValue ?? []
        #expect(jobs.count == 50)
        let embedded = 5  // J-0010, J-0020, … J-0050 carry MaintenanceNotes in the fixture
        let loaded = jobs.filter { $0["notesLoaded"] == .bool(true) }.count
        #expect(loaded == 10 + embedded, "the ten fetched by the view and the \(embedded) with embedded notes")
        #expect(jobs.filter { $0["notesLoaded"] == .bool(false) }.allSatisfy { $0["notes"] == .array([]) })
        // The 35 left are loaded in the background, one call each.
        let until = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < until {
            let queued = await portal.application.agentOS.queuedRefreshes, fetched = await portal.received("notes")
            if queued == 0 && fetched >= 45 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(await portal.received("notes") == 45, "every job without embedded notes, once")
        let second = await portal.get("/api/contractor/jobs")
        #expect(second.json.arrayValue?.allSatisfy { $0["notesLoaded"] == .bool(true) } == true)
        #expect(second.header("X-Cache") == "HIT")
        let notesCalls = await portal.received("notes"), jobsCalls = await portal.received("jobs")
        #expect(notesCalls == 45 && jobsCalls == 1, "a warm view costs no AgentOS call")
    }

    /// Right after start, background work waits (every page is cold then): the jobs view spends no notes
    /// calls and marks them not loaded rather than outbid the next contractor's first page.
    @Test func duringTheWarmUpTheJobsViewSpendsNothingOnNotes() async throws {
        let portal = try await Self.start(ttl: 60, ["PORTAL_NOTES_CALLS_PER_VIEW": "10", "AGENTOS_BUDGET_WARMUP_MS": "60000"])
        let view = await portal.get("/api/contractor/jobs")
        #expect(view.status == 200)
        #expect(view.json.arrayValue?.filter { $0["notesLoaded"] == .bool(true) }.count == 5, "embedded notes only")
        #expect(await portal.received("notes") == 0)
        #expect(await portal.application.agentOS.queuedRefreshes == 45, "queued for when the budget has spare slots")
        #expect((portal.application.agentOS.counterSnapshot.budgetRefusals["background"] ?? 0) >= 10)
    }

    /// Insights read the same cached jobs page, pending entries and statement: a cold dashboard costs the
    /// pages of jobs plus two, a warm one nothing, and the jobs view after it reuses the jobs page.
    @Test func aWarmDashboardCostsNoUpstreamCall() async throws {
        let portal = try await Self.start(ttl: 60)
        func calls() async -> Int {
            var total = 0
            for operation in ["contractor", "jobs", "pending", "statement", "notes", "job"] { total += await portal.received(operation) }
            return total
        }
        let cold = await portal.get("/api/trpc/contractor.insights")
        #expect(cold.status == 200 && cold.data?["unavailable"] == .array([]))
        let jobsPages = await portal.received("jobs")
        #expect(jobsPages >= 1)
        #expect(await calls() == jobsPages + 2, "the pages of jobs, pending entries and the statement")
        let before = await calls()
        let warm = await portal.get("/api/trpc/contractor.insights")
        #expect(warm.header("X-Cache") == "HIT")
        #expect(warm.data == cold.data)
        #expect(await calls() == before, "a warm dashboard costs no AgentOS call")
        _ = await portal.get("/api/contractor/jobs")
        #expect(await portal.received("jobs") == jobsPages, "the jobs view reuses the first page insights read")
    }
}
