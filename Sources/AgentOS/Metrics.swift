import Synchronization

/// Counters of the client, for the later `/metrics`.
public struct AgentOSCounters: Sendable, Equatable {
    public var calls = 0
    public var attempts = 0
    public var retriesByReason: [String: Int] = [:]
    public var timeouts = 0
    public var rateLimitedResponses = 0
    /// Calls our own budget refused (no slot in time), by priority: `write`, `interactive`, `supporting`,
    /// `background`.
    public var budgetRefusals: [String: Int] = [:]
    /// Calls that waited for a slot, by priority, and the time they waited in all.
    public var budgetWaits: [String: Int] = [:]
    public var budgetWaitMillisecondsTotal = 0.0
    /// Attempts sent to AgentOS (this key) in the last rate window, and the most ever in one window.
    public var callsInWindow = 0
    public var peakCallsInWindow = 0
    public var breakerTransitions: [String: Int] = [:]
    public var latencyMillisecondsTotal = 0.0
    public var latencyCount = 0
    /// Calls by operation and outcome (`ok`, `timeout`, `rate_limited`, …), with their time, by operation.
    public var callsByOutcome: [String: [String: Int]] = [:]
    public var latencyMillisecondsByOperation: [String: Double] = [:]
    /// 403 answers from AgentOS (a blocked key, when they follow 429s).
    public var forbiddenResponses = 0
    /// Attempts sent, by the priority whose budget they spent.
    public var attemptsByPriority: [String: Int] = [:]
}

final class CounterStore: Sendable {
    private let counters = Mutex(AgentOSCounters())
    /// Send times of attempts in AgentOS's window.
    private let sent: Mutex<WindowLog>

    init(window: Duration) { sent = Mutex(WindowLog(window: window)) }

    func update(_ change: (inout AgentOSCounters) -> Void) { counters.withLock { change(&$0) } }

    /// One attempt went to AgentOS at `now`.
    func recordAttempt(at now: ContinuousClock.Instant) {
        let count = sent.withLock { sent in
            sent.insert(now)
            return sent.expire(now)
        }
        update {
            $0.attempts += 1
            $0.peakCallsInWindow = max($0.peakCallsInWindow, count)
        }
    }

    var snapshot: AgentOSCounters {
        let now = ContinuousClock.now
        let inWindow = sent.withLock { $0.expire(now) }
        var snapshot = counters.withLock { $0 }
        snapshot.callsInWindow = inWindow
        return snapshot
    }
}
