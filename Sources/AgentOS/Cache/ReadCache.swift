import Foundation
import Synchronization

/// How long each read stays fresh, and how long after that it may still be served.
public struct CachePolicy: Sendable, Equatable {
    /// Fresh lifetime per operation name (`contractor`, `contacts`, `jobs`, `job`, `notes`, `statement`,
    /// `pending`); an operation without one, or with zero, is not cached.
    public var ttl: [String: Duration] = [
        "contractor": .seconds(600), "contacts": .seconds(600), "jobs": .seconds(60), "job": .seconds(60), "notes": .seconds(60),
        "statement": .seconds(300), "pending": .seconds(120),
    ]
    /// Past its TTL, an entry is served at once (STALE) for this long while one background refresh runs.
    public var staleWhileRevalidate: Duration = .seconds(300)
    /// Past that, up to this age, an entry is served (STALE) only when AgentOS cannot answer.
    public var staleIfError: Duration = .seconds(86_400)
    public var maxEntries = 10_000
    public var maxBytes = 64 << 20

    public init() {}

    public static let disabled: CachePolicy = {
        var policy = CachePolicy()
        policy.ttl = [:]
        return policy
    }()
}

/// How a read was answered, for `X-Cache`: from a fresh entry, from AgentOS, or from an entry past its TTL.
public enum CacheOutcome: String, Sendable, Comparable {
    case hit = "HIT"
    case stale = "STALE"
    case miss = "MISS"

    /// For a response built from several reads: the least fresh one names it (MISS over STALE over HIT).
    public static func < (a: CacheOutcome, b: CacheOutcome) -> Bool {
        let order: [CacheOutcome] = [.hit, .stale, .miss]
        return (order.firstIndex(of: a) ?? 0) < (order.firstIndex(of: b) ?? 0)
    }
}

/// What the reads made for one inbound request found in the cache, collected across its child tasks
/// (a task-local), so the route can say `X-Cache` and `Age` without the domain knowing of HTTP.
public final class CacheTrace: Sendable {
    @TaskLocal public static var current: CacheTrace?

    private let state = Mutex<(outcome: CacheOutcome?, age: Duration)>((nil, .zero))

    public init() {}

    public func record(_ outcome: CacheOutcome, age: Duration) {
        state.withLock { state in
            state.outcome = max(state.outcome ?? outcome, outcome)
            state.age = max(state.age, age)
        }
    }

    /// nil when no cached read was made.
    public var outcome: CacheOutcome? { state.withLock { $0.outcome } }
    /// The age of the oldest data used, whole seconds.
    public var ageSeconds: Int { state.withLock { Int($0.age.components.seconds) } }
}

/// The reads of AgentOS kept in memory: bounded by entries and bytes (least recently used out first),
/// one upstream call shared by concurrent identical reads (single flight), stale entries served while one
/// background refresh runs (stale-while-revalidate) or when AgentOS fails (stale-if-error). Behind
/// `ReadCaching` so a shared cache for several replicas can replace it.
public protocol ReadCaching: Sendable {
    typealias Fetch = @Sendable () async -> Result<JSONValue?, AgentOSError>
    /// The value for `operation`, from the cache or from `fetch`; `fresh` skips the cached value (and
    /// stores what AgentOS answers).
    func read(_ operation: Operation, ttl: Duration, fresh: Bool, fetch: @escaping Fetch) async -> Result<(JSONValue?, CacheOutcome, Duration), AgentOSError>
    /// The cached value without calling AgentOS: nil when there is none (or it is older than stale-if-error).
    func peek(_ operation: Operation, ttl: Duration) async -> (JSONValue?, CacheOutcome, Duration)?
    /// Forgets every entry a write of `operation` may have changed.
    func invalidate(after operation: Operation) async
    var entryCount: Int { get async }
}

