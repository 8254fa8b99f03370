import Foundation
import PostgreSQL
import Synchronization

/// Portal users in PostgreSQL: one account, whichever replica it signs in through.
final class PostgresUserStore: UserStore {
    let pool: PGPool

    init(pool: PGPool) { self.pool = pool }

    private var deadline: ContinuousClock.Instant { .now + .seconds(5) }
    static let columns = "email, password_hash, agency, contractor_id, role, disabled, sessions_not_before"

    func user(email: String) async throws(UserStoreError) -> PortalUser? {
        do {
            let found = try await pool.execute(
                "SELECT \(Self.columns) FROM portal_users WHERE email = $1", [PortalUser.normalize(email)], deadline: deadline)
            return Self.users(found).first
        } catch {
            throw .unavailable(error.description)
        }
    }

    func all() async -> [PortalUser] {
        (try? await pool.execute("SELECT \(Self.columns) FROM portal_users ORDER BY email", deadline: deadline)).map(Self.users) ?? []
    }

    func save(_ user: PortalUser) async throws(UserStoreError) {
        do {
            _ = try await pool.execute("""
                INSERT INTO portal_users (\(Self.columns)) VALUES ($1, $2, $3, $4, $5, $6, $7)
                ON CONFLICT (email) DO UPDATE SET password_hash = EXCLUDED.password_hash, agency = EXCLUDED.agency,
                    contractor_id = EXCLUDED.contractor_id, role = EXCLUDED.role, disabled = EXCLUDED.disabled,
                    sessions_not_before = EXCLUDED.sessions_not_before
                """, [
                    PortalUser.normalize(user.email), user.passwordHash, user.agency, user.contractorId, user.role, user.disabled ? "true" : "false",
                    String(user.sessionsNotBefore),
                ], deadline: deadline)
        } catch {
            throw .unavailable(error.description)
        }
    }

    static func users(_ rows: PGRows) -> [PortalUser] {
        rows.rows.indices.compactMap { row in
            guard let email = rows[row, "email"], let hash = rows[row, "password_hash"], let agency = rows[row, "agency"],
                  let contractor = rows[row, "contractor_id"], let role = rows[row, "role"] else { return nil }
            var user = PortalUser(email: email, passwordHash: hash, agency: agency, contractorId: contractor, role: role, disabled: rows[row, "disabled"] == "t")
            user.sessionsNotBefore = rows[row, "sessions_not_before"].flatMap(Int.init) ?? 0
            return user
        }
    }
}

/// Refresh tokens in PostgreSQL: rotated on use and a reuse revoking the family, whichever replica sees
/// the token. A redemption is one transaction locking the token's row, so two replicas redeeming the
/// same token at once see it spent once. A revocation is told to every replica by
/// `NOTIFY session_revoked`: while this replica listens, a family's answer once read stands until told
/// otherwise (re-read every `heardFor` at most), so a signed-in page view costs no round trip; while it
/// cannot listen, answers stand a second, and a revocation through another replica takes effect here
/// within it.
final class PostgresRefreshTokenStore: RefreshTokenStore {
    let pool: PGPool
    let lifetime: Int
    let grace: Int
    let listener: PGListener?
    /// Each family's answer and until when it may be reused (uptime nanoseconds).
    private let revocations = Mutex([String: (revoked: Bool, until: UInt64)]())
    static let now = "extract(epoch from clock_timestamp())::bigint"
    static let heardFor: UInt64 = 300_000_000_000

    init(pool: PGPool, lifetimeSeconds: Int, reuseGraceSeconds: Int, listener: PGListener? = nil) {
        self.pool = pool
        lifetime = lifetimeSeconds
        grace = reuseGraceSeconds
        self.listener = listener
        listener?.on("session_revoked") { [weak self] family in self?.remember(family, revoked: true) }
        // What was missed while not listening is unknown: every answer is read again.
        listener?.onResumed { [weak self] in self?.revocations.withLock { $0 = $0.filter(\.value.revoked) } }
        listener?.start()
    }

    private var deadline: ContinuousClock.Instant { .now + .seconds(5) }

