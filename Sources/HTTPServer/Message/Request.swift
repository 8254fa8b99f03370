/// One parsed, complete request as handlers see it.
public struct Request: Sendable {
    public var method: HTTPMethod
    /// The request-target exactly as received.
    public var target: String
    /// The path as received (still percent-encoded), without the query.
    public var path: String
    /// The path split on `/` and percent-decoded per segment, so an encoded `/` stays inside its segment.
    public var pathSegments: [String]
    /// Query pairs in order, percent-decoded, `+` read as a space.
    public var query: [(name: String, value: String)]
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    /// The body in memory. Empty when it was spooled (an upload route, a body past its threshold): `content`
    /// is the body either way, and what upload handlers read.
    public var body: [UInt8]
    public var spooledBody: SpoolFile?
    public var requestID: String
    public var remoteAddress: String
    /// When the server gives up on this request (the handler timeout); work done for it should end by then.
    public var deadline: ContinuousClock.Instant
    /// Route parameters (`:jobId`), set by the router.
    public var parameters: [String: String] = [:]
    /// Values that middleware attach for the handlers after them (a session, say).
    public var attributes = Attributes()

    public init(
        method: HTTPMethod, target: String, version: HTTPVersion = .http11, headers: HTTPHeaders = [:],
        body: [UInt8] = [], spooledBody: SpoolFile? = nil, requestID: String = "test", remoteAddress: String = "127.0.0.1",
        deadline: ContinuousClock.Instant = .now + .seconds(30)
    ) throws(HTTPError) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body
        self.spooledBody = spooledBody
        self.requestID = requestID
        self.remoteAddress = remoteAddress
        self.deadline = deadline
        let components = try RequestTarget.split(target)
        self.path = components.path
        self.pathSegments = components.segments
        self.query = components.query
    }

    /// The body, wherever the parser kept it.
    public var content: RequestBody { spooledBody.map(RequestBody.spooled) ?? .bytes(body) }

    /// The first query value of that name.
    public func query(_ name: String) -> String? { query.first { $0.name == name }?.value }
}

public struct HTTPVersion: Sendable, Equatable, CustomStringConvertible {
    public let major: Int
    public let minor: Int
    public static let http10 = HTTPVersion(major: 1, minor: 0)
    public static let http11 = HTTPVersion(major: 1, minor: 1)
    public var description: String { "HTTP/\(major).\(minor)" }
}

/// A small typed bag: each key type names its value type, so no handler casts by hand.
public protocol AttributeKey {
    associatedtype Value: Sendable
}

public struct Attributes: Sendable {
    private var storage: [ObjectIdentifier: any Sendable] = [:]
    public init() {}
    public subscript<K: AttributeKey>(_ key: K.Type) -> K.Value? {
        get { storage[ObjectIdentifier(key)] as? K.Value }
        set { storage[ObjectIdentifier(key)] = newValue }
    }
}
