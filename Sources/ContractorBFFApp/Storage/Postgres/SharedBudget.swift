import AgentOS
import Foundation
import PostgreSQL

/// One AgentOS budget for every replica of a key. Each replica keeps its own limiter for the policy
/// (priorities, the writes' reserve, tenants' shares, waits, the import's floor), and every slot it
/// grants is then taken from one sliding log in PostgreSQL (`budget_slots`), counted by the database's
/// clock under a per-key advisory lock: the key's calls in any window, summed over the replicas, stay
/// within its limit, and the reserves hold across replicas (a read is let through only while the shared
/// window has room beyond the writes' reserve, spare-only work only beyond its headroom too). A 429 pauses
/// the key for every replica (`budget_pauses`).
///
/// With the database unreachable, a replica falls back to its own share of the key, the limit divided
/// by `AGENTOS_REPLICAS` — never to the whole limit.
public final class SharedBudgetLimiter: UpstreamRateLimiting {
    let local: SlidingWindowLimiter
    /// The shared budget of this configuration's key, when DATABASE_URL names a store: its own few
    /// connections, and the key known to the database by a digest only.
    public static func make(_ configuration: AppConfiguration, agentOS: AgentOSConfiguration) -> (any UpstreamRateLimiting)? {
        guard let database = configuration.database, let apiKey = agentOS.apiKey, !apiKey.isEmpty else { return nil }
        return SharedBudgetLimiter(
            pool: PGPool(conninfo: database.url, size: 4, statementTimeoutMs: database.statementTimeoutMs),
            key: "key-" + String(Crypto.hex(Crypto.sha256(Array(apiKey.utf8))).prefix(32)), limit: agentOS.rateLimit,
            window: agentOS.rateWindow + agentOS.rateMargin, shares: agentOS.budget, replicas: configuration.replicas)
    }

    /// The share a replica keeps to itself while the database cannot be asked.
    let fallback: SlidingWindowLimiter
    let pool: PGPool
    let key: String
    let limit: Int
    let windowMs: Int
    let shares: BudgetShares

    init(pool: PGPool, key: String, limit: Int, window: Duration, shares: BudgetShares, replicas: Int) {
        self.pool = pool
        self.key = key
        self.limit = max(1, limit)
        windowMs = Int(window / .milliseconds(1))
        self.shares = shares
        local = SlidingWindowLimiter(limit: limit, window: window, shares: shares)
        var fallbackShares = shares
        fallbackShares.writeReserve = max(0, shares.writeReserve / max(1, replicas))
        fallback = SlidingWindowLimiter(limit: max(1, limit / max(1, replicas)), window: window, shares: fallbackShares)
    }

    public func acquire(deadline: ContinuousClock.Instant, priority: UpstreamPriority, tenant: String?) async throws(AgentOSError) -> BudgetGrant {
        let grant = try await local.acquire(deadline: deadline, priority: priority, tenant: tenant)
        // The local limiter's rules for the shared window: the same room per priority, the import's floor
        // held against every replica's reads while the leader's import runs, and the same waits.
        let waitUntil = shares.waitLimit(priority, requested: deadline, now: .now)
        while true {
            let answer: Result<Int?, PGError>
            do { answer = .success(try await take(priority, deadline: deadline)) } catch { answer = .failure(error) }
            switch answer {
            case .success(nil):
                return grant
            case .success(let waitMs?):
                let retry = ContinuousClock.now + .milliseconds(max(1, waitMs))
                guard retry <= waitUntil else { throw .rateLimited(retryAfter: .milliseconds(max(1, waitMs))) }
                try? await Task.sleep(until: retry, clock: .continuous)
                guard ContinuousClock.now < deadline else { throw .timeout }
            case .failure:
                // Unreachable: this replica's own share only.
                return try await fallback.acquire(deadline: deadline, priority: priority, tenant: tenant)
            }
        }
    }

