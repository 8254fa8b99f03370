import Foundation
import JSON
import Logging

/// Who is calling, for logs and deadlines: the inbound request's id and the time by which it must end.
public struct CallContext: Sendable {
    public var requestID: String
    public var deadline: ContinuousClock.Instant
    /// Read past the cache (what is read is still stored): for checks that must see AgentOS as it is now.
    public var fresh = false
    /// Whose call this is (a contractor of the agency), so the budget can bound each one's share; nil
    /// for the gateway's own work (refreshes), which has its own priority.
    public var tenant: String?
    /// Which share of the budget this call's reads spend (writes always spend the writes' own). Carried
    /// here, in the context every call is given, so a reader of any call sees what it spends.
    public var priority: UpstreamPriority

    public init(
        requestID: String, deadline: ContinuousClock.Instant, fresh: Bool = false, tenant: String? = nil,
        priority: UpstreamPriority = .interactive
    ) {
        self.requestID = requestID
        self.deadline = deadline
        self.fresh = fresh
        self.tenant = tenant
        self.priority = priority
    }

    /// The same call spending another share of the budget.
    public func at(_ priority: UpstreamPriority) -> CallContext {
        var context = self
        context.priority = priority
        return context
    }

    /// The same call reading AgentOS as it is now, past the read cache.
    public func pastTheCache() -> CallContext {
        var context = self
        context.fresh = true
        return context
    }
}

/// The one way to AgentOS: every call passes the breaker, the per-key rate limiter and the in-flight bound,
/// is retried by the policy (idempotent reads only after a timeout; writes only when provably unsent), and
/// ends by its deadline. The API key never appears in a log, an error or a response.
public final class AgentOSClient: Sendable {
    public let configuration: AgentOSConfiguration
    private let transport: any Transport
    private let logger: Logger
    private let limiter: any UpstreamRateLimiting
    private let breaker: CircuitBreaker
    private let budget: RetryBudget
    private let bulkhead: Bulkhead
    private let uploads: Bulkhead
    private let counters: CounterStore
    private let recent429 = RecentEvents()
    private let cache: (any ReadCaching)?
    private let sharedCache: (any SharedReadStore)?
    public let cacheCounters = CacheCounters()

    public init(
        configuration: AgentOSConfiguration, transport: any Transport = URLSessionTransport(), logger: Logger,
        limiter: (any UpstreamRateLimiting)? = nil, sharedCache: (any SharedReadStore)? = nil, time: Timekeeper = .system
    ) {
        self.configuration = configuration
        self.transport = transport
        self.logger = logger
        counters = CounterStore(window: configuration.rateWindow)
        // The limiter's window is AgentOS's plus a margin: AgentOS counts a call when it arrives, some time after
        // we send it (a new connection's handshakes, the network), and that time varies from call to call.
        self.limiter = limiter ?? SlidingWindowLimiter(
            limit: configuration.rateLimit, window: configuration.rateWindow + configuration.rateMargin, shares: configuration.budget, time: time)
        let counters = self.counters
        breaker = CircuitBreaker(
            threshold: configuration.breakerFailureThreshold, rate: configuration.breakerFailureRate,
            window: configuration.breakerWindow, coolDown: configuration.breakerCoolDown, time: time
        ) { from, to in
            counters.update { $0.breakerTransitions["\(from.rawValue)->\(to.rawValue)", default: 0] += 1 }
            logger.log(to == .open ? .warning : .info, "agentos_breaker", ["from": .string(from.rawValue), "to": .string(to.rawValue)])
        }
        budget = RetryBudget(ratio: configuration.retryBudgetRatio, minimum: configuration.retryBudgetMinimum, window: configuration.retryBudgetWindow)
        bulkhead = Bulkhead(limit: configuration.maxInFlight, maxWait: configuration.queueWait, time: time)
        uploads = Bulkhead(limit: configuration.maxUploadsInFlight, maxWait: configuration.deadline, time: time)
        self.sharedCache = sharedCache
        var policy = configuration.cache
        policy.refreshDeadline = configuration.deadline
        let cache = policy.ttl.values.contains { $0 > .zero } ? ReadCache(policy: policy, counters: cacheCounters, shared: sharedCache, time: time) : nil
        self.cache = cache
        cache?.follow()
    }

