/// An error that knows its response: throw it from anywhere below a handler and the error responder turns it
/// into the documented error shape in one place.
public struct HTTPError: Error, Sendable, Equatable {
    public var status: Int
    public var message: String
    public var headers: HTTPHeaders

    public init(_ status: Int, _ message: String? = nil, headers: HTTPHeaders = [:]) {
        self.status = status
        self.message = message ?? HTTPStatus.reason(status)
        self.headers = headers
    }

    public static func == (a: HTTPError, b: HTTPError) -> Bool { a.status == b.status && a.message == b.message }

    public static func badRequest(_ message: String) -> HTTPError { HTTPError(400, message) }
    public static let notFound = HTTPError(404, "Not found")
}
