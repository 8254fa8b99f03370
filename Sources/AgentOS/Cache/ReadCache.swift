import Foundation
import JSON
import Synchronization

/// How long each read stays fresh, and how long after that it may still be served.
public struct CachePolicy: Sendable, Equatable {
    /// Fresh lifetime per operation name (`contractor`, `contacts`, `jobs`, `job`, `notes`, `statement`,
    /// `pending`); an operation without one, or with zero, is not cached.
    public var ttl: [String: Duration] = [
        "contractor": .seconds(600), "contacts": .seconds(600), "jobs": .seconds(60), "job": .seconds(60), "notes": .seconds(60),
        "statement": .seconds(300), "pending": .seconds(120),
        // The workflow states change rarely: read once a day.
        "statusTypes": .seconds(86_400),
    ]
    /// Past its TTL, an entry is served at once (STALE) for this long while one background refresh runs.
    public var staleWhileRevalidate: Duration = .seconds(300)
    /// Past that, up to this age, an entry is served (STALE) only when AgentOS cannot answer.
    public var staleIfError: Duration = .seconds(86_400)
    public var maxEntries = 10_000
    public var maxBytes = 64 << 20
    /// How long a refresh nobody waits for may take, waits for another replica's load included (the
    /// client sets it to its own deadline).
    public var refreshDeadline: Duration = .seconds(10)

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

    private let state = Mutex<(outcome: CacheOutcome?, age: Duration, concealed: Bool, mirror: String?)>((nil, .zero, false, nil))

    public init() {}

    public func record(_ outcome: CacheOutcome, age: Duration) {
        state.withLock { state in
            state.outcome = max(state.outcome ?? outcome, outcome)
            state.age = max(state.age, age)
        }
    }

    /// The answer must not say how its data was read: it was refused as not found, and whether (and how
    /// long ago) someone read that job is another contractor's business.
    public func conceal() { state.withLock { $0.concealed = true } }

    /// Where the answer's job list came from: the mirror `warm`, `stale` (a branch's last import failed),
    /// or `importing` (its first import still running; the list is what could be had meanwhile).
    public func noteMirror(_ state: String) { self.state.withLock { $0.mirror = state } }

    public var mirrorState: String? { state.withLock { $0.concealed ? nil : $0.mirror } }

    /// nil when no cached read was made, or when the answer conceals it.
    public var outcome: CacheOutcome? { state.withLock { $0.concealed ? nil : $0.outcome } }
    /// The age of the oldest data used, whole seconds.
    public var ageSeconds: Int { state.withLock { Int($0.age.components.seconds) } }
}

/// The reads of AgentOS kept in memory: bounded by entries and bytes (least recently used out first),
/// one upstream call shared by concurrent identical reads (single flight), stale entries served while a
/// background refresh is queued (stale-while-revalidate) or when AgentOS fails (stale-if-error). Behind
/// `ReadCaching` so a shared cache for several replicas can replace it.
public protocol ReadCaching: Sendable {
    /// Reads AgentOS. `refresh` is true for a background refresh nobody waits for, which brings its own
    /// deadline (the request that queued it may be long gone); `priority` is the budget share to spend.
    typealias Fetch = @Sendable (_ refresh: Bool, _ priority: UpstreamPriority) async -> Result<JSONValue?, AgentOSError>
    /// The value for `operation`, from the cache or from `fetch`; `fresh` skips the cached value (and
    /// stores what AgentOS answers); `priority` is the caller's budget share.
    /// `deadline` bounds the wait for another replica's load of the same read.
    func read(
        _ operation: Operation, ttl: Duration, fresh: Bool, priority: UpstreamPriority, deadline: ContinuousClock.Instant, fetch: @escaping Fetch
    ) async -> Result<(JSONValue?, CacheOutcome, Duration), AgentOSError>
    /// The cached value without calling AgentOS: nil when there is none (or it is older than stale-if-error).
    /// With `fetch`, a value that is missing or stale is queued to be loaded from spare budget.
    func peek(_ operation: Operation, ttl: Duration, fetch: Fetch?) async -> (JSONValue?, CacheOutcome, Duration)?
    /// `peek` for many reads at once: one trip to the cache for a whole view.
    func peek(_ operations: [Operation], ttl: Duration, fetch: @escaping @Sendable (Operation) -> Fetch?) async -> [(JSONValue?, CacheOutcome, Duration)?]
    /// Forgets every entry a write of `operation` may have changed (on every replica, with a shared store).
    func invalidate(after operation: Operation) async
    var entryCount: Int { get async }
    /// Reads waiting for spare budget to be loaded or refreshed.
    var queuedRefreshes: Int { get async }
}

