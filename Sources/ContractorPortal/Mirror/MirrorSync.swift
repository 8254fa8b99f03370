import AgentOS
import Foundation
import JSON
import Logging

/// One agency's import loop: branches, then each branch's contractors and jobs, page by page (the
/// documented V4 lists, up to 1000 a call), spread evenly over the minute at the sync's share of the key's
/// budget so it never bursts into a 429, and repeated so that every job's age stays within the target.
/// When the target cannot be met with that share (too many pages), it says so and every branch ages
/// alike; writes and contractors' own reads keep their slots (`UpstreamPriority.sync` takes only spare
/// ones, never waits, and yields while contractors' reads are short).
public actor MirrorSync {
    public struct Settings: Sendable {
        /// Calls the sync may make per rolling window (its share of the key's budget).
        public var callsPerWindow = 30
        /// Calls per window it is sure of however busy contractors' reads are (the budget's floor for it).
        public var guaranteedPerWindow = 20
        public var window: Duration = .seconds(60)
        /// Every job's data should be at most this old.
        public var ageTarget: Duration = .seconds(120)
        /// Records per list call (AgentOS documents at most 1000).
        public var pageSize = 1000
        public init() {}
    }

    public enum Phase: Sendable, Equatable {
        case idle
        case importing(branchesDone: Int, branches: Int)
        case waiting(until: Date)
    }

    let agency: String
    let agentOS: AgentOSClient
    let mirror: AgencyMirror
    let persistence: (any MirrorPersistence)?
    let settings: Settings
    let logger: Logger
    let onChanges: @Sendable ([MirrorChange]) -> Void
    public private(set) var phase = Phase.idle
    public private(set) var lastCycleCalls = 0
    public private(set) var lastCycleDuration: Duration = .zero
    /// Calls each branch's last import took (its contractors' pages and its jobs' pages, from their sizes).
    private var pagesByBranch: [String: Int] = [:]
    private var calls = 0
    private var lastCall: ContinuousClock.Instant?
    /// Where the pass is, for its progress: the branches listed, the stage (contractors, then jobs) and
    /// the branch it is at, and the pages the current list still has by its `Count`.
    private var passBranches: [String] = []
    private var stage = Stage.branches
    private var pagesLeftInList = 0
    private var firstPassDone = false
    private var lastReportedTenth = -1

    enum Stage { case branches, contractors(Int), jobs(Int) }

    /// A pass in progress: calls made, calls still to make (the lists' sizes where known; a branch not yet
    /// reached counts what it took last pass, else the average of this pass's, else one page), the share
    /// done, and the time left at the pace the sync is sure of.
    public struct Progress: Sendable, Equatable {
        public var callsDone: Int
        public var callsLeft: Int
        public var percent: Int
        public var secondsLeft: Int
        public var firstImport: Bool
    }

    public init(
        agency: String, agentOS: AgentOSClient, mirror: AgencyMirror, persistence: (any MirrorPersistence)?, settings: Settings, logger: Logger,
        onChanges: @escaping @Sendable ([MirrorChange]) -> Void = { _ in }
    ) {
        self.agency = agency
        self.agentOS = agentOS
        self.mirror = mirror
        self.persistence = persistence
        self.settings = settings
        self.logger = logger
        self.onChanges = onChanges
    }

    /// A replica that does not import the agency (another one leads it) serves what the leader saved:
    /// true when the snapshot was taken in.
    public func follow(_ snapshot: JSONValue) async -> Bool {
        await mirror.restore(agency: agency, snapshot) != nil
    }

    /// Imports until cancelled. A fresh snapshot (younger than half the target) saves the first import.
    public func run() async {
        if let snapshot = await persistence?.load(agency: agency), let savedAt = await mirror.restore(agency: agency, snapshot) {
            let age = Date().timeIntervalSince(savedAt)
            logger.log(.info, "mirror_restored", ["agency": .string(agency), "ageSeconds": .int(Int(age))])
            let due = Double(settings.ageTarget.components.seconds) / 2 - age
            if due > 0 {
                phase = .waiting(until: Date().addingTimeInterval(due))
                guard (try? await Task.sleep(for: .seconds(due))) != nil else { return }
            }
        }
        while !Task.isCancelled {
            let started = ContinuousClock.now
            calls = 0
            await cycle()
            if Task.isCancelled { return }
            lastCycleCalls = calls
            lastCycleDuration = started.duration(to: .now)
            if !firstPassDone {
                firstPassDone = true
                logger.log(.info, "mirror_first_import_done", [
                    "agency": .string(agency), "calls": .int(calls), "seconds": .int(Int(lastCycleDuration.components.seconds)),
                ])
            }
            if let snapshot = await mirror.snapshot(agency: agency) { await persistence?.save(agency: agency, snapshot) }
            if lastCycleDuration > settings.ageTarget {
                logger.log(.warning, "mirror_target_missed", [
                    "agency": .string(agency), "calls": .int(calls), "cycleSeconds": .int(Int(lastCycleDuration.components.seconds)),
                    "targetSeconds": .int(Int(settings.ageTarget.components.seconds)),
                ])
            }
            // Twice per target: every job is re-imported well before it is older than the target.
            let next = started + settings.ageTarget / 2
            phase = .waiting(until: Date().addingTimeInterval(Double(ContinuousClock.now.duration(to: next).components.seconds)))
            if next > .now { guard (try? await Task.sleep(until: next, clock: .continuous)) != nil else { return } }
        }
    }

    /// The next pass as the branches' sizes plan it: its calls (the branch list, then every branch's
    /// contractors' and jobs' pages) and how long they take at the pace the sync is sure of (its floor:
    /// busy reads can hold it to that); whether that keeps every job within the age target. A pass that
    /// cannot is still run whole (every branch ages alike), and says so.
    public var plan: (calls: Int, seconds: Int, meetsTarget: Bool) {
        let planned = 1 + pagesByBranch.values.reduce(0, +)
        let seconds = secondsAtGuaranteedPace(planned)
        return (planned, seconds, seconds <= Int(settings.ageTarget.components.seconds))
    }

    /// How long `calls` take at the pace the sync is sure of (its floor, else its share).
    func secondsAtGuaranteedPace(_ calls: Int) -> Int {
        let pace = settings.guaranteedPerWindow > 0 ? min(settings.guaranteedPerWindow, settings.callsPerWindow) : settings.callsPerWindow
        return Int((settings.window / max(1, pace) * calls).components.seconds)
    }

    public var progress: Progress? {
        guard case .importing = phase else { return nil }
        let known = pagesByBranch.values
        func estimate(_ branch: String, jobsOnly: Bool) -> Int {
            if let last = pagesByBranch[branch] { return jobsOnly ? max(1, last - 1) : last }
            return known.isEmpty ? (jobsOnly ? 1 : 2) : max(1, known.reduce(0, +) / known.count - (jobsOnly ? 1 : 0))
        }
        var left = pagesLeftInList
        switch stage {
        case .branches:
            left += 1
        case .contractors(let index):
            left += max(0, passBranches.count - index - 1) + passBranches.reduce(0) { $0 + estimate($1, jobsOnly: true) }
        case .jobs(let index):
            left += passBranches.dropFirst(index + 1).reduce(0) { $0 + estimate($1, jobsOnly: true) }
        }
        let seconds = secondsAtGuaranteedPace(left)
        let percent = calls + left == 0 ? 100 : min(99, calls * 100 / (calls + left))
        return Progress(callsDone: calls, callsLeft: left, percent: percent, secondsLeft: seconds, firstImport: !firstPassDone)
    }

    /// The first import logs its progress at every tenth, so a large agency's start can be followed.
    private func reportProgress() {
        guard !firstPassDone, let progress, progress.percent / 10 > lastReportedTenth else { return }
        lastReportedTenth = progress.percent / 10
        logger.log(.info, "mirror_import_progress", [
            "agency": .string(agency), "percent": .int(progress.percent), "callsDone": .int(progress.callsDone),
            "callsLeft": .int(progress.callsLeft), "secondsLeft": .int(progress.secondsLeft),
        ])
    }

    /// One pass over the agency.
    func cycle() async {
        stage = .branches
        pagesLeftInList = 0
        passBranches = []
        phase = .importing(branchesDone: 0, branches: max(1, pagesByBranch.count))
        let planned = plan
        if !pagesByBranch.isEmpty, !planned.meetsTarget {
            logger.log(.warning, "mirror_plan_exceeds_target", [
                "agency": .string(agency), "calls": .int(planned.calls), "passSeconds": .int(planned.seconds),
                "targetSeconds": .int(Int(settings.ageTarget.components.seconds)),
            ])
        }
        guard let branches = await all({ offset, count in .branches(shortName: agency, offset: offset, count: count) }) else { return }
        let listed: [(id: String, name: String?)] = branches.compactMap { record in
            guard let id = Self.text(record["BranchID"] ?? record["OID"] ?? record["ID"]) else { return nil }
            return (id, Self.text(record["Name"] ?? record["BranchName"]))
        }
        await mirror.listed(branches: listed, agency: agency)
        passBranches = listed.map(\.id)
        // Every branch's contractors first: a few calls, and every contractor's account page is answered
        // from them while the (larger) job lists are still coming.
        var contractorPages: [String: Int] = [:]
        for (index, branch) in listed.enumerated() {
            if Task.isCancelled { return }
            stage = .contractors(index)
            let callsBefore = calls
            if let contractors = await all({ offset, count in .branchContractors(shortName: agency, branchId: branch.id, offset: offset, count: count) }) {
                let records = contractors.compactMap { record in
                    Self.text(record["ContractorID"] ?? record["OID"] ?? record["ID"]).map { (id: $0, record: record) }
                }
                await mirror.imported(contractors: records, branch: branch.id, agency: agency)
            }
            contractorPages[branch.id] = calls - callsBefore
        }
        for (index, branch) in listed.enumerated() {
            if Task.isCancelled { return }
            phase = .importing(branchesDone: index, branches: listed.count)
            stage = .jobs(index)
            let callsBefore = calls
            defer { pagesByBranch[branch.id] = calls - callsBefore + (contractorPages[branch.id] ?? 0) }
            guard let jobs = await all({ offset, count in .branchJobs(shortName: agency, branchId: branch.id, offset: offset, count: count) }) else {
                await mirror.failed(branch: branch.id, agency: agency)
                continue
            }
            let changes = await mirror.imported(jobs: jobs, branch: branch.id, agency: agency)
            if !changes.isEmpty { onChanges(changes) }
        }
        phase = .importing(branchesDone: listed.count, branches: listed.count)
        let ids = Set(listed.map(\.id))
        pagesByBranch = pagesByBranch.filter { ids.contains($0.key) }
    }

    /// Every page of a list (until a short page, or the total `Count` says so); nil when a page failed.
    private func all(_ operation: (Int, Int) -> AgentOS.Operation) async -> [JSONValue]? {
        var items: [JSONValue] = [], offset = 0
        while !Task.isCancelled {
            guard let page = await call(operation(offset, settings.pageSize)) else { return nil }
            items += page.items
            offset += page.items.count
            let total = page.total ?? offset
            pagesLeftInList = page.items.count < settings.pageSize ? 0 : max(1, (total - offset + settings.pageSize - 1) / settings.pageSize)
            reportProgress()
            if page.items.count < settings.pageSize || (page.total.map { offset >= $0 } ?? false) { return items }
        }
        return nil
    }

    /// One list call, paced: at most `callsPerWindow` a window, evenly spaced; refused for budget, it waits
    /// its turn rather than burst.
    private func call(_ operation: AgentOS.Operation) async -> UpstreamList? {
        let spacing = settings.window / max(1, settings.callsPerWindow)
        for _ in 0..<20 {
            if let last = lastCall, last + spacing > .now {
                guard (try? await Task.sleep(until: last + spacing, clock: .continuous)) != nil else { return nil }
            }
            lastCall = .now
            calls += 1
            let context = CallContext(requestID: "mirror-\(agency)", deadline: .now + .seconds(30), fresh: true, priority: .sync)
            do throws(AgentOSError) {
                return try await agentOS.list(operation, context)
            } catch {
                switch error {
                case .rateLimited(let wait), .circuitOpen(let wait), .keyBlocked(let wait):
                    guard (try? await Task.sleep(for: min(wait, settings.window))) != nil else { return nil }
                case .overloaded:
                    guard (try? await Task.sleep(for: spacing)) != nil else { return nil }
                default:
                    logger.log(.warning, "mirror_call_failed", ["agency": .string(agency), "operation": .string(operation.name), "error": .string("\(error)")])
                    return nil
                }
            }
        }
        return nil
    }

    static func text(_ value: JSONValue?) -> String? {
        switch value {
        case .string(let text)?: text
        case .number(let literal)?: literal
        default: nil
        }
    }
}
