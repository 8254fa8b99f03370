/// Why a request could not be framed or read. Every case ends the connection after its response: once
/// framing is in doubt, no byte after it can be trusted to start a new request.
public enum ParseError: Error, Equatable, Sendable {
    case badRequest(String)
    case uriTooLong
    case headerFieldsTooLarge(String)
    /// Over the route's body limit, named in bytes.
    case contentTooLarge(limit: Int)
    /// The body could not be kept (its spool file could not be written): the server's fault, 503.
    case bodyNotStored(String)
    case notImplemented(String)
    case versionNotSupported
    case expectationFailed

    public var status: Int {
        switch self {
        case .badRequest: 400
        case .uriTooLong: 414
        case .headerFieldsTooLarge: 431
        case .contentTooLarge: 413
        case .bodyNotStored: 503
        case .notImplemented: 501
        case .versionNotSupported: 505
        case .expectationFailed: 417
        }
    }

    public var message: String {
        switch self {
        case .badRequest(let why): "Bad request: \(why)"
        case .uriTooLong: "Request target too long"
        case .headerFieldsTooLarge(let why): "Request header fields too large: \(why)"
        case .contentTooLarge(let limit): "Request body too large: this route takes at most \(limit) bytes"
        case .bodyNotStored: "The request body could not be stored; retry later"
        case .notImplemented(let why): "Not implemented: \(why)"
        case .versionNotSupported: "HTTP version not supported"
        case .expectationFailed: "Expectation not supported"
        }
    }
}
