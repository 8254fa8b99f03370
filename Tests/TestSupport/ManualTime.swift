import AgentOS
import Synchronization

/// A clock a test moves by hand: `now` stands still until `advance(by:)`, which wakes every sleeper whose
/// time has come. A test of a cool-down, a window or a TTL says how much time passes instead of sleeping
/// through it, so it is as fast and as exact on a loaded machine as on an idle one.
public final class ManualTime: Sendable {
    private enum Phase {
        case waiting(until: ContinuousClock.Instant, CheckedContinuation<Void, any Error>)
        case cancelled
    }

    private struct State {
        var now: ContinuousClock.Instant
        var sleepers: [UInt64: Phase] = [:]
        var next: UInt64 = 0
    }

    private let state: Mutex<State>

    public init(start: ContinuousClock.Instant = .now) { state = Mutex(State(now: start)) }

    public var now: ContinuousClock.Instant { state.withLock { $0.now } }

    /// Tasks waiting for a later time.
    public var sleeping: Int { state.withLock { $0.sleepers.values.filter { if case .waiting = $0 { true } else { false } }.count } }

    public var timekeeper: Timekeeper { Timekeeper(now: { self.now }, sleepUntil: { try await self.sleep(until: $0) }) }

    public func advance(by duration: Duration) {
        let due: [CheckedContinuation<Void, any Error>] = state.withLock { state in
            state.now += duration
            var due: [CheckedContinuation<Void, any Error>] = []
            for (id, phase) in state.sleepers {
                guard case .waiting(let until, let continuation) = phase, until <= state.now else { continue }
                state.sleepers[id] = nil
                due.append(continuation)
            }
            return due
        }
        for continuation in due { continuation.resume() }
    }

    public func sleep(until: ContinuousClock.Instant) async throws {
        let id = state.withLock { state in
            state.next += 1
            return state.next
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                enum Now { case wait, due, cancelled }
                let now: Now = state.withLock { state in
                    if case .cancelled? = state.sleepers[id] {
                        state.sleepers[id] = nil
                        return .cancelled
                    }
                    if until <= state.now { return .due }
                    state.sleepers[id] = .waiting(until: until, continuation)
                    return .wait
                }
                switch now {
                case .wait: break
                case .due: continuation.resume()
                case .cancelled: continuation.resume(throwing: CancellationError())
                }
            }
        } onCancel: {
            let waiting: CheckedContinuation<Void, any Error>? = state.withLock { state in
                switch state.sleepers[id] {
                case .waiting(_, let continuation)?:
                    state.sleepers[id] = nil
                    return continuation
                case .cancelled?:
                    return nil
                case nil:
                    // Not waiting yet (or already woken, when this is harmless: nobody looks again).
                    state.sleepers[id] = .cancelled
                    return nil
                }
            }
            waiting?.resume(throwing: CancellationError())
        }
    }

    /// Lets the tasks an advance woke run until `condition` holds (they run on the cooperative pool).
    public func settle(_ condition: () async -> Bool) async -> Bool {
        for _ in 0..<10_000 {
            if await condition() { return true }
            await Task.yield()
        }
        return await condition()
    }
}
