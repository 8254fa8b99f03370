/// Every way an AgentOS call can fail, typed, so each adapter maps it to its own response in one place.
/// No case carries the API key, a query value or an upstream body.
public enum AgentOSError: Error, Sendable, Equatable {
    /// No base URL or API key configured (seed 003's LetmcNotConfiguredError).
    case notConfigured
    /// 401: the key is missing, wrong, revoked or of the wrong tier.
    case unauthorized
    /// 403: the key may not act for this agency.
    case forbidden
    /// 403 after 429s: the load balancer blocked the key; the breaker is open.
    case keyBlocked(retryAfter: Duration)
    /// 429 received, a cool-down running, or no rate-limit token free in time.
    case rateLimited(retryAfter: Duration)
    /// The attempt or the overall deadline ran out.
    case timeout
    /// 5xx from AgentOS (after whatever retries the policy allowed).
    case upstream(status: Int)
    /// Another 4xx: AgentOS refused the request as sent.
    case rejected(status: Int)
    /// A 2xx whose body is not the JSON expected.
    case unreadableBody
    /// No HTTP exchange completed (refused, reset, lost).
    case transport(String)
    /// The circuit breaker is open: AgentOS is failing, calls fail fast until the cool-down ends.
    case circuitOpen(retryAfter: Duration)
    /// Too many calls already in flight or queued for AgentOS.
    case overloaded
}
