import AgentOS
import Digest
import Foundation
import JSON
import PostgreSQL
import Synchronization

/// The read cache's entries in PostgreSQL, for every replica: a miss here first looks for another
/// replica's entry, then claims the key's load in `read_flights` (one replica at a time, until the claim
/// expires with the upstream deadline), and the others wait for the entry it stores, woken by
/// `NOTIFY read_cache` (and looking again every `recheck` in case a notification is lost). A write's
/// invalidation deletes the entries it covers, stamps the agency in `cache_invalidations` (a load claimed
/// before that stamp does not store what it read) and is told to the other replicas by
/// `NOTIFY cache_invalidate`. While the database cannot be reached, loads go straight to AgentOS and stay
/// with this replica.
final class PostgresReadCache: SharedReadStore {
    let pool: PGPool
    let listener: PGListener
    let replica: String
    /// How long a claimed load may run before another replica may take it over.
    let claimFor: Duration
    let recheck: Duration
    private let waiters = PGWaiters()
    private let handlers = Mutex<[@Sendable ([CacheScope]?) async -> Void]>([])
    /// After a failed call, the store is not asked again until then (a read does not wait on a database
    /// that is down).
    private let unreachableUntil = Mutex<ContinuousClock.Instant?>(nil)
    private let sweeper = Mutex<Task<Void, Never>?>(nil)

    /// The shared cache for this configuration, when DATABASE_URL names a store.
    static func make(_ configuration: AppConfiguration) -> PostgresReadCache? {
        guard let database = configuration.database else { return nil }
        return PostgresReadCache(
            pool: PGPool(conninfo: database.url, size: 4, statementTimeoutMs: database.statementTimeoutMs),
            listener: PGListener(conninfo: database.url), claimFor: configuration.agentOS.deadline + .seconds(1))
    }

    init(pool: PGPool, listener: PGListener, claimFor: Duration, recheck: Duration = .milliseconds(250), replica: String = UUID().uuidString) {
        self.pool = pool
        self.listener = listener
        self.claimFor = claimFor
        self.recheck = recheck
        self.replica = replica
        listener.on("read_cache") { [waiters] digest in waiters.notify(digest) }
        listener.on("cache_invalidate") { [weak self] payload in self?.heard(payload) }
        listener.onResumed { [weak self] in
            self?.waiters.notifyAll()
            self?.tell(nil)
        }
        listener.start()
        sweeper.withLock { $0 = Task { [weak self] in await self?.sweep() } }
    }

    func close() {
        listener.stop()
        sweeper.withLock { $0?.cancel() }
    }

    // MARK: reads

    func read(
        _ key: String, agency: String, ttl: Duration, fresh: Bool, deadline: ContinuousClock.Instant, load: Load
    ) async -> Result<(value: JSONValue?, age: Duration), AgentOSError> {
        let digest = SHA256.hex(of: Array(key.utf8))
        while true {
            guard let step = await next(key, digest, ttl: ttl, fresh: fresh, deadline: deadline) else {
                // The store cannot be asked: this replica's own load, kept to itself.
                return await load().map { ($0, .zero) }
            }
            switch step {
            case .found(let value, let age):
                return .success((value, age))
            case .claimed(let started):
                let result = await load()
                await settle(key, digest, agency: agency, started: started, result)
                return result.map { ($0, .zero) }
            case .busy:
                // Another replica is loading it: wait for its entry, or for its claim to lapse.
                guard ContinuousClock.now < deadline else { return await load().map { ($0, .zero) } }
                _ = await waiters.wait(for: digest, timeout: min(recheck, ContinuousClock.now.duration(to: deadline)))
            }
        }
    }

    enum Step {
        case found(JSONValue?, age: Duration)
        /// This replica loads it; `started` (the database's clock, as text) guards what it stores.
        case claimed(started: String)
        case busy
    }

    /// One look: another replica's fresh entry, else this replica's claim on the load, else busy; nil
    /// when the database cannot be asked.
    private func next(_ key: String, _ digest: String, ttl: Duration, fresh: Bool, deadline: ContinuousClock.Instant) async -> Step? {
        if let until = unreachableUntil.withLock({ $0 }), ContinuousClock.now < until { return nil }
        let ttlMs = String(Int(ttl / .milliseconds(1))), claimMs = String(Int(claimFor / .milliseconds(1)))
        do {
            // One round trip: the entry if fresh, else the claim (taken over when the old one lapsed;
            // taken outright for a fresh read, whose caller wants AgentOS as it is now).
            let rows = try await pool.execute("""
                WITH found AS (
                    SELECT value, (extract(epoch FROM clock_timestamp() - stored_at) * 1000)::bigint AS age_ms FROM read_cache
                    WHERE key = $1 AND NOT $4::boolean AND stored_at > clock_timestamp() - $2::bigint * interval '1 millisecond'
                ), claim AS (
                    INSERT INTO read_flights (key, started_at, expires_at)
                    SELECT $1, clock_timestamp(), clock_timestamp() + $3::bigint * interval '1 millisecond' WHERE NOT EXISTS (SELECT 1 FROM found)
                    ON CONFLICT (key) DO UPDATE SET started_at = EXCLUDED.started_at, expires_at = EXCLUDED.expires_at
                    WHERE $4::boolean OR read_flights.expires_at < clock_timestamp()
                    RETURNING started_at::text AS started
                )
                SELECT 'found' AS kind, value, age_ms, NULL AS started FROM found
                UNION ALL SELECT 'claimed', NULL, NULL, started FROM claim
                """, [key, ttlMs, claimMs, fresh ? "true" : "false"], deadline: min(deadline, .now + .seconds(2)), outlivesCaller: true)
            unreachableUntil.withLock { $0 = nil }
            guard let kind = rows[0, "kind"] else { return .busy }
            if kind == "found" {
                let value = try rows[0, "value"].map { try JSONText.parse(Array($0.utf8)) }
                return .found(value, age: .milliseconds(max(1, rows[0, "age_ms"].flatMap(Int.init) ?? 1)))
            }
            return rows[0, "started"].map { .claimed(started: $0) } ?? .busy
        } catch {
            unreachableUntil.withLock { $0 = .now + .seconds(1) }
            return nil
        }
    }

