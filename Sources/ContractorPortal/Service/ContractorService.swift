import AgentOS
import Foundation
import JSON
import Logging

/// Seed 003's service layer: every contractor operation, bound to the signed-in contractor, over the
/// AgentOS client. Both the REST routes and the tRPC procedures call this and nothing else.
public struct ContractorService: Sendable {
    public struct Settings: Sendable {
        /// Page size when the caller gives none, and the largest one accepted.
        public var defaultJobCount = 50
        public var maxJobCount = 200
        /// Insights count jobs across pages of this size, up to `insightsJobCap` jobs; the jobs view's page
        /// size, so a dashboard's insights and jobs share their first (cached) page.
        public var insightsPageSize = 50
        public var insightsJobCap = 1_000
        /// The whole dashboard answers within this, with whatever parts are in by then.
        public var insightsTimeout: Duration = .seconds(8)
        /// Notes calls in flight at once for one jobs view.
        public var notesConcurrency = 4
        /// Notes calls one jobs view may spend; the other jobs' notes come from the cache or are "not loaded".
        public var notesCallsPerView = 3
        /// SLA targets by priority (lowercased), with `default` for the rest: a job's `dueBy` is its
        /// reported date plus its priority's target.
        public var slaTargets: [String: Duration] = ["urgent": .seconds(4 * 3600), "emergency": .seconds(4 * 3600), "high": .seconds(24 * 3600),
                                                     "medium": .seconds(72 * 3600), "low": .seconds(168 * 3600), "default": .seconds(120 * 3600)]
        /// How completion is written: a job status by `PATCH /jobs/{jobID}` (documented), or the modelled
        /// completion call.
        public var completionByStatus = true
        /// The status type names completion and reopening set; nil: the type whose name says "complet",
        /// and for a reopen the job's status before the gateway completed it.
        public var completedStatusName: String?
        public var reopenStatusName: String?
        /// Invoices by the documented `POST /invoice/submit` (the contractor in the body, documents beside it)
        /// rather than the modelled contractor-scoped call.
        public var invoiceByDocumentedCall = true
        /// While the mirror's first import runs, the contractor-scoped jobs call (modelled) fills the gap.
        public var contractorJobsWhileImporting = true

        public init() {}
    }

    public let settings: Settings
    let agentOS: AgentOSClient
    let logger: Logger
    let observer: (any JobObserver)?
    /// The agencies' mirror and how to make sure an agency's import runs (nil: mirror off).
    let mirror: MirrorAccess?

    public struct MirrorAccess: Sendable {
        public let mirror: AgencyMirror
        public let ensure: @Sendable (String) -> Void
        /// True while this replica cannot hear of changes made elsewhere (its shared store unreachable):
        /// its copy may then be behind, and what it serves from it is marked stale.
        public let cutOff: @Sendable () -> Bool
        public init(mirror: AgencyMirror, ensure: @escaping @Sendable (String) -> Void, cutOff: @escaping @Sendable () -> Bool = { false }) {
            self.mirror = mirror
            self.ensure = ensure
            self.cutOff = cutOff
        }

        /// Notes on the answer's trace that it came from the mirror: stale when the import behind it
        /// `failed` or this replica is cut off, warm otherwise.
        func noteServed(age: Duration, failed: Bool = false) {
            let stale = failed || cutOff()
            CacheTrace.current?.record(stale ? .stale : .hit, age: age)
            CacheTrace.current?.noteMirror(stale ? "stale" : "warm")
        }
    }

    public init(agentOS: AgentOSClient, logger: Logger, settings: Settings = Settings(), observer: (any JobObserver)? = nil, mirror: MirrorAccess? = nil) {
        self.agentOS = agentOS
        self.logger = logger
        self.settings = settings
        self.observer = observer
        self.mirror = mirror
    }

    /// The contractor's jobs from the mirror when it is warm (nil otherwise), noting on the answer's trace
    /// where its jobs came from.
    func mirroredJobs(_ who: ContractorIdentity) async -> [ContractorMaintenanceJob]? {
        guard let mirror else { return nil }
        mirror.ensure(who.shortName)
        switch await mirror.mirror.view(of: who) {
        case .ready(let jobs, let age, let failed):
            mirror.noteServed(age: age, failed: failed)
            return jobs
        case .importing, .unavailable:
            // Not imported yet (or its import was only just started by this page).
            CacheTrace.current?.noteMirror("importing")
            return nil
        }
    }

