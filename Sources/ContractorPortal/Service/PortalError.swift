import AgentOS

/// Every way a portal call can fail, typed; the REST and tRPC adapters each map it to their own error
/// shape in one place.
public enum PortalError: Error, Sendable, Equatable {
    /// An input is missing or wrong; `field` names it as the caller sent it.
    case invalid(field: String, reason: String)
    /// The request names a contractor or agency other than the session's.
    case forbidden(String)
    /// Not there, or not this contractor's (the two are never told apart).
    case notFound(String)
    /// An upload, or one of its files, is over a limit (which the message names).
    case tooLarge(String)
    /// A file is not a type AgentOS takes, or not the type it claims to be (the message names the file).
    case unsupportedType(String)
    /// The gateway itself cannot take the request now (an upload it could not store); retry later.
    case unavailable(String)
    /// AgentOS could not answer (not configured, failed, timed out, rate limited…).
    case upstream(AgentOSError)

    public var message: String {
        switch self {
        case .invalid(let field, let reason): "\(field) \(reason)"
        case .forbidden(let message), .notFound(let message), .tooLarge(let message), .unsupportedType(let message), .unavailable(let message): message
        case .upstream(let error): Self.describe(error)
        }
    }

    /// Words for the contractor; nothing of AgentOS's own answer (it is not ours to show, and may leak).
    static func describe(_ error: AgentOSError) -> String {
        switch error {
        case .notConfigured: "AgentOS is not configured"
        case .timeout: "AgentOS did not answer in time"
        case .rateLimited, .keyBlocked: "AgentOS is busy; try again shortly"
        case .circuitOpen: "AgentOS is unavailable; try again shortly"
        case .overloaded: "Too many AgentOS calls in progress; try again shortly"
        case .unauthorized, .forbidden, .upstream, .rejected, .unreadableBody, .transport: "AgentOS failed to answer"
        }
    }
}
