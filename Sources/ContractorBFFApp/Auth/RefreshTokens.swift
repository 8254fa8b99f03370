import AgentOS
import Foundation
import JSON

/// Who a refresh token signs in again, and the session family it belongs to (every token rotated from one
/// sign-in shares the family; the family id is the session id in access tokens).
public struct RefreshGrant: Sendable, Equatable {
    public var email: String
    public var agency: String
    public var contractorId: String
    public var role: String
    public var family: String
    /// When the family's sign-in happened (milliseconds since 1970): a password set or an account disabled
    /// after it ends the family.
    public var signedInAt: Int
}

public enum Redemption: Sendable, Equatable {
    /// Spent now; the caller issues the next token of the family.
    case valid(RefreshGrant)
    /// Spent before: someone replayed it. The whole family is revoked.
    case reused(family: String)
    /// Spent within the reuse grace, by what looks like a second tab refreshing at the same moment: not
    /// theft; the caller answers with the pair the first use got.
    case justSpent(family: String)
    /// Unknown, expired, or of a revoked family.
    case invalid
}

public enum RefreshStoreError: Error, Sendable, CustomStringConvertible {
    case unavailable(String)
    public var description: String { if case .unavailable(let why) = self { why } else { "" } }
}

/// A spent token presented again is a second tab refreshing at the same moment, not theft, only when it
/// is its family's latest spent token and was spent within the grace. A grace of 0 is none (times are
/// whole seconds: a replay in the same second is still theft). Both stores ask this.
func isSecondTab(grace: Int, isLatestSpent: Bool, spentAt: Int, now: Int) -> Bool {
    grace > 0 && isLatestSpent && now - spentAt <= grace
}

/// Refresh tokens (OWASP: rotated on use, reuse revokes the family), stored hashed. Behind one protocol so
/// a shared store for several replicas can replace the embedded file.
public protocol RefreshTokenStore: Sendable {
    /// A new token for the grant, valid for the store's lifetime setting.
    func issue(_ grant: RefreshGrant) async throws(RefreshStoreError) -> (token: String, expiresAt: Int)
    func redeem(_ token: String) async throws(RefreshStoreError) -> Redemption
    func revoke(family: String) async
    func isRevoked(family: String) async -> Bool
}