    /// `dueBy` and `overdue` from the SLA targets, as of now.
    func withSLA(_ jobs: [ContractorMaintenanceJob], now: Date = Date()) -> [ContractorMaintenanceJob] {
        jobs.map { job in
            var job = job
            // The mirror works out `dueBy` at import; jobs read live get theirs here.
            if job.dueBy == nil { job.dueBy = SLA.dueBy(job, targets: settings.slaTargets) }
            job.overdue = SLA.isOverdue(job, now: now)
            return job
        }
    }

    // MARK: account and contacts

    /// Seed 003: a simple alive signal for the contractor router.
    public func status(_ who: ContractorIdentity) -> JSONValue {
        .object(["status": .string("ok"), "contractorId": .string(who.contractorId)])
    }

    /// The contractor's record; nil when AgentOS says 404.
    public func account(_ who: ContractorIdentity, _ context: CallContext) async throws(PortalError) -> ContractorAccount? {
        // The branches' contractor lists the mirror imports carry the contractor's record: no call then.
        if let mirror {
            mirror.ensure(who.shortName)
            if let (record, age) = await mirror.mirror.contractor(who.contractorId, agency: who.shortName) {
                mirror.noteServed(age: age)
                return ContractorAccount(upstream: record)
            }
        }
        let record = try await upstream { () async throws(AgentOSError) in
            try await agentOS.record(.contractor(shortName: who.shortName, contractorId: who.contractorId), context)
        }
        return record.flatMap(ContractorAccount.init(upstream:))
    }

    /// Seed 003 swallows contact errors (a non-critical panel): `[]`, logged with the request id. A missing
    /// configuration is not swallowed: that is the operator's error, not a passing failure.
    public func contacts(_ who: ContractorIdentity, _ context: CallContext) async throws(PortalError) -> [ContractorContact] {
        do {
            let list = try await agentOS.list(.contacts(shortName: who.shortName, contractorId: who.contractorId), context)
            return list.items.compactMap(ContractorContact.init(upstream:))
        } catch {
            return try swallow(error, "contacts", context)
        }
    }

    // MARK: jobs

    /// One page of the contractor's jobs. A record naming another contractor as owner is left out.
    public func maintenanceJobs(_ who: ContractorIdentity, offset: Int?, count: Int?, _ context: CallContext) async throws(PortalError) -> [ContractorMaintenanceJob] {
        let page = try Validate.page(offset: offset, count: count, defaultCount: settings.defaultJobCount, maxCount: settings.maxJobCount)
        // The vendor's way: from the agency's mirror, with no AgentOS call per page view.
        // (Changes in a mirrored list are announced by the import that found them, not by each view.)
        if let jobs = await mirroredJobs(who) {
            return withSLA(Array(jobs.dropFirst(page.offset).prefix(page.count)))
        }
        // Still importing: what is known so far (the page says the import is running), or the
        // contractor-scoped call where configured; when that call cannot be made either (the budget is
        // the import's first), what is known, never an error.
        if let mirror {
            var known: [ContractorMaintenanceJob] {
                get async {
                    guard case .importing(let known) = await mirror.mirror.view(of: who) else { return [] }
                    return withSLA(Array(known.dropFirst(page.offset).prefix(page.count)))
                }
            }
            guard settings.contractorJobsWhileImporting else { return await known }
            do {
                let list = try await upstream { () async throws(AgentOSError) in
                    try await agentOS.list(.jobs(shortName: who.shortName, contractorId: who.contractorId, offset: page.offset, count: page.count), context)
                }
                return withSLA(ownJobs(list.items, who))
            } catch {
                logger.log(.info, "mirror_importing_known_jobs", ["requestId": .string(context.requestID), "error": .string(error.message)])
                return await known
            }
        }
        let list = try await upstream { () async throws(AgentOSError) in
            try await agentOS.list(.jobs(shortName: who.shortName, contractorId: who.contractorId, offset: page.offset, count: page.count), context)
        }
        return withSLA(ownJobs(list.items, who))
    }

