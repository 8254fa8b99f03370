import AgentOS
import ContractorPortal
import Foundation
import Glibc
import HTTPServer
import JSON
import Logging
import PostgreSQL
import Synchronization

/// One import loop per agency, started for the configured agencies at once and for any other at its
/// first contractor's page, stopped with the application.
final class MirrorRunner: Sendable {
    let mirror: AgencyMirror
    let agentOS: AgentOSClient
    let persistence: any MirrorPersistence
    let settings: MirrorSync.Settings
    let logger: Logger
    let events: JobEventHub
    /// With several replicas on PostgreSQL: who imports each agency (nil: this process, always).
    let leadership: MirrorLeadership?
    private let running = Mutex<(syncs: [String: (MirrorSync, Task<Void, Never>)], stopped: Bool)>(([:], false))
    /// Each agency's role here when there is a leadership: "leader" imports, "follower" restores.
    private let roles = Mutex([String: String]())

    init(
        mirror: AgencyMirror, agentOS: AgentOSClient, persistence: any MirrorPersistence, settings: MirrorSync.Settings, logger: Logger, events: JobEventHub,
        leadership: MirrorLeadership? = nil
    ) {
        self.mirror = mirror
        self.agentOS = agentOS
        self.persistence = persistence
        self.settings = settings
        self.logger = logger
        self.events = events
        self.leadership = leadership
    }

    /// This replica's role for the agency ("leader", "follower"), or nil without a leadership.
    func role(of agency: String) -> String? { roles.withLock { $0[agency] } }

    /// Leads the agency's import while it holds the lock, else follows the leader's snapshots; gives the
    /// lead up when it loses the lock, and tries for it again at every follow.
    private func leadOrFollow(_ agency: String, _ sync: MirrorSync, _ leadership: MirrorLeadership) async {
        var restoredAt: Int?
        // Looked at first, then when the leader says it saved.
        var saved = true
        while !Task.isCancelled {
            if await leadership.tryLead(agency) {
                roles.withLock { $0[agency] = "leader" }
                logger.log(.info, "mirror_leader", ["agency": .string(agency)])
                let importing = Task { await sync.run() }
                while !Task.isCancelled, await leadership.stillLeads(agency) {
                    try? await Task.sleep(for: leadership.followInterval)
                }
                importing.cancel()
                await importing.value
                await leadership.resign(agency)
                continue
            }
            roles.withLock { $0[agency] = "follower" }
            if saved, let savedAt = await leadership.snapshots.savedAt(agency: agency), savedAt != restoredAt,
               let snapshot = await leadership.snapshots.load(agency: agency), await sync.follow(snapshot) {
                restoredAt = savedAt
            }
            saved = await leadership.waitForSave(agency)
        }
        await leadership.resign(agency)
    }

    /// The agency's import runs (it is started if it was not).
    func ensure(_ agency: String) {
        guard Validate.isAgency(agency) else { return }
        running.withLock { state in
            guard !state.stopped, state.syncs[agency] == nil else { return }
            let events = events
            let sync = MirrorSync(
                agency: agency, agentOS: agentOS, mirror: mirror, persistence: persistence, settings: settings, logger: logger,
                onChanges: { changes in events.imported(changes, agency: agency) })
            // Background work for as long as the process runs: not bound by the deadline of the request
            // whose page asked for the agency first.
            let task: Task<Void, Never> = CallerDeadline.$current.withValue(nil) {
                if let leadership { Task { await self.leadOrFollow(agency, sync, leadership) } } else { Task { await sync.run() } }
            }
            state.syncs[agency] = (sync, task)
        }
    }

    func sync(of agency: String) -> MirrorSync? { running.withLock { $0.syncs[agency]?.0 } }

