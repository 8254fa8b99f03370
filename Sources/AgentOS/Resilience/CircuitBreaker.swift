/// Closed → open after N consecutive failures or a failure rate over the last calls → half-open (one probe)
/// after the cool-down → closed on the probe's success, open again on its failure.
public actor CircuitBreaker {
    public enum State: String, Sendable, CaseIterable { case closed, open, halfOpen = "half-open" }

    private let threshold: Int
    private let rate: Double
    private let windowSize: Int
    private let coolDown: Duration
    private(set) public var state = State.closed
    private var consecutiveFailures = 0
    private var recent: [Bool] = []
    private var openedUntil: ContinuousClock.Instant
    private let time: Timekeeper
    private var probeInFlight = false
    private let onTransition: @Sendable (State, State) -> Void

    public init(
        threshold: Int, rate: Double, window: Int, coolDown: Duration, time: Timekeeper = .system,
        onTransition: @escaping @Sendable (State, State) -> Void = { _, _ in }
    ) {
        self.time = time
        openedUntil = time.now()
        self.threshold = max(1, threshold)
        self.rate = rate
        self.windowSize = max(1, window)
        self.coolDown = coolDown
        self.onTransition = onTransition
    }

    /// Lets a call through, or throws `circuitOpen` with the time left.
    public func permit() throws(AgentOSError) {
        let now = time.now()
        switch state {
        case .closed: return
        case .open:
            guard now >= openedUntil else { throw .circuitOpen(retryAfter: now.duration(to: openedUntil)) }
            move(to: .halfOpen)
            probeInFlight = true
        case .halfOpen:
            guard !probeInFlight else { throw .circuitOpen(retryAfter: .seconds(1)) }
            probeInFlight = true
        }
    }

    public func record(success: Bool) {
        recent.append(success)
        if recent.count > windowSize { recent.removeFirst(recent.count - windowSize) }
        switch state {
        case .halfOpen:
            probeInFlight = false
            if success {
                consecutiveFailures = 0
                recent.removeAll()
                move(to: .closed)
            } else {
                open(for: coolDown)
            }
        case .closed:
            consecutiveFailures = success ? 0 : consecutiveFailures + 1
            let failures = recent.filter { !$0 }.count
            let rateExceeded = recent.count >= windowSize && Double(failures) / Double(recent.count) >= rate
            if consecutiveFailures >= threshold || rateExceeded { open(for: coolDown) }
        case .open:
            break
        }
    }

    /// A permitted call that never reached AgentOS (refused by the limiter or the in-flight bound): a
    /// half-open probe slot is given back rather than left taken forever.
    public func abandon() {
        if state == .halfOpen { probeInFlight = false }
    }

    /// Opens at once (the key was blocked), for at least `duration`.
    public func open(for duration: Duration) {
        openedUntil = time.now() + duration
        probeInFlight = false
        move(to: .open)
    }

    private func move(to next: State) {
        guard next != state else { return }
        let previous = state
        state = next
        onTransition(previous, next)
    }
}
