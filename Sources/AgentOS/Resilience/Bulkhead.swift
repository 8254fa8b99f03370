/// At most `limit` calls in flight to AgentOS; a caller waits for a place at most `maxWait` (and never past
/// its deadline), so a slow upstream cannot pile up unbounded work here.
public actor Bulkhead {
    private let limit: Int
    private let maxWait: Duration
    private var inFlight = 0
    private var waiters: [(id: Int, continuation: CheckedContinuation<Bool, Never>)] = []
    private var nextID = 0
    private let time: Timekeeper

    public init(limit: Int, maxWait: Duration, time: Timekeeper = .system) {
        self.limit = max(1, limit)
        self.maxWait = maxWait
        self.time = time
    }

    public func acquire(deadline: ContinuousClock.Instant) async throws(AgentOSError) {
        if inFlight < limit {
            inFlight += 1
            return
        }
        let id = nextID
        nextID += 1
        let until = min(deadline, time.now() + maxWait)
        let timer = Task { [weak self, time] in
            // Cancelled once admitted: then no expiry.
            guard (try? await time.sleepUntil(until)) != nil else { return }
            await self?.expire(id)
        }
        let admitted = await withCheckedContinuation { waiters.append((id, $0)) }
        timer.cancel()
        guard admitted else { throw .overloaded }
    }

    public func release() {
        if waiters.isEmpty {
            inFlight -= 1
        } else {
            waiters.removeFirst().continuation.resume(returning: true)  // the place passes straight on
        }
    }

    private func expire(_ id: Int) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        waiters.remove(at: index).continuation.resume(returning: false)
    }
}
