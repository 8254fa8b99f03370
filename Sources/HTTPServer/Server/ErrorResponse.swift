import JSON
/// The one error body of this server, seed 002's `{"error": "..."}` with the request id added, used for
/// the server's own refusals and for every error a handler throws.
public enum ErrorResponse {
    public static func make(status: Int, message: String, requestID: String, headers: HTTPHeaders = [:]) -> Response {
        let body = "{\"error\":\(JSONText.quoted(message)),\"requestId\":\(JSONText.quoted(requestID))}"
        return Response.json(status: status, Array(body.utf8), headers: headers)
    }

    /// The response for anything thrown below a handler: an `HTTPError` says its own status and message;
    /// anything else is a 500 that reveals nothing of what went wrong.
    public static func make(for error: any Error, requestID: String) -> Response {
        if let error = error as? HTTPError {
            return make(status: error.status, message: error.message, requestID: requestID, headers: error.headers)
        }
        if let error = error as? RoutingError { return make(for: error.httpError, requestID: requestID) }
        return make(status: 500, message: "Internal server error", requestID: requestID)
    }
}
