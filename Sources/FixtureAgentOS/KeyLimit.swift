import Foundation
import Synchronization

/// AgentOS's documented limit, enforced like the real one: at most `limit` requests per key in any rolling
/// window; over it, 429 with `Retry-After: 60`; a key that keeps sending after `blockAfter` 429s in a
/// window is blocked (403) for `blockFor`. Off when `limit` is nil (unit tests of the client's own policy).
public final class KeyLimit: Sendable {
    public struct Settings: Sendable, Equatable {
        public var limit: Int?
        public var window: Duration = .seconds(60)
        public var blockAfter = 5
        public var blockFor: Duration = .seconds(60)

        public init(limit: Int? = nil) { self.limit = limit }
    }

    public enum Verdict: Equatable, Sendable {
        case allowed
        case limited
        case blocked
    }

    public struct Counters: Sendable, Equatable {
        public var limited = 0
        public var blocked = 0
        /// Most requests counted in any window so far (the peak rate AgentOS saw).
        public var peakInWindow = 0
    }

    private struct State {
        var settings: Settings
        var calls: [String: [ContinuousClock.Instant]] = [:]
        var rejections: [String: [ContinuousClock.Instant]] = [:]
        var blockedUntil: [String: ContinuousClock.Instant] = [:]
        var counters = Counters()
    }

    private let state: Mutex<State>

    public init(_ settings: Settings = Settings()) { state = Mutex(State(settings: settings)) }

    public var settings: Settings {
        get { state.withLock { $0.settings } }
        set { state.withLock { $0.settings = newValue } }
    }

    public var counters: Counters { state.withLock { $0.counters } }

    public func check(_ key: String, now: ContinuousClock.Instant = .now) -> Verdict {
        state.withLock { state in
            guard let limit = state.settings.limit else { return .allowed }
            let window = state.settings.window
            if let until = state.blockedUntil[key], until > now {
                state.counters.blocked += 1
                return .blocked
            }
            var calls = state.calls[key, default: []].filter { $0 + window > now }
            guard calls.count < limit else {
                var rejections = state.rejections[key, default: []].filter { $0 + window > now }
                rejections.append(now)
                state.rejections[key] = rejections
                state.calls[key] = calls
                if rejections.count > state.settings.blockAfter {
                    state.blockedUntil[key] = now + state.settings.blockFor
                    state.counters.blocked += 1
                    return .blocked
                }
                state.counters.limited += 1
                return .limited
            }
            calls.append(now)
            state.calls[key] = calls
            state.counters.peakInWindow = max(state.counters.peakInWindow, calls.count)
            return .allowed
        }
    }

    public func reset() {
        state.withLock { state in
            state = State(settings: state.settings)
        }
    }
}
