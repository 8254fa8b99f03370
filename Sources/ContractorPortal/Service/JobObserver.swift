/// Told of every job and note list the service reads for a contractor, so that what AgentOS changed
/// (a status, a completion, a note added by someone else) can be announced to that contractor's open
/// event streams. Called synchronously on the read's path: it must only record, never wait.
public protocol JobObserver: Sendable {
    func saw(jobs: [ContractorMaintenanceJob], of who: ContractorIdentity)
    func saw(notes: [ContractorJobNote], ofJob jobId: String, of who: ContractorIdentity)
}
