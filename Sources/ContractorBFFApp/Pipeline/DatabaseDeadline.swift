import HTTPServer
import PostgreSQL

/// Every database call a request makes ends by the request's own deadline (the handler timeout), so
/// none outlives the request it serves (`PGPool.withConnection`).
struct DatabaseDeadline: Middleware {
    func handle(_ request: Request, next: Handler) async throws -> Response {
        try await CallerDeadline.$current.withValue(request.deadline) { try await next(request) }
    }
}
