/// Every bound the parser enforces, named. Defaults follow the server issue (and sit close to nginx's).
public struct ParserLimits: Sendable, Equatable {
    /// Longest request-target; over it → 414.
    public var maxRequestTargetBytes = 8 * 1024
    /// Largest header section (the field lines after the request line); over it → 431.
    public var maxHeaderBytes = 16 * 1024
    /// Most header field lines; over it → 431.
    public var maxHeaderFields = 100
    /// Largest request body, by Content-Length (refused before reading) or chunked total; over it → 413.
    /// Routes in `bodyRoutes` have their own.
    public var maxBodyBytes = 1024 * 1024
    /// Upload routes: a larger limit each, and their bodies spooled to disk past a threshold.
    public var bodyRoutes: [BodyRoute] = []
    /// Where spooled bodies are written (unlinked files: nothing stays there).
    public var spoolDirectory = "/tmp"
    /// Longest method token; a method is a short word, so anything longer is garbage → 400.
    public var maxMethodBytes = 32
    /// Longest chunk-size line including extensions; over it → 400.
    public var maxChunkLineBytes = 1024
    /// Empty lines tolerated before a request line (RFC 9112 §2.2 asks for at least one).
    public var maxLeadingEmptyLines = 4

    public init() {}

    /// The limit and spool threshold for a request, from its head alone.
    func bodyPolicy(method: String, target: String) -> (maxBytes: Int, spoolAboveBytes: Int?) {
        guard let route = bodyRoutes.first(where: { $0.matches(method: method, target: target) }) else { return (maxBodyBytes, nil) }
        return (route.maxBytes, route.spoolAboveBytes)
    }

    /// The largest body any route accepts (what a lingering close may drain).
    var largestBody: Int { bodyRoutes.map(\.maxBytes).reduce(maxBodyBytes, max) }
}
