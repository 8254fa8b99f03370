import ContractorPortal
import Foundation
import HTTPServer

/// A verified session, as the handlers see it.
public struct Session: Sendable, Equatable {
    public let identity: ContractorIdentity
    public let role: String?
    public let claims: SessionClaims
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
public struct SessionAuthenticator: Sendable {
    public static let cookieName = "session"
    let tokens: SessionTokens
    let logger: Logger

    public init(tokens: SessionTokens, logger: Logger) {
        self.tokens = tokens
        self.logger = logger
    }

    public func authenticate(_ request: Request) -> Result<Session, SessionRefusal> {
        guard let token = Self.token(in: request) else { return .failure(.missing) }
        switch Result(catching: { () throws(SessionTokenError) in try tokens.verify(token) }) {
        case .success(let claims):
            let identity = ContractorIdentity(shortName: claims.agency, contractorId: claims.subject)
            return .success(Session(identity: identity, role: claims.role, claims: claims))
        case .failure(let error):
            logger.log(.info, "session_refused", ["requestId": .string(request.requestID), "reason": .string("\(error)")])
            return .failure(.invalid(error))
        }
    }

    static func token(in request: Request) -> String? {
        if let authorization = request.headers["Authorization"] {
            let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else { return "" }
            return parts[1].trimmingCharacters(in: .whitespaces)
        }
        for header in request.headers.values("Cookie") {
            for pair in header.split(separator: ";") {
                let trimmed = pair.drop { $0 == " " }
                if trimmed.hasPrefix(cookieName + "=") { return String(trimmed.dropFirst(cookieName.count + 1)) }
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
