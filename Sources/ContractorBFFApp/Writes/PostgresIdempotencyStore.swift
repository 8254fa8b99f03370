import Foundation
import JSON
import PostgreSQL
import Synchronization

/// Idempotency records in PostgreSQL, shared by every replica: a key claimed through one replica is
/// replayed, refused as in flight, or recovered through any other. Each claim is one transaction that
/// locks the key's row (`FOR UPDATE`), so two replicas never both own a key; times are the database's
/// clock, the one every replica shares.
///
/// The rules are the embedded store's (`FileIdempotencyStore`), with "this process" read as "this
/// replica": a record another replica holds in flight may be a call AgentOS is still working on, or a
/// replica that died; it answers "in flight" until three upstream deadlines after its attempt began,
/// and only then is it taken over as unknown, to be looked for at AgentOS before anything is sent.
final class PostgresIdempotencyStore: IdempotencyStore {
    let pool: PGPool
    let ttl: Int
    let upstreamDeadline: Int
    /// This replica, as `owner` says it.
    let replica: String
    /// Keys whose first request is running in this replica.
    private let running = Mutex(Set<IdempotencyID>())

    static let now = "(extract(epoch from clock_timestamp()) * 1000)::bigint"

    init(pool: PGPool, ttlSeconds: Int, upstreamDeadlineMs: Int, replica: String = UUID().uuidString) {
        self.pool = pool
        ttl = ttlSeconds * 1000
        upstreamDeadline = upstreamDeadlineMs
        self.replica = replica
    }

    /// Every call is bounded by the statement timeout and by this: a write never waits on the store for
    /// longer than its own upstream deadline would allow.
    private var deadline: ContinuousClock.Instant { .now + .milliseconds(upstreamDeadline) }

    func holds(_ id: IdempotencyID) async -> Bool {
        if running.withLock({ $0.contains(id) }) { return true }
        let found = try? await pool.execute(
            "SELECT 1 FROM idempotency WHERE agency = $1 AND contractor = $2 AND key = $3 AND created_at_ms + $4 > \(Self.now)",
            [id.agency, id.contractor, id.key, String(ttl)], deadline: deadline)
        // Unreachable: the claim that follows will say so; here, assume the key may be known.
        return found.map { !$0.isEmpty } ?? true
    }

    func claim(_ id: IdempotencyID, fingerprint: String, recovery: JSONValue) async throws(IdempotencyStoreError) -> Claim {
        let mine = running.withLock { $0.contains(id) }
        let (ttl, replica, upstreamDeadline) = (ttl, replica, upstreamDeadline)
        let recoveryText = String(decoding: recovery.serialized(), as: UTF8.self)
        let claim: Claim
        do {
            claim = try await pool.withConnection(deadline: deadline) { session throws(PGError) in
                try session.transaction { db throws(PGError) -> Claim in
                    let key = [id.agency, id.contractor, id.key]
                    let found = try db.execute("""
                        SELECT fingerprint, state, created_at_ms, attempted_at_ms, settle_until_ms, owner, status, body, recovery,
                               \(Self.now) AS now
                        FROM idempotency WHERE agency = $1 AND contractor = $2 AND key = $3 FOR UPDATE
                        """, key)
                    if !found.isEmpty, let created = found[0, "created_at_ms"].flatMap(Int.init), let now = found[0, "now"].flatMap(Int.init),
                       created + ttl > now {
                        guard found[0, "fingerprint"] == fingerprint else { return .mismatch }
                        let state = IdempotencyRecordState(
                            name: found[0, "state"] ?? "",
                            outcome: found[0, "status"].flatMap(Int.init).map { StoredOutcome(status: $0, body: Array((found[0, "body"] ?? "").utf8)) },
                            settleUntil: found[0, "settle_until_ms"].flatMap(Int.init) ?? 0)
                        let settle: Int
                        switch state {
                        case .done(let outcome):
                            return .replay(outcome)
                        case .inFlight:
                            // Another replica's request (or one that died): it may still be running at AgentOS.
                            let attempted = found[0, "attempted_at_ms"].flatMap(Int.init) ?? created
                            settle = Self.settledAfterCrash(attemptedAt: attempted, upstreamDeadlineMs: upstreamDeadline)
                        case .unknown(let settleUntil):
                            settle = settleUntil
                        }
                        if mine || now < settle { return .inFlight }
                        _ = try db.execute("""
                            UPDATE idempotency SET state = '\(IdempotencyRecordState.inFlight.name)', attempted_at_ms = \(Self.now), owner = $4
                            WHERE agency = $1 AND contractor = $2 AND key = $3
                            """, key + [replica])
                        let stored = (try? JSONText.parse(Array((found[0, "recovery"] ?? "null").utf8))) ?? .null
                        return .unknown(recovery: stored)
                    }
                    // Never seen, or expired: this replica takes it. A concurrent first claim elsewhere makes
                    // this insert wait for that transaction and then conflict: the caller asks again.
                    _ = try db.execute("DELETE FROM idempotency WHERE agency = $1 AND contractor = $2 AND key = $3", key)
                    let inserted = try db.execute("""
                        INSERT INTO idempotency (agency, contractor, key, fingerprint, state, created_at_ms, attempted_at_ms, owner, recovery)
                        VALUES ($1, $2, $3, $4, '\(IdempotencyRecordState.inFlight.name)', \(Self.now), \(Self.now), $5, $6)
                        ON CONFLICT DO NOTHING
                        """, key + [fingerprint, replica, recoveryText])
                    return inserted.affected == 1 ? .fresh : .inFlight
                }
            }
        } catch {
            throw .unavailable(error.description)
        }
        switch claim {
        case .fresh, .unknown: running.withLock { _ = $0.insert(id) }
        default: break
        }
        return claim
    }

    func finish(_ id: IdempotencyID, outcome: StoredOutcome?, callMayStillRun: Bool) async throws(IdempotencyStoreError) {
        running.withLock { _ = $0.remove(id) }
        let settle = outcome == nil && callMayStillRun ? "\(Self.now) + \(upstreamDeadline)" : "0"
        do {
            _ = try await pool.execute("""
                UPDATE idempotency SET state = $5, status = $6, body = $7, settle_until_ms = \(settle)
                WHERE agency = $1 AND contractor = $2 AND key = $3 AND owner = $4
                """, [
                    id.agency, id.contractor, id.key, replica, (outcome.map(IdempotencyRecordState.done) ?? .unknown(settleUntil: 0)).name,
                    outcome.map { String($0.status) },
                    outcome.map { String(decoding: $0.body, as: UTF8.self) },
                ], deadline: deadline, outlivesCaller: true)
        } catch {
            throw .unavailable(error.description)
        }
    }

    func release(_ id: IdempotencyID) async {
        running.withLock { _ = $0.remove(id) }
        _ = try? await pool.execute(
            "DELETE FROM idempotency WHERE agency = $1 AND contractor = $2 AND key = $3 AND owner = $4",
            [id.agency, id.contractor, id.key, replica], deadline: deadline, outlivesCaller: true)
    }
}
