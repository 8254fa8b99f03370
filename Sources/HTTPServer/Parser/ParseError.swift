/// Why a request could not be framed or read. Every case ends the connection after its response: once
/// framing is in doubt, no byte after it can be trusted to start a new request.
public enum ParseError: Error, Equatable, Sendable {
    case badRequest(String)
    case uriTooLong
    case headerFieldsTooLarge(String)
    case contentTooLarge
    case notImplemented(String)
    case versionNotSupported
    case expectationFailed

    public var status: Int {
        switch self {
        case .badRequest: 400
        case .uriTooLong: 414
        case .headerFieldsTooLarge: 431
        case .contentTooLarge: 413
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
        case .contentTooLarge: "Request body too large"
        case .notImplemented(let why): "Not implemented: \(why)"
        case .versionNotSupported: "HTTP version not supported"
        case .expectationFailed: "Expectation not supported"
        }
    }
}