    public var counterSnapshot: AgentOSCounters { counters.snapshot }

    /// Lets go of what the client shares with other replicas (the process is stopping).
    public func close() { sharedCache?.close() }
    public var breakerState: CircuitBreaker.State { get async { await breaker.state } }

    // MARK: typed calls

    /// The record, or nil when AgentOS says 404.
    public func record(_ operation: Operation, _ context: CallContext) async throws(AgentOSError) -> JSONValue? {
        guard let value = try await call(operation, context) else { return nil }
        guard value.objectValue != nil else { throw .unreadableBody }
        return value
    }

    /// The list in whichever envelope it came; empty when AgentOS says 404.
    public func list(_ operation: Operation, _ context: CallContext) async throws(AgentOSError) -> UpstreamList {
        guard let value = try await call(operation, context) else { return UpstreamList(items: [], total: nil) }
        guard let list = UpstreamList.read(value) else { throw .unreadableBody }
        return list
    }

    /// A write's answer (an empty object for 204 / empty bodies); nil when AgentOS says 404.
    public func write(_ operation: Operation, _ context: CallContext) async throws(AgentOSError) -> JSONValue? {
        try await call(operation, context)
    }

    // MARK: the policy

    enum Verdict {
        case success(JSONValue?)
        case failure(AgentOSError, retry: String?, retryAfter: Duration?, breakerFailure: Bool)
    }

    /// One logical call: a read through the cache when its operation is cached, else (and for writes, which
    /// then forget what they may have changed) attempts under the policy; nil for 404. What the cache did is
    /// recorded on `CacheTrace.current`.
    public func call(_ operation: Operation, _ context: CallContext) async throws(AgentOSError) -> JSONValue? {
        guard operation.isIdempotent else {
            // A write that failed may still have been applied: forget what it touches either way.
            do {
                let value = try await upstream(operation, context)
                await cache?.invalidate(after: operation)
                return value
            } catch {
                await cache?.invalidate(after: operation)
                throw error
            }
        }
        guard let cache, let ttl = configuration.cache.ttl[operation.name], ttl > .zero else {
            CacheTrace.current?.record(.miss, age: .zero)
            return try await upstream(operation, context)
        }
        let result = await cache.read(
            operation, ttl: ttl, fresh: context.fresh, priority: context.priority, deadline: context.deadline, fetch: fetcher(operation, context))
        switch result {
        case .success(let (value, outcome, age)):
            CacheTrace.current?.record(outcome, age: age)
            return value
        case .failure(let error):
            throw error
        }
    }

    /// The cache's way to AgentOS for one read: in the caller's context, or (a refresh nobody waits for)
    /// with a deadline of its own; at the priority the cache gives the call (a shared fetch spends the
    /// share of the caller that started it, a refresh the background's).
    private func fetcher(_ operation: Operation, _ context: CallContext) -> ReadCaching.Fetch {
        { [self] refresh, priority in
            let context = refresh
                ? CallContext(requestID: context.requestID, deadline: .now + configuration.deadline, priority: priority)
                : context.at(priority)
            do throws(AgentOSError) { return .success(try await upstream(operation, context)) } catch { return .failure(error) }
        }
    }

    /// A read answered from the cache only (fresh or stale), never from AgentOS now: nil when it is not
    /// cached, and then (or when stale) it is queued to be loaded from spare budget. For views that may
    /// spend only so many calls and show the rest as not loaded yet.
    public func cachedList(_ operation: Operation, _ context: CallContext) async -> UpstreamList? {
        guard let cache, let ttl = configuration.cache.ttl[operation.name], ttl > .zero,
              let (value, outcome, age) = await cache.peek(operation, ttl: ttl, fetch: fetcher(operation, context)) else { return nil }
        CacheTrace.current?.record(outcome, age: age)
        guard let value else { return UpstreamList(items: [], total: nil) }
        return UpstreamList.read(value)
    }

