import AgentOS
import ContractorPortal
import HTTPServer

/// The one place where portal failures become REST responses (seed 002's `{"error": "..."}` plus
/// `requestId`, which the server's error responder writes).
enum RESTError {
    static func from(_ error: PortalError) -> HTTPError {
        switch error {
        case .invalid: HTTPError(400, error.message)
        case .forbidden: HTTPError(403, error.message)
        case .notFound: HTTPError(404, error.message)
        case .tooLarge: HTTPError(413, error.message)
        case .unsupportedType: HTTPError(415, error.message)
        case .unavailable: HTTPError(503, error.message, headers: ["Retry-After": "5"])
        case .upstream(let upstream):
            switch UpstreamFailure(upstream) {
            case .unavailable(let retryAfter): HTTPError(503, error.message, headers: ["Retry-After": String(retryAfter)])
            case .timeout: HTTPError(504, error.message)
            case .failed: HTTPError(502, error.message)
            }
        }
    }

    /// The wait a portal failure asks for, as a value (what `from(_:)` writes into `Retry-After`).
    static func retryAfter(_ error: PortalError) -> Int? {
        if case .unavailable = error { return 5 }
        guard case .upstream(let upstream) = error, case .unavailable(let seconds) = UpstreamFailure(upstream) else { return nil }
        return seconds
    }

    static func from(_ refusal: WriteRefusal) -> HTTPError {
        let status = switch refusal {
        case .badKey: 400
        case .keyReused: 422
        case .inFlight, .duplicateInvoice: 409
        case .outcomeUnknown, .storeUnavailable: 503
        }
        return HTTPError(status, refusal.message, headers: refusal.retryAfter.map { ["Retry-After": String($0)] } ?? [:])
    }

    static func from(_ refusal: SessionRefusal) -> HTTPError {
        HTTPError(401, refusal.message, headers: ["WWW-Authenticate": refusal.challenge])
    }

    static func from(_ refusal: GatewayRefusal) -> HTTPError {
        switch refusal {
        case .rateLimited(let wait, _): HTTPError(429, refusal.message, headers: ["Retry-After": String(wait)])
        case .originNotAllowed, .csrfInvalid: HTTPError(403, refusal.message)
        case .unauthenticated(let session): from(session)
        }
    }

    /// A REST event stream that cannot start: too many open (429), or its resume point is gone (409:
    /// refetch, then subscribe without Last-Event-ID).
    static func from(_ refusal: SubscribeRefusal) -> HTTPError {
        switch refusal {
        case .tooMany: HTTPError(429, refusal.message, headers: ["Retry-After": "5"])
        case .gone: HTTPError(409, refusal.message)
        }
    }

    /// The one place where anything thrown under a REST route becomes its response.
    static func response(for error: any Error, requestID: String) -> Response {
        let http: HTTPError = switch error {
        case let error as HTTPError: error
        case let error as GatewayRefusal: from(error)
        case let error as RoutingError: error.httpError
        case let error as PortalError: from(error)
        case let error as WriteRefusal: from(error)
        case let error as SessionRefusal: from(error)
        default: HTTPError(500, "Internal server error")
        }
        return ErrorResponse.make(for: http, requestID: requestID)
    }
}

/// How an AgentOS failure looks to a portal client, whichever the adapter: worth retrying after a wait
/// (not configured, breaker open, rate limited, overloaded), timed out, or failed.
enum UpstreamFailure: Equatable {
    case unavailable(retryAfterSeconds: Int)
    case timeout
    case failed

    init(_ error: AgentOSError) {
        switch error {
        case .notConfigured: self = .unavailable(retryAfterSeconds: 30)
        case .circuitOpen(let wait), .rateLimited(let wait), .keyBlocked(let wait): self = .unavailable(retryAfterSeconds: Self.seconds(wait))
        case .overloaded: self = .unavailable(retryAfterSeconds: 1)
        case .timeout: self = .timeout
        case .unauthorized, .forbidden, .upstream, .rejected, .unreadableBody, .transport: self = .failed
        }
    }

    /// Whole seconds, rounded up, at least 1 (RFC 9110 §10.2.3 delay-seconds).
    static func seconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return max(1, Int(seconds) + (attoseconds > 0 ? 1 : 0))
    }
}