    /// Seed 002's jobs view: a page of jobs, each with its notes. Embedded notes are used when AgentOS sent
    /// them, cached ones next; at most `notesCallsPerView` notes calls are spent (`notesConcurrency` at a
    /// time), and a job beyond that has `nil` notes: not loaded yet (the cache queues them for spare budget,
    /// so a later view finds them). Notes calls spend only spare budget (background priority); one refused
    /// or failed leaves that job's notes not loaded.
    public func maintenanceJobsWithNotes(_ who: ContractorIdentity, offset: Int?, count: Int?, _ context: CallContext) async throws(PortalError) -> [(job: ContractorMaintenanceJob, notes: [ContractorJobNote]?)] {
        let jobs = try await maintenanceJobs(who, offset: offset, count: count, context)
        var notes: [Int: [ContractorJobNote]] = [:]
        var wanted: [(Int, String)] = []
        var lookups: [(index: Int, jobId: String)] = []
        for (index, job) in jobs.enumerated() {
            if let embedded = job.embeddedNotes {
                notes[index] = embedded
            } else if !job.jobId.isEmpty {
                lookups.append((index, job.jobId))
            }
        }
        // One trip to the cache for the whole view.
        let cached = await agentOS.cachedLists(lookups.map { .notes(shortName: who.shortName, jobId: $0.jobId) }, context)
        for ((index, jobId), list) in zip(lookups, cached) {
            if let list {
                notes[index] = list.items.compactMap { ContractorJobNote(upstream: $0, jobId: jobId) }
            } else {
                wanted.append((index, jobId))
            }
        }
        let fetched = await withTaskGroup(of: (Int, [ContractorJobNote]?).self) { group in
            var results: [Int: [ContractorJobNote]] = [:]
            var pending = wanted.prefix(settings.notesCallsPerView)
            func startNext() {
                guard let (index, jobId) = pending.popFirst() else { return }
                // Notes are the view's extras: spare budget only, and a call refused or failed leaves them not loaded.
                group.addTask {
                    let list = try? await self.notes(of: jobId, who, context.at(.background))
                    return (index, list)
                }
            }
            for _ in 0..<settings.notesConcurrency { startNext() }
            while let (index, list) = await group.next() {
                if let list { results[index] = list }
                startNext()
            }
            return results
        }
        notes.merge(fetched) { first, _ in first }
        return jobs.enumerated().map { index, job in (job, notes[index]) }
    }

    /// One job; nil when AgentOS has none or it is another contractor's.
    public func maintenanceJobDetails(_ who: ContractorIdentity, jobId: String, _ context: CallContext) async throws(PortalError) -> ContractorMaintenanceJob? {
        do { return withSLA([try await ownedJob(who, jobId, context)]).first } catch .notFound { return nil }
    }

    /// A job's notes. Another contractor's job is not found; AgentOS failures are swallowed to `[]`.
    public func maintenanceJobNotes(_ who: ContractorIdentity, jobId: String, _ context: CallContext) async throws(PortalError) -> [ContractorJobNote] {
        let job: ContractorMaintenanceJob
        do { job = try await ownedJob(who, jobId, context) } catch .upstream(let error) { return try swallow(error, "notes", context) }
        if let embedded = job.embeddedNotes { return embedded }
        do { return try await notes(of: job.jobId, who, context) } catch { return try swallow(error, "notes", context) }
    }

