/// A cross-cutting step around the handlers: look at the request, call `next` (or not), shape the response.
public protocol Middleware: Sendable {
    func handle(_ request: Request, next: Handler) async throws -> Response
}

/// Middleware around a router, and the one place where anything thrown becomes a response.
public struct Responder: Sendable {
    private let handler: Handler

    public init(router: Router, middleware: [any Middleware] = []) {
        handler = middleware.reversed().reduce(router.handler) { next, layer in
            { request in try await layer.handle(request, next: next) }
        }
    }

    public func respond(_ request: Request) async -> Response {
        do {
            return try await handler(request)
        } catch {
            return ErrorResponse.make(for: error, requestID: request.requestID)
        }
    }
}
