import HTTPServer

/// Why the gateway refused a request before any handler ran. Middleware throws it with its data (a wait
/// as a number of seconds, a session refusal with its reason); each adapter renders it in its own shape
/// in one place: `RESTError.response(for:requestID:)`, `TRPCError.init(_:)`.
enum GatewayRefusal: Error, Sendable, Equatable {
    enum Scope: String, Sendable { case address, session }

    /// Over a per-address or per-session request budget.
    case rateLimited(retryAfterSeconds: Int, scope: Scope)
    /// A cross-site request (or preflight) from an origin that is not a configured portal origin.
    case originNotAllowed
    /// A cookie-authenticated write without the session's CSRF token.
    case csrfInvalid
    /// No session, or one that is invalid, expired or ended.
    case unauthenticated(SessionRefusal)

    var message: String {
        switch self {
        case .rateLimited(_, .address): "Too many requests; slow down"
        case .rateLimited(_, .session): "Too many requests for this session; slow down"
        case .originNotAllowed: "Origin not allowed"
        case .csrfInvalid: "Missing or invalid CSRF token: send X-CSRF-Token from GET /api/security/csrf-token"
        case .unauthenticated(let refusal): refusal.message
        }
    }
}

/// Which API a request is for, decided from the percent-decoded segments the router matches, never from
/// the raw path (where `/%61pi/…` would dodge a prefix test that the router then routes as `/api/…`).
enum APIPath {
    static func isAPI(_ segments: [String]) -> Bool { segments.first == "api" }

    static func isTRPC(_ segments: [String]) -> Bool { segments.count >= 2 && segments[0] == "api" && segments[1] == "trpc" }

    static func `is`(_ segments: [String], _ path: String) -> Bool {
        segments == path.split(separator: "/").map(String.init)
    }

    /// The decoded segments of a request-target as far as the server read it (for its own refusals);
    /// nil when it is not a path at all.
    static func segments(ofTarget target: String?) -> [String]? {
        guard let target, let request = try? Request(method: .get, target: target) else { return nil }
        return request.pathSegments
    }
}