    /// The slots of the shared window `priority` may fill, given the import's calls in it (`syncCalls`)
    /// and whether an import asked within the window: the import within its floor may fill what writes
    /// leave; reads leave the floor's unused part to a running import.
    func capacity(_ priority: UpstreamPriority, syncCalls: Int, importRunning: Bool) -> Int {
        let floor = shares.effectiveSyncFloor(limit: limit)
        if priority == .sync { return syncCalls < floor ? max(1, limit - shares.writeReserve) : shares.capacity(.sync, limit: limit) }
        return shares.capacity(priority, limit: limit, keptForSync: importRunning ? max(0, floor - syncCalls) : 0)
    }

    /// nil when a slot was taken; else milliseconds until one may be free.
    private func take(_ priority: UpstreamPriority, deadline: ContinuousClock.Instant) async throws(PGError) -> Int? {
        let (key, windowMs) = (key, windowMs)
        let sync = priority == .sync
        return try await pool.withConnection(deadline: deadline, outlivesCaller: true) { session throws(PGError) -> Int? in
            try session.transaction { db throws(PGError) -> Int? in
                let now = "(extract(epoch from clock_timestamp()) * 1000)::bigint"
                _ = try db.execute("SELECT pg_advisory_xact_lock(hashtext($1))", [key])
                let paused = try db.execute("SELECT until_ms - \(now) AS left FROM budget_pauses WHERE key = $1 AND until_ms > \(now)", [key])
                if let left = paused[0, "left"].flatMap(Int.init) { return max(1, left) }
                _ = try db.execute("DELETE FROM budget_slots WHERE key = $1 AND at_ms <= \(now) - $2", [key, String(windowMs)])
                if sync {
                    _ = try db.execute("""
                        INSERT INTO budget_sync_asks (key, at_ms) VALUES ($1, \(now))
                        ON CONFLICT (key) DO UPDATE SET at_ms = EXCLUDED.at_ms
                        """, [key])
                }
                let window = try db.execute("""
                    SELECT count(*) AS n, count(*) FILTER (WHERE sync) AS sync_n,
                        coalesce((SELECT at_ms > \(now) - $2 FROM budget_sync_asks WHERE key = $1), false) AS running
                    FROM budget_slots WHERE key = $1
                    """, [key, String(windowMs)])
                let count = window[0, "n"].flatMap(Int.init) ?? 0
                let capacity = self.capacity(
                    priority, syncCalls: window[0, "sync_n"].flatMap(Int.init) ?? 0, importRunning: window[0, "running"] == "t")
                if count < capacity {
                    _ = try db.execute("INSERT INTO budget_slots (key, at_ms, sync) VALUES ($1, \(now), $2)", [key, sync ? "true" : "false"])
                    return nil
                }
                // The slot that would leave the window first for this capacity to have room.
                let blocking = try db.execute("""
                    SELECT at_ms + $2 - \(now) AS wait FROM budget_slots WHERE key = $1 ORDER BY at_ms DESC OFFSET ($3::int - 1) LIMIT 1
                    """, [key, String(windowMs), String(capacity)])
                return max(1, blocking[0, "wait"].flatMap(Int.init) ?? 1)
            }
        }
    }

    public func sending(_ grant: BudgetGrant, at instant: ContinuousClock.Instant) async {
        await local.sending(grant, at: instant)
    }

    public func coolDown(for duration: Duration) async {
        await local.coolDown(for: duration)
        await fallback.coolDown(for: duration)
        let milliseconds = Int(duration / .milliseconds(1))
        _ = try? await pool.execute("""
            INSERT INTO budget_pauses (key, until_ms) VALUES ($1, (extract(epoch from clock_timestamp()) * 1000)::bigint + $2)
            ON CONFLICT (key) DO UPDATE SET until_ms = GREATEST(budget_pauses.until_ms, EXCLUDED.until_ms)
            """, [key, String(milliseconds)], deadline: .now + .seconds(2), outlivesCaller: true)
    }
}
