import AgentOS
import FixtureAgentOS
import Foundation
import JSON
import TestSupport
import Testing

/// Several hundred keyed writes through an AgentOS that fails often and in every way (30 % 5xx, 10 % hangs,
/// 5 % resets, half of each after the write was applied), with clients that retry until they get an
/// answer. Nothing may be lost or duplicated, and what each client was told must be what AgentOS holds.
/// The two heaviest suites (hundreds of writes through a failing fixture; a server killed and restarted)
/// run one after the other, not at once, so the load they put on a 2-core machine does not pile up.
@Suite("Heavy write proofs", .scoped, .serialized)
struct HeavyWriteProofs {}

extension HeavyWriteProofs {
    @Suite("Writes under a fault mix", .scoped)
    struct FaultMixTests {
        /// Rules are drawn in order, each with its own probability; these make the overall shares come out
        /// as given (a rule is reached only when the ones before it did not fire).
        static func rules(_ shares: [(Double, (inout FaultRule) -> Void)]) -> [FaultRule] {
            var left = 1.0
            return shares.map { share, change in
                var rule = FaultRule(route: "*")
                change(&rule)
                rule.probability = share / left
                left -= share
                return rule
            }
        }

        @Test func noWriteIsLostOrDuplicatedAndEveryAnswerMatchesAgentOS() async throws {
            let portal = try await Portal.start(environment: [
                "AGENTOS_TIMEOUT_MS": "150", "AGENTOS_DEADLINE_MS": "500", "AGENTOS_BREAKER_COOLDOWN_MS": "100", "AGENTOS_BREAKER_FAILURES": "20",
            ])
            portal.fixture.faults.set(Self.rules([
                (0.15, { $0.status = 500 }), (0.15, { $0.status = 503; $0.afterApplying = true }),
                (0.05, { $0.hang = true }), (0.05, { $0.hang = true; $0.afterApplying = true }),
                (0.025, { $0.reset = true }), (0.025, { $0.reset = true; $0.afterApplying = true }),
            ]))
            let count = 300
            let jobs = (1...9).map { "J-000\($0)" } + ["J-0010"]  // J-0010 carries embedded notes
            struct Outcome: Sendable {
                var status = 0
                var attempts = 0
                var body: JSONValue = .null
            }
            func write(_ index: Int) async -> Outcome {
                let isNote = index % 2 == 0
                let job = jobs[index % jobs.count]
                let (path, body) = isNote
                    ? ("/api/contractor/jobs/\(job)/notes", #"{"note":"mix-\#(index)"}"#)
                    : ("/api/contractor/invoices", #"{"jobId":"\#(job)","amount":\#(index).10,"reference":"MIX-\#(index)","invoiceDate":"2026-07-01"}"#)
                var outcome = Outcome()
                // A client that retries with its key until it has a final answer.
                while outcome.attempts < 80 {
                    outcome.attempts += 1
                    let reply = await portal.send("POST", path, body: body, headers: ["Idempotency-Key": "mix-\(index)"])
                    outcome.status = reply.status
                    if (200..<300).contains(reply.status) || [400, 404, 422].contains(reply.status) {
                        outcome.body = reply.json
                        break
                    }
                    let wait = min(Double(reply.header("Retry-After") ?? "") ?? 0.05, 0.2)
                    try? await Task.sleep(for: .seconds(wait))
                }
                return outcome
            }
            // 16 clients at a time, each working through its share.
            let clients = 16
            let outcomes = await withTaskGroup(of: [(Int, Outcome)].self) { group in
                for client in 0..<clients {
                    group.addTask {
                        var done: [(Int, Outcome)] = []
                        for index in stride(from: client, to: count, by: clients) { done.append((index, await write(index))) }
                        return done
                    }
                }
                return await group.reduce(into: [Int: Outcome]()) { all, done in for (index, outcome) in done { all[index] = outcome } }
            }
            #expect(outcomes.count == count)
            let failed = outcomes.filter { !(200..<300).contains($0.value.status) }
            #expect(failed.isEmpty, "writes without a final answer: \(failed.mapValues(\.status))")
            let retried = outcomes.values.filter { $0.attempts > 1 }.count
            #expect(retried > count / 4, "the fault mix made clients retry (\(retried) did)")

            let pending = await portal.fixture.store.pendingEntries("demo", "C-1001")
            var notes: [String: [JSONValue]] = [:]
            for job in jobs { notes[job] = await portal.fixture.store.noteRecords("demo", job) }
            for (index, outcome) in outcomes.sorted(by: { $0.key < $1.key }) {
                if index % 2 == 0 {
                    let stored = notes.values.joined().filter { $0["Text"] == .string("mix-\(index)") }
                    #expect(stored.count == 1, "note mix-\(index) is at AgentOS \(stored.count) times")
                    #expect(stored.first?["OID"] == outcome.body["noteId"].map { $0 }, "the client was told the note AgentOS holds")
                } else {
                    let stored = pending.filter { $0["InvoiceNumber"] == .string("MIX-\(index)") }
                    #expect(stored.count == 1, "invoice MIX-\(index) is at AgentOS \(stored.count) times")
                    #expect(stored.first?["OID"] == outcome.body["invoiceId"], "the client was told the invoice AgentOS holds")
                }
            }
            let writes = await portal.writes()
            #expect(writes["addNote"] == count / 2)
            #expect(writes["submitInvoice"] == count / 2)
        }
    }
}
