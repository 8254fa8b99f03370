import HTTPServer

/// The request's session, verified once (one HMAC check, one revocation look-up) and handed down to the
/// middleware and handlers after it, which read it with `SessionAuthenticator.session(of:)`.
enum ResolvedSession: AttributeKey {
    typealias Value = Result<Session, SessionRefusal>
}

struct SessionResolution: Middleware {
    let sessions: SessionAuthenticator

    func handle(_ request: Request, next: Handler) async throws -> Response {
        guard SessionAuthenticator.token(in: request) != nil else { return try await next(request) }
        var request = request
        request.attributes[ResolvedSession.self] = await sessions.authenticate(request)
        return try await next(request)
    }
}

extension SessionAuthenticator {
    /// The session `SessionResolution` found for this request, or (a request that did not pass through
    /// it) the result of verifying it now.
    func session(of request: Request) async -> Result<Session, SessionRefusal> {
        if let resolved = request.attributes[ResolvedSession.self] { return resolved }
        guard Self.token(in: request) != nil else { return .failure(.missing) }
        return await authenticate(request)
    }
}