    /// Marks the job complete or reopens it. `completed: nil` is seed 002's toggle: the opposite of the
    /// status just read, which is racy when two people toggle at once (the explicit form is not).
    public func setJobCompletion(_ who: ContractorIdentity, jobId: String, completed: Bool?, _ context: CallContext) async throws(PortalError) -> JobCompletion {
        let job = try await ownedJob(who, jobId, context)
        let target = completed ?? !job.isCompleted
        guard settings.completionByStatus else {
            let answer = try await upstream { () async throws(AgentOSError) in
                try await agentOS.write(.setCompletion(shortName: who.shortName, jobId: job.jobId, completed: target), context)
            }
            guard let answer else { throw .notFound("Job not found") }
            let updated = answer.objectValue?.isEmpty == false ? ContractorMaintenanceJob(upstream: answer) : nil
            return JobCompletion(jobId: job.jobId, completed: target, job: updated)
        }
        // Completion is a job status (V4): the status type to set is found by name, never guessed.
        let status = try await statusType(for: target, job: job, who, context)
        let answer = try await upstream { () async throws(AgentOSError) in
            try await agentOS.write(.updateJobStatus(shortName: who.shortName, jobId: job.jobId, statusId: status.id), context)
        }
        guard let answer else { throw .notFound("Job not found") }
        var updated = answer.objectValue?.isEmpty == false ? ContractorMaintenanceJob(upstream: answer) : nil
        if updated == nil {
            updated = job
            updated?.status = status.name
        }
        await mirror?.mirror.wrote(jobId: job.jobId, agency: who.shortName, status: status.name, completed: target, previousStatus: target ? job.status : nil)
        return JobCompletion(jobId: job.jobId, completed: target, job: updated)
    }

    /// The status type a completion (or a reopen) sets, from `GET /jobs/statusTypes` (cached for a day).
    func statusType(for completed: Bool, job: ContractorMaintenanceJob, _ who: ContractorIdentity, _ context: CallContext) async throws(PortalError) -> (id: String, name: String) {
        let list = try await upstream { () async throws(AgentOSError) in
            try await agentOS.list(.statusTypes(shortName: who.shortName, offset: 0, count: 1000), context)
        }
        let types: [(id: String, name: String)] = list.items.compactMap { item in
            let id: String? = switch item["StatusID"] ?? item["OID"] ?? item["ID"] {
            case .string(let text)?: text
            case .number(let literal)?: literal
            default: nil
            }
            guard let id, case .string(let name)? = item["Name"] ?? item["StatusName"] ?? item["Description"] else { return nil }
            return (id, name)
        }
        func named(_ name: String) -> (id: String, name: String)? { types.first { $0.name.lowercased() == name.lowercased() } }
        if completed {
            let found = settings.completedStatusName.flatMap(named) ?? types.first { ContractorMaintenanceJob.isCompleted($0.name) }
            guard let found else { throw .invalid(field: "completed", reason: "AgentOS has no status type for a completed job (set AGENTOS_COMPLETED_STATUS)") }
            return found
        }
        let previous = await mirror?.mirror.previousStatus(of: job.jobId, agency: who.shortName)
        let found = settings.reopenStatusName.flatMap(named) ?? previous.flatMap(named)
        guard let found, !ContractorMaintenanceJob.isCompleted(found.name) else {
            throw .invalid(field: "completed", reason: "cannot reopen: the job's status before completion is unknown here and AGENTOS_REOPEN_STATUS is not set")
        }
        return found
    }

    /// Adds a note written by the signed-in contractor.
    public func addJobNote(_ who: ContractorIdentity, jobId: String, text raw: String, field: String = "text", _ context: CallContext) async throws(PortalError) -> ContractorJobNote {
        let text = try Validate.noteText(raw, field: field)
        let job = try await ownedJob(who, jobId, context)
        let answer = try await upstream { () async throws(AgentOSError) in
            try await agentOS.write(.addNote(shortName: who.shortName, jobId: job.jobId, text: text, author: who.contractorId), context)
        }
        guard let answer else { throw .notFound("Job not found") }
        var note = ContractorJobNote(upstream: answer, jobId: job.jobId) ?? ContractorJobNote(upstream: .object([:]), jobId: job.jobId)
        // An AgentOS that answers 201 with an empty body still stored what was sent.
        if note?.text.isEmpty == true { note?.text = text }
        guard let note else { throw .upstream(.unreadableBody) }
        return note
    }

    // MARK: money

    public func statements(_ who: ContractorIdentity, dateFrom: String?, dateTo: String?, _ context: CallContext) async throws(PortalError) -> ContractorStatement {
        let range = try Validate.dateRange(from: dateFrom, to: dateTo)
        let record = try await upstream { () async throws(AgentOSError) in
            try await agentOS.call(.statement(shortName: who.shortName, contractorId: who.contractorId, dateFrom: range.from, dateTo: range.to), context)
        }
        return record.map(ContractorStatement.init(upstream:)) ?? .empty
    }