    /// Stores what the claimed load read (unless a write of the agency came since the claim), ends the
    /// claim either way and wakes the replicas waiting for it.
    private func settle(_ key: String, _ digest: String, agency: String, started: String, _ result: Result<JSONValue?, AgentOSError>) async {
        let stored: String?? = switch result {
        case .success(let value): .some(value.map { String(decoding: $0.serialized(), as: UTF8.self) })
        case .failure: .none
        }
        _ = try? await pool.execute("""
            WITH kept AS (
                INSERT INTO read_cache (key, agency, value, stored_at)
                SELECT $1, $2, $3, clock_timestamp() WHERE $5::boolean
                    AND NOT EXISTS (SELECT 1 FROM cache_invalidations WHERE agency = $2 AND at >= $4::timestamptz)
                ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, stored_at = EXCLUDED.stored_at
                RETURNING key
            ), ended AS (
                DELETE FROM read_flights WHERE key = $1 AND started_at = $4::timestamptz RETURNING key
            )
            SELECT pg_notify('read_cache', $6)
            """, [key, agency, stored ?? nil, started, stored == nil ? "false" : "true", digest], deadline: .now + .seconds(2), outlivesCaller: true)
    }

    // MARK: invalidations

    func invalidate(agency: String, _ scopes: [CacheScope]) async {
        let keys = scopes.compactMap { if case .key(let key) = $0 { key } else { nil } }
        let prefixes = scopes.compactMap { if case .prefix(let prefix) = $0 { prefix } else { nil } }
        let message = JSONValue.object(["replica": .string(replica), "scopes": Self.encode(scopes)])
        func array(_ items: [String]) -> String { String(decoding: JSONValue.array(items.map { .string($0) }).serialized(), as: UTF8.self) }
        _ = try? await pool.execute("""
            WITH gone AS (
                DELETE FROM read_cache WHERE agency = $1 AND (key IN (SELECT jsonb_array_elements_text($2::jsonb))
                    OR EXISTS (SELECT 1 FROM jsonb_array_elements_text($3::jsonb) AS p(prefix) WHERE starts_with(key, p.prefix)))
                RETURNING key
            ), stamped AS (
                INSERT INTO cache_invalidations (agency, at) VALUES ($1, clock_timestamp())
                ON CONFLICT (agency) DO UPDATE SET at = EXCLUDED.at RETURNING agency
            )
            SELECT pg_notify('cache_invalidate', $4)
            """, [agency, array(keys), array(prefixes), String(decoding: message.serialized(), as: UTF8.self)], deadline: .now + .seconds(2), outlivesCaller: true)
    }

    func onInvalidation(_ handler: @escaping @Sendable ([CacheScope]?) async -> Void) {
        handlers.withLock { $0.append(handler) }
    }

    private func heard(_ payload: String) {
        guard let message = try? JSONText.parse(Array(payload.utf8)), message["replica"]?.stringValue != replica,
              let scopes = message["scopes"]?.arrayValue.map({ $0.compactMap(Self.decode) }) else { return }
        tell(scopes)
    }

    private func tell(_ scopes: [CacheScope]?) {
        let handlers = handlers.withLock { $0 }
        Task { for handler in handlers { await handler(scopes) } }
    }

    static func encode(_ scopes: [CacheScope]) -> JSONValue {
        .array(scopes.map {
            switch $0 {
            case .key(let key): .object(["key": .string(key)])
            case .prefix(let prefix): .object(["prefix": .string(prefix)])
            }
        })
    }

    static func decode(_ value: JSONValue) -> CacheScope? {
        if let key = value["key"]?.stringValue { return .key(key) }
        if let prefix = value["prefix"]?.stringValue { return .prefix(prefix) }
        return nil
    }

    /// Entries older than any TTL and lapsed claims go, once a minute, so the tables stay the size of
    /// what is read.
    private func sweep() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(60))
            _ = try? await pool.execute("""
                WITH old AS (DELETE FROM read_cache WHERE stored_at < clock_timestamp() - interval '1 day' RETURNING key)
                DELETE FROM read_flights WHERE expires_at < clock_timestamp()
                """, deadline: .now + .seconds(5), outlivesCaller: true)
        }
    }
}
