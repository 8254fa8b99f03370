import AgentOS
import Foundation
import JSON
import Synchronization

/// One way the fixture misbehaves on a route (an operation name, or "*" for all).
public struct FaultRule: Sendable, Equatable {
    public var route = "*"
    public var latencyMs = 0
    public var jitterMs = 0
    /// Answer with this status instead (500, 502, 503, 429, ...), with a body that is not JSON.
    public var status: Int?
    /// Retry-After to send with `status` (seconds, or an HTTP date as text).
    public var retryAfter: String?
    /// Accept, never answer.
    public var hang = false
    /// Reset the connection without a response.
    public var reset = false
    /// Announce the whole body, send half of it, then reset the connection.
    public var truncate = false
    /// Answer 200 with a body that is not JSON.
    public var malformed = false
    /// Apply the request (a write is recorded) before misbehaving: the dangerous case for writes.
    public var afterApplying = false
    /// Chance that a request matching the route is affected, 0...1.
    public var probability = 1.0
    /// How many requests it affects at most; nil for no limit.
    public var times: Int?

    public init(route: String = "*") { self.route = route }

    public static func on(_ route: String, _ change: (inout FaultRule) -> Void) -> FaultRule {
        var rule = FaultRule(route: route)
        change(&rule)
        return rule
    }

    init(json: JSONValue) {
        func int(_ key: String) -> Int? { FixtureStore.text(json[key]).flatMap { Int($0) } }
        func bool(_ key: String) -> Bool { json[key] == .bool(true) }
        route = FixtureStore.text(json["route"]) ?? "*"
        latencyMs = int("latencyMs") ?? 0
        jitterMs = int("jitterMs") ?? 0
        status = int("status")
        retryAfter = FixtureStore.text(json["retryAfter"])
        hang = bool("hang")
        reset = bool("reset")
        truncate = bool("truncate")
        malformed = bool("malformed")
        afterApplying = bool("afterApplying")
        probability = FixtureStore.text(json["probability"]).flatMap { Double($0) } ?? 1
        times = int("times")
    }
}

/// The rules in force and a seeded generator, so a run with faults is repeatable.
public final class FaultInjector: Sendable {
    private struct State {
        var rules: [FaultRule] = []
        var random = SplitMix64(seed: 1)
    }

    private let state = Mutex(State())

    public init() {}

    public func set(_ rules: [FaultRule], seed: UInt64 = 1) {
        state.withLock {
            $0.rules = rules
            $0.random = SplitMix64(seed: seed)
        }
    }

    /// Rules from `{"seed": n, "rules": [...]}` (the test API's and `--faults FILE`'s format).
    public func load(_ json: JSONValue) {
        let rules = (json["rules"]?.arrayValue ?? []).map(FaultRule.init(json:))
        set(rules, seed: FixtureStore.text(json["seed"]).flatMap { UInt64($0) } ?? 1)
    }

    /// The rule that fires for this request, if any (first matching rule wins; a fired rule's `times` drops).
    public func draw(for route: String) -> (FaultRule, jitter: Double)? {
        state.withLock { state in
            for index in state.rules.indices where state.rules[index].route == "*" || state.rules[index].route == route {
                if let times = state.rules[index].times, times <= 0 { continue }
                let roll = state.random.nextUnit()
                let jitter = state.random.nextUnit()
                guard roll < state.rules[index].probability else { continue }
                if let times = state.rules[index].times { state.rules[index].times = times - 1 }
                return (state.rules[index], jitter)
            }
            return nil
        }
    }
}

struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func nextUnit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