    public func pendingStatements(_ who: ContractorIdentity, _ context: CallContext) async throws(PortalError) -> [PendingStatementEntry] {
        let list = try await upstream { () async throws(AgentOSError) in
            try await agentOS.list(.pending(shortName: who.shortName, contractorId: who.contractorId), context)
        }
        return list.items.compactMap(PendingStatementEntry.init(upstream:))
    }

    /// Submits an invoice for one of the contractor's own jobs. The amount goes to AgentOS as the exact
    /// decimal literal that was validated.
    public func submitInvoice(_ who: ContractorIdentity, _ draft: InvoiceDraft, _ context: CallContext) async throws(PortalError) -> InvoiceSubmissionResult {
        try await submitInvoice(who, try draft.validated(), context)
    }

    public func submitInvoice(_ who: ContractorIdentity, _ invoice: Invoice, _ context: CallContext) async throws(PortalError) -> InvoiceSubmissionResult {
        // Never dropped silently: the modelled call has nowhere to put a document.
        guard settings.invoiceByDocumentedCall || invoice.documents.isEmpty else {
            throw .invalid(field: "file", reason: "cannot be sent: invoices go by the modelled call (INVOICE_MODE=modelled), which takes no documents")
        }
        let job = try await ownedJob(who, invoice.jobId, context)
        let body = JSONValue.object([
            "JobID": .string(job.jobId), "Amount": OutputFormat.money(invoice.amount), "Reference": invoice.reference.map(JSONValue.string) ?? .null,
            "InvoiceDate": .string(invoice.invoiceDate), "Description": invoice.description.map(JSONValue.string) ?? .null,
        ])
        let answer = try await upstream { () async throws(AgentOSError) in
            if settings.invoiceByDocumentedCall {
                // ContractorInvoiceSubmissionModel: the contractor and the job in the body, with its documents
                // (as a form's file parts when there are any, so the PDF goes in the same submission).
                guard case .object(var fields) = body else { return JSONValue?.none }
                fields["ContractorID"] = .string(who.contractorId)
                if invoice.documents.isEmpty { fields["Documents"] = .array([]) }
                return try await agentOS.write(.invoiceSubmit(shortName: who.shortName, invoice: .object(fields), documents: invoice.documents), context)
            }
            return try await agentOS.write(.submitInvoice(shortName: who.shortName, contractorId: who.contractorId, invoice: body), context)
        }
        guard let answer else { throw .notFound("Contractor not found") }
        return InvoiceSubmissionResult(upstream: answer)
    }

    // MARK: documents

    /// One file attached to the contractor's own job (AgentOS takes one per call).
    public func attachJobDocument(
        _ who: ContractorIdentity, jobId: String, file: UploadFile, description: String?, _ context: CallContext
    ) async throws(PortalError) -> AttachedDocument {
        let job = try await ownedJob(who, jobId, context)
        let answer = try await upstream { () async throws(AgentOSError) in
            try await agentOS.write(.attachDocument(shortName: who.shortName, jobId: job.jobId, file: file, description: description), context)
        }
        guard let answer else { throw .notFound("Job not found") }
        return AttachedDocument(answer: answer, sent: file, description: description)
    }

    /// The documents AgentOS holds for the contractor's own job, straight from AgentOS (a recovery's look).
    public func jobDocuments(_ who: ContractorIdentity, jobId: String, _ context: CallContext) async throws(PortalError) -> [AttachedDocument] {
        let job = try await ownedJob(who, jobId, context)
        let list = try await upstream { () async throws(AgentOSError) in
            try await agentOS.list(.jobDocuments(shortName: who.shortName, jobId: job.jobId), context)
        }
        return list.items.map(AttachedDocument.init(upstream:))
    }

    // MARK: did AgentOS get it? (after a write whose outcome is unknown; errors are not swallowed here,
    // since "could not look" must never read as "not there")

    /// The pending entry that is this invoice, if AgentOS has it.
    public func submittedInvoice(_ who: ContractorIdentity, _ invoice: Invoice, _ context: CallContext) async throws(PortalError) -> PendingStatementEntry? {
        try await pendingStatements(who, context).first(where: invoice.matches)
    }

