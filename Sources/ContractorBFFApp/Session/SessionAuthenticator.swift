import AgentOS
import ContractorPortal
import Foundation
import HTTPServer
import JSON
import Logging

/// A verified session, as the handlers see it.
public struct Session: Sendable, Equatable {
    public let identity: ContractorIdentity
    public let role: String?
    public let claims: SessionClaims
    /// What CSRF tokens and rate limits bind to: the `sid` claim, or for a token minted without one (the
    /// `token` command, another sign-in service) a digest of the token itself.
    public let id: String
    /// Whether it came in the `session` cookie (CSRF applies) rather than an Authorization header.
    public let fromCookie: Bool
}

/// Why a request has no session. Both answer 401; they differ in `WWW-Authenticate` (RFC 6750 §3).
public enum SessionRefusal: Error, Sendable, Equatable {
    case missing
    case invalid(SessionTokenError)

    public var message: String {
        switch self {
        case .missing: "Authentication required"
        case .invalid: "Invalid or expired session"
        }
    }

    public var challenge: String {
        switch self {
        case .missing: #"Bearer realm="contractor-portal""#
        case .invalid: #"Bearer realm="contractor-portal", error="invalid_token""#
        }
    }
}

/// Finds and verifies the session of a request: `Authorization: Bearer <token>` first, else the `session`
/// cookie. A present but malformed Authorization header is refused, not skipped in favour of the cookie.
/// A session whose sign-in was ended (signed out, refresh token replayed) is refused before it expires.
public struct SessionAuthenticator: Sendable {
    public static let cookieName = "session"
    let tokens: SessionTokens
    let revocations: (any RefreshTokenStore)?
    let logger: Logger

    public init(tokens: SessionTokens, revocations: (any RefreshTokenStore)? = nil, logger: Logger) {
        self.tokens = tokens
        self.revocations = revocations
        self.logger = logger
    }

    public func authenticate(_ request: Request) async -> Result<Session, SessionRefusal> {
        guard let (token, fromCookie) = Self.token(in: request) else { return .failure(.missing) }
        var verified = Result(catching: { () throws(SessionTokenError) in try tokens.verify(token) })
        if case .success(let claims) = verified, let family = claims.sessionID, await revocations?.isRevoked(family: family) == true {
            verified = .failure(.revoked)
        }
        switch verified {
        case .success(let claims):
            let identity = ContractorIdentity(shortName: claims.agency, contractorId: claims.subject)
            let id = claims.sessionID ?? Self.fallbackSessionID(claims)
            return .success(Session(identity: identity, role: claims.role, claims: claims, id: id, fromCookie: fromCookie))
        case .failure(let error):
            logger.log(.info, "session_refused", ["requestId": .string(request.requestID), "reason": .string("\(error)")])
            return .failure(.invalid(error))
        }
    }

    /// A token minted without `sid` (the `token` command, another sign-in service) is one session per
    /// decoded claim set, however its text is spelled.
    static func fallbackSessionID(_ claims: SessionClaims) -> String {
        let canonical = JSONValue.object([
            "sub": .string(claims.subject), "agency": .string(claims.agency), "iat": .number(String(claims.issuedAt)),
            "exp": .number(String(claims.expiresAt)), "role": claims.role.map(JSONValue.string) ?? .null,
        ])
        return "t-" + Crypto.hex(Crypto.sha256(canonical.serialized()))
    }

    static func token(in request: Request) -> (token: String, fromCookie: Bool)? {
        if let authorization = request.headers["Authorization"] {
            let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else { return ("", false) }
            // Spaces and tabs around the token are not part of it (the header's own OWS is already gone).
            let token = parts[1].utf8.drop { $0 == 32 || $0 == 9 }
            let end = token.lastIndex { $0 != 32 && $0 != 9 }.map { token.index(after: $0) } ?? token.startIndex
            return (String(Substring(token[token.startIndex..<end])), false)
        }
        return cookie(cookieName, in: request).map { ($0, true) }
    }

    /// The first cookie of that name (RFC 6265 §5.4: `name=value` pairs separated by `; `).
    static func cookie(_ name: String, in request: Request) -> String? {
        for header in request.headers.values("Cookie") {
            for pair in header.split(separator: ";") {
                let trimmed = pair.drop { $0 == " " }
                if trimmed.hasPrefix(name + "=") { return String(trimmed.dropFirst(name.count + 1)) }
            }
        }
        return nil
    }
}

extension Result where Failure == SessionTokenError {
    init(catching body: () throws(SessionTokenError) -> Success) {
        do { self = .success(try body()) } catch { self = .failure(error) }
    }
}
