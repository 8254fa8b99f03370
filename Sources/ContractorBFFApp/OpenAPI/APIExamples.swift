import ContractorPortal
import FixtureAgentOS
import JSON

/// The description's examples: the fixture agency's first contractor's records, mapped by the same
/// models the routes answer with. Never a configured AgentOS's data: the description is public.
struct APIExamples: Sendable {
    var account: JSONValue?
    var contacts: JSONValue?
    var jobsWithNotes: JSONValue?
    var jobs: JSONValue?
    var notes: JSONValue?
    var statement: JSONValue?
    var pending: JSONValue?
    var jobId: String?

    static let none = APIExamples()

    /// From the built-in fixture (the same data as `Fixtures/agentos.json`).
    static let fixture: APIExamples = {
        guard let store = try? FixtureStore.builtIn(), let agency = store.directory.keys.sorted().first,
              let contractor = store.directory[agency]?.first, let records = store.records(agency: agency, contractor: contractor) else { return .none }
        let jobs = records.jobs.prefix(2).compactMap(ContractorMaintenanceJob.init(upstream:))
        let notes = records.notes.compactMap { ContractorJobNote(upstream: $0, jobId: jobs.first?.jobId ?? "") }
        return APIExamples(
            account: ContractorAccount(upstream: records.contractor)?.json,
            contacts: .array(records.contacts.compactMap(ContractorContact.init(upstream:)).map(\.json)),
            jobsWithNotes: .array(jobs.enumerated().map { index, job in
                job.answer(adding: ["notes": .array(index == 0 ? notes.map(\.json) : []), "notesLoaded": .bool(true)])
            }),
            jobs: .array(jobs.map { $0.answer() }),
            notes: .array(notes.map(\.json)),
            statement: ContractorStatement(upstream: records.statement).json,
            pending: .array(records.pending.compactMap(PendingStatementEntry.init(upstream:)).map(\.json)),
            jobId: jobs.first?.jobId)
    }()
}