    /// `cachedList` for many reads, in one trip to the cache; nil where a read is not cached.
    public func cachedLists(_ operations: [Operation], _ context: CallContext) async -> [UpstreamList?] {
        guard let cache, let first = operations.first, let ttl = configuration.cache.ttl[first.name], ttl > .zero else {
            return operations.map { _ in nil }
        }
        let found = await cache.peek(operations, ttl: ttl) { self.fetcher($0, context) }
        return found.map { entry in
            guard let (value, outcome, age) = entry else { return nil }
            CacheTrace.current?.record(outcome, age: age)
            guard let value else { return UpstreamList(items: [], total: nil) }
            return UpstreamList.read(value)
        }
    }

    /// Entries in the read cache (0 without one).
    public var cachedEntries: Int { get async { await cache?.entryCount ?? 0 } }
    /// Reads queued to be loaded or refreshed from spare budget (0 without a cache).
    public var queuedRefreshes: Int { get async { await cache?.queuedRefreshes ?? 0 } }

    private func upstream(_ operation: Operation, _ context: CallContext) async throws(AgentOSError) -> JSONValue? {
        guard configuration.isConfigured, let base = configuration.baseURL, let key = configuration.apiKey else {
            throw .notConfigured
        }
        let started = ContinuousClock.now
        let deadline = min(context.deadline, started + configuration.deadline)
        let (path, query, body) = operation.request(configuration.paths)
        counters.update { $0.calls += 1 }
        budget.recordCall()
        var attempts = 0
        var lastStatus = 0
        func finish(_ outcome: String) async {
            let milliseconds = started.duration(to: .now).milliseconds
            counters.update {
                $0.latencyMillisecondsTotal += milliseconds
                $0.latencyCount += 1
                $0.callsByOutcome[operation.name, default: [:]][outcome, default: 0] += 1
                $0.latencyMillisecondsByOperation[operation.name, default: 0] += milliseconds
            }
            logger.log(.info, "agentos_call", [
                "requestId": .string(context.requestID), "operation": .string(operation.name), "method": .string(operation.method),
                "path": .string(path), "status": .int(lastStatus), "outcome": .string(outcome), "attempts": .int(attempts),
                "durationMs": .double(milliseconds), "breaker": .string(await breaker.state.rawValue),
            ])
        }
        while true {
            attempts += 1
            let verdict: Verdict
            do {
                (verdict, lastStatus) = try await attempt(
                    operation, base: base, key: key, path: path, query: query, body: body, deadline: deadline, context: context)
            } catch {
                await finish(Self.describe(error))
                throw error
            }
            switch verdict {
            case .success(let value):
                await breaker.record(success: true)
                await finish("ok")
                return value
            case .failure(let error, let reason, let retryAfter, let breakerFailure):
                await breaker.record(success: !breakerFailure)
                if case .keyBlocked(let wait) = error {
                    await breaker.open(for: wait)
                    logger.log(.error, "agentos_key_blocked", ["requestId": .string(context.requestID), "retryAfterSeconds": .int(Int(wait.components.seconds))])
                }
                guard let reason, attempts < configuration.maxAttempts, budget.tryRetry() else {
                    await finish(Self.describe(error))
                    throw error
                }
                var wait = Self.backoff(after: attempts, configuration)
                if let retryAfter { wait = max(wait, retryAfter) }
                guard ContinuousClock.now + wait < deadline else {
                    await finish(Self.describe(error))
                    if let retryAfter { throw .rateLimited(retryAfter: retryAfter) }
                    throw error
                }
                counters.update { $0.retriesByReason[reason, default: 0] += 1 }
                do { try await Task.sleep(for: wait) } catch {
                    await finish("cancelled")
                    throw .timeout
                }
            }
        }
    }

