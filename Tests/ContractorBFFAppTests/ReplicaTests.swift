@testable import ContractorBFFApp
import AgentOS
import Foundation
import FixtureAgentOS
import HTTPServer
import JSON
import PostgreSQL
import Synchronization
import TestSupport
import Testing

/// Two replicas on one PostgreSQL (a throwaway cluster) and one fixture AgentOS: a write keyed on one is
/// exactly once on both.
// One cluster at a time: initdb and a server start are heavy beside the rest of the suite on two cores.
@Suite("Replicas on PostgreSQL", .scoped, .serialized, .enabled(if: TestPostgres.runnable, "PostgreSQL is not installed here (Debian postgresql): these tests are skipped; CI runs them"))
struct ReplicaTests {
    static let invoice = #"{"jobId":"J-0003","amount":120.50,"reference":"NP-200","invoiceDate":"2026-04-01"}"#

    /// Two replicas of one deployment: one database, one AgentOS key, their own data directories.
    static func replicas(_ database: TestPostgres, _ environment: [String: String] = [:], fixtureFile: String? = nil) async throws -> (Portal, Portal) {
        let shared = environment.merging(["DATABASE_URL": database.conninfo, "AGENTOS_TIMEOUT_MS": "5000", "AGENTOS_DEADLINE_MS": "6000"]) { $1 }
        let first = try await Portal.start(fixtureFile: fixtureFile, environment: shared)
        let second = try await Portal.start(environment: shared, sharingAgentOSWith: first)
        return (first, second)
    }

    @Test func aKeyedInvoiceRetriedThroughTheOtherReplicaIsOneInvoice() async throws {
        let database = try await TestPostgres.start()
        let (a, b) = try await Self.replicas(database)
        let first = await a.send("POST", "/api/contractor/invoices", body: Self.invoice, headers: ["Idempotency-Key": "inv-1"])
        #expect(first.status == 201, "\(first.text)")
        let retried = await b.send("POST", "/api/contractor/invoices", body: Self.invoice, headers: ["Idempotency-Key": "inv-1"])
        #expect(retried.status == 201)
        #expect(retried.header("Idempotent-Replayed") == "true", "replayed by the other replica")
        #expect(retried.json == first.json)
        let other = await b.send("POST", "/api/contractor/invoices", body: Self.invoice.replacingOccurrences(of: "120.50", with: "99.00"), headers: ["Idempotency-Key": "inv-1"])
        #expect(other.status == 422, "the same key with another invoice, on either replica")
        #expect(await a.writes()["submitInvoice"] == 1, "exactly one invoice reached AgentOS")
        // Keys are the contractor's own: another contractor's same key is another write.
        let theirs = await b.send("POST", "/api/contractor/invoices", token: Portal.token("C-2002"), body: Self.invoice, headers: ["Idempotency-Key": "inv-1"])
        #expect(theirs.header("Idempotent-Replayed") == nil)
        // One audit log for both replicas, append-only.
        let pool = PGPool(conninfo: database.conninfo, size: 1, statementTimeoutMs: 5000)
        let audit = try await pool.execute(
            "SELECT count(DISTINCT replica) AS replicas, count(*) FILTER (WHERE event->>'outcome' = 'replayed') AS replays FROM audit_events",
            deadline: .now + .seconds(10))
        #expect(audit[0, "replicas"] == "2", "both replicas' events are in the one table")
        #expect(audit[0, "replays"].flatMap(Int.init) ?? 0 >= 1)
        await #expect(throws: PGError.self) { try await pool.execute("DELETE FROM audit_events", deadline: .now + .seconds(10)) }
        await b.stop()
        await a.stop()
        await database.stop()
    }

    @Test func aWriteInFlightOnOneReplicaIsInFlightOnTheOther() async throws {
        let database = try await TestPostgres.start()
        let (a, b) = try await Self.replicas(database)
        a.faults(.on("addNote") { $0.latencyMs = 800 })
        let note = #"{"note":"two replicas"}"#
        async let first = a.send("POST", "/api/contractor/jobs/J-0002/notes", body: note, headers: ["Idempotency-Key": "busy"])
        while await a.received("addNote") == 0 { try await Task.sleep(for: .milliseconds(10)) }
        let meanwhile = await b.send("POST", "/api/contractor/jobs/J-0002/notes", body: note, headers: ["Idempotency-Key": "busy"])
        #expect(meanwhile.status == 409, "\(meanwhile.text)")
        #expect(meanwhile.header("Retry-After") != nil)
        #expect(await first.status == 201)
        let after = await b.send("POST", "/api/contractor/jobs/J-0002/notes", body: note, headers: ["Idempotency-Key": "busy"])
        #expect(after.status == 201 && after.header("Idempotent-Replayed") == "true")
        #expect(await a.writes()["addNote"] == 1)
        await b.stop()
        await a.stop()
        await database.stop()
    }

