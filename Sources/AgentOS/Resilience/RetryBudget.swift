import Synchronization

/// Retries may add at most `ratio` to the calls of the last `window` (plus a small floor), so an outage
/// cannot turn every call into `maxAttempts` calls (a retry storm).
public final class RetryBudget: Sendable {
    private struct State {
        var calls: [ContinuousClock.Instant] = []
        var retries: [ContinuousClock.Instant] = []
    }

    private let ratio: Double
    private let minimum: Int
    private let window: Duration
    private let state = Mutex(State())

    public init(ratio: Double, minimum: Int, window: Duration) {
        self.ratio = ratio
        self.minimum = minimum
        self.window = window
    }

    public func recordCall() {
        let now = ContinuousClock.now
        state.withLock { $0.calls.append(now) }
    }

    /// Takes a retry from the budget if there is one.
    public func tryRetry() -> Bool {
        let now = ContinuousClock.now
        return state.withLock { state in
            state.calls.removeAll { $0 + window <= now }
            state.retries.removeAll { $0 + window <= now }
            let allowed = max(Double(minimum), ratio * Double(state.calls.count))
            guard Double(state.retries.count + 1) <= allowed else { return false }
            state.retries.append(now)
            return true
        }
    }
}
