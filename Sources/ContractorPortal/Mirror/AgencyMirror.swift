import AgentOS
import Foundation
import JSON

/// What the mirror can say of one contractor's jobs.
public enum MirrorView: Sendable {
    /// Every branch of the agency imported at least once: the contractor's jobs (the gateway's own
    /// unconfirmed writes applied), the age of the oldest import they come from, and whether a branch's
    /// last import failed (its jobs are served as they were).
    case ready(jobs: [ContractorMaintenanceJob], age: Duration, stale: Bool)
    /// The first import is still running: what is known so far.
    case importing(known: [ContractorMaintenanceJob])
    /// This agency is not mirrored (mirror off, or not started).
    case unavailable
}

/// A change an import found, for the job-event streams.
public struct MirrorChange: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case status(from: String, to: String), assigned, unassigned, removed }
    public let jobId: String
    public let contractor: String
    public let kind: Kind
}

/// Where the mirror keeps its snapshot between runs (the embedded default: a file in DATA_DIR).
public protocol MirrorPersistence: Sendable {
    func load(agency: String) async -> JSONValue?
    func save(agency: String, _ snapshot: JSONValue) async
}

/// The agencies' mirror (the vendor's "storage layer"): branches, contractors of each branch, jobs of
/// each branch, as the last import saw them, plus the gateway's own writes awaiting the import that
/// confirms or corrects them. Contractors' job lists are answered from it without calling AgentOS.
public actor AgencyMirror {
    struct Branch: Sendable {
        var name: String?
        var contractors: [String] = []
        /// When its contractor list was last imported (it comes before its jobs).
        var contractorsAt: Date?
        var jobIDs: [String] = []
        var importedAt: Date?
        var failedAt: Date?
    }

    struct Agency: Sendable {
        var branchOrder: [String] = []
        var branches: [String: Branch] = [:]
        /// Records as AgentOS sent them (what the snapshot keeps), and mapped once at import (what pages use).
        var jobs: [String: JSONValue] = [:]
        var mapped: [String: ContractorMaintenanceJob] = [:]
        /// Contractors' records as the branches' contractor lists sent them (a contractor's account page
        /// is answered from them), by contractor ID.
        var contractors: [String: JSONValue] = [:]
        /// Every branch imported at least once.
        var complete = false
        /// Derived after every change (`reindex`), so a page view costs the contractor's own jobs, not a
        /// walk of the whole agency: each owner's job IDs in branch order (a job listed by two branches
        /// once), the branches each job is listed in, and the branches that concern each contractor.
        var jobsByOwner: [String: [String]] = [:]
        var branchesOfJob: [String: [String]] = [:]
        var branchesOfContractor: [String: Set<String>] = [:]
    }

    /// A write of the gateway's own, shown until an import newer than it confirms or corrects it.
    struct Overlay: Sendable {
        var status: String
        var completed: Bool
        /// What the job's status was before the gateway changed it (for a reopen).
        var previousStatus: String?
        var at: Date
    }

    private var agencies: [String: Agency] = [:]
    private var overlays: [String: [String: Overlay]] = [:]
    /// Status each job had before the gateway completed it, kept after the overlay is confirmed.
    private var previousStatuses: [String: [String: String]] = [:]
    private let now: @Sendable () -> Date
    /// SLA targets: each job's `dueBy` is worked out once, at import.
    private let slaTargets: [String: Duration]

    public init(slaTargets: [String: Duration] = [:], now: @escaping @Sendable () -> Date = Date.init) {
        self.slaTargets = slaTargets
        self.now = now
    }

    // MARK: reading

    public func view(of who: ContractorIdentity) -> MirrorView {
        guard let agency = agencies[who.shortName] else { return .unavailable }
        let overlays = overlays[who.shortName]
        var jobs: [ContractorMaintenanceJob] = []
        for id in agency.jobsByOwner[who.contractorId] ?? [] {
            guard var job = agency.mapped[id] else { continue }
            if let overlay = overlays?[id] {
                job.show(status: overlay.status)
                job.awaitingConfirmation = true
            }
            jobs.append(job)
        }
        var oldest: Date?, stale = false
        for branchID in agency.branchesOfContractor[who.contractorId] ?? [] {
            guard let branch = agency.branches[branchID], let importedAt = branch.importedAt else { continue }
            oldest = min(oldest ?? importedAt, importedAt)
            if let failedAt = branch.failedAt, failedAt > importedAt { stale = true }
        }
        guard agency.complete else { return .importing(known: jobs) }
        return .ready(jobs: jobs, age: .seconds(max(0, now().timeIntervalSince(oldest ?? now()))), stale: stale)
    }

    /// The job as the mirror has it (nil when it does not), for ownership checks against the freshest record.
    public func job(_ jobId: String, agency: String) -> (job: ContractorMaintenanceJob, importedAt: Date)? {
        guard let state = agencies[agency], let job = state.mapped[jobId] else { return nil }
        let importedAt = (state.branchesOfJob[jobId] ?? []).compactMap { state.branches[$0]?.importedAt }.max() ?? .distantPast
        return (job, importedAt)
    }

    /// The contractor's record as the last import of a branch listing them had it, and its age; nil when no
    /// imported branch lists them.
    public func contractor(_ contractorId: String, agency: String) -> (record: JSONValue, age: Duration)? {
        guard let state = agencies[agency], let record = state.contractors[contractorId] else { return nil }
        let importedAt = (state.branchesOfContractor[contractorId] ?? [])
            .compactMap { id in state.branches[id].flatMap { $0.contractors.contains(contractorId) ? $0.contractorsAt : nil } }.max()
        guard let importedAt else { return nil }
        return (record, .seconds(max(0, now().timeIntervalSince(importedAt))))
    }

    /// What the mirror holds of an agency: jobs, contractors, and when its oldest branch import was.
    public func summary(agency: String) -> (jobs: Int, contractors: Int, oldestImport: Date?)? {
        guard let state = agencies[agency] else { return nil }
        let imports = state.branchOrder.compactMap { state.branches[$0]?.importedAt }
        return (state.mapped.count, state.contractors.count, imports.count == state.branchOrder.count ? imports.min() : nil)
    }

    public func previousStatus(of jobId: String, agency: String) -> String? {
        overlays[agency]?[jobId]?.previousStatus ?? previousStatuses[agency]?[jobId]
    }

    /// How far the first import is: branches imported of those listed, and whether it is done.
    public func progress(agency: String) -> (imported: Int, branches: Int, complete: Bool)? {
        guard let state = agencies[agency] else { return nil }
        return (state.branches.values.filter { $0.importedAt != nil }.count, state.branchOrder.count, state.complete)
    }

    // MARK: the gateway's own writes

    /// A completion the gateway made: shown at once, marked as awaiting confirmation.
    public func wrote(jobId: String, agency: String, status: String, completed: Bool, previousStatus: String?) {
        overlays[agency, default: [:]][jobId] = Overlay(status: status, completed: completed, previousStatus: previousStatus, at: now())
        if let previousStatus { previousStatuses[agency, default: [:]][jobId] = previousStatus }
    }

    // MARK: importing

    /// The agency's branches as listed now; branches gone from the list are dropped with their jobs.
    func listed(branches: [(id: String, name: String?)], agency name: String) {
        var agency = agencies[name] ?? Agency()
        let ids = branches.map(\.id)
        for gone in agency.branchOrder where !ids.contains(gone) { agency.branches[gone] = nil }
        agency.branchOrder = ids
        for (id, branchName) in branches { agency.branches[id, default: Branch()].name = branchName }
        agency.complete = !ids.isEmpty && ids.allSatisfy { agency.branches[$0]?.importedAt != nil }
        agencies[name] = agency
        pruneJobs(name)
    }

    func imported(contractors: [(id: String, record: JSONValue)], branch: String, agency name: String) {
        guard agencies[name]?.branches[branch] != nil else { return }
        agencies[name]?.branches[branch]?.contractors = contractors.map(\.id)
        agencies[name]?.branches[branch]?.contractorsAt = now()
        for (id, record) in contractors { agencies[name]?.contractors[id] = record }
        reindex(name)
    }

    /// A branch's whole job list, as imported now. Returns what changed for whom.
    func imported(jobs: [JSONValue], branch branchID: String, agency name: String) -> [MirrorChange] {
        var agency = agencies[name] ?? Agency()
        var branch = agency.branches[branchID] ?? Branch()
        let at = now()
        var changes: [MirrorChange] = []
        var ids: [String] = []
        // Each record mapped once here; what it was is the mirror's mapped job (overlays are applied only
        // when a page is viewed, so it is as the last import saw it).
        var incoming: [String: (raw: JSONValue, job: ContractorMaintenanceJob)] = [:]
        for raw in jobs {
            guard let job = ContractorMaintenanceJob(upstream: raw), !job.jobId.isEmpty else { continue }
            ids.append(job.jobId)
            incoming[job.jobId] = (raw, job)
        }
        for id in ids {
            let new = incoming[id]?.job
            let old = agency.mapped[id]
            if let new, let old {
                if old.owner != new.owner {
                    if let previous = old.owner { changes.append(MirrorChange(jobId: id, contractor: previous, kind: .unassigned)) }
                    if let next = new.owner { changes.append(MirrorChange(jobId: id, contractor: next, kind: .assigned)) }
                } else if old.status != new.status, let owner = new.owner {
                    changes.append(MirrorChange(jobId: id, contractor: owner, kind: .status(from: old.status, to: new.status)))
                }
            } else if let new, branch.importedAt != nil, let owner = new.owner {
                changes.append(MirrorChange(jobId: id, contractor: owner, kind: .assigned))
            }
            agency.jobs[id] = incoming[id]?.raw
            agency.mapped[id] = new.map(prepared)
        }
        let listedNow = Set(ids)
        for gone in branch.jobIDs where !listedNow.contains(gone) {
            if let old = agency.mapped[gone], let owner = old.owner {
                changes.append(MirrorChange(jobId: gone, contractor: owner, kind: .removed))
            }
        }
        branch.jobIDs = ids
        branch.importedAt = at
        agency.branches[branchID] = branch
        agency.complete = !agency.branchOrder.isEmpty && agency.branchOrder.allSatisfy { agency.branches[$0]?.importedAt != nil }
        agencies[name] = agency
        // An import newer than a write of ours confirms it (the same status) or corrects it (another).
        for id in ids {
            if let overlay = overlays[name]?[id], overlay.at <= at { overlays[name]?[id] = nil }
        }
        pruneJobs(name)
        return changes
    }

    /// A job as pages show it: `dueBy` from the SLA targets, written out once.
    private func prepared(_ job: ContractorMaintenanceJob) -> ContractorMaintenanceJob {
        var job = job
        job.dueBy = SLA.dueBy(job, targets: slaTargets)
        return job.precomputed()
    }

    func failed(branch: String, agency name: String) {
        agencies[name]?.branches[branch]?.failedAt = now()
    }

    /// Jobs no branch lists any more are forgotten, and the indexes are derived again.
    private func pruneJobs(_ name: String) {
        guard var agency = agencies[name] else { return }
        let listed = Set(agency.branches.values.flatMap(\.jobIDs))
        agency.jobs = agency.jobs.filter { listed.contains($0.key) }
        agency.mapped = agency.mapped.filter { listed.contains($0.key) }
        let contractorsListed = Set(agency.branches.values.flatMap(\.contractors))
        agency.contractors = agency.contractors.filter { contractorsListed.contains($0.key) }
        agencies[name] = agency
        reindex(name)
    }

    private func reindex(_ name: String) {
        guard var agency = agencies[name] else { return }
        var byOwner: [String: [String]] = [:], ofJob: [String: [String]] = [:], ofContractor: [String: Set<String>] = [:]
        for branchID in agency.branchOrder {
            guard let branch = agency.branches[branchID] else { continue }
            for contractor in branch.contractors { ofContractor[contractor, default: []].insert(branchID) }
            for id in branch.jobIDs {
                let first = ofJob[id] == nil
                ofJob[id, default: []].append(branchID)
                guard let owner = agency.mapped[id]?.owner else { continue }
                ofContractor[owner, default: []].insert(branchID)
                if first { byOwner[owner, default: []].append(id) }
            }
        }
        agency.jobsByOwner = byOwner
        agency.branchesOfJob = ofJob
        agency.branchesOfContractor = ofContractor
        agencies[name] = agency
    }

    // MARK: snapshot

    /// The agency as JSON, for its snapshot: raw records as AgentOS sent them, so a restart maps them anew.
    func snapshot(agency name: String) -> JSONValue? {
        guard let agency = agencies[name] else { return nil }
        let branches: [JSONValue] = agency.branchOrder.compactMap { id in
            guard let branch = agency.branches[id] else { return nil }
            return .object([
                "id": .string(id), "name": branch.name.map(JSONValue.string) ?? .null,
                "contractors": .array(branch.contractors.map(JSONValue.string)), "jobs": .array(branch.jobIDs.map(JSONValue.string)),
                "importedAt": branch.importedAt.map { .number(String(Int($0.timeIntervalSince1970))) } ?? .null,
            ])
        }
        return .object([
            "version": .number("1"), "savedAt": .number(String(Int(now().timeIntervalSince1970))),
            "branches": .array(branches), "records": .object(agency.jobs), "contractors": .object(agency.contractors),
        ])
    }

    /// Restores an agency from its snapshot; returns when it was saved.
    func restore(agency name: String, _ snapshot: JSONValue) -> Date? {
        guard snapshot["version"] == .number("1"), case .number(let saved)? = snapshot["savedAt"], let savedAt = Double(saved),
              let branches = snapshot["branches"]?.arrayValue, case .object(let records)? = snapshot["records"] else { return nil }
        var agency = Agency()
        for item in branches {
            guard case .string(let id)? = item["id"] else { continue }
            var branch = Branch()
            if case .string(let branchName)? = item["name"] { branch.name = branchName }
            branch.contractors = (item["contractors"]?.arrayValue ?? []).compactMap { if case .string(let text) = $0 { text } else { nil } }
            branch.jobIDs = (item["jobs"]?.arrayValue ?? []).compactMap { if case .string(let text) = $0 { text } else { nil } }
            if case .number(let at)? = item["importedAt"], let seconds = Double(at) {
                branch.importedAt = Date(timeIntervalSince1970: seconds)
                branch.contractorsAt = branch.importedAt
            }
            agency.branchOrder.append(id)
            agency.branches[id] = branch
        }
        agency.jobs = records
        if case .object(let contractors)? = snapshot["contractors"] { agency.contractors = contractors }
        agency.mapped = records.compactMapValues { ContractorMaintenanceJob(upstream: $0).map(prepared) }
        agency.complete = !agency.branchOrder.isEmpty && agency.branchOrder.allSatisfy { agency.branches[$0]?.importedAt != nil }
        agencies[name] = agency
        reindex(name)
        return Date(timeIntervalSince1970: savedAt)
    }
}
