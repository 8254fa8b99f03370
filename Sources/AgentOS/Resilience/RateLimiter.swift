/// Who spends the per-key budget first. Writes may use every slot; interactive reads (a page fails without
/// them) all but the writes' reserve, waiting a little; supporting reads (a page only degrades without
/// them: insights' parts) and background refreshes only what is spare, never waiting, and nothing while
/// interactive reads are short of slots.
public enum UpstreamPriority: Int, Sendable, Comparable, CustomStringConvertible {
    /// `sync` is the agency mirror's import: its own share of the window (`BudgetShares.syncShare`),
    /// never waiting, yielding to contractors' reads like the other spare-only work.
    case background, sync, supporting, interactive, write

    public var description: String {
        switch self {
        case .sync: "sync"
        case .background: "background"
        case .supporting: "supporting"
        case .interactive: "interactive"
        case .write: "write"
        }
    }

    public static func < (a: UpstreamPriority, b: UpstreamPriority) -> Bool { a.rawValue < b.rawValue }
}

/// How the budget is shared among priorities (slots of the limiter's window).
public struct BudgetShares: Sendable, Equatable {
    /// Slots only writes may take.
    public var writeReserve = 5
    /// Slots background refreshes leave to interactive reads, on top of the writes' reserve.
    public var backgroundHeadroom = 20
    /// Slots supporting reads leave to interactive reads, on top of the writes' reserve.
    public var supportingHeadroom = 10
    /// After start, background work waits this long: every page is cold then, and spare slots cannot be
    /// told from slots the next contractor's first page will need.
    public var warmUp: Duration = .seconds(60)
    /// Longest an interactive read waits for a slot before it is refused (and the cache may answer stale).
    public var interactiveWait: Duration = .seconds(2)
    /// Slots of a window one tenant's reads may hold (nil: no bound). Writes are not bounded by it (they
    /// have their reserve, and the per-session request limits); reads over it are refused at once, so one
    /// contractor's flood cannot take the slots every other contractor's pages need.
    public var perTenant: Int? = 12
    /// Share of the window the mirror's import may fill.
    public var syncShare = 0.6
    /// Slots of a window kept for the mirror's import while it runs, which reads cannot take and which
    /// it may use even while reads are short: without them a busy cold start spends every slot on
    /// contractors' misses, the mirror never warms, and the pages it would answer keep costing calls.
    public var syncFloor = 20

    /// The floor a key of `limit` calls really keeps: never more than the import's share nor than what
    /// writes leave. (The import's planner paces itself by the same number.)
    public func effectiveSyncFloor(limit: Int) -> Int {
        max(0, min(syncFloor, Int(Double(limit) * syncShare), limit - writeReserve - 1))
    }

    /// The slots of a window of `limit` a priority may fill (at least one, so a tiny limit still serves),
    /// less `keptForSync`, the slots the import's floor still holds while it runs.
    public func capacity(_ priority: UpstreamPriority, limit: Int, keptForSync: Int = 0) -> Int {
        switch priority {
        case .write: limit
        case .interactive: max(1, limit - writeReserve - keptForSync)
        case .supporting: max(1, limit - writeReserve - supportingHeadroom - keptForSync)
        case .background: max(1, limit - writeReserve - backgroundHeadroom - keptForSync)
        case .sync: max(1, min(limit - writeReserve - supportingHeadroom, Int(Double(limit) * syncShare)))
        }
    }

    /// The latest a call of this priority may wait for its slot: spare-only work not at all, an
    /// interactive read a little, a write until its deadline.
    public func waitLimit(_ priority: UpstreamPriority, requested: ContinuousClock.Instant, now: ContinuousClock.Instant) -> ContinuousClock.Instant {
        switch priority {
        case .background, .supporting, .sync: now
        case .interactive: min(requested, now + interactiveWait)
        case .write: requested
        }
    }

    public init() {}
}

