import Synchronization

/// Counters of the client, for the later `/metrics`.
public struct AgentOSCounters: Sendable, Equatable {
    public var calls = 0
    public var attempts = 0
    public var retriesByReason: [String: Int] = [:]
    public var timeouts = 0
    public var rateLimitedResponses = 0
    /// Calls our own budget refused (no slot in time), by priority: `write`, `interactive`, `background`.
    public var budgetRefusals: [String: Int] = [:]
    public var breakerTransitions: [String: Int] = [:]
    public var latencyMillisecondsTotal = 0.0
    public var latencyCount = 0
}

final class CounterStore: Sendable {
    private let counters = Mutex(AgentOSCounters())
    func update(_ change: (inout AgentOSCounters) -> Void) { counters.withLock { change(&$0) } }
    var snapshot: AgentOSCounters { counters.withLock { $0 } }
}