    /// An upload takes its place among `maxUploadsInFlight` first: waiting for it spends no budget and
    /// holds no connection, and only the uploads holding one have their bodies in memory.
    private func attempt(
        _ operation: Operation, base: String, key: String, path: String, query: [(String, String)], body: OutboundBody?,
        deadline: ContinuousClock.Instant, context: CallContext
    ) async throws(AgentOSError) -> (Verdict, status: Int) {
        guard body?.hasFiles == true else {
            return try await send(operation, base: base, key: key, path: path, query: query, body: body, deadline: deadline, context: context)
        }
        try await uploads.acquire(deadline: deadline)
        do {
            let outcome = try await send(operation, base: base, key: key, path: path, query: query, body: body, deadline: deadline, context: context)
            await uploads.release()
            return outcome
        } catch {
            await uploads.release()
            throw error
        }
    }

    private func send(
        _ operation: Operation, base: String, key: String, path: String, query: [(String, String)], body: OutboundBody?,
        deadline: ContinuousClock.Instant, context: CallContext
    ) async throws(AgentOSError) -> (Verdict, status: Int) {
        try await breaker.permit()
        let grant: BudgetGrant
        let priority: UpstreamPriority = operation.isIdempotent ? context.priority : .write
        do throws(AgentOSError) {
            guard ContinuousClock.now < deadline else { throw AgentOSError.timeout }
            do {
                grant = try await limiter.acquire(deadline: deadline, priority: priority, tenant: context.tenant)
                if grant.waited > .zero {
                    counters.update {
                        $0.budgetWaits[priority.description, default: 0] += 1
                        $0.budgetWaitMillisecondsTotal += grant.waited.milliseconds
                    }
                }
            } catch {
                if case .rateLimited = error { counters.update { $0.budgetRefusals[priority.description, default: 0] += 1 } }
                throw error
            }
            try await bulkhead.acquire(deadline: deadline)
        } catch {
            await breaker.abandon()
            throw error
        }
        let sent = ContinuousClock.now
        await limiter.sending(grant, at: sent)
        counters.recordAttempt(at: sent)
        counters.update { $0.attemptsByPriority[priority.description, default: 0] += 1 }
        var items = query
        if configuration.keyPlacement == .query { items.append(("api_key", key)) }
        let queryText = items.map { "\($0.0)=\(Operation.encodeSegment($0.1))" }.joined(separator: "&")
        guard let url = URL(string: base.trimmingSuffix("/") + path + (queryText.isEmpty ? "" : "?" + queryText)) else {
            await bulkhead.release()
            throw .notConfigured
        }
        var headers = [("Accept", "application/json")]
        if configuration.keyPlacement == .header { headers.append((configuration.keyHeader, key)) }
        var bytes: [UInt8]?
        if let body {
            do {
                let encoded = try body.encoded()
                bytes = encoded.bytes
                headers.append(("Content-Type", encoded.contentType))
            } catch {
                // A spooled file that cannot be read back: nothing was sent, so the write may be tried again.
                await bulkhead.release()
                await breaker.abandon()
                throw .rejected(status: 0)
            }
        }
        let timeout = min(configuration.attemptTimeout, ContinuousClock.now.duration(to: deadline))
        let result = await transport.send(
            TransportRequest(method: operation.method, url: url, headers: headers, body: bytes), timeout: timeout)
        await bulkhead.release()
        // The status AgentOS answered, for the log; 0 when no HTTP response came.
        let status = (try? result.get())?.status ?? 0
        return (await classify(result, idempotent: operation.isIdempotent), status)
    }