    func issue(_ grant: RefreshGrant) async throws(RefreshStoreError) -> (token: String, expiresAt: Int) {
        let token = Base64URL.encode(Crypto.randomBytes(32))
        do {
            let rows = try await pool.execute("""
                INSERT INTO refresh_tokens (hash, family, email, agency, contractor_id, role, signed_in_at, expires_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, \(Self.now) + $8) RETURNING expires_at
                """, [
                    FileRefreshTokenStore.hash(token), grant.family, grant.email, grant.agency, grant.contractorId, grant.role, String(grant.signedInAt),
                    String(lifetime),
                ], deadline: deadline)
            return (token, rows[0, "expires_at"].flatMap(Int.init) ?? 0)
        } catch {
            throw .unavailable(error.description)
        }
    }

    func redeem(_ token: String) async throws(RefreshStoreError) -> Redemption {
        let hash = FileRefreshTokenStore.hash(token)
        let (grace, lifetime) = (grace, lifetime)
        do {
            let redemption = try await pool.withConnection(deadline: deadline) { session throws(PGError) -> Redemption in
                try session.transaction { db throws(PGError) -> Redemption in
                    let found = try db.execute("""
                        SELECT family, email, agency, contractor_id, role, signed_in_at, expires_at, spent_at, \(Self.now) AS now,
                            (SELECT until FROM refresh_revocations r WHERE r.family = t.family) AS revoked_until,
                            (SELECT hash FROM refresh_tokens s WHERE s.family = t.family AND s.spent_at IS NOT NULL
                             ORDER BY s.spent_at DESC, s.hash LIMIT 1) AS last_spent
                        FROM refresh_tokens t WHERE hash = $1 FOR UPDATE
                        """, [hash])
                    guard !found.isEmpty, let family = found[0, "family"], let now = found[0, "now"].flatMap(Int.init),
                          let expires = found[0, "expires_at"].flatMap(Int.init), expires > now,
                          (found[0, "revoked_until"].flatMap(Int.init) ?? 0) <= now else { return .invalid }
                    if let spentAt = found[0, "spent_at"].flatMap(Int.init) {
                        if isSecondTab(grace: grace, isLatestSpent: found[0, "last_spent"] == hash, spentAt: spentAt, now: now) { return .justSpent(family: family) }
                        try Self.revoke(family, lifetime: lifetime, db)
                        return .reused(family: family)
                    }
                    _ = try db.execute("UPDATE refresh_tokens SET spent_at = \(Self.now) WHERE hash = $1", [hash])
                    return .valid(RefreshGrant(
                        email: found[0, "email"] ?? "", agency: found[0, "agency"] ?? "", contractorId: found[0, "contractor_id"] ?? "",
                        role: found[0, "role"] ?? "", family: family, signedInAt: found[0, "signed_in_at"].flatMap(Int.init) ?? 0))
                }
            }
            if case .reused(let family) = redemption { remember(family, revoked: true) }
            return redemption
        } catch {
            throw .unavailable(error.description)
        }
    }

    func revoke(family: String) async {
        remember(family, revoked: true)
        let lifetime = lifetime
        _ = try? await pool.withConnection(deadline: deadline) { session throws(PGError) in try Self.revoke(family, lifetime: lifetime, session) }
    }

    func isRevoked(family: String) async -> Bool {
        let now = DispatchTime.now().uptimeNanoseconds
        if let known = revocations.withLock({ $0[family] }), known.until > now { return known.revoked }
        let found = try? await pool.execute(
            "SELECT 1 FROM refresh_revocations WHERE family = $1 AND until > \(Self.now)", [family], deadline: deadline)
        // Unreachable: the session stands on its signature until the database answers again.
        guard let found else { return false }
        remember(family, revoked: !found.isEmpty)
        return !found.isEmpty
    }

    private func remember(_ family: String, revoked: Bool) {
        let standing: UInt64 = revoked ? UInt64(lifetime) * 1_000_000_000 : listener?.isConnected == true ? Self.heardFor : 1_000_000_000
        let until = DispatchTime.now().uptimeNanoseconds + standing
        revocations.withLock { known in
            if known.count > 100_000 { known.removeAll() }
            known[family] = (revoked, until)
        }
    }

    static func revoke(_ family: String, lifetime: Int, _ db: PGSession) throws(PGError) {
        _ = try db.execute("""
            INSERT INTO refresh_revocations (family, until) VALUES ($1, \(now) + $2)
            ON CONFLICT (family) DO UPDATE SET until = EXCLUDED.until
            """, [family, String(lifetime)])
        _ = try db.execute("UPDATE refresh_tokens SET expires_at = 0 WHERE family = $1", [family])
        // Told at commit, to every replica listening.
        _ = try db.execute("SELECT pg_notify('session_revoked', $1)", [family])
    }
}