public actor ReadCache: ReadCaching {
    struct Entry {
        let operation: Operation
        var value: JSONValue?
        var stored: ContinuousClock.Instant
        var bytes: Int
        var used: UInt64
    }

    /// A value as loaded: from AgentOS now (age zero) or another replica's entry (its age).
    typealias Loaded = (value: JSONValue?, age: Duration)

    struct Flight {
        let task: Task<Result<Loaded, AgentOSError>, Never>
        let priority: UpstreamPriority
    }

    /// A read someone wanted that the cache could not give fresh: refreshed (or loaded) from spare budget,
    /// the stalest and most wanted first.
    struct Wanted {
        let operation: Operation
        let ttl: Duration
        let fetch: Fetch
        /// Reads that wanted it since it was queued, each by its weight.
        var wants: Int
        let since: ContinuousClock.Instant
    }

    private let policy: CachePolicy
    private let counters: CacheCounters
    private var entries: [String: Entry] = [:]
    private var bytes = 0
    private var clock: UInt64 = 0
    private var inflight: [String: Flight] = [:]
    /// Bumped by every invalidation: a fetch that began before a write does not store what it read.
    private var epoch: UInt64 = 0
    private var wanted: [String: Wanted] = [:]
    private var draining = false
    private static let maxWanted = 1_000
    /// Where every replica's entries are (nil: this replica's memory only).
    private let shared: (any SharedReadStore)?

    private let time: Timekeeper

    public init(policy: CachePolicy, counters: CacheCounters = CacheCounters(), shared: (any SharedReadStore)? = nil, time: Timekeeper = .system) {
        self.time = time
        self.policy = policy
        self.counters = counters
        self.shared = shared
    }

    /// Hears other replicas' invalidations (once, when the cache is shared).
    public nonisolated func follow() {
        shared?.onInvalidation { [weak self] scopes in await self?.forget(scopes) }
    }

    public var entryCount: Int { entries.count }
    public var queuedRefreshes: Int { wanted.count }

    public func read(
        _ operation: Operation, ttl: Duration, fresh: Bool, priority mine: UpstreamPriority = .interactive,
        deadline: ContinuousClock.Instant = .now + .seconds(10), fetch: @escaping Fetch
    ) async -> Result<(JSONValue?, CacheOutcome, Duration), AgentOSError> {
        let key = Self.key(operation)
        let now = time.now()
        if !fresh, var entry = entries[key] {
            let age = entry.stored.duration(to: now)
            clock += 1
            entry.used = clock
            entries[key] = entry
            if age < ttl {
                counters.served(\.hits, age: age)
                return .success((entry.value, .hit, age))
            }
            if age < ttl + policy.staleWhileRevalidate {
                counters.served(\.stale, age: age)
                if inflight[key] == nil { want(key, operation, ttl, fetch, weight: Self.weight(mine)) }
                return .success((entry.value, .stale, age))
            }
        }
        counters.add(\.misses)
        var result: Result<Loaded, AgentOSError>
        if fresh {
            // A check of AgentOS as it is now: never joins a fetch that began earlier (before a write, say).
            result = await fetchAndStore(key, operation, ttl, fetch, priority: mine, deadline: deadline)
        } else if let flight = inflight[key] {
            result = await flight.task.value
            // The shared call was spare-only work the budget refused; this caller may spend more.
            if case .failure(.rateLimited) = result, flight.priority < mine {
                result = await fetchAndStore(key, operation, ttl, fetch, priority: mine, deadline: deadline)
            }
        } else {
            result = await start(key, operation, ttl, fetch, priority: mine, deadline: deadline).task.value
        }
        switch result {
        case .success(let (value, age)):
            counters.servedAge(age)
            // Another replica's entry, still fresh: a hit of the shared cache.
            return .success((value, age > .zero ? .hit : .miss, age))
        case .failure(let error):
            // Not loaded for want of budget: load it when there is some, so the next view finds it.
            if case .rateLimited = error { want(key, operation, ttl, fetch, weight: Self.weight(mine)) }
            // Stale-if-error: AgentOS could not answer (or the budget is spent), the last good data can.
            if Self.servesStale(error), let entry = entries[key] {
                let age = entry.stored.duration(to: time.now())
                if age < ttl + policy.staleIfError {
                    counters.served(\.staleOnError, age: age)
                    return .success((entry.value, .stale, age))
                }
            }
            return .failure(error)
        }
    }

    public func peek(_ operations: [Operation], ttl: Duration, fetch: @escaping @Sendable (Operation) -> Fetch?) -> [(JSONValue?, CacheOutcome, Duration)?] {
        operations.map { peek($0, ttl: ttl, fetch: fetch($0)) }
    }

    public func peek(_ operation: Operation, ttl: Duration, fetch: Fetch?) -> (JSONValue?, CacheOutcome, Duration)? {
        let key = Self.key(operation)
        guard var entry = entries[key], entry.stored.duration(to: time.now()) < ttl + policy.staleIfError else {
            if let fetch { want(key, operation, ttl, fetch, weight: Self.weight(.background)) }
            return nil
        }
        let age = entry.stored.duration(to: time.now())
        clock += 1
        entry.used = clock
        entries[key] = entry
        if age >= ttl, let fetch, inflight[key] == nil { want(key, operation, ttl, fetch, weight: Self.weight(.background)) }
        counters.served(age < ttl ? \.hits : \.stale, age: age)
        return (entry.value, age < ttl ? .hit : .stale, age)
    }

    public func invalidate(after operation: Operation) async {
        let scopes = CacheScope.after(operation)
        guard !scopes.isEmpty else { return }
        forget(scopes)
        await shared?.invalidate(agency: operation.agency, scopes)
    }

    /// Drops the entries `scopes` cover (every entry for nil). In-flight fetches do not say what they
    /// read: none that began before now is stored (a few unrelated ones included, which costs a later
    /// miss, never a stale answer).
    func forget(_ scopes: [CacheScope]?) {
        for key in entries.keys where scopes?.contains(where: { $0.covers(key) }) ?? true { drop(key) }
        epoch += 1
        counters.add(\.invalidations)
    }

    /// The value from AgentOS, through the shared store when there is one (which may answer with another
    /// replica's entry, or wait for the replica loading it).
    private func load(
        _ key: String, _ operation: Operation, _ ttl: Duration, fresh: Bool, deadline: ContinuousClock.Instant, _ fetch: @escaping @Sendable () async -> Result<JSONValue?, AgentOSError>
    ) async -> Result<Loaded, AgentOSError> {
        guard let shared else { return await fetch().map { ($0, .zero) } }
        return await shared.read(key, agency: operation.agency, ttl: ttl, fresh: fresh, deadline: deadline, load: fetch).map { ($0.value, $0.age) }
    }

    private func start(
        _ key: String, _ operation: Operation, _ ttl: Duration, _ fetch: @escaping Fetch, priority: UpstreamPriority, refresh: Bool = false,
        deadline: ContinuousClock.Instant
    ) -> Flight {
        let started = epoch
        // Unstructured: a caller that goes away does not cancel what the others wait for.
        let task = Task { await self.load(key, operation, ttl, fresh: false, deadline: deadline) { await fetch(refresh, priority) } }
        let flight = Flight(task: task, priority: priority)
        inflight[key] = flight
        Task { await self.settle(key, operation, task, started) }
        return flight
    }

    private func settle(_ key: String, _ operation: Operation, _ task: Task<Result<Loaded, AgentOSError>, Never>, _ started: UInt64) async {
        let result = await task.value
        if inflight[key]?.task == task { inflight[key] = nil }
        guard case .success(let (value, age)) = result, epoch == started else { return }
        store(key, operation, value, age: age)
    }

    /// One call of this caller's own (not shared), stored unless a write came in meanwhile.
    private func fetchAndStore(
        _ key: String, _ operation: Operation, _ ttl: Duration, _ fetch: @escaping Fetch, priority: UpstreamPriority, deadline: ContinuousClock.Instant
    ) async -> Result<Loaded, AgentOSError> {
        let started = epoch
        let result = await load(key, operation, ttl, fresh: true, deadline: deadline) { await fetch(false, priority) }
        if case .success(let (value, age)) = result, epoch == started { store(key, operation, value, age: age) }
        return result
    }

    // MARK: refreshes from spare budget

    /// How much one read wanting an entry counts: a page that fails without it (4) over one that only
    /// degrades (2) over a view's extras (1), so an agency's notes never crowd out its jobs and accounts.
    static func weight(_ priority: UpstreamPriority) -> Int {
        switch priority {
        case .write, .interactive: 4
        case .supporting: 2
        case .background, .sync: 1
        }
    }

    private func want(_ key: String, _ operation: Operation, _ ttl: Duration, _ fetch: @escaping Fetch, weight: Int) {
        if wanted[key] != nil {
            wanted[key]?.wants += weight
        } else {
            if wanted.count >= Self.maxWanted { forgetLeastWanted() }
            wanted[key] = Wanted(operation: operation, ttl: ttl, fetch: fetch, wants: weight, since: time.now())
        }
        guard !draining else { return }
        draining = true
        Task { await self.drain() }
    }

    /// How much a queued read is worth a spare slot: how stale (its age over its TTL; missing data counts
    /// as twice its TTL old) times how wanted (reads since it was queued, weighted by what they were for).
    private func worth(_ key: String, _ item: Wanted, _ now: ContinuousClock.Instant) -> Double {
        let age = entries[key].map { $0.stored.duration(to: now) } ?? item.ttl * 2
        return Double(item.wants) * (age / item.ttl)
    }

    /// Full: the least wanted tenth goes at once. Ranking every queued read for each new one cost half the
    /// server's time with 5,000 contractors (the queue stays full then); once per hundred is the same rule.
    private func forgetLeastWanted() {
        let now = time.now()
        let ranked = wanted.map { (key: $0.key, worth: worth($0.key, $0.value, now)) }.sorted { $0.worth < $1.worth }
        for item in ranked.prefix(max(1, Self.maxWanted / 10)) { wanted[item.key] = nil }
    }

    private func mostWanted() -> String? {
        let now = time.now()
        return wanted.max { worth($0.key, $0.value, now) < worth($1.key, $1.value, now) }?.key
    }

    /// Loads queued reads one at a time at background priority; when the budget has no spare slot, waits
    /// until the limiter says one frees (reads wanted meanwhile are ranked in at the next pick).
    private func drain() async {
        while true {
            let now = time.now()
            // A want older than the stale-while-revalidate span has no reader left to serve.
            wanted = wanted.filter { $0.value.since.duration(to: now) < policy.staleWhileRevalidate }
            guard let key = mostWanted(), let item = wanted.removeValue(forKey: key) else {
                draining = false
                return
            }
            if let entry = entries[key], entry.stored.duration(to: now) < item.ttl { continue }
            let flight = inflight[key]
                ?? start(key, item.operation, item.ttl, item.fetch, priority: .background, refresh: true, deadline: time.now() + policy.refreshDeadline)
            let result = await flight.task.value
            counters.add(\.refreshes)
            guard case .failure(.rateLimited(let retryAfter)) = result else { continue }
            if wanted[key] != nil { wanted[key]?.wants += item.wants } else { wanted[key] = item }
            try? await time.sleep(for: min(max(retryAfter, .milliseconds(100)), .seconds(60)))
        }
    }

    /// Keeps `value`, loaded `age` ago (by another replica; zero when from AgentOS now).
    private func store(_ key: String, _ operation: Operation, _ value: JSONValue?, age: Duration) {
        let size = (value?.serialized().count ?? 4) + key.utf8.count + 64
        drop(key)
        clock += 1
        entries[key] = Entry(operation: operation, value: value, stored: time.now() - age, bytes: size, used: clock)
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

    static func key(_ operation: Operation) -> String { operation.cacheKey }
}

/// Cache counters for metrics: hits, misses, stale answers (while revalidating and on error), evictions,
/// invalidations, refreshes run from spare budget, and the age of the data served.
public final class CacheCounters: Sendable {
    /// Upper bounds (seconds) of the age histogram's buckets; the last bucket is everything older.
    public static let ageBuckets = [0, 10, 30, 60, 120, 300, 600, 3_600]

    public struct Snapshot: Sendable, Equatable {
        public var hits = 0, misses = 0, stale = 0, staleOnError = 0, evictions = 0, invalidations = 0, refreshes = 0
        /// Reads answered, by the age of their data: counts per `ageBuckets` bound (≤), then one for older.
        public var servedByAge = [Int](repeating: 0, count: CacheCounters.ageBuckets.count + 1)
        public var servedAgeSecondsTotal = 0.0
    }

    private let state = Mutex(Snapshot())

    public init() {}

    func add(_ field: WritableKeyPath<Snapshot, Int>) { state.withLock { $0[keyPath: field] += 1 } }

    func served(_ field: WritableKeyPath<Snapshot, Int>, age: Duration) {
        add(field)
        servedAge(age)
    }

    func servedAge(_ age: Duration) {
        let seconds = age.seconds
        let bucket = Self.ageBuckets.firstIndex { seconds <= Double($0) } ?? Self.ageBuckets.count
        state.withLock {
            $0.servedByAge[bucket] += 1
            $0.servedAgeSecondsTotal += seconds
        }
    }

    public var snapshot: Snapshot { state.withLock { $0 } }
}
