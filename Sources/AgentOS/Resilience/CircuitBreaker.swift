/// Closed → open after N consecutive failures or a failure rate over the last calls → half-open (one probe)
/// after the cool-down → closed on the probe's success, open again on its failure.
public actor CircuitBreaker {
    /// The phase's name, as `/readyz` and the logs show it.
    public enum State: String, Sendable, CaseIterable { case closed, open, halfOpen = "half-open" }

    /// Where the breaker is, with what only that phase needs: nothing outlives the phase it belongs to.
    enum Phase: Sendable, Equatable {
        /// Calls pass; the failures in a row and the outcomes of the last `window` calls decide when it opens.
        case closed(consecutiveFailures: Int, recent: [Bool])
        /// Calls are refused until `until`.
        case open(until: ContinuousClock.Instant)
        /// One probe may pass; `probing` while it is out.
        case halfOpen(probing: Bool)

        var state: State {
            switch self {
            case .closed: .closed
            case .open: .open
            case .halfOpen: .halfOpen
            }
        }
    }

    private let threshold: Int
    private let rate: Double
    private let windowSize: Int
    private let coolDown: Duration
    private let time: Timekeeper
    private(set) var phase = Phase.closed(consecutiveFailures: 0, recent: [])
    private let onTransition: @Sendable (State, State) -> Void

    public var state: State { phase.state }

    public init(
        threshold: Int, rate: Double, window: Int, coolDown: Duration, time: Timekeeper = .system,
        onTransition: @escaping @Sendable (State, State) -> Void = { _, _ in }
    ) {
        self.time = time
        self.threshold = max(1, threshold)
        self.rate = rate
        self.windowSize = max(1, window)
        self.coolDown = coolDown
        self.onTransition = onTransition
    }

    /// Lets a call through, or throws `circuitOpen` with the time left.
    public func permit() throws(AgentOSError) {
        let now = time.now()
        switch phase {
        case .closed:
            return
        case .open(let until):
            guard now >= until else { throw .circuitOpen(retryAfter: now.duration(to: until)) }
            move(to: .halfOpen(probing: true))
        case .halfOpen(let probing):
            guard !probing else { throw .circuitOpen(retryAfter: .seconds(1)) }
            phase = .halfOpen(probing: true)
        }
    }

    public func record(success: Bool) {
        switch phase {
        case .halfOpen:
            if success {
                move(to: .closed(consecutiveFailures: 0, recent: []))
            } else {
                open(for: coolDown)
            }
        case .closed(let failures, var recent):
            recent.append(success)
            if recent.count > windowSize { recent.removeFirst(recent.count - windowSize) }
            let consecutive = success ? 0 : failures + 1
            let failed = recent.filter { !$0 }.count
            let rateExceeded = recent.count >= windowSize && Double(failed) / Double(recent.count) >= rate
            if consecutive >= threshold || rateExceeded {
                open(for: coolDown)
            } else {
                phase = .closed(consecutiveFailures: consecutive, recent: recent)
            }
        case .open:
            break  // a call let through before it opened; the cool-down decides
        }
    }

    /// A permitted call that never reached AgentOS (refused by the limiter or the in-flight bound): a
    /// half-open probe slot is given back rather than left taken forever.
    public func abandon() {
        if case .halfOpen = phase { phase = .halfOpen(probing: false) }
    }

    /// Opens at once (the key was blocked), for at least `duration`.
    public func open(for duration: Duration) {
        move(to: .open(until: time.now() + duration))
    }

    private func move(to next: Phase) {
        let previous = phase.state
        phase = next
        if previous != next.state { onTransition(previous, next.state) }
    }
}