/// refresh-tokens.jsonl in DATA_DIR: a line per token state change and per revoked family; compacted at
/// start (expired tokens and old revocations dropped). Only SHA-256 hashes of tokens are written.
public actor FileRefreshTokenStore: RefreshTokenStore {
    /// Runs on the disk thread: its appends sync to disk.
    public nonisolated var unownedExecutor: UnownedSerialExecutor { DiskExecutor.shared.asUnownedSerialExecutor() }

    struct Record: Sendable {
        var grant: RefreshGrant
        var expiresAt: Int
        var spent: Bool
        /// When it was spent, in this process (the grace does not survive a restart: a replay then is reuse).
        var spentAt: Int?
    }

    private let file: DurableFile
    private let lifetime: Int
    private let grace: Int
    private let clock: @Sendable () -> Int
    private var tokens: [String: Record] = [:]
    /// Revoked families and until when the revocation matters (the longest a token of theirs could live).
    private var revoked: [String: Int] = [:]
    /// Each family's most recently spent token (its hash): the only one the reuse grace covers.
    private var lastSpent: [String: String] = [:]

    /// `clock` gives seconds since 1970.
    public init(
        directory: String, lifetimeSeconds: Int, reuseGraceSeconds: Int = 0, clock: @escaping @Sendable () -> Int = { Int(Date().timeIntervalSince1970) }
    ) throws(RefreshStoreError) {
        lifetime = lifetimeSeconds
        grace = reuseGraceSeconds
        self.clock = clock
        let now = clock()
        var tokens: [String: Record] = [:], revoked: [String: Int] = [:]
        do {
            file = try DurableFile(directory: directory, name: "refresh-tokens.jsonl") { lines in
                for line in lines {
                    if case .string(let family)? = line["revokedFamily"], case .number(let until)? = line["until"], let at = Int(until) {
                        revoked[family] = at
                    } else if let (hash, record) = Self.decode(line) {
                        tokens[hash] = record
                    }
                }
                tokens = tokens.filter { $0.value.expiresAt > now }
                revoked = revoked.filter { $0.value > now }
                return tokens.map { Self.encode($0.key, $0.value) } + revoked.map { Self.encodeRevocation($0.key, $0.value) }
            }
        } catch { throw .unavailable("\(error)") }
        self.tokens = tokens
        self.revoked = revoked
    }

    public func issue(_ grant: RefreshGrant) throws(RefreshStoreError) -> (token: String, expiresAt: Int) {
        let token = Base64URL.encode(Crypto.randomBytes(32))
        let record = Record(grant: grant, expiresAt: clock() + lifetime, spent: false)
        try persist(Self.hash(token), record)
        return (token, record.expiresAt)
    }

    public func redeem(_ token: String) throws(RefreshStoreError) -> Redemption {
        let hash = Self.hash(token)
        guard var record = tokens[hash], record.expiresAt > clock(), revoked[record.grant.family] == nil else { return .invalid }
        if record.spent {
            if let spentAt = record.spentAt, isSecondTab(grace: grace, isLatestSpent: lastSpent[record.grant.family] == hash, spentAt: spentAt, now: clock()) {
                return .justSpent(family: record.grant.family)
            }
            revoke(family: record.grant.family)
            return .reused(family: record.grant.family)
        }
        record.spent = true
        record.spentAt = clock()
        lastSpent[record.grant.family] = hash
        try persist(hash, record)
        return .valid(record.grant)
    }

    public func revoke(family: String) {
        let until = clock() + lifetime
        revoked[family] = until
        // Best effort on disk: the revocation holds in memory regardless, and spent tokens stay spent.
        try? file.append(Self.encodeRevocation(family, until))
        for (hash, record) in tokens where record.grant.family == family { tokens[hash] = nil }
        lastSpent[family] = nil
    }

    public func isRevoked(family: String) -> Bool { revoked[family] != nil }

    private func persist(_ hash: String, _ record: Record) throws(RefreshStoreError) {
        do { try file.append(Self.encode(hash, record)) } catch { throw .unavailable(error.description) }
        tokens[hash] = record
    }

    static func hash(_ token: String) -> String { Crypto.hex(Crypto.sha256(Array(token.utf8))) }

    static func encode(_ hash: String, _ record: Record) -> JSONValue {
        .object([
            "hash": .string(hash), "family": .string(record.grant.family), "email": .string(record.grant.email),
            "agency": .string(record.grant.agency), "contractorId": .string(record.grant.contractorId), "role": .string(record.grant.role),
            "expiresAt": .number(String(record.expiresAt)), "spent": .bool(record.spent), "signedInAt": .number(String(record.grant.signedInAt)),
        ])
    }

    static func encodeRevocation(_ family: String, _ until: Int) -> JSONValue {
        .object(["revokedFamily": .string(family), "until": .number(String(until))])
    }

    static func decode(_ value: JSONValue) -> (String, Record)? {
        guard case .string(let hash)? = value["hash"], case .string(let family)? = value["family"], case .string(let email)? = value["email"],
              case .string(let agency)? = value["agency"], case .string(let contractor)? = value["contractorId"],
              case .string(let role)? = value["role"], case .number(let expires)? = value["expiresAt"], let expiresAt = Int(expires) else { return nil }
        var signedInAt = 0
        if case .number(let at)? = value["signedInAt"], let seconds = Int(at) { signedInAt = seconds }
        let grant = RefreshGrant(email: email, agency: agency, contractorId: contractor, role: role, family: family, signedInAt: signedInAt)
        return (hash, Record(grant: grant, expiresAt: expiresAt, spent: value["spent"] == .bool(true)))
    }
}
