import AgentOS
import Foundation
import Glibc
import JSON

/// Counters for abuse protection: token buckets (a limit per minute, refilled continuously, bursts up to the
/// limit) and lock-outs that double with each failure. Behind one protocol so a shared store for several
/// replicas can replace the embedded one.
public protocol RateLimitStore: Sendable {
    /// Takes one token from `key`'s bucket; nil when allowed, else whole seconds until one is there.
    func take(_ key: String, perMinute: Int) async -> Int?
    /// Seconds `key` stays locked out, nil when it is not.
    func lockedFor(_ key: String) async -> Int?
    /// One more failure: once `threshold` failures are in a row, locks `key` out for 1 s, then 2, 4, … up
    /// to `maxSeconds`; returns the lock-out (0 while below the threshold).
    func fail(_ key: String, maxSeconds: Int, threshold: Int) async -> Int
    /// A success ends the failures' streak.
    func succeed(_ key: String) async
}

/// Buckets in memory (a restart refills them, which costs an attacker at most one minute's allowance);
/// lock-outs in DATA_DIR/lockouts.jsonl, so a restart does not lift them.
public actor FileRateLimitStore: RateLimitStore {
    struct Bucket {
        var tokens: Double
        var updated: Double
    }

    struct Lockout {
        var failures: Int
        var until: Double
    }

    private let file: DurableFile
    private let clock: @Sendable () -> Double
    private var buckets: [String: Bucket] = [:]
    private var lockouts: [String: Lockout] = [:]
    private var takesSinceSweep = 0
    private var failsSinceSweep = 0
    /// Buckets kept at most; idle (full) ones are dropped first, so memory stays bounded under a flood of keys.
    static let maxBuckets = 100_000
    /// Lock-out streaks kept at most; those whose lock-out ended longest ago go first.
    static let maxLockouts = 100_000
    /// A streak is forgotten this long after its last lock-out ended.
    static let streakMemory = 86_400.0

    /// `clock` gives seconds since 1970.
    public init(directory: String, clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) throws {
        self.clock = clock
        let now = clock()
        var loaded: [String: Lockout] = [:]
        file = try DurableFile(directory: directory, name: "lockouts.jsonl") { lines in
            for line in lines {
                guard case .string(let key)? = line["key"], case .number(let failures)? = line["failures"], let count = Int(failures),
                      case .number(let until)? = line["until"], let at = Double(until) else { continue }
                loaded[key] = count == 0 ? nil : Lockout(failures: count, until: at)
            }
            // A streak is forgotten a day after its last lock-out ended.
            loaded = loaded.filter { $0.value.until + Self.streakMemory > now }
            return loaded.map { Self.encode($0.key, $0.value) }
        }
        lockouts = loaded
    }

    public func take(_ key: String, perMinute: Int) -> Int? {
        let now = clock()
        let rate = Double(perMinute) / 60
        var bucket = buckets[key] ?? Bucket(tokens: Double(perMinute), updated: now)
        bucket.tokens = min(Double(perMinute), bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        defer { sweepIfNeeded(now) }
        guard bucket.tokens >= 1 else {
            buckets[key] = bucket
            return max(1, Int(((1 - bucket.tokens) / rate).rounded(.up)))
        }
        bucket.tokens -= 1
        buckets[key] = bucket
        return nil
    }

    public func lockedFor(_ key: String) -> Int? {
        guard let lockout = lockouts[key] else { return nil }
        let left = lockout.until - clock()
        return left > 0 ? max(1, Int(left.rounded(.up))) : nil
    }

    public func fail(_ key: String, maxSeconds: Int, threshold: Int) -> Int {
        let now = clock()
        var lockout = lockouts[key] ?? Lockout(failures: 0, until: now)
        lockout.failures += 1
        let over = lockout.failures - max(1, threshold)
        let seconds = over < 0 ? 0 : min(maxSeconds, 1 << min(over, 30))
        lockout.until = max(lockout.until, now + Double(seconds))
        lockouts[key] = lockout
        try? file.append(Self.encode(key, lockout))
        sweepLockouts(now)
        return seconds
    }

    /// Forgets streaks a day after their lock-out ended, and keeps at most `maxLockouts` (the file is
    /// compacted the same way at start).
    private func sweepLockouts(_ now: Double) {
        failsSinceSweep += 1
        guard lockouts.count > Self.maxLockouts || failsSinceSweep >= 1_000 else { return }
        failsSinceSweep = 0
        lockouts = lockouts.filter { $0.value.until + Self.streakMemory > now }
        if lockouts.count > Self.maxLockouts {
            for (key, _) in lockouts.sorted(by: { $0.value.until < $1.value.until }).prefix(lockouts.count - Self.maxLockouts) { lockouts[key] = nil }
        }
    }

    /// Streaks held in memory (for tests of the bound).
    public var lockoutCount: Int { lockouts.count }

    public func succeed(_ key: String) {
        guard lockouts.removeValue(forKey: key) != nil else { return }
        try? file.append(Self.encode(key, Lockout(failures: 0, until: 0)))
    }

    private func sweepIfNeeded(_ now: Double) {
        takesSinceSweep += 1
        guard buckets.count > Self.maxBuckets || takesSinceSweep >= 10_000 else { return }
        takesSinceSweep = 0
        // A bucket that would be full again by now carries no information.
        buckets = buckets.filter { now - $0.value.updated < 60 }
        if buckets.count > Self.maxBuckets {
            let oldest = buckets.sorted { $0.value.updated < $1.value.updated }.prefix(buckets.count - Self.maxBuckets)
            for (key, _) in oldest { buckets[key] = nil }
        }
    }

    static func encode(_ key: String, _ lockout: Lockout) -> JSONValue {
        .object(["key": .string(key), "failures": .number(String(lockout.failures)), "until": .number(String(format: "%.3f", lockout.until))])
    }
}

/// The client's address: the socket's peer, unless that peer is a configured trusted proxy, in which case
/// `X-Forwarded-For` is read from the right, skipping trusted proxies, and the first other address is the
/// client (the left part of the header is whatever the client sent, and proves nothing).
public struct ClientAddress: Sendable {
    let trusted: [Network]

    public init(trustedProxies: [String]) {
        trusted = trustedProxies.compactMap(Network.init)
    }

    public func of(peer: String, forwardedFor: [String]) -> String {
        guard isTrusted(peer) else { return peer }
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
        for hop in hops.reversed() {
            // Not a plain address (a CIDR block is not a client): the chain is broken here.
            guard !hop.contains("/"), Network(hop) != nil else { return peer }
            if !isTrusted(hop) { return hop }
        }
        return hops.first ?? peer
    }

    func isTrusted(_ address: String) -> Bool { trusted.contains { $0.contains(address) } }

    /// An address or CIDR block, IPv4 or IPv6.
    struct Network: Sendable {
        let bytes: [UInt8]
        let prefix: Int

        init?(_ text: String) {
            let parts = text.split(separator: "/", maxSplits: 1)
            guard let first = parts.first, let bytes = Self.parse(String(first)) else { return nil }
            let prefix = parts.count == 2 ? Int(parts[1]) : bytes.count * 8
            guard let prefix, (0...bytes.count * 8).contains(prefix) else { return nil }
            self.bytes = bytes
            self.prefix = prefix
        }

        func contains(_ address: String) -> Bool {
            guard let other = Self.parse(address), other.count == bytes.count else { return false }
            for bit in 0..<prefix where (bytes[bit / 8] ^ other[bit / 8]) & (0x80 >> UInt8(bit % 8)) != 0 { return false }
            return true
        }

        static func parse(_ text: String) -> [UInt8]? {
            var v4 = in_addr(), v6 = in6_addr()
            if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
            if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
            return nil
        }
    }
}