    /// The job's notes that may be this contractor's (by them, or naming no author), straight from AgentOS:
    /// the notes list and the job's embedded notes both, since either may be the first to show a new note.
    public func ownNotes(_ who: ContractorIdentity, jobId: String, _ context: CallContext) async throws(PortalError) -> [ContractorJobNote] {
        let job = try await ownedJob(who, jobId, context)
        let listed: [ContractorJobNote]
        do { listed = try await notes(of: job.jobId, who, context) } catch { throw .upstream(error) }
        return (listed + (job.embeddedNotes ?? [])).filter { $0.createdBy == nil || $0.createdBy == who.contractorId }
    }

    /// The job as AgentOS has it now (this contractor's only).
    public func currentJob(_ who: ContractorIdentity, jobId: String, _ context: CallContext) async throws(PortalError) -> ContractorMaintenanceJob {
        try await ownedJob(who, jobId, context)
    }

    // MARK: shared steps

    /// The job, if it is this contractor's. A job whose owner is another contractor, or that names no
    /// owner at all, is "not found" (fail closed: the agency's key could read and write any job).
    func ownedJob(_ who: ContractorIdentity, _ rawId: String, _ context: CallContext) async throws(PortalError) -> ContractorMaintenanceJob {
        let jobId = try Validate.id(rawId, field: "jobId")
        let record = try await upstream { () async throws(AgentOSError) in
            try await agentOS.record(.job(shortName: who.shortName, jobId: jobId), context)
        }
        guard let record, let job = ContractorMaintenanceJob(upstream: record) else {
            CacheTrace.current?.conceal()
            throw .notFound("Job not found")
        }
        // Against the freshest record: a (cached) read may predate the import that saw the job reassigned.
        var owner = job.owner
        if !context.fresh, let mirrored = await mirror?.mirror.job(job.jobId, agency: who.shortName), mirrored.job.owner != owner {
            owner = mirrored.job.owner
        }
        guard job.owner == who.contractorId, owner == who.contractorId else {
            CacheTrace.current?.conceal()
            logger.log(.warning, "job_ownership_refused", ["requestId": .string(context.requestID), "owner": .bool(job.owner != nil)])
            throw .notFound("Job not found")
        }
        observer?.saw(jobs: [job], of: who)
        return job
    }

    func notes(of jobId: String, _ who: ContractorIdentity, _ context: CallContext) async throws(AgentOSError) -> [ContractorJobNote] {
        let list = try await agentOS.list(.notes(shortName: who.shortName, jobId: jobId), context)
        let notes = list.items.compactMap { ContractorJobNote(upstream: $0, jobId: jobId) }
        observer?.saw(notes: notes, ofJob: jobId, of: who)
        return notes
    }

    /// Jobs from the contractor's own list, less any whose owner field names someone else.
    func ownJobs(_ items: [JSONValue], _ who: ContractorIdentity) -> [ContractorMaintenanceJob] {
        let jobs = items.compactMap(ContractorMaintenanceJob.init(upstream:)).filter { $0.owner == nil || $0.owner == who.contractorId }
        observer?.saw(jobs: jobs, of: who)
        return jobs
    }

    /// seed 003's captureError for the non-critical calls: logged with the request id, answered `[]`.
    func swallow<T>(_ error: AgentOSError, _ operation: String, _ context: CallContext) throws(PortalError) -> [T] {
        if error == .notConfigured { throw .upstream(error) }
        logger.log(.warning, "portal_error_swallowed", [
            "requestId": .string(context.requestID), "operation": .string(operation), "error": .string(PortalError.describe(error)),
        ])
        return []
    }

    func upstream<T>(_ call: () async throws(AgentOSError) -> T) async throws(PortalError) -> T {
        do { return try await call() } catch { throw .upstream(error) }
    }
}

/// What a completion change answers: the state asked for, and the job as AgentOS returned it (if it did).
public struct JobCompletion: Sendable, Equatable {
    public var jobId: String
    public var completed: Bool
    public var job: ContractorMaintenanceJob?

    public init(jobId: String, completed: Bool, job: ContractorMaintenanceJob?) {
        self.jobId = jobId
        self.completed = completed
        self.job = job
    }

    public var json: JSONValue {
        .object(["jobId": .string(jobId), "completed": .bool(completed), "job": job?.json ?? .null])
    }
}
