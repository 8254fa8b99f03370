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
        case .upstream(let upstream):
            switch UpstreamFailure(upstream) {
            case .unavailable(let retryAfter): HTTPError(503, error.message, headers: ["Retry-After": String(retryAfter)])
            case .timeout: HTTPError(504, error.message)
            case .failed: HTTPError(502, error.message)
            }
        }
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
