import AgentOS
@testable import ContractorBFFApp
import Foundation
import JSON
import Synchronization
import TestSupport
import Testing

/// The embedded idempotency store on its own: what it answers, what survives a restart, when records expire.
@Suite("File idempotency store", .scoped)
struct IdempotencyStoreTests {
    final class Clock: Sendable {
        let now = Atomic<Int>(1_800_000_000_000)
        func advance(ms: Int) { now.add(ms, ordering: .relaxed) }
        var read: @Sendable () -> Int { { self.now.load(ordering: .relaxed) } }
    }

    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("idempotency-\(UUID().uuidString)").path
    let id = IdempotencyID(agency: "demo", contractor: "C-1001", key: "key:k1")
    let outcome = StoredOutcome(status: 201, body: Array(#"{"noteId":"N-1"}"#.utf8))
    let recovery = JSONValue.object(["textSha256": .string("ab")])

    func open(_ clock: Clock, ttl: Int = 60, deadline: Int = 1_000) throws -> FileIdempotencyStore {
        try FileIdempotencyStore(directory: directory, ttlSeconds: ttl, upstreamDeadlineMs: deadline, clock: clock.read)
    }

    /// Each state survives the file with exactly the fields its case carries; what a line cannot vouch
    /// for (a `done` without its answer, a state this version does not know) comes back unknown.
    @Test(arguments: [
        IdempotencyRecordState.inFlight, .done(StoredOutcome(status: 201, body: Array(#"{"noteId":"N-1"}"#.utf8))),
        .unknown(settleUntil: 0), .unknown(settleUntil: 1_800_000_005_000),
    ])
    func aRecordsStateIsReadBackAsItWasWritten(_ state: IdempotencyRecordState) throws {
        let record = FileIdempotencyStore.Record(fingerprint: "f", state: state, createdAt: 1, attemptedAt: 2, recovery: recovery)
        let line = FileIdempotencyStore.encode(id, record)
        let (readID, read) = try #require(FileIdempotencyStore.decode(line))
        #expect(readID == id)
        #expect(read?.state == state)
        #expect(line["status"] == nil || state != .inFlight, "an in-flight record stores no answer")
    }

    @Test func whatALineCannotVouchForIsUnknown() throws {
        let base: [String: JSONValue] = ["agency": "demo", "contractor": "C-1001", "key": "key:k1", "fingerprint": "f", "createdAt": .number("1")]
        let doneWithoutAnswer = JSONValue.object(base.merging(["state": "done"]) { $1 })
        let unheardOf = JSONValue.object(base.merging(["state": "pondering", "settleUntil": .number("7")]) { $1 })
        #expect(FileIdempotencyStore.decode(doneWithoutAnswer)?.1?.state == .unknown(settleUntil: 0))
        #expect(FileIdempotencyStore.decode(unheardOf)?.1?.state == .unknown(settleUntil: 7))
        let tombstone = FileIdempotencyStore.encode(id, nil)
        #expect(FileIdempotencyStore.decode(tombstone).map { $0.1 == nil } == true, "a released key reads back as a tombstone")
    }

    @Test func claimsReplaysAndMismatches() async throws {
        let clock = Clock()
        let store = try open(clock)
        #expect(try await store.claim(id, fingerprint: "f1", recovery: recovery) == .fresh)
        #expect(try await store.claim(id, fingerprint: "f1", recovery: recovery) == .inFlight)
        #expect(try await store.claim(id, fingerprint: "f2", recovery: recovery) == .mismatch)
        try await store.finish(id, outcome: outcome)
        #expect(try await store.claim(id, fingerprint: "f1", recovery: recovery) == .replay(outcome))
        #expect(try await store.claim(id, fingerprint: "f2", recovery: recovery) == .mismatch)
        let other = IdempotencyID(agency: "demo", contractor: "C-2002", key: "key:k1")
        #expect(try await store.claim(other, fingerprint: "f2", recovery: recovery) == .fresh, "keys are the contractor's own")
    }

    @Test func outcomesSurviveARestartAndInFlightOnesBecomeUnknownAfterTheirDeadline() async throws {
        let clock = Clock()
        do {
            let store = try open(clock)
            #expect(try await store.claim(id, fingerprint: "f1", recovery: recovery) == .fresh)
            try await store.finish(id, outcome: outcome)
            let crashed = IdempotencyID(agency: "demo", contractor: "C-1001", key: "key:k2")
            #expect(try await store.claim(crashed, fingerprint: "f1", recovery: recovery) == .fresh)
            // The process dies here: k2's call may be in flight at AgentOS.
        }
        clock.advance(ms: 1_000)
        let reopened = try open(clock)
        let crashed = IdempotencyID(agency: "demo", contractor: "C-1001", key: "key:k2")
        #expect(try await reopened.claim(id, fingerprint: "f1", recovery: recovery) == .replay(outcome))
        #expect(try await reopened.claim(crashed, fingerprint: "f1", recovery: .null) == .inFlight, "within three deadlines of the attempt")
        clock.advance(ms: 1_999)
        #expect(try await reopened.claim(crashed, fingerprint: "f1", recovery: .null) == .inFlight)
        clock.advance(ms: 1)
        #expect(try await reopened.claim(crashed, fingerprint: "f1", recovery: .null) == .unknown(recovery: recovery),
                "after it, the retry owns the key and looks for what the first attempt sent")
        #expect(try await reopened.claim(crashed, fingerprint: "f1", recovery: .null) == .inFlight)
        try await reopened.finish(crashed, outcome: nil)
        #expect(try await reopened.claim(crashed, fingerprint: "f1", recovery: .null) == .unknown(recovery: recovery), "still unknown: check again")
    }

    @Test func anUnknownOutcomeWhoseCallMayStillRunIsHeldUntilItCouldHaveEnded() async throws {
        let clock = Clock()
        do {
            let store = try open(clock, deadline: 2_000)
            #expect(try await store.claim(id, fingerprint: "f1", recovery: recovery) == .fresh)
            clock.advance(ms: 1_000)
            try await store.finish(id, outcome: nil, callMayStillRun: true)
            #expect(try await store.claim(id, fingerprint: "f1", recovery: .null) == .inFlight)
            let answered = IdempotencyID(agency: "demo", contractor: "C-1001", key: "key:answered")
            #expect(try await store.claim(answered, fingerprint: "f1", recovery: recovery) == .fresh)
            try await store.finish(answered, outcome: nil, callMayStillRun: false)
            #expect(try await store.claim(answered, fingerprint: "f1", recovery: .null) == .unknown(recovery: recovery), "AgentOS answered: look at once")
        }
        // The hold (one deadline after our call gave up) is on disk: a restart does not shorten it.
        let reopened = try open(clock, deadline: 2_000)
        clock.advance(ms: 1_999)
        #expect(try await reopened.claim(id, fingerprint: "f1", recovery: .null) == .inFlight)
        clock.advance(ms: 1)
        #expect(try await reopened.claim(id, fingerprint: "f1", recovery: .null) == .unknown(recovery: recovery))
    }

    @Test func releasedKeysAreFreshAgainAcrossARestart() async throws {
        let clock = Clock()
        do {
            let store = try open(clock)
            #expect(try await store.claim(id, fingerprint: "f1", recovery: recovery) == .fresh)
            await store.release(id)
            #expect(try await store.claim(id, fingerprint: "f2", recovery: recovery) == .fresh)
            await store.release(id)
        }
        let reopened = try open(clock)
        #expect(try await reopened.claim(id, fingerprint: "f3", recovery: recovery) == .fresh)
    }

    @Test func recordsExpireAfterTheirTTLAndLeaveTheFile() async throws {
        let clock = Clock()
        do {
            let store = try open(clock, ttl: 60)
            #expect(try await store.claim(id, fingerprint: "f1", recovery: recovery) == .fresh)
            try await store.finish(id, outcome: outcome)
            clock.advance(ms: 59_000)
            #expect(try await store.claim(id, fingerprint: "f1", recovery: recovery) == .replay(outcome))
            clock.advance(ms: 1_000)
            #expect(try await store.claim(id, fingerprint: "f2", recovery: recovery) == .fresh, "expired: the key is new")
            try await store.finish(id, outcome: outcome)
        }
        clock.advance(ms: 61_000)
        _ = try open(clock)
        let text = try String(contentsOfFile: directory + "/idempotency.jsonl", encoding: .utf8)
        #expect(text.isEmpty, "compaction at start drops expired records: \(text)")
    }

    @Test func aTornLastLineFromACrashIsSkipped() async throws {
        let clock = Clock()
        do {
            let store = try open(clock)
            #expect(try await store.claim(id, fingerprint: "f1", recovery: recovery) == .fresh)
            try await store.finish(id, outcome: outcome)
        }
        let handle = try #require(FileHandle(forWritingAtPath: directory + "/idempotency.jsonl"))
        handle.seekToEndOfFile()
        handle.write(Data(#"{"agency":"demo","contractor":"C-1001","key":"key:k9","state":"inf"#.utf8))
        try handle.close()
        let reopened = try open(clock)
        #expect(try await reopened.claim(id, fingerprint: "f1", recovery: recovery) == .replay(outcome))
        let k9 = IdempotencyID(agency: "demo", contractor: "C-1001", key: "key:k9")
        #expect(try await reopened.claim(k9, fingerprint: "f1", recovery: recovery) == .fresh)
        let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/idempotency.jsonl")
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    }
}
