import PostgreSQL

/// The shared store's schema, as versioned migrations applied in order and recorded in
/// `schema_migrations`. A migration is never edited once released: a change is a new version.
enum Migrations {
    struct Migration: Sendable {
        let version: Int
        let name: String
        let sql: String
    }

    static let all: [Migration] = [
        Migration(version: 1, name: "idempotency records", sql: """
            CREATE TABLE idempotency (
                agency text NOT NULL,
                contractor text NOT NULL,
                key text NOT NULL,
                fingerprint text NOT NULL,
                state text NOT NULL CHECK (state IN ('inflight', 'done', 'unknown')),
                -- Milliseconds since 1970 by the database's clock, the one clock every replica shares.
                created_at_ms bigint NOT NULL,
                attempted_at_ms bigint NOT NULL,
                settle_until_ms bigint NOT NULL DEFAULT 0,
                -- The replica whose request holds the claim.
                owner text NOT NULL,
                status integer,
                body text,
                recovery text NOT NULL,
                PRIMARY KEY (agency, contractor, key)
            );
            CREATE INDEX idempotency_created ON idempotency (created_at_ms);
            """),
        Migration(version: 2, name: "portal users and refresh tokens", sql: """
            CREATE TABLE portal_users (
                email text PRIMARY KEY,
                password_hash text NOT NULL,
                agency text NOT NULL,
                contractor_id text NOT NULL,
                role text NOT NULL,
                disabled boolean NOT NULL,
                sessions_not_before bigint NOT NULL DEFAULT 0
            );
            -- Only a token's SHA-256 is kept; times in seconds since 1970 by the database's clock.
            CREATE TABLE refresh_tokens (
                hash text PRIMARY KEY,
                family text NOT NULL,
                email text NOT NULL,
                agency text NOT NULL,
                contractor_id text NOT NULL,
                role text NOT NULL,
                signed_in_at bigint NOT NULL,
                expires_at bigint NOT NULL,
                spent_at bigint
            );
            CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
            CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);
            CREATE TABLE refresh_revocations (
                family text PRIMARY KEY,
                until bigint NOT NULL
            );
            """),
        Migration(version: 3, name: "rate limits and lock-outs", sql: """
            -- Token buckets by key (fixed-size digests, never an email or an address as text); seconds since
            -- 1970 by the database's clock.
            CREATE TABLE rate_buckets (
                key text PRIMARY KEY,
                tokens double precision NOT NULL,
                updated double precision NOT NULL,
                allowed boolean NOT NULL
            );
            CREATE INDEX rate_buckets_updated ON rate_buckets (updated);
            CREATE TABLE lockouts (
                key text PRIMARY KEY,
                failures integer NOT NULL,
                until double precision NOT NULL
            );
            """),
        Migration(version: 4, name: "the audit log", sql: """
            -- Append-only: every replica's events in one table, none ever changed or removed.
            CREATE TABLE audit_events (
                id bigserial PRIMARY KEY,
                at timestamptz NOT NULL DEFAULT clock_timestamp(),
                replica text NOT NULL,
                event jsonb NOT NULL
            );
            CREATE INDEX audit_events_at ON audit_events (at);
            CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'audit_events is append-only';
            END $$;
            CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
                FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
            """),
        Migration(version: 5, name: "the shared upstream budget", sql: """
            -- Each AgentOS key's calls in its window (the key by a digest), and a pause after a 429;
            -- milliseconds since 1970 by the database's clock.
            CREATE TABLE budget_slots (
                key text NOT NULL,
                at_ms bigint NOT NULL
            );
            CREATE INDEX budget_slots_key_at ON budget_slots (key, at_ms);
            CREATE TABLE budget_pauses (
                key text PRIMARY KEY,
                until_ms bigint NOT NULL
            );
            """),
        Migration(version: 6, name: "the agencies' mirror", sql: """
            -- Each agency's mirror as its import leader last saved it; the other replicas restore from it.
            CREATE TABLE mirror_snapshots (
                agency text PRIMARY KEY,
                snapshot text NOT NULL,
                saved_at_ms bigint NOT NULL
            );
            """),
        // Unlogged: a cache lost with a crash of the database is only a few reads to make again.
        Migration(version: 7, name: "the shared read cache", sql: """
            CREATE UNLOGGED TABLE read_cache (
                key text PRIMARY KEY,
                agency text NOT NULL,
                value text,
                stored_at timestamptz NOT NULL
            );
            CREATE INDEX read_cache_agency ON read_cache (agency, stored_at);
            CREATE UNLOGGED TABLE read_flights (
                key text PRIMARY KEY,
                started_at timestamptz NOT NULL,
                expires_at timestamptz NOT NULL
            );
            CREATE UNLOGGED TABLE cache_invalidations (
                agency text PRIMARY KEY,
                at timestamptz NOT NULL
            );
            """),
        Migration(version: 8, name: "the import's floor across replicas", sql: """
            -- Which of a key's calls were the mirror's import, and when an import last asked for one: the
            -- floor of the window kept for a running import holds against every replica's reads.
            ALTER TABLE budget_slots ADD COLUMN sync boolean NOT NULL DEFAULT false;
            CREATE TABLE budget_sync_asks (
                key text PRIMARY KEY,
                at_ms bigint NOT NULL
            );
            """),
    ]

    /// Any number fits; this one is "contractor-bff migrations" in ASCII, read as a number.
    static let lockKey = "4381293014127"

    /// Applies the migrations not applied yet, under an advisory lock, so replicas starting together
    /// apply each once. Returns the versions this call applied.
    @discardableResult
    static func apply(_ pool: PGPool, deadline: ContinuousClock.Instant) async throws(PGError) -> [Int] {
        let timeout = pool.statementTimeoutMs
        return try await pool.withConnection(deadline: deadline) { session throws(PGError) in
            // Waiting for another replica's migrations may take longer than a statement may.
            _ = try session.execute("SET statement_timeout = 0")
            _ = try session.execute("SELECT pg_advisory_lock($1)", [lockKey])
            defer {
                _ = try? session.execute("SELECT pg_advisory_unlock($1)", [lockKey])
                _ = try? session.execute("SET statement_timeout = \(timeout)")
            }
            _ = try session.execute("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
                """)
            let applied = Set(try session.execute("SELECT version FROM schema_migrations").rows.compactMap { $0[0].flatMap(Int.init) })
            var now: [Int] = []
            for migration in all where !applied.contains(migration.version) {
                try session.transaction { transaction throws(PGError) in
                    try transaction.executeScript(migration.sql)
                    _ = try transaction.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [String(migration.version), migration.name])
                }
                now.append(migration.version)
            }
            return now
        }
    }
}
