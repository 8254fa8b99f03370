import AgentOS
import Foundation
import JSON

/// A person who may sign in to the portal, and the contractor they act for.
public struct PortalUser: Sendable, Equatable {
    public var email: String
    public var passwordHash: String
    public var agency: String
    public var contractorId: String
    public var role: String
    public var disabled: Bool
    /// Sign-ins up to this (milliseconds since 1970) are over: set when the password is set or the account
    /// disabled, so every refresh family issued before ends at its next refresh.
    public var sessionsNotBefore: Int = 0

    public init(email: String, passwordHash: String, agency: String, contractorId: String, role: String = "contractor", disabled: Bool = false) {
        self.email = email
        self.passwordHash = passwordHash
        self.agency = agency
        self.contractorId = contractorId
        self.role = role
        self.disabled = disabled
    }

    /// A new password ends every sign-in made before it (their refresh tokens stop working at next use).
    public mutating func setPassword(hash: String, at milliseconds: Int = Int(Date().timeIntervalSince1970 * 1000)) {
        passwordHash = hash
        sessionsNotBefore = milliseconds
    }

    /// Disabled, every sign-in made before ends too; enabled again, the user signs in afresh.
    public mutating func setDisabled(_ disabled: Bool, at milliseconds: Int = Int(Date().timeIntervalSince1970 * 1000)) {
        self.disabled = disabled
        if disabled { sessionsNotBefore = milliseconds }
    }

    /// The stored form of a new password (PBKDF2-HMAC-SHA256, 600,000 rounds, random salt).
    public static func passwordHash(_ password: String) -> String { Passwords.hash(password) }

    /// Emails compare trimmed and lowercased.
    public static func normalize(_ email: String) -> String { email.trimmingCharacters(in: .whitespaces).lowercased() }

    /// A plausible address: one @, something either side, no spaces or controls, at most 254 bytes.
    public static func isValidEmail(_ email: String) -> Bool {
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        return email.utf8.count <= 254 && parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".")
            && email.utf8.allSatisfy { $0 > 0x20 && $0 != 0x7F }
    }
}

public enum UserStoreError: Error, Sendable, CustomStringConvertible {
    case unavailable(String)
    public var description: String { if case .unavailable(let why) = self { why } else { "" } }
}

/// Where portal users live. The embedded default is a file under DATA_DIR; a shared store for several
/// replicas can implement the same protocol.
public protocol UserStore: Sendable {
    /// The account, nil when there is none; throws when the store cannot say (a shared store unreachable).
    func user(email: String) async throws(UserStoreError) -> PortalUser?
    func all() async -> [PortalUser]
    /// Adds or replaces the user with this email, durably.
    func save(_ user: PortalUser) async throws(UserStoreError)
}

/// users.jsonl in DATA_DIR: one line per change, the latest line for an email wins. A running server reads
/// the file again when it has grown, so `contractor-bff users …` takes effect at the next sign-in.
public actor FileUserStore: UserStore {
    /// Runs on the disk thread: its appends sync to disk.
    public nonisolated var unownedExecutor: UnownedSerialExecutor { DiskExecutor.shared.asUnownedSerialExecutor() }

    private let file: DurableFile
    private var users: [String: PortalUser] = [:]
    private var readBytes = 0

    public init(directory: String) throws(UserStoreError) {
        var loaded: [String: PortalUser] = [:]
        do {
            file = try DurableFile(directory: directory, name: "users.jsonl") { lines in
                for line in lines { if let user = Self.decode(line) { loaded[user.email] = user } }
                return loaded.keys.sorted().compactMap { loaded[$0].map(Self.encode) }
            }
        } catch { throw .unavailable("\(error)") }
        users = loaded
        readBytes = Self.size(of: file.path)
    }

    public func user(email: String) -> PortalUser? {
        reloadIfGrown()
        return users[PortalUser.normalize(email)]
    }

    public func all() -> [PortalUser] {
        reloadIfGrown()
        return users.keys.sorted().compactMap { users[$0] }
    }

    public func save(_ user: PortalUser) throws(UserStoreError) {
        reloadIfGrown()
        var user = user
        user.email = PortalUser.normalize(user.email)
        do { try file.append(Self.encode(user)) } catch { throw .unavailable(error.description) }
        users[user.email] = user
        readBytes = Self.size(of: file.path)
    }

    private func reloadIfGrown() {
        let size = Self.size(of: file.path)
        guard size != readBytes, let data = FileManager.default.contents(atPath: file.path) else { return }
        var loaded: [String: PortalUser] = [:]
        for line in data.split(separator: UInt8(ascii: "\n")) {
            if let value = try? JSONText.parse(Array(line)), let user = Self.decode(value) { loaded[user.email] = user }
        }
        users = loaded
        readBytes = size
    }

    static func size(of path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
    }

    static func encode(_ user: PortalUser) -> JSONValue {
        .object([
            "email": .string(user.email), "passwordHash": .string(user.passwordHash), "agency": .string(user.agency),
            "contractorId": .string(user.contractorId), "role": .string(user.role), "disabled": .bool(user.disabled),
            "sessionsNotBefore": .number(String(user.sessionsNotBefore)),
        ])
    }

    static func decode(_ value: JSONValue) -> PortalUser? {
        guard case .string(let email)? = value["email"], case .string(let hash)? = value["passwordHash"],
              case .string(let agency)? = value["agency"], case .string(let contractor)? = value["contractorId"] else { return nil }
        var role = "contractor"
        if case .string(let stored)? = value["role"] { role = stored }
        var user = PortalUser(email: email, passwordHash: hash, agency: agency, contractorId: contractor, role: role, disabled: value["disabled"] == .bool(true))
        if case .number(let at)? = value["sessionsNotBefore"], let seconds = Int(at) { user.sessionsNotBefore = seconds }
        return user
    }
}
