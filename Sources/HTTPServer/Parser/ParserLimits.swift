/// Every bound the parser enforces, named. Defaults follow the server issue (and sit close to nginx's).
public struct ParserLimits: Sendable, Equatable {
    /// Longest request-target; over it → 414.
    public var maxRequestTargetBytes = 8 * 1024
    /// Largest header section (the field lines after the request line); over it → 431.
    public var maxHeaderBytes = 16 * 1024
    /// Most header field lines; over it → 431.
    public var maxHeaderFields = 100
    /// Largest request body, by Content-Length (refused before reading) or chunked total; over it → 413.
    public var maxBodyBytes = 1024 * 1024
    /// Longest method token; a method is a short word, so anything longer is garbage → 400.
    public var maxMethodBytes = 32
    /// Longest chunk-size line including extensions; over it → 400.
    public var maxChunkLineBytes = 1024
    /// Empty lines tolerated before a request line (RFC 9112 §2.2 asks for at least one).
    public var maxLeadingEmptyLines = 4

    public init() {}
}
