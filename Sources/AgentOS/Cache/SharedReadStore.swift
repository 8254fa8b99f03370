import JSON

/// What a write may have changed in the cache: one entry by its key, or every entry whose key begins so
/// (all the pages of a list).
public enum CacheScope: Sendable, Hashable {
    case key(String)
    case prefix(String)

    public func covers(_ key: String) -> Bool {
        switch self {
        case .key(let exact): key == exact
        case .prefix(let start): key.hasPrefix(start)
        }
    }

    /// The entries a write of `operation` may have changed (none for a read).
    static func after(_ operation: Operation) -> [CacheScope] {
        func key(_ parts: String...) -> String { parts.joined(separator: Operation.keySeparator) }
        switch operation {
        case .setCompletion(let agency, let job, _):
            return [.key(key("job", agency, job)), .prefix(key("jobs", agency, ""))]
        case .addNote(let agency, let job, _, _):
            return [.key(key("notes", agency, job)), .key(key("job", agency, job)), .prefix(key("jobs", agency, ""))]
        case .submitInvoice(let agency, let contractor, _):
            return [.key(key("pending", agency, contractor)), .prefix(key("statement", agency, contractor, ""))]
        default:
            return []
        }
    }
}

/// The entries of one replica's read cache kept where every replica reads them (PostgreSQL), so what one
/// fetched the others serve and concurrent misses across replicas make one upstream call. The local cache
/// stays in front: a read it answers costs no trip here.
public protocol SharedReadStore: Sendable {
    typealias Load = @Sendable () async -> Result<JSONValue?, AgentOSError>

    /// The value of `key`: another replica's entry younger than `ttl` (with its age), else `load`'s
    /// answer, run by one replica at a time for the key (the others wait for what it stores, until
    /// `deadline`). `fresh` skips the stored entry and the wait (a check of AgentOS as it is now). When
    /// the store cannot be reached, `load` is run here and its answer kept to this replica.
    func read(_ key: String, agency: String, ttl: Duration, fresh: Bool, deadline: ContinuousClock.Instant, load: Load) async
        -> Result<(value: JSONValue?, age: Duration), AgentOSError>
    /// Forgets the agency's entries a write may have changed, for every replica; entries being loaded
    /// since before now are not stored.
    func invalidate(agency: String, _ scopes: [CacheScope]) async
    /// `handler` gets what other replicas' writes invalidated (and `nil` after a gap in which some may
    /// have been missed: forget everything).
    func onInvalidation(_ handler: @escaping @Sendable ([CacheScope]?) async -> Void)
    /// Stops listening to the other replicas (the process is stopping).
    func close()
}
