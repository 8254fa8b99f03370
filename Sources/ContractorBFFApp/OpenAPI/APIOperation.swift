import HTTPServer
import JSON

/// One operation of the API description: a route (method and the router's pattern) with what it takes and
/// what it answers. `OpenAPIDocument` writes these as OpenAPI; a test holds them equal to the router's
/// routes and tRPC's procedures, so a route cannot exist undescribed (or the reverse).
struct APIOperation: Sendable {
    /// What the caller must present.
    enum Access: Sendable, Equatable {
        /// Nothing (probes, sign-in, the description itself).
        case open
        /// A contractor's session: a bearer token, or the session cookie with the CSRF header on writes.
        case session
        /// `METRICS_TOKEN` as a bearer token.
        case metricsToken
    }

    let method: HTTPMethod
    /// The router's pattern (`/api/contractor/jobs/:jobId/notes`).
    let path: String
    let id: String
    let tag: String
    let summary: String
    var description: String?
    var access: Access
    var parameters: [JSONValue] = []
    var requestBody: JSONValue?
    /// Status → OpenAPI response object.
    var responses: [Int: JSONValue]

    /// The path in OpenAPI's template syntax (`/api/contractor/jobs/{jobId}/notes`).
    var templatePath: String {
        path.split(separator: "/", omittingEmptySubsequences: false)
            .map { $0.hasPrefix(":") ? "{" + $0.dropFirst() + "}" : String($0) }
            .joined(separator: "/")
    }
}

/// The parts operations are made of: responses, parameters, bodies and the error statuses each kind of
/// route can answer, written once.
enum APIParts {
    static let requestIDHeader: JSONValue = [
        "description": "the request's id, also in every error body and in the server's logs", "required": true,
        "schema": ["type": "string"],
    ]
    static let retryAfterHeader: JSONValue = ["description": "seconds to wait before trying again", "schema": ["type": "integer", "minimum": 0]]

    /// A response with a JSON body.
    static func json(_ description: String, _ schema: JSONValue, example: JSONValue? = nil, headers: [String: JSONValue] = [:]) -> JSONValue {
        var media: [String: JSONValue] = ["schema": schema]
        if let example { media["example"] = example }
        return response(description, content: ["application/json": .object(media)], headers: headers)
    }

    static func response(_ description: String, content: [String: JSONValue]? = nil, headers: [String: JSONValue] = [:]) -> JSONValue {
        var response: [String: JSONValue] = [
            "description": .string(description), "headers": .object(headers.merging(["X-Request-Id": requestIDHeader]) { $1 }),
        ]
        if let content { response["content"] = .object(content) }
        return .object(response)
    }

    /// The error body (REST's `Error` unless another is named), for each status a route of this kind may answer.
    static func errors(_ statuses: [Int], schema: String = "Error") -> [Int: JSONValue] {
        Dictionary(uniqueKeysWithValues: statuses.map { status in
            let headers: [String: JSONValue] = [429, 503].contains(status) ? ["Retry-After": retryAfterHeader] : [:]
            return (status, json(reason(status), ModelSchemas.reference(schema), headers: headers))
        })
    }

    /// Why each status is answered, as the description says it.
    static func reason(_ status: Int) -> String {
        switch status {
        case 400: "the request or its input is not valid (the message names the field)"
        case 401: "no session, or it expired or was revoked"
        case 403: "the job is not the contractor's, the Origin is not allowed, or the CSRF token is missing (cookie sessions)"
        case 404: "not found, or not the contractor's"
        case 409: "the same write is in progress, or the invoice was submitted already"
        case 413: "the body, a file or the number of files is over its limit"
        case 415: "the body's type, or a file's type by its content, is not accepted"
        case 422: "the Idempotency-Key was used with another request"
        case 429: "too many requests from this address or session"
        case 500: "an internal error (nothing of it is revealed)"
        case 502: "AgentOS failed to answer"
        case 503: "AgentOS or the gateway's storage is unavailable for now"
        case 504: "AgentOS did not answer in time"
        default: "refused"
        }
    }

    /// What every route may answer: the server core's and the limiters' refusals.
    static let anyRoute = [400, 429, 500]
    /// What a contractor route may answer besides: no session, another's job, AgentOS down.
    static let contractorRoute = anyRoute + [401, 403, 502, 503, 504]
    /// And a write: in progress or submitted already, a reused key.
    static let write = contractorRoute + [404, 409, 422]

    static func path(_ name: String, _ description: String) -> JSONValue {
        ["name": .string(name), "in": "path", "required": true, "description": .string(description), "schema": ["type": "string", "minLength": 1]]
    }

    static func query(_ name: String, _ description: String, _ schema: JSONValue) -> JSONValue {
        ["name": .string(name), "in": "query", "required": false, "description": .string(description), "schema": schema]
    }

    static let jobId = path("jobId", "the job's id (one of the signed-in contractor's jobs)")

    static let idempotencyKey: JSONValue = [
        "name": "Idempotency-Key", "in": "header", "required": false,
        "description": "makes the write exactly once: a retry with the same key replays the first answer (Idempotent-Replayed: true); the same key with another request is 422",
        "schema": ["type": "string", "minLength": 1, "maxLength": 255],
    ]

    static let replayedHeader: JSONValue = ["description": "true when this is the first answer to the same Idempotency-Key, replayed", "schema": ["type": "string", "enum": ["true"]]]

    /// The mirror's or cache's word on a read: served fresh (MISS), from the mirror or cache (HIT), or stale.
    static let cacheHeaders: [String: JSONValue] = [
        "X-Cache": ["description": "HIT, STALE or MISS", "schema": ["type": "string", "enum": ["HIT", "STALE", "MISS"]]],
        "Age": ["description": "seconds since the data was read from AgentOS", "schema": ["type": "integer", "minimum": 0]],
    ]

    static func jsonBody(_ schema: JSONValue, required: Bool = true, example: JSONValue? = nil) -> JSONValue {
        var media: [String: JSONValue] = ["schema": schema]
        if let example { media["example"] = example }
        return ["required": .bool(required), "content": ["application/json": .object(media)]]
    }

    static let file: JSONValue = ["type": "string", "format": "binary", "contentMediaType": "application/octet-stream", "description": "a file part (its type is read from its content)"]
}
