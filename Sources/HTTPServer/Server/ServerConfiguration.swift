/// Everything the server core can be told. Defaults are the documented ones (README, config/default.json).
public struct ServerConfiguration: Sendable, Equatable {
    public var host = "0.0.0.0"
    /// 0 asks the kernel for a free port; `HTTPServer.start()` returns the one bound.
    public var port = 8080
    public var limits = ParserLimits()
    /// From a connection's first byte (or its accept) to the end of the head: the slowloris bound.
    public var headerTimeout: Duration = .seconds(10)
    /// Longest wait between two reads of a body.
    public var bodyTimeout: Duration = .seconds(30)
    /// From the end of the head to the end of the body, however steadily it trickles.
    public var bodyDeadline: Duration = .seconds(60)
    /// Open connections one client address may hold (addresses the server is told not to cap excepted).
    public var maxConnectionsPerAddress = 256
    /// Longest wait for a client to take a response's bytes.
    public var sendTimeout: Duration = .seconds(30)
    /// How long an idle keep-alive connection is kept.
    public var keepAliveTimeout: Duration = .seconds(60)
    /// How long a handler may take before the server answers 503 for it.
    public var handlerTimeout: Duration = .seconds(30)
    /// After a response that closes the connection, how long unread input is drained so the client
    /// reads the response rather than a reset (nginx's lingering close).
    public var lingerTimeout: Duration = .seconds(2)
    /// Open connections above which a new one is closed at once.
    public var maxConnections = 10_000
    /// On shutdown, how long in-flight requests get to finish.
    public var drainTimeout: Duration = .seconds(10)
    /// Event loop threads; 0 means one per core.
    public var eventLoops = 0
    /// A streamed response whose unsent bytes pass this is cut off: the client is not reading.
    public var maxPendingStreamBytes = 1024 * 1024
    /// One JSON line per request on the logger.
    public var accessLog = true
    /// Fields every response carries, the server's own refusals (400, 413, 431, 503, …) included, unless the
    /// handler set the same field (security headers, say).
    public var standardHeaders: HTTPHeaders = [:]

    public init() {}
}