    @Test func withTheDatabaseDownWritesAreRefusedAndNothingIsSentUntilItIsBack() async throws {
        let database = try await TestPostgres.start()
        let portal = try await Portal.start(environment: ["DATABASE_URL": database.conninfo, "DATABASE_STATEMENT_TIMEOUT_MS": "2000"])
        try await portal.application.users.save(PortalUser(email: AuthTests.email, passwordHash: await AuthTests.hash.value, agency: "demo", contractorId: "C-1001"))
        let refreshToken = try #require((await AuthTests.login(portal)).json["refreshToken"]?.stringValue)
        try await database.pause(immediately: true)
        // Sign-in and refresh cannot be decided without the store: refused as unavailable, not as wrong.
        let signIn = await AuthTests.login(portal)
        #expect(signIn.status == 503 && signIn.header("Retry-After") != nil, "\(signIn.text)")
        let refresh = await portal.send("POST", "/api/auth/refresh", token: nil, body: #"{"refreshToken":"\#(refreshToken)"}"#)
        #expect(refresh.status == 503, "\(refresh.text)")
        let note = #"{"note":"while the database was down"}"#
        let refused = await portal.send("POST", "/api/contractor/jobs/J-0002/notes", body: note, headers: ["Idempotency-Key": "outage"])
        #expect(refused.status == 503)
        #expect(refused.json["error"]?.stringValue?.contains("same Idempotency-Key") == true, "\(refused.text)")
        #expect(refused.header("Retry-After") != nil)
        #expect(await portal.writes()["addNote"] == nil, "never sent upstream without a committed claim")
        // Reads do not need the store; readiness says what is missing.
        #expect(await portal.get("/api/contractor/account").status == 200)
        let ready = await portal.get("/readyz", token: nil)
        #expect(ready.json["store"]?["kind"] == "postgresql" && ready.json["store"]?["reachable"] == false, "\(ready.text)")
        try await database.resume()
        let retried = await portal.send("POST", "/api/contractor/jobs/J-0002/notes", body: note, headers: ["Idempotency-Key": "outage"])
        #expect(retried.status == 201, "\(retried.text)")
        #expect(await portal.writes()["addNote"] == 1)
        // The refresh token the outage did not spend still works.
        #expect(await portal.send("POST", "/api/auth/refresh", token: nil, body: #"{"refreshToken":"\#(refreshToken)"}"#).status == 200)
        await portal.stop()
        await database.stop()
    }

    /// Two replicas serving 50 contractors for 3 minutes (each opening the dashboard, account, insights and
    /// jobs, every 30 s on either replica) against a fixture AgentOS enforcing the key's 50 a minute: no
    /// rolling minute past 50 calls, no 429, no 403, and one import of the agency (one replica leads it
    /// throughout and the other makes none of its calls).
    @Test func fiftyContractorsForThreeMinutesStayInsideTheKeysBudget() async throws {
        let database = try await TestPostgres.start()
        let agency = try GeneratedAgency.write(contractors: 50, branches: 2, jobsPerBranch: 200)
        let (a, b) = try await Self.replicas(
            database, MirrorTests.mirrorOn.merging(["AGENTOS_RATE_LIMIT": "50", "MIRROR_AGE_TARGET_SECONDS": "30", "AGENTOS_CONTRACTOR_SHARE": "10"]) { $1 },
            fixtureFile: agency)
        let portals = [a, b]
        func role(_ portal: Portal) async -> String? { await portal.get("/readyz", token: nil).json["mirror"]?["demo"]?["role"]?.stringValue }
        let pages = ["/api/contractor/account", "/api/trpc/contractor.insights", "/api/contractor/jobs"]
        let statuses = Locked<[String: [Int: Int]]>([:])
        let coldRefusals = Locked<[String]>([])
        let start = ContinuousClock.now, end = start + .seconds(180)
        let contractors = (1...50).map { index in
            Task {
                let token = Portal.token(GeneratedAgency.contractorID(index))
                // Staggered over the first 30 s, as contractors arrive.
                var next = start + .milliseconds(index * 500)
                var visit = 0
                while next < end {
                    try? await Task.sleep(until: next)
                    let portal = portals[(index + visit) % 2]
                    for page in pages {
                        let reply = await portal.get(page, token: token)
                        statuses.withLock { $0[page, default: [:]][reply.status, default: 0] += 1 }
                        if reply.status != 200 {
                            coldRefusals.withLock { $0.append("visit \(visit) \(page) \(reply.status) Retry-After \(reply.header("Retry-After") ?? "none")") }
                        }
                    }
                    visit += 1
                    next += .seconds(30)
                }
            }
        }
        var roles: [[String?]] = []
        while ContinuousClock.now < end {
            try await Task.sleep(for: .seconds(10))
            roles.append([await role(a), await role(b)])
        }
        for task in contractors { await task.value }

        let seen = statuses.withLock { $0 }
        let all = seen.values.flatMap { $0 }.map(\.value).reduce(0, +)
        #expect(all == 50 * 6 * 3, "every contractor's six dashboards: \(seen)")
        // Before the first import is done (some 20 s), contractors' accounts are live calls and the budget
        // may refuse some (503 with Retry-After); from the second visit on, everything is answered.
        let refused = coldRefusals.withLock { $0 }
        #expect(refused.allSatisfy { $0.hasPrefix("visit 0 /api/contractor/account 503") && !$0.hasSuffix("none") }, "\(refused)")
        #expect(seen["/api/contractor/jobs"]?[200] == 300 && seen["/api/trpc/contractor.insights"]?[200] == 300, "\(seen)")
        let limits = a.fixture.keyLimit.counters
        #expect(limits.peakInWindow <= 50, "busiest rolling minute: \(limits.peakInWindow) calls")
        #expect(limits.limited == 0 && limits.blocked == 0, "\(limits.limited) × 429, \(limits.blocked) × 403")
        let settled = roles.dropFirst()
        #expect(!settled.isEmpty && settled.allSatisfy { $0 == settled.first! } && Set(settled.first!) == ["leader", "follower"], "one leader throughout: \(roles)")
        let follower = settled.first?[0] == "follower" ? a : b
        let importCalls = ["branches", "branchContractors", "branchJobs", "statusTypes"]
        let followerImports = follower.application.agentOS.counterSnapshot.callsByOutcome.filter { importCalls.contains($0.key) }
        #expect(followerImports.isEmpty, "the follower made no import call: \(followerImports)")
        await b.stop()
        await a.stop()
        await database.stop()
        try? FileManager.default.removeItem(atPath: agency)
    }

    /// PostgreSQL stopped for 20 s while two replicas are under load (keyed writes and reads on both) and
    /// started again: during the outage every write is refused with the retry message and nothing is sent
    /// for it; every read is answered throughout; the clients' retries with the same keys afterwards land
    /// each write exactly once.
    @Test func aTwentySecondOutageUnderLoadLosesAndDuplicatesNothing() async throws {
        let database = try await TestPostgres.start()
        let (a, b) = try await Self.replicas(database, Self.cached.merging(["DATABASE_STATEMENT_TIMEOUT_MS": "2000"]) { $1 })
        let portals = [a, b]
        let run = OutageLoad()
        /// One logical write: sent with its key until it lands, through either replica.
        @Sendable func write(_ text: String, key: String, via first: Int) async {
            var attempt = first
            while true {
                let reply = await portals[attempt % 2].send(
                    "POST", "/api/contractor/jobs/J-0002/notes", body: #"{"note":"\#(text)"}"#, headers: ["Idempotency-Key": key])
                let now = run.now
                switch reply.status {
                case 201:
                    run.tally.withLock { $0.written.append(text) }
                    return
                case 503:
                    let message = reply.json["error"]?.stringValue ?? ""
                    run.tally.withLock {
                        if now == .outage { $0.refusedDuringOutage += 1 }
                        if !message.contains("same Idempotency-Key") { $0.refusalsWithoutTheRetryMessage.append("\(now): \(reply.text)") }
                    }
                case 409: break  // its first attempt is still in flight on the other replica
                default: run.tally.withLock { $0.unexpected.append("\(now) \(reply.status): \(reply.text)") }
                }
                attempt += 1
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
        let writers = (0..<4).map { writer in
            Task {
                var index = 0
                while run.now != .finishing {
                    await write("outage w\(writer) #\(index)", key: "outage-\(writer)-\(index)", via: writer + index)
                    index += 1
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
        }
        let readers = (0..<2).map { reader in
            Task {
                var index = 0
                while run.now != .finishing {
                    let path = index % 2 == 0 ? "/api/contractor/account" : "/api/contractor/jobs"
                    let reply = await portals[(reader + index) % 2].get(path)
                    run.tally.withLock {
                        $0.reads += 1
                        if reply.status != 200 { $0.failedReads.append("\(path) \(reply.status): \(reply.text)") }
                    }
                    index += 1
                    try? await Task.sleep(for: .milliseconds(50))
                }
            }
        }
        try await Task.sleep(for: .seconds(3))
        try await database.pause(immediately: true)
        run.enter(.outage)
        let writesAtOutage = await a.writes()["addNote"] ?? 0
        try await Task.sleep(for: .seconds(20))
        // Nothing was sent for a write the store could not claim (one in flight when it went may land).
        #expect(await a.writes()["addNote"] ?? 0 <= writesAtOutage + 4, "no write sent upstream without a committed claim")
        run.enter(.after)
        try await database.resume()
        try await Task.sleep(for: .seconds(5))
        run.enter(.finishing)
        for task in writers + readers { await task.value }

        let final = run.tally.withLock { $0 }
        #expect(final.refusedDuringOutage > 0, "writes came during the outage and were refused")
        #expect(final.refusalsWithoutTheRetryMessage.isEmpty, "\(final.refusalsWithoutTheRetryMessage.prefix(3))")
        #expect(final.unexpected.isEmpty, "\(final.unexpected.prefix(3))")
        #expect(final.reads > 100 && final.failedReads.isEmpty, "\(final.reads) reads; failed: \(final.failedReads.prefix(3))")
        let texts = await a.fixture.store.noteRecords("demo", "J-0002").compactMap { $0["Text"]?.stringValue }.filter { $0.hasPrefix("outage w") }
        #expect(texts.count == final.written.count && Set(texts) == Set(final.written), "every write told 201 is at AgentOS, once each")
        #expect(Set(texts).count == texts.count, "none twice")
        #expect(await a.writes()["addNote"] == final.written.count)
        await b.stop()
        await a.stop()
        await database.stop()
    }

    /// Replica A is killed (SIGKILL) while 20 keyed invoices are in flight through a slowed AgentOS (some
    /// applied and never answered); every request is retried on replica B, which was running all along:
    /// B waits out A's claims (they may still be running at AgentOS), then looks for each invoice before
    /// sending anything, and AgentOS ends with exactly one invoice per key.
    @Test func aReplicaKilledMidWriteLeavesExactlyOneInvoicePerKeyThroughTheOther() async throws {
        let database = try await TestPostgres.start()
        let (fixture, upstream, base) = try HeavyWriteProofs.CrashTests.rig(["INVOICE_MODE": "modelled", "DATABASE_URL": database.conninfo])
        fixture.faults.set([
            .on("submitInvoice") { $0.latencyMs = 300; $0.jitterMs = 1_500; $0.afterApplying = true; $0.hang = true; $0.probability = 0.3 },
            .on("submitInvoice") { $0.latencyMs = 300; $0.jitterMs = 1_500 },
        ])
        let count = 20
        @Sendable func request(_ index: Int, port: Int) async -> Int {
            await HeavyWriteProofs.CrashTests.keyedInvoice(
                port: port, key: "replica-\(index)", amount: "\(300 + index).75", reference: "RK-\(index)", date: "2026-06-03")
        }
        // Their own data directories: only the database is shared.
        var second = base
        second["DATA_DIR"] = base["DATA_DIR", default: ""] + "-b"
        let a = try await ServerProcess(environment: base)
        let b = try await ServerProcess(environment: second)
        let before = Task { await HeavyWriteProofs.CrashTests.sendAll(count) { await request($0, port: a.port) } }
        let start = ContinuousClock.now
        while await fixture.store.received["submitInvoice"] ?? 0 < count * 3 / 4, ContinuousClock.now - start < .seconds(2) {
            try await Task.sleep(for: .milliseconds(20))
        }
        let appliedAtKill = await fixture.store.writes["submitInvoice"] ?? 0
        await a.kill()
        _ = await before.value
        #expect(appliedAtKill < count, "the kill landed while invoices were in flight (\(appliedAtKill) applied)")
        fixture.faults.set([.on("submitInvoice") { $0.latencyMs = 50; $0.jitterMs = 200 }])
        let outcomes = await HeavyWriteProofs.CrashTests.retryUntilCreated(count) { await request($0, port: b.port) }
        await b.kill()
        // Every call the dead replica started has ended at AgentOS by now (the slowest 1.8 s after it arrived).
        try await Task.sleep(for: .milliseconds(2_000))
        #expect(outcomes.values.allSatisfy { $0 == 201 }, "every retry ends with the invoice: \(outcomes)")
        let entries = await fixture.store.pendingEntries("demo", "C-1001")
        for index in 0..<count {
            let matching = entries.filter { $0["InvoiceNumber"] == .string("RK-\(index)") }
            #expect(matching.count == 1, "RK-\(index) is at AgentOS \(matching.count) times")
        }
        #expect(await fixture.store.writes["submitInvoice"] == count, "one submission per key reached AgentOS")
        await upstream.shutdown()
        await database.stop()
    }

    /// One budget for the key: two replicas each configured with the key's whole limit (12 a minute), and
    /// a burst of reads through both, stay within it together. The fixture enforces the limit like AgentOS
    /// (a 429 it had to answer fails the test at `stop()`), and the reads past the shared window's room
    /// for reads (the limit less the writes' reserve) are refused by the gateway instead.
    @Test func twoReplicasShareOneBudgetForTheKey() async throws {
        let database = try await TestPostgres.start()
        let (a, b) = try await Self.replicas(database, ["AGENTOS_RATE_LIMIT": "12", "AGENTOS_WRITE_RESERVE": "5"])
        let contractors = ["C-1001", "C-2002", "3003"]
        let statuses = await withTaskGroup(of: Int.self) { group in
            for index in 0..<24 {
                group.addTask {
                    await (index % 2 == 0 ? a : b).get("/api/contractor/account", token: Portal.token(contractors[index % 3])).status
                }
            }
            return await group.reduce(into: [Int]()) { $0.append($1) }
        }
        let served = statuses.filter { $0 == 200 }.count
        #expect(served == 7, "the shared window's room for reads: 12 less the writes' 5 (\(statuses))")
        #expect(statuses.allSatisfy { $0 == 200 || $0 == 503 })
        #expect(await a.received("contractor") == served, "every call AgentOS received was within the shared budget")
        // A write still has its reserve, through either replica.
        let note = await b.send("POST", "/api/contractor/jobs/J-0002/notes", body: #"{"note":"reserved"}"#, headers: ["Idempotency-Key": "reserve"])
        #expect(note.status == 201, "\(note.text)")
        await b.stop()
        await a.stop()
        await database.stop()
    }

    /// Without the database a replica spends only its share of the key (the limit divided by
    /// AGENTOS_REPLICAS), never the whole limit.
    @Test func withoutTheDatabaseAReplicaSpendsOnlyItsShare() async throws {
        let database = try await TestPostgres.start()
        let portal = try await Portal.start(environment: [
            "DATABASE_URL": database.conninfo, "AGENTOS_RATE_LIMIT": "12", "AGENTOS_WRITE_RESERVE": "4", "AGENTOS_REPLICAS": "2",
        ])
        try await database.pause(immediately: true)
        var served = 0
        for index in 0..<10 {
            let status = await portal.get("/api/contractor/account", token: Portal.token(["C-1001", "C-2002", "3003"][index % 3])).status
            if status == 200 { served += 1 }
        }
        // Its share: 12 / 2 = 6 slots, of which 4 / 2 = 2 kept for writes.
        #expect(served == 4, "\(served) reads served on a half share")
        #expect(await portal.received("contractor") == 4)
        await portal.stop()
        await database.stop()
    }

    /// The tests' replicas with the read cache on (the other tests count every read at AgentOS).
    static let cached = ["CACHE_TTL_ACCOUNT_SECONDS": "60", "CACHE_TTL_JOBS_SECONDS": "60", "CACHE_TTL_STATEMENTS_SECONDS": "60", "CACHE_TTL_PENDING_SECONDS": "60"]

    /// The read cache is shared: what one replica fetched, the other serves (a hit, with the entry's age)
    /// without asking AgentOS again.
    @Test func whatOneReplicaFetchedTheOtherServes() async throws {
        let database = try await TestPostgres.start()
        let (a, b) = try await Self.replicas(database, Self.cached)
        let first = await a.get("/api/contractor/account")
        #expect(first.status == 200 && first.header("X-Cache") == "MISS", "\(first.text)")
        #expect(await a.received("contractor") == 1)
        try await Task.sleep(for: .milliseconds(1_100))
        let other = await b.get("/api/contractor/account")
        #expect(other.status == 200 && other.json == first.json)
        #expect(other.header("X-Cache") == "HIT", "the other replica's entry")
        #expect(other.header("Age").flatMap(Int.init) ?? 0 >= 1, "with its age: \(other.header("Age") ?? "none")")
        #expect(await a.received("contractor") == 1, "AgentOS was asked once for both replicas")
        // Another contractor is another entry, on either replica.
        #expect(await b.get("/api/contractor/account", token: Portal.token("C-2002")).header("X-Cache") == "MISS")
        #expect(await a.received("contractor") == 2)
        await b.stop()
        await a.stop()
        await database.stop()
    }

    /// Misses of one key on both replicas at once share one AgentOS call: the second waits for the
    /// first's entry instead of loading it too.
    @Test func concurrentMissesAcrossReplicasShareOneUpstreamCall() async throws {
        let database = try await TestPostgres.start()
        let (a, b) = try await Self.replicas(database, Self.cached)
        a.faults(.on("contacts") { $0.latencyMs = 600 })
        let replies = await withTaskGroup(of: Reply.self) { group in
            for index in 0..<20 { group.addTask { await (index % 2 == 0 ? a : b).get("/api/contractor/contacts") } }
            return await group.reduce(into: [Reply]()) { $0.append($1) }
        }
        #expect(replies.allSatisfy { $0.status == 200 && $0.json == replies[0].json && $0.json.count > 0 }, "\(replies.map(\.status))")
        #expect(await a.received("contacts") == 1, "20 reads over two replicas, one AgentOS call")
        await b.stop()
        await a.stop()
        await database.stop()
    }

    /// A write on one replica forgets, on both, what it changed: the other replica's next read (its own
    /// copy and the shared entry both dropped) shows the write.
    @Test func aWriteOnOneReplicaIsSeenAtOnceOnTheOther() async throws {
        let database = try await TestPostgres.start()
        let (a, b) = try await Self.replicas(database, Self.cached)
        let notesPath = "/api/trpc/contractor.maintenanceJobNotes?input=\(encoded(#"{"jobId":"J-0002"}"#))"
        let before = await b.get(notesPath)
        #expect(before.status == 200)
        #expect(await a.get(notesPath).header("X-Cache") == "HIT")
        #expect(await b.get(notesPath).header("X-Cache") == "HIT")
        #expect(await a.send("POST", "/api/contractor/jobs/J-0002/notes", body: #"{"note":"written on A"}"#).status == 201)
        // The write's invalidation reaches B by NOTIFY; B's own copy goes as soon as it hears it.
        #expect(await MirrorTests.eventually(5) {
            (await b.get(notesPath)).data?.arrayValue?.contains { $0["text"] == .string("written on A") } == true
        }, "B shows A's note")
        let after = await b.get(notesPath)
        #expect(after.data?.count == (before.data?.count ?? 0) + 1)
        #expect(await a.get(notesPath).data?.count == after.data?.count)
        await b.stop()
        await a.stop()
        await database.stop()
    }

    /// A signed-in contractor's page views on a warm follower cost no database round trip each: the
    /// mirror is told of changes (NOTIFY), the sign-in's revocation answer stands until told otherwise,
    /// and the request limits are reported in one statement per interval, not one per request.
    @Test func pageViewsOnAWarmReplicaCostNoDatabaseRoundTripEach() async throws {
        let database = try await TestPostgres.start()
        let (a, b) = try await Self.replicas(
            database, MirrorTests.mirrorOn.merging(["AGENTOS_RATE_LIMIT": "50", "MIRROR_AGE_TARGET_SECONDS": "3600"]) { $1 })
        #expect(await MirrorTests.eventually(30) {
            let warmA = await MirrorTests.warm(a, timeout: 0.1)
            let warmB = await MirrorTests.warm(b, timeout: 0.1)
            return warmA && warmB
        }, "both warm")
        try await a.application.users.save(PortalUser(email: AuthTests.email, passwordHash: await AuthTests.hash.value, agency: "demo", contractorId: "C-1001"))
        let access = try #require((await AuthTests.login(a)).json["accessToken"]?.stringValue)
        let pool = try #require(b.application.database)
        #expect(await b.get("/api/contractor/jobs", token: access).status == 200)
        try await Task.sleep(for: .milliseconds(600))  // its request limits reported
        let before = pool.roundTrips, started = ContinuousClock.now
        let replies = await withTaskGroup(of: Reply.self) { group in
            for _ in 0..<40 { group.addTask { await b.get("/api/contractor/jobs", token: access) } }
            return await group.reduce(into: [Reply]()) { $0.append($1) }
        }
        try await Task.sleep(for: .milliseconds(600))
        let elapsed = ContinuousClock.now - started
        #expect(replies.allSatisfy { $0.status == 200 && $0.header("X-Mirror-State") == "warm" })
        let trips = pool.roundTrips - before
        // At most one report of the request limits per 250 ms the views took, and nothing per view.
        #expect(trips <= Int(elapsed / .milliseconds(250)) + 1 && trips < 40, "\(trips) round trips for 40 page views in \(elapsed)")
        await b.stop()
        await a.stop()
        await database.stop()
    }

    /// The request limits, reported in batches, are still one limit over both replicas: a session spread
    /// over them gets its minute's allowance once (give or take what one report interval lets through).
    @Test func aSessionsRequestLimitHoldsAcrossReplicas() async throws {
        let database = try await TestPostgres.start()
        let (a, b) = try await Self.replicas(database, ["RATE_LIMIT_SESSION_PER_MINUTE": "10"])
        var allowed = 0, refused = 0
        let token = Portal.token()
        for index in 0..<24 {
            let reply = await (index % 2 == 0 ? a : b).get("/api/contractor/account", token: token)
            if reply.status == 200 { allowed += 1 }
            if reply.status == 429 {
                refused += 1
                #expect(reply.header("Retry-After") != nil)
            }
            try await Task.sleep(for: .milliseconds(300))  // past a report, so each replica knows the other's takes
        }
        // 10 at once, and one more per 6 s refilled over the ~7 s: never the 20 two separate limits allow.
        #expect(allowed >= 10 && allowed <= 13 && allowed + refused == 24, "\(allowed) allowed, \(refused) refused")
        await b.stop()
        await a.stop()
        await database.stop()
    }

    /// Every database call a request makes ends by the request's own deadline: a claim waiting for a row
    /// another transaction holds gives up when the request's time is up (1.5 s here), not at the
    /// statement timeout (20 s) nor when the holder lets go (6 s).
    @Test func aRequestsDatabaseCallsEndByItsDeadline() async throws {
        let database = try await TestPostgres.start()
        let portal = try await Portal.start(environment: [
            "DATABASE_URL": database.conninfo, "HANDLER_TIMEOUT_MS": "1500", "DATABASE_STATEMENT_TIMEOUT_MS": "20000",
        ])
        let note = #"{"note":"held"}"#
        #expect(await portal.send("POST", "/api/contractor/jobs/J-0002/notes", body: note, headers: ["Idempotency-Key": "held"]).status == 201)
        let holder = PGPool(conninfo: database.conninfo, size: 1, statementTimeoutMs: 20_000)
        let holding = Task {
            try await holder.withConnection(deadline: .now + .seconds(30)) { session throws(PGError) in
                try session.transaction { db throws(PGError) in
                    _ = try db.execute("SELECT 1 FROM idempotency FOR UPDATE")
                    _ = try db.execute("SELECT pg_sleep(6)")
                }
            }
        }
        let observer = PGPool(conninfo: database.conninfo, size: 1, statementTimeoutMs: 5_000)
        func waitingForLocks() async throws -> Int {
            let rows = try await observer.execute(
                "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'", deadline: .now + .seconds(5))
            return rows[0, "n"].flatMap(Int.init) ?? -1
        }
        // The holder has the row once it sleeps.
        #expect(await MirrorTests.eventually(5) {
            let rows = try? await observer.execute("SELECT count(*) AS n FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'", deadline: .now + .seconds(5))
            return rows?[0, "n"] == "1"
        })
        let started = ContinuousClock.now
        async let replay = portal.send("POST", "/api/contractor/jobs/J-0002/notes", body: note, headers: ["Idempotency-Key": "held"])
        #expect(await MirrorTests.eventually(1) { (try? await waitingForLocks()) == 1 }, "the replay's claim waits for the row")
        let refused = await replay
        #expect(refused.status == 503, "out of time: refused, to be retried: \(refused.status) \(refused.text) after \(ContinuousClock.now - started)")
        try await Task.sleep(until: started + .milliseconds(3_000))
        #expect(try await waitingForLocks() == 0, "the claim stopped waiting with its request, before the holder let go")
        _ = try? await holding.value
        #expect(await portal.send("POST", "/api/contractor/jobs/J-0002/notes", body: note, headers: ["Idempotency-Key": "held"]).header("Idempotent-Replayed") == "true")
        #expect(await portal.writes()["addNote"] == 1)
        await portal.stop()
        await database.stop()
    }

    /// One import per agency across replicas: one leads it and saves its snapshots, the other serves the
    /// same pages from them without importing; when the leader stops, the other takes over.
    @Test func oneReplicaImportsEachAgencyAndTheOtherFollows() async throws {
        let database = try await TestPostgres.start()
        let (a, b) = try await Self.replicas(database, MirrorTests.mirrorOn.merging(["AGENTOS_RATE_LIMIT": "50"]) { $1 })
        func role(_ portal: Portal) async -> String? { await portal.get("/readyz", token: nil).json["mirror"]?["demo"]?["role"]?.stringValue }
        let settled = await MirrorTests.eventually(20) {
            guard await role(a) != nil, await role(b) != nil else { return false }
            let warmA = await MirrorTests.warm(a, timeout: 0.1)
            let warmB = await MirrorTests.warm(b, timeout: 0.1)
            return warmA && warmB
        }
        #expect(settled, "both replicas warm, each with a role")
        let roles = [await role(a), await role(b)]
        #expect(Set(roles) == ["leader", "follower"], "one leads, one follows: \(roles)")
        let (leader, follower) = roles[0] == "leader" ? (a, b) : (b, a)
        #expect(follower.application.agentOS.counterSnapshot.calls == 0, "the follower made no import call")
        let jobs = await follower.get("/api/contractor/jobs")
        #expect(jobs.status == 200 && jobs.header("X-Mirror-State") == "warm" && jobs.json.count == 50, "the follower serves from the leader's snapshot")
        // The leader goes (its server and application; the fixture AgentOS stays); the follower takes the
        // import over within its follow interval.
        await leader.server.shutdown()
        await leader.application.stop()
        #expect(await MirrorTests.eventually(20) { await role(follower) == "leader" })
        let calls = follower.application.agentOS.counterSnapshot.calls
        #expect(await MirrorTests.eventually(20) { follower.application.agentOS.counterSnapshot.calls > calls }, "the new leader imports")
        await follower.stop()
        await database.stop()
    }

    /// PostgreSQL stopped: each replica still answers contractors' pages from its own copy of the mirror,
    /// marked stale (it can no longer hear of the other replicas' changes), and `/readyz` says so; when the
    /// database is back, the pages are warm again by themselves.
    @Test func withTheDatabaseDownMirroredPagesAreServedMarkedStale() async throws {
        let database = try await TestPostgres.start()
        let (a, b) = try await Self.replicas(database, MirrorTests.mirrorOn.merging(["AGENTOS_RATE_LIMIT": "50"]) { $1 })
        func hears(_ portal: Portal) async -> JSONValue? { await portal.get("/readyz", token: nil).json["mirror"]?["demo"]?["hearsChanges"] }
        func served(_ portal: Portal, as state: String) async -> Bool {
            let jobs = await portal.get("/api/contractor/jobs")
            let account = await portal.get("/api/contractor/account")
            return jobs.status == 200 && jobs.json.count == 50 && jobs.header("X-Mirror-State") == state
                && account.status == 200 && account.header("X-Mirror-State") == state
        }
        #expect(await MirrorTests.eventually(20) {
            let warmA = await MirrorTests.warm(a, timeout: 0.1)
            let warmB = await MirrorTests.warm(b, timeout: 0.1)
            return warmA && warmB
        }, "both replicas warm")
        let warmAtFirst = [await served(a, as: "warm"), await served(b, as: "warm")]
        #expect(warmAtFirst == [true, true])
        let hearing = [await hears(a), await hears(b)]
        #expect(hearing == [.bool(true), .bool(true)])
        // What AgentOS was asked for, leaving out the notes the jobs view fetches from spare budget.
        func lookups() async -> [String: Int] { await a.fixture.store.received.filter { $0.key != "notes" } }
        let before = await lookups()