    /// Each agency's import, as /readyz and `status` show it: branches imported of those listed, whether
    /// the first import is done, the phase, the last pass's calls and seconds, the next pass as planned
    /// from the branches' sizes (and whether it keeps the age target), what is held and how old it is.
    func status() async -> JSONValue {
        var out: [String: JSONValue] = [:]
        for agency in agencies {
            guard let sync = sync(of: agency) else { continue }
            var fields: [String: JSONValue] = [:]
            if let role = role(of: agency) { fields["role"] = .string(role) }
            // Pages served from a copy that cannot hear of the other replicas' changes are marked stale.
            if let leadership { fields["hearsChanges"] = .bool(leadership.hearsChanges) }
            if let progress = await mirror.progress(agency: agency) {
                fields["branches"] = .number(String(progress.branches))
                fields["branchesImported"] = .number(String(progress.imported))
                fields["warm"] = .bool(progress.complete)
            } else {
                fields["warm"] = .bool(false)
            }
            switch await sync.phase {
            case .idle: fields["phase"] = .string("idle")
            case .importing(let done, let total): fields["phase"] = .string("importing \(done)/\(total) branches")
            case .waiting: fields["phase"] = .string("waiting")
            }
            // The pass under way: its share done and the time left at the pace the budget guarantees.
            if let progress = await sync.progress {
                fields["importProgress"] = .object([
                    "percent": .number(String(progress.percent)), "callsDone": .number(String(progress.callsDone)),
                    "callsLeft": .number(String(progress.callsLeft)), "secondsLeft": .number(String(progress.secondsLeft)),
                    "firstImport": .bool(progress.firstImport),
                ])
            } else {
                fields["importProgress"] = .null
            }
            fields["lastCycleCalls"] = .number(String(await sync.lastCycleCalls))
            fields["lastCycleSeconds"] = .number(String(Int(await sync.lastCycleDuration.components.seconds)))
            let plan = await sync.plan
            fields["plannedCallsPerPass"] = .number(String(plan.calls))
            fields["plannedPassSeconds"] = .number(String(plan.seconds))
            fields["meetsAgeTarget"] = .bool(plan.meetsTarget)
            if let summary = await mirror.summary(agency: agency) {
                fields["jobs"] = .number(String(summary.jobs))
                fields["contractors"] = .number(String(summary.contractors))
                // The oldest job's data is as old as the oldest branch import (null until every branch has one).
                fields["oldestImportAgeSeconds"] = summary.oldestImport.map { .number(String(max(0, Int(Date().timeIntervalSince($0))))) } ?? .null
            }
            out[agency] = .object(fields)
        }
        return .object(out)
    }

    var agencies: [String] { running.withLock { $0.syncs.keys.sorted() } }

    func stop() async {
        let tasks = running.withLock { state in
            state.stopped = true
            defer { state.syncs = [:] }
            return state.syncs.values.map(\.1)
        }
        for task in tasks {
            task.cancel()
            await task.value
        }
        leadership?.close()
    }
}

/// The mirror's snapshot per agency, `DATA_DIR/mirror-<agency>.json`, replaced atomically (written to a
/// temporary file, synced, renamed), so a restart never reads half a snapshot.
struct FileMirrorPersistence: MirrorPersistence {
    let directory: String

    func path(_ agency: String) -> String { directory + "/mirror-" + Crypto.hex(Crypto.sha256(Array(agency.utf8))).prefix(16) + ".json" }

    func load(agency: String) async -> JSONValue? {
        let path = path(agency)
        return await offDisk { FileManager.default.contents(atPath: path).flatMap { try? JSONText.parse(Array($0), maxDepth: 64) } }
    }

    func save(agency: String, _ snapshot: JSONValue) async {
        let path = path(agency), bytes = snapshot.serialized()
        await offDisk {
            let temporary = path + ".tmp"
            let fd = Glibc.open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard fd >= 0 else { return }
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            let synced = fsync(fd) == 0
            Glibc.close(fd)
            if written == bytes.count, synced { rename(temporary, path) } else { unlink(temporary) }
        }
    }

    /// Blocking file work on a thread of its own, not the cooperative pool.
    private func offDisk<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: work()) }.start()
        }
    }
}
