import AgentOS
import Foundation
import JSON
import Logging

extension ContractorService {
    /// One part's outcome, settled: a value or the reason it is missing.
    enum Settled: Sendable {
        case jobs(Result<JobTally, AgentOSError>)
        case pending(Result<[PendingStatementEntry], AgentOSError>)
        case statement(Result<ContractorStatement, AgentOSError>)
        case deadline
    }

    struct JobTally: Sendable {
        var total: Int
        var active = 0
        var completed = 0
        var truncated = false
        var overdue: Int?
    }

    /// The statuses of the contractor's own jobs on a page: only the two fields insights need are read.
    func ownStatuses(_ items: [JSONValue], _ who: ContractorIdentity) -> [String] {
        let table = ContractorMaintenanceJob.aliases
        return items.compactMap { item in
            guard let fields = item.objectValue else { return nil }
            if case .text(let owner)? = table.value(\.owner, in: fields), owner != who.contractorId { return nil }
            if case .text(let status)? = table.value(\.status, in: fields) { return status }
            return ""
        }
    }

    /// Seed 003's dashboard KPIs, from three upstream parts run concurrently with settled semantics (its
    /// Promise.allSettled): a part that fails or is still running at the deadline leaves its KPIs `null`
    /// and is named in `unavailable`; the rest still answer. Only when every part failed because AgentOS
    /// is not configured does the call fail as a whole.
    public func insights(_ who: ContractorIdentity, _ context: CallContext) async throws(PortalError) -> ContractorInsights {
        let deadline = min(context.deadline, .now + settings.insightsTimeout)
        let bounded = CallContext(requestID: context.requestID, deadline: deadline, tenant: context.tenant, priority: context.priority)
        var insights = ContractorInsights(unavailable: [], jobsTruncated: false)
        var failures: [ContractorInsights.Part: AgentOSError] = [:]
        var settled = Set<ContractorInsights.Part>()
        await withTaskGroup(of: Settled.self) { group in
            group.addTask { .jobs(await self.tallyJobs(who, bounded)) }
            // Pending entries and the statement only fill KPIs: the page answers without them, so they take
            // spare budget only (jobs, shared with the jobs view, are what the contractor waits for).
            group.addTask {
                await .pending(Result { () async throws(AgentOSError) in
                    try await agentOS.list(.pending(shortName: who.shortName, contractorId: who.contractorId), bounded.at(.supporting))
                        .items.compactMap(PendingStatementEntry.init(upstream:))
                })
            }
            group.addTask {
                await .statement(Result { () async throws(AgentOSError) in
                    let operation = Operation.statement(shortName: who.shortName, contractorId: who.contractorId, dateFrom: nil, dateTo: nil)
                    return try await agentOS.call(operation, bounded.at(.supporting)).map(ContractorStatement.init(upstream:)) ?? .empty
                })
            }
            group.addTask {
                try? await Task.sleep(until: deadline, clock: .continuous)
                return .deadline
            }
            while settled.count < ContractorInsights.Part.allCases.count, let outcome = await group.next() {
                switch outcome {
                case .jobs(let result):
                    settled.insert(.jobs)
                    switch result {
                    case .success(let tally):
                        insights.totalAssignedJobs = tally.total
                        insights.activeJobs = tally.active
                        insights.completedJobs = tally.completed
                        insights.jobsTruncated = tally.truncated
                        insights.overdueJobs = tally.overdue
                    case .failure(let error): failures[.jobs] = error
                    }
                case .pending(let result):
                    settled.insert(.pendingStatements)
                    switch result {
                    case .success(let entries): insights.pendingPaymentAmount = entries.compactMap(\.amount).exactSum
                    case .failure(let error): failures[.pendingStatements] = error
                    }
                case .statement(let result):
                    settled.insert(.statement)
                    switch result {
                    case .success(let statement): insights.totalEarnedAmount = statement.entries.compactMap(\.credit).exactSum
                    case .failure(let error): failures[.statement] = error
                    }
                case .deadline:
                    for part in ContractorInsights.Part.allCases where !settled.contains(part) { failures[part] = .timeout }
                    settled = Set(ContractorInsights.Part.allCases)
                }
            }
            group.cancelAll()
        }
        insights.unavailable = ContractorInsights.Part.allCases.filter { failures[$0] != nil }
        if failures.count == ContractorInsights.Part.allCases.count, failures.values.allSatisfy({ $0 == .notConfigured }) {
            throw .upstream(.notConfigured)
        }
        for (part, error) in failures.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            // Spare budget spent is the normal state of a busy agency (these parts only take spare slots):
            // info then; anything else is a warning.
            let level: Logger.Level = if case .rateLimited = error { .info } else { .warning }
            logger.log(level, "insights_part_unavailable", [
                "requestId": .string(context.requestID), "part": .string(part.rawValue), "error": .string(PortalError.describe(error)),
            ])
        }
        return insights
    }

    /// Counts the contractor's jobs across pages, up to the cap. When AgentOS says the total (`Count`), the
    /// remaining pages are fetched concurrently; when it does not, page after page until a short one.
    func tallyJobs(_ who: ContractorIdentity, _ context: CallContext) async -> Result<JobTally, AgentOSError> {
        // From the mirror once it is warm: no AgentOS call at all.
        if let jobs = await mirroredJobs(who) {
            var tally = Self.tally(jobs.prefix(settings.insightsJobCap).map(\.status))
            tally.total = jobs.count
            tally.truncated = jobs.count > settings.insightsJobCap
            tally.overdue = withSLA(jobs).filter { $0.overdue == true }.count
            return .success(tally)
        }
        let size = settings.insightsPageSize, cap = settings.insightsJobCap
        func page(_ offset: Int) async throws(AgentOSError) -> UpstreamList {
            try await agentOS.list(.jobs(shortName: who.shortName, contractorId: who.contractorId, offset: offset, count: min(size, cap - offset)), context)
        }
        do {
            let first = try await page(0)
            var jobs = ownStatuses(first.items, who)
            var lastPageFull = !first.items.isEmpty && first.items.count == min(size, cap)
            if let total = first.total {
                let offsets = Array(stride(from: size, to: min(total, cap), by: size))
                let pages = try await withThrowingTaskGroup(of: (Int, [String]).self) { group in
                    for offset in offsets {
                        group.addTask {
                            do { return (offset, self.ownStatuses(try await page(offset).items, who)) } catch { throw error }
                        }
                    }
                    var pages: [Int: [String]] = [:]
                    for try await (offset, list) in group { pages[offset] = list }
                    return pages
                }
                for offset in offsets { jobs += pages[offset] ?? [] }
                var tally = Self.tally(jobs)
                tally.total = total
                tally.truncated = total > cap
                return .success(tally)
            }
            // No total: page on while pages come back full (AgentOS pages by its own list, so the offset
            // advances by what it returned, including records left out as someone else's).
            var offset = first.items.count
            while lastPageFull, offset < cap {
                let requested = min(size, cap - offset)
                let next = try await page(offset)
                jobs += ownStatuses(next.items, who)
                offset += next.items.count
                lastPageFull = next.items.count == requested
            }
            var tally = Self.tally(jobs)
            tally.truncated = lastPageFull && offset >= cap
            return .success(tally)
        } catch let error as AgentOSError {
            return .failure(error)
        } catch {
            return .failure(.timeout)
        }
    }

    static func tally(_ statuses: [String]) -> JobTally {
        var tally = JobTally(total: statuses.count)
        for status in statuses {
            if ContractorMaintenanceJob.isCompleted(status) {
                tally.completed += 1
            } else if !ContractorMaintenanceJob.isCancelled(status) {
                tally.active += 1
            }
        }
        return tally
    }
}

extension Result where Failure == AgentOSError {
    init(_ body: () async throws(AgentOSError) -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
