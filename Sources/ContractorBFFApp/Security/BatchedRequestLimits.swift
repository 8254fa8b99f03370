import Foundation
import JSON
import PostgreSQL
import Synchronization

/// Every request's per-address and per-session limits across replicas without a database round trip per
/// request: this replica takes from its own view of each shared bucket at once, and every `interval` sends
/// what it took, for all keys in one statement, which answers each bucket's level after every replica's
/// takes. A key spread over the replicas is held to its limit at most one interval's requests late.
/// Lock-outs, and the sign-in limits (few requests, where exactness matters), go to `exact` as before.
/// With the database unreachable, takes are allowed by this replica's view (the limits fail open, as the
/// exact store's do).
final class BatchedRequestLimits: RateLimitStore {
    struct Bucket {
        var tokens: Double
        var updated: Double
        var perMinute: Int
        /// Taken here since the last report.
        var unreported = 0
    }

    let exact: PostgresRateLimitStore
    let interval: Duration
    private let buckets = Mutex([String: Bucket]())
    private let reporter = Mutex<Task<Void, Never>?>(nil)
    static let maxBuckets = 100_000

    init(exact: PostgresRateLimitStore, interval: Duration = .milliseconds(250)) {
        self.exact = exact
        self.interval = interval
    }

    func take(_ key: String, perMinute: Int) async -> Int? {
        let now = Date().timeIntervalSince1970, rate = Double(perMinute) / 60
        let wait: Int? = buckets.withLock { buckets in
            var bucket = buckets[key] ?? Bucket(tokens: Double(perMinute), updated: now, perMinute: perMinute)
            bucket.tokens = min(Double(perMinute), bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            bucket.perMinute = perMinute
            defer { buckets[key] = bucket }
            guard bucket.tokens >= 1 else { return max(1, Int(((1 - bucket.tokens) / rate).rounded(.up))) }
            bucket.tokens -= 1
            bucket.unreported += 1
            return nil
        }
        if wait == nil { reportSoon() }
        return wait
    }

    func lockedFor(_ key: String) async -> Int? { await exact.lockedFor(key) }
    func fail(_ key: String, maxSeconds: Int, threshold: Int) async -> Int { await exact.fail(key, maxSeconds: maxSeconds, threshold: threshold) }
    func succeed(_ key: String) async { await exact.succeed(key) }

    private func reportSoon() {
        reporter.withLock { task in
            guard task == nil else { return }
            task = Task { [weak self, interval] in
                try? await Task.sleep(for: interval)
                await self?.report()
            }
        }
    }

    /// Sends what was taken since the last report and takes each bucket's shared level back; what is
    /// taken meanwhile stays unreported for the next one.
    func report() async {
        let batch: [(key: String, taken: Int, perMinute: Int)] = buckets.withLock { buckets in
            var batch: [(key: String, taken: Int, perMinute: Int)] = []
            for (key, bucket) in buckets where bucket.unreported > 0 {
                batch.append((key, bucket.unreported, bucket.perMinute))
                buckets[key]?.unreported = 0
            }
            // Idle buckets are full again everywhere: forgotten, so memory stays bounded.
            if buckets.count > Self.maxBuckets {
                let now = Date().timeIntervalSince1970
                buckets = buckets.filter { $0.value.unreported > 0 || $0.value.updated > now - 60 }
            }
            return batch
        }
        reporter.withLock { $0 = nil }
        guard !batch.isEmpty else { return }
        let takes = JSONValue.array(batch.map { .object(["key": .string($0.key), "n": .number(String($0.taken)), "p": .number(String($0.perMinute))]) })
        let clock = PostgresRateLimitStore.now
        let levels = try? await exact.pool.execute("""
            WITH t AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS t(key text, n float8, p float8))
            INSERT INTO rate_buckets AS b (key, tokens, updated, allowed)
            SELECT key, p - n, \(clock), true FROM t
            ON CONFLICT (key) DO UPDATE SET
                tokens = (SELECT LEAST(t.p, b.tokens + (EXCLUDED.updated - b.updated) * t.p / 60) - t.n FROM t WHERE t.key = b.key),
                allowed = true,
                updated = EXCLUDED.updated
            RETURNING key, tokens
            """, [String(decoding: takes.serialized(), as: UTF8.self)], deadline: .now + .seconds(2), outlivesCaller: true)
        guard let levels else { return }
        let now = Date().timeIntervalSince1970
        buckets.withLock { buckets in
            for row in levels.rows.indices {
                guard let key = levels[row, "key"], let shared = levels[row, "tokens"].flatMap(Double.init), var bucket = buckets[key] else { continue }
                // The shared level, less what was taken here since the report left.
                bucket.tokens = shared - Double(bucket.unreported)
                bucket.updated = now
                buckets[key] = bucket
            }
        }
    }
}
