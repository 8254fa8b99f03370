/// Instants in order, with those that have left a rolling window dropped in bulk, so every step is
/// O(log n) amortised even at a limit of many thousands. The limiter keeps its slots in one, the counters
/// the calls sent.
struct WindowLog: Sendable {
    let window: Duration
    private var times: [ContinuousClock.Instant] = []
    /// Entries before it have left the window.
    private var head = 0

    init(window: Duration) { self.window = window }

    /// Entries still in the window (as of the last `expire`), reservations ahead of now included.
    var count: Int { times.count - head }

    /// Entries at or before `instant`.
    func count(through instant: ContinuousClock.Instant) -> Int { firstIndex { $0 > instant } - head }

    /// The entry `offset` places after the oldest one still in the window.
    subscript(offset: Int) -> ContinuousClock.Instant { times[head + offset] }

    /// Drops what left the window by `now`; returns how many entries are still in it.
    @discardableResult
    mutating func expire(_ now: ContinuousClock.Instant) -> Int {
        head = firstIndex { $0 + window > now }
        if head > 1024 && head * 2 > times.count {
            times.removeFirst(head)
            head = 0
        }
        return count
    }

    mutating func insert(_ instant: ContinuousClock.Instant) {
        times.insert(instant, at: firstIndex { $0 > instant })
    }

    mutating func remove(_ instant: ContinuousClock.Instant) {
        let index = firstIndex { $0 >= instant }
        if index < times.count, times[index] == instant { times.remove(at: index) }
    }

    /// Index of the first entry (from `head`) for which `isAfter` holds; entries are sorted.
    private func firstIndex(where isAfter: (ContinuousClock.Instant) -> Bool) -> Int {
        var low = head, high = times.count
        while low < high {
            let middle = (low + high) / 2
            if isAfter(times[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
