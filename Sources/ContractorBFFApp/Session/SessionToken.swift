import AgentOS
import Foundation
import JSON

/// What a session says: who the contractor is and for how long.
public struct SessionClaims: Sendable, Equatable {
    /// contractorId
    public var subject: String
    /// the agency's shortName
    public var agency: String
    public var issuedAt: Int
    public var expiresAt: Int
    public var role: String?
    /// `sid`: the sign-in this session comes from (its refresh-token family), so signing out ends it.
    public var sessionID: String?

    public init(subject: String, agency: String, issuedAt: Int, expiresAt: Int, role: String? = nil, sessionID: String? = nil) {
        self.subject = subject
        self.agency = agency
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.role = role
        self.sessionID = sessionID
    }
}

/// Why a token was refused. Callers answer 401 for every case alike; the case is for logs and tests.
public enum SessionTokenError: Error, Sendable, Equatable {
    case malformed, unsupportedAlgorithm, badSignature, expired, notYetValid, missingClaim(String), revoked
    /// `exp` lies further ahead than SESSION_MAX_LIFETIME_SECONDS allows.
    case lifetimeTooLong
}

/// HS256 JSON Web Tokens (RFC 7519 / RFC 7515) signed with the configured secret, so the portal's own
/// sign-in service can mint sessions for this server. Only HS256 is accepted: `none`, other HMACs and
/// asymmetric algorithms are refused before anything else is read (the classic JWT confusion attacks).
public struct SessionTokens: Sendable {
    public static let maxTokenBytes = 4_096
    /// Clock skew allowed for `iat` and `nbf` (not for `exp`: an expired session is expired).
    public static let skewSeconds = 60

    private let key: [UInt8]
    /// The longest a session may be valid: `exp` further than this from now (or from `iat`) is refused,
    /// so no token minted elsewhere lives for ever.
    public let maxLifetime: Int

    public init(secret: String, maxLifetimeSeconds: Int = 30 * 86_400) {
        key = Array(secret.utf8)
        maxLifetime = maxLifetimeSeconds
    }

    public func sign(_ claims: SessionClaims) -> String {
        let header = JSONValue.object(["alg": .string("HS256"), "typ": .string("JWT")])
        var fields: [String: JSONValue] = [
            "sub": .string(claims.subject), "agency": .string(claims.agency),
            "iat": .number(String(claims.issuedAt)), "exp": .number(String(claims.expiresAt)),
        ]
        if let role = claims.role { fields["role"] = .string(role) }
        if let sessionID = claims.sessionID { fields["sid"] = .string(sessionID) }
        let input = Base64URL.encode(header.serialized()) + "." + Base64URL.encode(JSONValue.object(fields).serialized())
        return input + "." + Base64URL.encode(Crypto.hmacSHA256(key: key, Array(input.utf8)))
    }

    public func verify(_ token: String, now: Int = Int(Date().timeIntervalSince1970)) throws(SessionTokenError) -> SessionClaims {
        guard token.utf8.count <= Self.maxTokenBytes else { throw .malformed }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = Base64URL.decode(parts[0]), let payloadBytes = Base64URL.decode(parts[1]),
              let signature = Base64URL.decode(parts[2]) else { throw .malformed }
        guard let header = try? JSONText.parse(headerBytes, maxDepth: 4), let headerFields = header.objectValue else { throw .malformed }
        guard headerFields["alg"] == .string("HS256"), headerFields["crit"] == nil else { throw .unsupportedAlgorithm }
        let input = Array(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        guard Crypto.constantTimeEqual(Crypto.hmacSHA256(key: key, input), signature) else { throw .badSignature }
        guard let payload = try? JSONText.parse(payloadBytes, maxDepth: 8), let fields = payload.objectValue else { throw .malformed }
        func text(_ name: String) throws(SessionTokenError) -> String {
            guard case .string(let value)? = fields[name], !value.isEmpty, value.count <= 128 else { throw .missingClaim(name) }
            return value
        }
        func seconds(_ name: String) throws(SessionTokenError) -> Int? {
            switch fields[name] {
            case nil: return nil
            case .number(let literal)?:
                guard let value = Int(literal) ?? Double(literal).flatMap({ $0.isFinite ? Int(exactly: $0.rounded(.down)) : nil }) else {
                    throw .missingClaim(name)
                }
                return value
            default: throw .missingClaim(name)
            }
        }
        let subject = try text("sub"), agency = try text("agency")
        guard let expiresAt = try seconds("exp") else { throw .missingClaim("exp") }
        guard now < expiresAt else { throw .expired }
        let issuedAt = try seconds("iat")
        if let issuedAt, issuedAt > now + Self.skewSeconds { throw .notYetValid }
        if let notBefore = try seconds("nbf"), notBefore > now + Self.skewSeconds { throw .notYetValid }
        guard expiresAt - now <= maxLifetime, expiresAt - (issuedAt ?? now) <= maxLifetime else { throw .lifetimeTooLong }
        var role: String?
        if fields["role"] != nil && fields["role"] != .null { role = try text("role") }
        let sessionID = fields["sid"] == nil ? nil : try text("sid")
        return SessionClaims(subject: subject, agency: agency, issuedAt: issuedAt ?? 0, expiresAt: expiresAt, role: role, sessionID: sessionID)
    }
}
