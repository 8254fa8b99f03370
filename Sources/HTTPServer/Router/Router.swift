public typealias Handler = @Sendable (Request) async throws -> Response

/// Method and path patterns (`/api/contractor/jobs/:jobId/complete`) to handlers. Patterns match the
/// percent-decoded segments; an unknown path is 404, a known path with another method 405 with `Allow`.
public struct Router: Sendable {
    enum Segment: Equatable, Sendable {
        case literal(String)
        case parameter(String)
    }

    struct Route: Sendable {
        let method: HTTPMethod
        let pattern: String
        let segments: [Segment]
        let handler: Handler
    }

    public enum Match: Sendable {
        case found(Handler, parameters: [String: String])
        case methodNotAllowed(allowed: [HTTPMethod])
        case notFound
    }

    private var routes: [Route] = []

    public init() {}

    public mutating func on(_ method: HTTPMethod, _ pattern: String, _ handler: @escaping Handler) {
        let segments = pattern.split(separator: "/", omittingEmptySubsequences: true).map { part in
            part.hasPrefix(":") ? Segment.parameter(String(part.dropFirst())) : .literal(String(part))
        }
        routes.append(Route(method: method, pattern: pattern, segments: segments, handler: handler))
    }

    /// The pattern a request would be routed by (`/api/contractor/jobs/:jobId/notes`), for metrics whose
    /// labels must stay a bounded set: never the raw path. nil when no route has the path.
    public func template(_ method: HTTPMethod, _ segments: [String]) -> String? {
        // Every request asks this (metrics), so it walks the routes once and builds no list.
        let wanted = segments == [""] ? [] : segments
        var samePath: String?
        for route in routes where Self.bind(route.segments, wanted) != nil {
            if route.method == method || (method == .head && route.method == .get) { return route.pattern }
            samePath = samePath ?? route.pattern
        }
        return samePath
    }

    /// The routes as registered, method and pattern: what an API description is checked against.
    public var table: [(method: HTTPMethod, pattern: String)] { routes.map { ($0.method, $0.pattern) } }

    public mutating func get(_ pattern: String, _ handler: @escaping Handler) { on(.get, pattern, handler) }
    public mutating func post(_ pattern: String, _ handler: @escaping Handler) { on(.post, pattern, handler) }
    public mutating func patch(_ pattern: String, _ handler: @escaping Handler) { on(.patch, pattern, handler) }
    public mutating func put(_ pattern: String, _ handler: @escaping Handler) { on(.put, pattern, handler) }
    public mutating func delete(_ pattern: String, _ handler: @escaping Handler) { on(.delete, pattern, handler) }

    public func match(_ method: HTTPMethod, _ segments: [String]) -> Match {
        var allowed: [HTTPMethod] = []
        let wanted = segments == [""] ? [] : segments
        for route in routes {
            guard let parameters = Self.bind(route.segments, wanted) else { continue }
            // HEAD is GET without the body (RFC 9110 §9.3.2); the server drops the body.
            if route.method == method || (method == .head && route.method == .get) {
                return .found(route.handler, parameters: parameters)
            }
            allowed.append(route.method)
            if route.method == .get { allowed.append(.head) }
        }
        return allowed.isEmpty ? .notFound : .methodNotAllowed(allowed: allowed)
    }

    private static func bind(_ pattern: [Segment], _ segments: [String]) -> [String: String]? {
        guard pattern.count == segments.count else { return nil }
        var parameters: [String: String] = [:]
        for (part, segment) in zip(pattern, segments) {
            switch part {
            case .literal(let literal): guard literal == segment else { return nil }
            case .parameter(let name):
                guard !segment.isEmpty else { return nil }
                parameters[name] = segment
            }
        }
        return parameters
    }

    /// The router as one handler: unmatched requests throw the `RoutingError` (404 or 405) that says why.
    public var handler: Handler {
        let router = self
        return { request in
            switch router.match(request.method, request.pathSegments) {
            case .found(let handler, let parameters):
                var request = request
                request.parameters = parameters
                return try await handler(request)
            case .methodNotAllowed(let allowed):
                throw RoutingError.methodNotAllowed(allowed: allowed)
            case .notFound:
                throw RoutingError.notFound
            }
        }
    }
}
