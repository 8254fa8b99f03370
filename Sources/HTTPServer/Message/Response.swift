import Foundation

/// What a handler answers. The server owns framing: it writes Content-Length (or chunked for a stream),
/// Date, Connection and X-Request-Id itself, and drops those fields if a handler set them.
public struct Response: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: Body

    public enum Body: Sendable {
        case bytes([UInt8])
        /// Sent with chunked transfer coding as the chunks arrive (server-sent events); ends when the stream ends.
        case stream(AsyncStream<[UInt8]>)
        /// No response at all: the connection is reset (RST). For clients that must be cut off, and for
        /// test upstreams that imitate a failing network.
        case abort
        /// The head announces all of `bytes`, only the first `sent` follow, then the connection is reset:
        /// a response cut off mid-body, as a failing network delivers it (for test upstreams).
        case cutOff([UInt8], sent: Int)
    }

    public init(status: Int = 200, headers: HTTPHeaders = [:], body: Body = .bytes([])) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public init(status: Int = 200, headers: HTTPHeaders = [:], bytes: [UInt8]) {
        self.init(status: status, headers: headers, body: .bytes(bytes))
    }

    /// A JSON response from an already encoded body.
    public static func json(status: Int = 200, _ body: [UInt8], headers: HTTPHeaders = [:]) -> Response {
        var headers = headers
        headers.set("Content-Type", "application/json; charset=utf-8")
        return Response(status: status, headers: headers, body: .bytes(body))
    }

    /// A JSON response from an encodable value.
    public static func json<T: Encodable>(status: Int = 200, encoding value: T, headers: HTTPHeaders = [:]) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return json(status: status, Array(try encoder.encode(value)), headers: headers)
    }

    public static func abortConnection() -> Response { Response(body: .abort) }

    public var bodyBytes: [UInt8]? {
        if case .bytes(let bytes) = body { return bytes }
        return nil
    }
}