/// Keeps one API key within AgentOS's limit. AgentOS counts a *rolling* 60 s window, so this is a sliding
/// log, not a token bucket: a full bucket spent at once and refilled over the next minute would let
/// nearly twice the limit into one window, and that is exactly the 429 this exists to prevent.
public protocol UpstreamRateLimiting: Sendable {
    /// Takes a slot for one call of this priority, waiting while the wait ends before `deadline`; otherwise
    /// throws `rateLimited` with the time until a slot frees.
    @discardableResult
    func acquire(deadline: ContinuousClock.Instant, priority: UpstreamPriority, tenant: String?) async throws(AgentOSError) -> BudgetGrant
    /// The granted call goes out now. AgentOS counts a call when it arrives, and waiting for an in-flight
    /// place can hold it a while after its slot was granted: the slot is counted from the send, so calls
    /// a window apart in the budget are sent a window apart too.
    func sending(_ grant: BudgetGrant, at instant: ContinuousClock.Instant) async
    /// A 429 arrived anyway: no calls until `duration` has passed.
    func coolDown(for duration: Duration) async
}

extension UpstreamRateLimiting {
    /// A call of nobody in particular (the gateway's own).
    @discardableResult
    public func acquire(deadline: ContinuousClock.Instant, priority: UpstreamPriority) async throws(AgentOSError) -> BudgetGrant {
        try await acquire(deadline: deadline, priority: priority, tenant: nil)
    }
}

/// A slot of the budget: when it was counted, and how long the call waited for it.
public struct BudgetGrant: Sendable, Equatable {
    public let slot: ContinuousClock.Instant
    public let waited: Duration
}

