import CLinux
import Foundation

/// Password hashes as OWASP's Password Storage Cheat Sheet asks for PBKDF2: HMAC-SHA256, at least 600,000
/// iterations, a random 16-byte salt per user, stored as `pbkdf2-sha256$<iterations>$<salt>$<hash>`
/// (base64url). A hash carries its own iteration count, so raising the default later leaves old ones valid.
enum Passwords {
    static let iterations = 600_000
    static let minimumLength = 12
    static let maximumLength = 1_024

    static func hash(_ password: String, iterations: Int = iterations) -> String {
        let salt = Crypto.randomBytes(16)
        let derived = Crypto.pbkdf2SHA256(password: Array(password.utf8), salt: salt, iterations: iterations)
        return "pbkdf2-sha256$\(iterations)$\(Base64URL.encode(salt))$\(Base64URL.encode(derived))"
    }

    /// Constant-time in the hash; false for anything that is not a hash of ours.
    static func verify(_ password: String, against encoded: String) -> Bool {
        let parts = encoded.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "pbkdf2-sha256", let iterations = Int(parts[1]), iterations >= Self.iterations,
              let salt = Base64URL.decode(parts[2]), let expected = Base64URL.decode(parts[3]), expected.count == 32 else { return false }
        let derived = Crypto.pbkdf2SHA256(password: Array(password.utf8), salt: salt, iterations: iterations)
        return Crypto.constantTimeEqual(derived, expected)
    }

    /// Checked for an unknown or disabled account, so it costs what a real check costs (no timing oracle).
    static let decoy = hash("decoy password that matches no account")

    /// What a new password must be (OWASP: length over composition rules).
    static func problem(with password: String) -> String? {
        if password.count < minimumLength { return "must be at least \(minimumLength) characters" }
        if password.utf8.count > maximumLength { return "must be at most \(maximumLength) bytes" }
        return nil
    }
}

/// Runs password hashing off Swift's cooperative pool (a 600,000-round hash holds a thread for about 0.3 s,
/// and the pool has one thread per core), on threads of lowered priority (nice 10) so sign-ins never starve
/// request serving, and bounds how many run at once so a flood of sign-ins cannot take every core: above
/// the bound, callers are told to come back.
final class PasswordWork: Sendable {
    private let running = Counter()
    /// Hashes computed so far (every sign-in attempt that got past the rate limits computes exactly one).
    let computed = Counter()
    let limit: Int

    init(limit: Int) { self.limit = limit }

    /// nil when `limit` hashes are already running.
    func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T? {
        guard running.enter(below: limit) else { return nil }
        defer { running.leave() }
        let computed = computed
        return await withCheckedContinuation { continuation in
            let thread = Thread {
                _ = clinux_nice_this_thread(10)
                let result = work()
                computed.add()
                continuation.resume(returning: result)
            }
            thread.start()
        }
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func enter(below limit: Int) -> Bool {
            lock.withLock {
                guard value < limit else { return false }
                value += 1
                return true
            }
        }
        func leave() { lock.withLock { value -= 1 } }
        func add() { lock.withLock { value += 1 } }
        var current: Int { lock.withLock { value } }
    }
}