    /// The retry rules, one place: what is retried, for which methods, and what counts against the breaker.
    private func classify(_ result: Result<TransportResponse, TransportError>, idempotent: Bool) async -> Verdict {
        switch result {
        case .failure(.connectFailed(let why)):
            return .failure(.transport(why), retry: "connect", retryAfter: nil, breakerFailure: true)
        case .failure(.timedOut):
            counters.update { $0.timeouts += 1 }
            return .failure(.timeout, retry: idempotent ? "timeout" : nil, retryAfter: nil, breakerFailure: true)
        case .failure(.connectionLost(let why)):
            return .failure(.transport(why), retry: idempotent ? "reset" : nil, retryAfter: nil, breakerFailure: true)
        case .failure(.cancelled):
            return .failure(.timeout, retry: nil, retryAfter: nil, breakerFailure: false)
        case .success(let response):
            switch response.status {
            case 200...299:
                if response.body.allSatisfy({ [32, 9, 10, 13].contains($0) }) { return .success(.object([:])) }
                guard let value = try? JSONText.parse(response.body) else {
                    return .failure(.unreadableBody, retry: nil, retryAfter: nil, breakerFailure: true)
                }
                return .success(value)
            case 404:
                return .success(nil)
            case 429:
                counters.update { $0.rateLimitedResponses += 1 }
                await recent429.note()
                let wait = Self.retryAfter(response) ?? configuration.defaultCoolDown
                await limiter.coolDown(for: wait)
                // Only reads are retried: a refused write is safe to resend, but the caller decides.
                return .failure(.rateLimited(retryAfter: wait), retry: idempotent ? "429" : nil, retryAfter: wait, breakerFailure: false)
            case 408:
                return .failure(.timeout, retry: idempotent ? "408" : nil, retryAfter: Self.retryAfter(response), breakerFailure: true)
            case 502, 503, 504:
                return .failure(.upstream(status: response.status), retry: idempotent ? String(response.status) : nil,
                                retryAfter: Self.retryAfter(response), breakerFailure: true)
            case 401:
                return .failure(.unauthorized, retry: nil, retryAfter: nil, breakerFailure: false)
            case 403:
                counters.update { $0.forbiddenResponses += 1 }
                if await recent429.any(within: .seconds(300)) {
                    return .failure(.keyBlocked(retryAfter: configuration.defaultCoolDown), retry: nil, retryAfter: nil, breakerFailure: true)
                }
                return .failure(.forbidden, retry: nil, retryAfter: nil, breakerFailure: false)
            case 500...599:
                return .failure(.upstream(status: response.status), retry: nil, retryAfter: nil, breakerFailure: true)
            default:
                return .failure(.rejected(status: response.status), retry: nil, retryAfter: nil, breakerFailure: false)
            }
        }
    }

    /// Full jitter (AWS): a random wait between zero and the capped exponential ceiling.
    static func backoff(after attempt: Int, _ configuration: AgentOSConfiguration) -> Duration {
        let ceiling = min(configuration.backoffCap, configuration.backoffBase * (1 << min(max(attempt - 1, 0), 20)))
        return ceiling * Double.random(in: 0...1)
    }

    /// `Retry-After` as delta-seconds or an HTTP date (RFC 9110 §10.2.3).
    static func retryAfter(_ response: TransportResponse) -> Duration? {
        guard let value = response.header("Retry-After")?.trimmingCharacters(in: .whitespaces) else { return nil }
        if let seconds = Int(value), seconds >= 0 { return .seconds(seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return .milliseconds(max(0, Int(date.timeIntervalSinceNow * 1000)))
    }

    static func describe(_ error: AgentOSError) -> String {
        switch error {
        case .notConfigured: "not_configured"
        case .unauthorized: "unauthorized"
        case .forbidden: "forbidden"
        case .keyBlocked: "key_blocked"
        case .rateLimited: "rate_limited"
        case .timeout: "timeout"
        case .upstream: "upstream_error"
        case .rejected: "rejected"
        case .unreadableBody: "unreadable_body"
        case .transport: "transport"
        case .circuitOpen: "circuit_open"
        case .overloaded: "overloaded"
        }
    }
}

/// When 429s were last seen, to read a following 403 as a blocked key.
actor RecentEvents {
    private var last: ContinuousClock.Instant?
    func note() { last = .now }
    func any(within window: Duration) -> Bool { last.map { $0.duration(to: .now) < window } ?? false }
}

extension Duration {
    var milliseconds: Double { self / .milliseconds(1) }
    var seconds: Double { self / .seconds(1) }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        var text = self
        while text.hasSuffix(suffix) { text.removeLast(suffix.count) }
        return text
    }
}
