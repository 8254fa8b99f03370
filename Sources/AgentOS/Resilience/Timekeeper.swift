/// Where the breaker, the limiter, the bulkhead and the read cache read the time and wait: the system's
/// continuous clock, or a test's clock driven by hand, so a test of a cool-down or a window advances the
/// time instead of sleeping through it.
public struct Timekeeper: Sendable {
    public let now: @Sendable () -> ContinuousClock.Instant
    /// Returns at `until` (throws when the task is cancelled first).
    public let sleepUntil: @Sendable (_ until: ContinuousClock.Instant) async throws -> Void

    public init(now: @escaping @Sendable () -> ContinuousClock.Instant, sleepUntil: @escaping @Sendable (ContinuousClock.Instant) async throws -> Void) {
        self.now = now
        self.sleepUntil = sleepUntil
    }

    public static let system = Timekeeper(now: { .now }, sleepUntil: { try await Task.sleep(until: $0, clock: .continuous) })

    public func sleep(for duration: Duration) async throws { try await sleepUntil(now() + duration) }
}
