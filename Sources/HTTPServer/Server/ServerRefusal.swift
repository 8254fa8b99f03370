/// Why the server core answered a request itself, before a handler ran or instead of one. The
/// application renders it in the shape its clients read (`RefusalRenderer`); the server itself knows
/// nothing of those shapes, and by default writes `ErrorResponse`'s.
public enum ServerRefusal: Sendable, Equatable {
    /// The bytes could not be framed as a request (400, 413, 414, 417, 431, 501, 505).
    case malformed(ParseError)
    /// The head was framed, but its target is not a path this server can read (400).
    case invalidTarget(String)
    /// A phase took longer than its limit.
    case timedOut(Phase)

    public enum Phase: Sendable, Equatable {
        /// The head did not arrive in time (408).
        case head
        /// The body stalled (408).
        case body
        /// The handler did not answer in time (503): the client did nothing wrong.
        case handler
    }

    public var status: Int {
        switch self {
        case .malformed(let error): error.status
        case .invalidTarget: 400
        case .timedOut(.head), .timedOut(.body): 408
        case .timedOut(.handler): 503
        }
    }

    public var message: String {
        switch self {
        case .malformed(let error): error.message
        case .invalidTarget(let why): why
        case .timedOut(.head): "Timed out reading the request head"
        case .timedOut(.body): "Timed out reading the request body"
        case .timedOut(.handler): "The request took too long to handle"
        }
    }
}

/// What is known of the request a refusal answers: its id, and its target as far as it was read (the
/// request line may be all there is, or only the start of an overlong one), so that an application can
/// answer in the shape of the API the target names.
public struct RefusalContext: Sendable, Equatable {
    public var requestID: String
    public var target: String?

    public init(requestID: String, target: String?) {
        self.requestID = requestID
        self.target = target
    }
}

public typealias RefusalRenderer = @Sendable (ServerRefusal, RefusalContext) -> Response

public extension ErrorResponse {
    /// The server's default rendering of its own refusals.
    static let refusals: RefusalRenderer = { refusal, context in
        make(status: refusal.status, message: refusal.message, requestID: context.requestID)
    }
}