        try await database.pause(immediately: true)
        #expect(await MirrorTests.eventually(10) {
            let staleA = await served(a, as: "stale")
            let staleB = await served(b, as: "stale")
            return staleA && staleB
        }, "both replicas answer from their own copies, marked stale")
        let cutOff = [await hears(a), await hears(b)]
        #expect(cutOff == [.bool(false), .bool(false)], "/readyz says the copies are cut off")
        #expect(await a.get("/readyz", token: nil).json["store"]?["reachable"] == .bool(false))
        // Several pages later, still answered from the copies: no live lookups stand in for the mirror.
        for portal in [a, b] { #expect(await served(portal, as: "stale")) }
        #expect(await lookups() == before, "the pages were answered from the copies: no lookup of jobs or contractors at AgentOS")

        try await database.resume()
        #expect(await MirrorTests.eventually(20) {
            let warmA = await served(a, as: "warm")
            let warmB = await served(b, as: "warm")
            return warmA && warmB
        }, "warm again by itself once the database is back")
        let hearingAgain = [await hears(a), await hears(b)]
        #expect(hearingAgain == [.bool(true), .bool(true)])
        await b.stop()
        await a.stop()
        await database.stop()
    }

    /// The import leader killed with SIGKILL (no resignation: its connection, and with it the lock, just
    /// ends): the other replica leads and imports within the follow interval and a connection's end.
    @Test func aKilledImportLeaderIsReplacedWithinTheBound() async throws {
        let database = try await TestPostgres.start()
        let (fixture, upstream, base) = try HeavyWriteProofs.CrashTests.rig(
            MirrorTests.mirrorOn.merging(["DATABASE_URL": database.conninfo, "AGENTOS_RATE_LIMIT": "50", "MIRROR_AGE_TARGET_SECONDS": "4"]) { $1 })
        var second = base
        second["DATA_DIR"] = base["DATA_DIR", default: ""] + "-b"
        let a = try await ServerProcess(environment: base)
        let b = try await ServerProcess(environment: second)
        func role(_ port: Int) async -> String? {
            let ready = await exchange(port: port, "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", readTimeout: 5, closeWithin: 0)
            return ((try? JSONText.parse(ready.response?.body ?? [])) ?? .null)["mirror"]?["demo"]?["role"]?.stringValue
        }
        #expect(await MirrorTests.eventually(20) {
            let roles = [await role(a.port), await role(b.port)]
            return Set(roles) == ["leader", "follower"]
        }, "one leads, one follows")
        let aLeads = await role(a.port) == "leader"
        let (leader, follower) = aLeads ? (a, b) : (b, a)
        await leader.kill()
        let killedAt = ContinuousClock.now
        let before = await fixture.store.received["branches"] ?? 0
        #expect(await MirrorTests.eventually(20) { await role(follower.port) == "leader" }, "the follower took the lead")
        let took = killedAt.duration(to: .now)
        #expect(took < .seconds(15), "within the follow interval and the lock's release (took \(took))")
        #expect(await MirrorTests.eventually(20) { await fixture.store.received["branches"] ?? 0 > before }, "and imports")
        await follower.kill()
        await upstream.shutdown()
        await database.stop()
    }

    /// One sign-in across replicas: signed in on one, refreshed on the other; a spent refresh token
    /// replayed on the first ends the sign-in on both.
    @Test func aSignInIsRefreshedAndRevokedAcrossReplicas() async throws {
        let database = try await TestPostgres.start()
        // No reuse grace: a replay at once is theft here, not a second tab.
        let (a, b) = try await Self.replicas(database, ["REFRESH_REUSE_GRACE_SECONDS": "0"])
        try await a.application.users.save(PortalUser(email: AuthTests.email, passwordHash: await AuthTests.hash.value, agency: "demo", contractorId: "C-1001"))
        #expect(try await b.application.users.user(email: AuthTests.email)?.contractorId == "C-1001", "the account is the other replica's too")
        let login = await AuthTests.login(a)
        #expect(login.status == 200)
        let firstRefresh = try #require(login.json["refreshToken"]?.stringValue)
        func refresh(_ portal: Portal, _ token: String) async -> Reply {
            await portal.send("POST", "/api/auth/refresh", token: nil, body: #"{"refreshToken":"\#(token)"}"#)
        }
        let rotated = await refresh(b, firstRefresh)
        #expect(rotated.status == 200, "refreshed through the other replica: \(rotated.text)")
        let access = try #require(rotated.json["accessToken"]?.stringValue)
        #expect(await a.get("/api/contractor/account", token: access).status == 200)
        // B has read the family (not revoked) and keeps that answer until told otherwise.
        #expect(await b.get("/api/contractor/account", token: access).status == 200)
        // The spent token comes back through the first replica: copied, so the sign-in ends everywhere, B
        // told by NOTIFY at once (its answer would otherwise stand for minutes).
        let replayed = await refresh(a, firstRefresh)
        #expect(replayed.status == 401)
        #expect(await MirrorTests.eventually(3) { await b.get("/api/contractor/account", token: access).status == 401 }, "revoked on the other replica")
        #expect(await a.get("/api/contractor/account", token: access).status == 401)
        let next = try #require(rotated.json["refreshToken"]?.stringValue)
        #expect(await refresh(b, next).status == 401, "the family's newer token is dead too")
        await b.stop()
        await a.stop()
        await database.stop()
    }

    /// Sign-in attempts spread over both replicas count once: the per-address allowance and the
    /// lock-outs are the database's.
    @Test func signInLimitsAndLockOutsHoldAcrossReplicas() async throws {
        let database = try await TestPostgres.start()
        let (a, b) = try await Self.replicas(database, ["LOGIN_LIMIT_PER_MINUTE": "50"])
        try await a.application.users.save(PortalUser(email: AuthTests.email, passwordHash: await AuthTests.hash.value, agency: "demo", contractorId: "C-1001"))
        // A failure through one replica locks the account out (for this address) on the other.
        #expect(await AuthTests.login(a, password: "wrong wrong wrong").status == 401)
        let locked = await AuthTests.login(b)
        #expect(locked.status == 429, "locked out through the other replica: \(locked.text)")
        #expect(locked.header("Retry-After") == "1")
        try await Task.sleep(for: .milliseconds(1_100))
        #expect(await AuthTests.login(b, password: "wrong wrong wrong").status == 401)
        #expect(await AuthTests.login(a).header("Retry-After") == "2", "the second failure, on the other replica, doubles it")
        try await Task.sleep(for: .milliseconds(2_100))
        #expect(await AuthTests.login(a).status == 200, "a success ends the streak for both")
        await b.stop()
        await a.stop()
        // The per-address allowance is one bucket: five attempts a minute, alternating replicas.
        let (c, d) = try await Self.replicas(database)
        var answered = 0
        var last = 401
        while last == 401 && answered < 20 {
            last = await AuthTests.login(answered % 2 == 0 ? c : d, email: "guess\(answered)@example.com").status
            if last == 401 { answered += 1 }
        }
        #expect(last == 429)
        #expect(answered >= 5 && answered <= 6, "\(answered) attempts answered before the shared limit")
        await d.stop()
        await c.stop()
        await database.stop()
    }

    /// `contractor-bff migrate` and `config` against the database, its password never printed.
    @Test func theMigrateCommandBringsTheSchemaUpToDate() async throws {
        let database = try await TestPostgres.start()
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = database.conninfo + " password=not-to-be-printed"
        func run(_ arguments: [String]) async throws -> (Int32, String) {
            let outcome = try await ExternalTool.run(Paths.executable.path, arguments, environment: environment)
            return (outcome.code, outcome.output)
        }
        let (first, said) = try await run(["migrate"])
        #expect(first == 0, "\(said)")
        #expect(said.contains("applied 1"))
        let (again, current) = try await run(["migrate"])
        #expect(again == 0 && current.contains("schema is current"))
        let (_, config) = try await run(["config"])
        #expect(config.contains("# store: postgresql (DATABASE_URL)"))
        #expect(!config.contains("not-to-be-printed") && !said.contains("not-to-be-printed"))
        await database.stop()
        let (down, refused) = try await run(["migrate"])
        #expect(down == 69, "\(refused)")
        #expect(!refused.contains("not-to-be-printed"))
    }

    @Test func replicasStartingTogetherApplyEachMigrationOnce() async throws {
        let database = try await TestPostgres.start()
        let pools = (0..<4).map { _ in PGPool(conninfo: database.conninfo, size: 1, statementTimeoutMs: 5000) }
        let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
            for pool in pools { group.addTask { try await Migrations.apply(pool, deadline: .now + .seconds(60)) } }
            return try await group.reduce(into: [Int]()) { $0 += $1 }
        }
        #expect(applied == Migrations.all.map(\.version), "each migration applied by exactly one of them")
        let recorded = try await pools[0].execute("SELECT count(*) AS n FROM schema_migrations", deadline: .now + .seconds(10))
        #expect(recorded[0, "n"] == String(Migrations.all.count))
        await database.stop()
    }
}

/// The outage test's clients' shared state: the phase the test is in and what the clients saw.
final class OutageLoad: Sendable {
    enum Phase: Int { case before, outage, after, finishing }
    struct Tally: Sendable {
        var written: [String] = []
        var refusedDuringOutage = 0
        var refusalsWithoutTheRetryMessage: [String] = []
        var unexpected: [String] = []
        var reads = 0
        var failedReads: [String] = []
    }
    private let phase = Atomic<Int>(Phase.before.rawValue)
    let tally = Locked(Tally())
    var now: Phase { Phase(rawValue: phase.load(ordering: .acquiring)) ?? .finishing }
    func enter(_ next: Phase) { phase.store(next.rawValue, ordering: .releasing) }
}
