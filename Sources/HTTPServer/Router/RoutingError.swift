/// What the router says when no route takes a request; each API renders it in its own shape.
public enum RoutingError: Error, Sendable, Equatable {
    case notFound
    /// The path exists for these methods only (`Allow`, RFC 9110 §15.5.6).
    case methodNotAllowed(allowed: [HTTPMethod])

    /// The `Allow` field's value, each method once, in route order.
    public var allowHeader: String? {
        guard case .methodNotAllowed(let allowed) = self else { return nil }
        var seen = Set<HTTPMethod>()
        return allowed.filter { seen.insert($0).inserted }.map(\.rawValue).joined(separator: ", ")
    }

    public var httpError: HTTPError {
        switch self {
        case .notFound: .notFound
        case .methodNotAllowed: HTTPError(405, "Method not allowed", headers: ["Allow": allowHeader ?? ""])
        }
    }
}