public actor ReadCache: ReadCaching {
    struct Entry {
        let operation: Operation
        var value: JSONValue?
        var stored: ContinuousClock.Instant
        var bytes: Int
        var used: UInt64
    }

    private let policy: CachePolicy
    private let counters: CacheCounters
    private var entries: [String: Entry] = [:]
    private var bytes = 0
    private var clock: UInt64 = 0
    private var inflight: [String: Task<Result<JSONValue?, AgentOSError>, Never>] = [:]
    /// Bumped by invalidation, so a fetch that started before a write does not store what it read.
    private var generation: [String: UInt64] = [:]

    public init(policy: CachePolicy, counters: CacheCounters = CacheCounters()) {
        self.policy = policy
        self.counters = counters
    }

    public var entryCount: Int { entries.count }

    public func read(_ operation: Operation, ttl: Duration, fresh: Bool, fetch: @escaping Fetch) async -> Result<(JSONValue?, CacheOutcome, Duration), AgentOSError> {
        let key = Self.key(operation)
        let now = ContinuousClock.now
        if !fresh, var entry = entries[key] {
            let age = entry.stored.duration(to: now)
            clock += 1
            entry.used = clock
            entries[key] = entry
            if age < ttl {
                counters.add(\.hits)
                return .success((entry.value, .hit, age))
            }
            if age < ttl + policy.staleWhileRevalidate {
                counters.add(\.stale)
                if inflight[key] == nil { _ = start(key, operation, fetch, background: true) }
                return .success((entry.value, .stale, age))
            }
        }
        counters.add(\.misses)
        if fresh {
            // A check of AgentOS as it is now: never joins a fetch that began earlier (before a write, say).
            let result = await fetch()
            if case .success(let value) = result { store(key, operation, value) }
            return result.map { ($0, .miss, .zero) }
        }
        let task = inflight[key] ?? start(key, operation, fetch)
        let result = await task.value
        switch result {
        case .success(let value): return .success((value, .miss, .zero))
        case .failure(let error):
            // Stale-if-error: AgentOS could not answer (or the budget is spent), the last good data can.
            if Self.servesStale(error), let entry = entries[key] {
                let age = entry.stored.duration(to: .now)
                if age < ttl + policy.staleIfError {
                    counters.add(\.staleOnError)
                    return .success((entry.value, .stale, age))
                }
            }
            return .failure(error)
        }
    }

    public func peek(_ operation: Operation, ttl: Duration) -> (JSONValue?, CacheOutcome, Duration)? {
        let key = Self.key(operation)
        guard var entry = entries[key] else { return nil }
        let age = entry.stored.duration(to: .now)
        guard age < ttl + policy.staleIfError else { return nil }
        clock += 1
        entry.used = clock
        entries[key] = entry
        counters.add(age < ttl ? \.hits : \.stale)
        return (entry.value, age < ttl ? .hit : .stale, age)
    }

    public func invalidate(after operation: Operation) {
        let touched: (Operation) -> Bool
        switch operation {
        case .setCompletion(let agency, let jobId, _):
            touched = { if case .job(agency, jobId) = $0 { true } else if case .jobs(agency, _, _, _) = $0 { true } else { false } }
        case .addNote(let agency, let jobId, _, _):
            touched = {
                switch $0 {
                case .notes(agency, jobId), .job(agency, jobId), .jobs(agency, _, _, _): true
                default: false
                }
            }
        case .submitInvoice(let agency, let contractor, _):
            touched = { if case .pending(agency, contractor) = $0 { true } else if case .statement(agency, contractor, _, _) = $0 { true } else { false } }
        default: return
        }
        for (key, entry) in entries where touched(entry.operation) { drop(key) }
        // In-flight fetches do not say what they read; all of them are kept from being stored (a few
        // unrelated ones included, which costs a later miss, never a stale answer).
        for key in inflight.keys { generation[key, default: 0] += 1 }
        counters.add(\.invalidations)
    }

    private func start(_ key: String, _ operation: Operation, _ fetch: @escaping Fetch, background: Bool = false) -> Task<Result<JSONValue?, AgentOSError>, Never> {
        let started = generation[key, default: 0]
        // Unstructured: a caller that goes away does not cancel what the others wait for. A refresh nobody
        // waits for spends only spare budget.
        let priority: UpstreamPriority = background ? .background : UpstreamPriority.current ?? .interactive
        let task = Task { await UpstreamPriority.$current.withValue(priority) { await fetch() } }
        inflight[key] = task
        Task { await self.settle(key, operation, task, started) }
        return task
    }

    private func settle(_ key: String, _ operation: Operation, _ task: Task<Result<JSONValue?, AgentOSError>, Never>, _ started: UInt64) async {
        let result = await task.value
        inflight[key] = nil
        // A write since the fetch began may have changed what it read: keep nothing from it. (One fetch per
        // key is in flight at a time, so its generation can be forgotten now.)
        let current = generation.removeValue(forKey: key) ?? 0
        guard case .success(let value) = result, current == started else { return }
        store(key, operation, value)
    }

    private func store(_ key: String, _ operation: Operation, _ value: JSONValue?) {
        let size = (value?.serialized().count ?? 4) + key.utf8.count + 64
        drop(key)
        clock += 1
        entries[key] = Entry(operation: operation, value: value, stored: .now, bytes: size, used: clock)
        bytes += size
        guard entries.count > policy.maxEntries || bytes > policy.maxBytes else { return }
        // Least recently used out, a tenth at a time, until within both bounds.
        let order = entries.sorted { $0.value.used < $1.value.used }.map(\.key)
        var index = 0
        while (entries.count > policy.maxEntries * 9 / 10 || bytes > policy.maxBytes * 9 / 10), index < order.count {
            if order[index] != key {
                drop(order[index])
                counters.add(\.evictions)
            }
            index += 1
        }
    }

    private func drop(_ key: String) {
        if let old = entries.removeValue(forKey: key) { bytes -= old.bytes }
    }

    /// Failures where the last good data is better than an error: AgentOS down, slow, refusing, or our
    /// own budget spent. Not for "not configured" or a refusal of our key, which stale data would hide.
    static func servesStale(_ error: AgentOSError) -> Bool {
        switch error {
        case .timeout, .transport, .upstream, .rateLimited, .circuitOpen, .overloaded, .unreadableBody, .keyBlocked: true
        case .notConfigured, .unauthorized, .forbidden, .rejected: false
        }
    }

    static func key(_ operation: Operation) -> String { String(describing: operation) }
}

/// Cache counters for metrics: hits, misses, stale answers (while revalidating and on error), evictions,
/// invalidations.
public final class CacheCounters: Sendable {
    public struct Snapshot: Sendable, Equatable {
        public var hits = 0, misses = 0, stale = 0, staleOnError = 0, evictions = 0, invalidations = 0
    }

    private let state = Mutex(Snapshot())

    public init() {}

    func add(_ field: WritableKeyPath<Snapshot, Int>) { state.withLock { $0[keyPath: field] += 1 } }

    public var snapshot: Snapshot { state.withLock { $0 } }
}
