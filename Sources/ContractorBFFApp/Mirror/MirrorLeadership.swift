import ContractorPortal
import Foundation
import JSON
import PostgreSQL
import Synchronization

/// With several replicas on PostgreSQL, one import per agency: the replica holding the agency's advisory
/// lock imports it and saves its snapshot to `mirror_snapshots`, saying so with `NOTIFY mirror_snapshot`;
/// the others restore from that snapshot when told (never per page view; every `followInterval` only
/// while their listening connection is down) and try for the lock every `followInterval`, so when the
/// leader dies (its connection, and with it the lock, ends) another takes over within that bound.
final class MirrorLeadership: Sendable {
    let conninfo: String
    let statementTimeoutMs: Int
    let followInterval: Duration
    /// Where the leader saves and the followers read each agency's mirror.
    let snapshots: PostgresMirrorPersistence
    /// Each agency's lock holder: a connection of its own, since the lock lives as long as it does.
    private let holders = Mutex([String: PGPool]())
    /// Hears the leaders' saves.
    private let listener: PGListener
    private let saves = PGWaiters()

    init(conninfo: String, statementTimeoutMs: Int, snapshots: PostgresMirrorPersistence, followInterval: Duration = .seconds(2)) {
        self.conninfo = conninfo
        self.statementTimeoutMs = statementTimeoutMs
        self.snapshots = snapshots
        self.followInterval = followInterval
        listener = PGListener(conninfo: conninfo)
        listener.on("mirror_snapshot") { [saves] agency in saves.notify(agency) }
        // Saves told while the connection was down are lost: every follower looks once.
        listener.onResumed { [saves] in saves.notifyAll() }
        listener.start()
    }

    /// Until the agency's snapshot was saved anew (true) or `followInterval` passed (false). Without the
    /// listening connection it answers true every interval: the follower then looks for itself.
    func waitForSave(_ agency: String) async -> Bool {
        let told = await saves.wait(for: agency, timeout: followInterval)
        return told || !listener.isConnected
    }

    /// Whether this replica hears of the leaders' saves now; without it (the database unreachable) its copy
    /// may be behind what the others have.
    var hearsChanges: Bool { listener.isConnected }

    func close() { listener.stop() }

    private static func lockSQL(_ function: String) -> String { "SELECT \(function)(hashtext('mirror:' || $1)) AS held" }

    /// Takes the agency's lock if nobody holds it.
    func tryLead(_ agency: String) async -> Bool {
        let pool = holders.withLock { holders in
            if let pool = holders[agency] { return pool }
            let pool = PGPool(conninfo: conninfo, size: 1, statementTimeoutMs: statementTimeoutMs)
            holders[agency] = pool
            return pool
        }
        let taken = try? await pool.execute(Self.lockSQL("pg_try_advisory_lock"), [agency], deadline: .now + .seconds(5))
        return taken?[0, "held"] == "t"
    }

    /// Whether this replica still holds the lock: on the same session (a reconnected one holds nothing).
    /// The holder's connection holds this one lock and nothing else, so any advisory lock of its session is it.
    func stillLeads(_ agency: String) async -> Bool {
        guard let pool = holders.withLock({ $0[agency] }) else { return false }
        let held = try? await pool.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted) AS held",
            deadline: .now + .seconds(5))
        return held?[0, "held"] == "t"
    }

    func resign(_ agency: String) async {
        guard let pool = holders.withLock({ $0.removeValue(forKey: agency) }) else { return }
        _ = try? await pool.execute(Self.lockSQL("pg_advisory_unlock"), [agency], deadline: .now + .seconds(2))
    }
}

/// The mirror's snapshots in PostgreSQL: saved by each agency's import leader, read by every replica.
struct PostgresMirrorPersistence: MirrorPersistence {
    let pool: PGPool

    func load(agency: String) async -> JSONValue? {
        guard let found = try? await pool.execute("SELECT snapshot FROM mirror_snapshots WHERE agency = $1", [agency], deadline: .now + .seconds(10)),
              let text = found[0, "snapshot"] else { return nil }
        return try? JSONText.parse(Array(text.utf8))
    }

    func save(agency: String, _ snapshot: JSONValue) async {
        _ = try? await pool.execute("""
            WITH saved AS (
                INSERT INTO mirror_snapshots (agency, snapshot, saved_at_ms) VALUES ($1, $2, (extract(epoch from clock_timestamp()) * 1000)::bigint)
                ON CONFLICT (agency) DO UPDATE SET snapshot = EXCLUDED.snapshot, saved_at_ms = EXCLUDED.saved_at_ms
                RETURNING agency
            )
            SELECT pg_notify('mirror_snapshot', agency) FROM saved
            """, [agency, String(decoding: snapshot.serialized(), as: UTF8.self)], deadline: .now + .seconds(10))
    }

    /// When the agency's snapshot was last saved (nil: never, or unreachable).
    func savedAt(agency: String) async -> Int? {
        let found = try? await pool.execute("SELECT saved_at_ms FROM mirror_snapshots WHERE agency = $1", [agency], deadline: .now + .seconds(5))
        return found?[0, "saved_at_ms"].flatMap(Int.init)
    }
}
