import Foundation
import PostgreSQL
import Synchronization

/// Rate limits and lock-outs in PostgreSQL, one count across every replica: an attacker spreading
/// sign-in attempts over the replicas gets the allowance once, not once per replica. Each take is one
/// statement that refills and takes from the key's bucket atomically; a lock-out is one upsert.
///
/// Every request's per-address and per-session limits reach the same buckets through
/// `BatchedRequestLimits`, a report per interval rather than a round trip per request. With the database
/// unreachable, requests and sign-in attempts are allowed by their limits
/// (the limits fail open; the lock-outs cannot be read and do not hold): writes and sign-in refuse by
/// themselves then, since their own stores cannot answer.
final class PostgresRateLimitStore: RateLimitStore {
    let pool: PGPool
    private let takes = Mutex(0)
    static let now = "extract(epoch from clock_timestamp())"

    init(pool: PGPool) { self.pool = pool }

    private var deadline: ContinuousClock.Instant { .now + .seconds(2) }

    func take(_ key: String, perMinute: Int) async -> Int? {
        let rate = "(\(perMinute)::float8 / 60)"
        let refilled = "LEAST(\(perMinute)::float8, b.tokens + (EXCLUDED.updated - b.updated) * \(rate))"
        let found = try? await pool.execute("""
            INSERT INTO rate_buckets AS b (key, tokens, updated, allowed) VALUES ($1, \(perMinute)::float8 - 1, \(Self.now), true)
            ON CONFLICT (key) DO UPDATE SET
                tokens = CASE WHEN \(refilled) >= 1 THEN \(refilled) - 1 ELSE \(refilled) END,
                allowed = \(refilled) >= 1,
                updated = EXCLUDED.updated
            RETURNING allowed, tokens
            """, [key], deadline: deadline)
        sweepSometimes()
        guard let found, found[0, "allowed"] == "f", let tokens = found[0, "tokens"].flatMap(Double.init) else { return nil }
        return max(1, Int(((1 - tokens) / (Double(perMinute) / 60)).rounded(.up)))
    }

    func lockedFor(_ key: String) async -> Int? {
        let found = try? await pool.execute("SELECT until - \(Self.now) AS left FROM lockouts WHERE key = $1", [key], deadline: deadline)
        guard let left = found?[0, "left"].flatMap(Double.init), left > 0 else { return nil }
        return max(1, Int(left.rounded(.up)))
    }

    func fail(_ key: String, maxSeconds: Int, threshold: Int) async -> Int {
        // 0 below the threshold, then 1 s, 2, 4, … up to maxSeconds, as the embedded store counts.
        let seconds = "(CASE WHEN l.failures + 1 - \(max(1, threshold)) < 0 THEN 0 ELSE LEAST(\(maxSeconds), power(2, LEAST(l.failures + 1 - \(max(1, threshold)), 30))) END)"
        let first = max(1, threshold) > 1 ? "0" : "LEAST(\(maxSeconds), 1)"
        let found = try? await pool.execute("""
            INSERT INTO lockouts AS l (key, failures, until) VALUES ($1, 1, \(Self.now) + \(first))
            ON CONFLICT (key) DO UPDATE SET failures = l.failures + 1, until = GREATEST(l.until, \(Self.now) + \(seconds))
            RETURNING failures
            """, [key], deadline: deadline)
        guard let failures = found?[0, "failures"].flatMap(Int.init) else { return 0 }
        let over = failures - max(1, threshold)
        return over < 0 ? 0 : min(maxSeconds, 1 << min(over, 30))
    }

    func succeed(_ key: String) async {
        _ = try? await pool.execute("DELETE FROM lockouts WHERE key = $1", [key], deadline: deadline)
    }

    /// Buckets idle for an hour are full again: forgotten, one sweep every thousand takes.
    private func sweepSometimes() {
        let due = takes.withLock { count in
            count += 1
            return count % 1000 == 0
        }
        guard due else { return }
        let pool = pool, deadline = deadline
        Task { _ = try? await pool.execute("DELETE FROM rate_buckets WHERE updated < \(Self.now) - 3600", deadline: deadline) }
    }
}