public actor SlidingWindowLimiter: UpstreamRateLimiting {
    private let limit: Int
    private let window: Duration
    private let shares: BudgetShares
    /// Send times of calls in the window, and the slots reserved for calls waiting.
    private var granted: WindowLog
    private var coolDownUntil: ContinuousClock.Instant?
    /// Until when interactive reads count as short of slots (one window after one last waited or was
    /// refused): spare-only work takes nothing before then, so a burst of cold pages is not outbid by
    /// refreshes and extras that arrived a moment earlier.
    private var pressureUntil: ContinuousClock.Instant?
    private let warmUntil: ContinuousClock.Instant
    /// Each tenant's slots in the window (reads only), for `BudgetShares.perTenant`.
    private var tenants: [String: WindowLog] = [:]
    /// The import's slots in the window, and when it last asked for one (it runs while that is recent).
    private var syncSlots: WindowLog
    private var syncAskedAt: ContinuousClock.Instant?
    private let time: Timekeeper

    public init(limit: Int, window: Duration, shares: BudgetShares = BudgetShares(), time: Timekeeper = .system) {
        self.time = time
        self.limit = max(1, limit)
        self.window = window
        granted = WindowLog(window: window)
        syncSlots = WindowLog(window: window)
        self.shares = shares
        warmUntil = time.now() + shares.warmUp
    }

    @discardableResult
    public func acquire(deadline: ContinuousClock.Instant, priority: UpstreamPriority, tenant: String?) async throws(AgentOSError) -> BudgetGrant {
        guard let tenant, priority < .write, let share = shares.perTenant else { return try await grant(deadline: deadline, priority: priority) }
        let now = time.now()
        var log = tenants[tenant] ?? WindowLog(window: window)
        log.expire(now)
        // Over its share, a tenant waits for nobody's slot: refused now, told when its oldest leaves.
        if log.count >= share {
            tenants[tenant] = log
            throw .rateLimited(retryAfter: now.duration(to: log[log.count - share] + window))
        }
        // The place is held before the wait, so concurrent calls of one tenant cannot all pass the check.
        log.insert(now)
        tenants[tenant] = log
        let result: Result<BudgetGrant, AgentOSError>
        do { result = .success(try await grant(deadline: deadline, priority: priority)) } catch { result = .failure(error) }
        tenants[tenant]?.remove(now)
        if case .success(let granted) = result { tenants[tenant]?.insert(granted.slot) }
        if tenants.count > 10_000 { tenants = tenants.filter { var log = $0.value; return log.expire(time.now()) > 0 } }
        return try result.get()
    }

    /// Slots a tenant holds in the current window (for tests and metrics).
    public func slots(of tenant: String) -> Int {
        var log = tenants[tenant] ?? WindowLog(window: window)
        log.expire(time.now())
        return log.count
    }

    public func sending(_ grant: BudgetGrant, at instant: ContinuousClock.Instant) {
        guard instant > grant.slot else { return }
        granted.remove(grant.slot)
        granted.insert(instant)
    }

    /// The slots of a window this priority may fill (at least one, so a tiny limit still serves). Reads
    /// leave the import's floor to it while it runs (the part of the floor it has not used yet).
    func capacity(_ priority: UpstreamPriority, now: ContinuousClock.Instant) -> Int {
        syncSlots.expire(now)
        let running = syncAskedAt.map { $0 + window > now } ?? false
        let keptForSync = running ? max(0, syncFloor - syncSlots.count) : 0
        return shares.capacity(priority, limit: limit, keptForSync: keptForSync)
    }

    private var syncFloor: Int { shares.effectiveSyncFloor(limit: limit) }

    private func grant(deadline requested: ContinuousClock.Instant, priority: UpstreamPriority) async throws(AgentOSError) -> BudgetGrant {
        let asked = time.now()
        var now = asked
        if priority == .sync {
            syncAskedAt = asked
            syncSlots.expire(asked)
        }
        // The import within its floor is not spare-only work: reads being short does not stop it, and the
        // slots reads left it are its to take.
        let withinFloor = priority == .sync && syncSlots.count < syncFloor
        let capacity = withinFloor ? max(1, limit - shares.writeReserve) : capacity(priority, now: asked)
        // Spare-only work takes a slot now or none; an interactive read waits a little, not its whole deadline.
        let deadline = shares.waitLimit(priority, requested: requested, now: now)
        if let until = coolDownUntil, until > now { throw .rateLimited(retryAfter: now.duration(to: until)) }
        if priority < .interactive, !withinFloor, let until = pressureUntil, until > now { throw .rateLimited(retryAfter: now.duration(to: until)) }
        if priority == .background, warmUntil > now { throw .rateLimited(retryAfter: now.duration(to: warmUntil)) }
        granted.expire(now)
        // The slot this call gets: now if fewer than `limit` are in the window, else when the oldest of
        // the last `limit` leaves it. Later callers plan around this reservation.
        var slot = nextSlot(now, counting: granted.count, capacity: capacity)
        // A deadline already gone (spent queueing for an in-flight place, say) is a timeout, not a rate limit.
        guard now < requested else { throw .timeout }
        if priority == .interactive, slot > now { pressureUntil = now + window }
        guard slot <= deadline else { throw .rateLimited(retryAfter: now.duration(to: slot)) }
        granted.insert(slot)
        while slot > now {
            do { try await time.sleepUntil(slot) } catch {
                granted.remove(slot)
                throw .timeout
            }
            // Sleeps wake late, and others' reservations may have gone out later than planned: check
            // again against the calls that really went out, and wait again if the window is still full.
            granted.remove(slot)
            now = time.now()
            granted.expire(now)
            slot = nextSlot(now, counting: granted.count(through: now), capacity: capacity)
            guard now < requested else { throw .timeout }
            guard slot <= deadline else { throw .rateLimited(retryAfter: now.duration(to: slot)) }
            granted.insert(slot)
        }
        if priority == .sync { syncSlots.insert(slot) }
        return BudgetGrant(slot: slot, waited: slot > asked ? asked.duration(to: slot) : .zero)
    }

    /// The slot given `counted` entries of the window (all of them, or only those already past).
    private func nextSlot(_ now: ContinuousClock.Instant, counting counted: Int, capacity: Int) -> ContinuousClock.Instant {
        counted < capacity ? now : granted[counted - capacity] + window
    }

    public func coolDown(for duration: Duration) {
        let until = time.now() + duration
        if coolDownUntil.map({ $0 < until }) ?? true { coolDownUntil = until }
    }
}
