import AgentOS
import ContractorPortal
import HTTPServer
import JSON

/// tRPC's error codes (JSON-RPC 2.0 numbers, names and HTTP statuses as tRPC's
/// TRPC_ERROR_CODES_BY_KEY and getHTTPStatusCodeFromError define them).
enum TRPCCode: String, Sendable {
    case parseError = "PARSE_ERROR"
    case badRequest = "BAD_REQUEST"
    case unauthorized = "UNAUTHORIZED"
    case forbidden = "FORBIDDEN"
    case notFound = "NOT_FOUND"
    case methodNotSupported = "METHOD_NOT_SUPPORTED"
    case timeout = "TIMEOUT"
    case preconditionFailed = "PRECONDITION_FAILED"
    case payloadTooLarge = "PAYLOAD_TOO_LARGE"
    case unsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE"
    case conflict = "CONFLICT"
    case unprocessableContent = "UNPROCESSABLE_CONTENT"
    case tooManyRequests = "TOO_MANY_REQUESTS"
    case internalServerError = "INTERNAL_SERVER_ERROR"
    case notImplemented = "NOT_IMPLEMENTED"
    case badGateway = "BAD_GATEWAY"
    case serviceUnavailable = "SERVICE_UNAVAILABLE"
    case gatewayTimeout = "GATEWAY_TIMEOUT"

    var jsonRPC: Int {
        switch self {
        case .parseError: -32700
        case .badRequest: -32600
        case .unauthorized: -32001
        case .forbidden: -32003
        case .notFound: -32004
        case .methodNotSupported: -32005
        case .timeout: -32008
        case .conflict: -32009
        case .preconditionFailed: -32012
        case .payloadTooLarge: -32013
        case .unsupportedMediaType: -32015
        case .unprocessableContent: -32022
        case .tooManyRequests: -32029
        case .internalServerError, .notImplemented, .badGateway, .serviceUnavailable, .gatewayTimeout: -32603
        }
    }

    var httpStatus: Int {
        switch self {
        case .parseError, .badRequest: 400
        case .unauthorized: 401
        case .forbidden: 403
        case .notFound: 404
        case .methodNotSupported: 405
        case .timeout: 408
        case .conflict: 409
        case .preconditionFailed: 412
        case .payloadTooLarge: 413
        case .unsupportedMediaType: 415
        case .unprocessableContent: 422
        case .tooManyRequests: 429
        case .internalServerError: 500
        case .notImplemented: 501
        case .badGateway: 502
        case .serviceUnavailable: 503
        case .gatewayTimeout: 504
        }
    }
}

/// One failed call (or a whole request refused), before an adapter writes it: tRPC's shape is
/// `{"message","code","data":{"code","httpStatus","path"}}` (getErrorShape), never with a stack.
struct TRPCError: Error, Sendable {
    var code: TRPCCode
    var message: String
    /// Seconds for `Retry-After`, when waiting is the remedy.
    var retryAfter: Int?
    /// The HTTP status, where the server core's refusal has one tRPC has no code for (414, 431, 505…).
    var status: Int?
    /// Fields the answer must carry (`WWW-Authenticate` of a 401, `Allow` of a 405).
    var headers: HTTPHeaders = [:]
    /// The encoding to write this error in when it is not the configured one: an input in the other
    /// transformer's encoding is refused in that encoding, so the client can read the reason.
    var encoding: TRPCTransformer?

    init(_ code: TRPCCode, _ message: String, retryAfter: Int? = nil, status: Int? = nil, headers: HTTPHeaders = [:]) {
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
        self.status = status
        self.headers = headers
    }

    var httpStatus: Int { status ?? code.httpStatus }

    /// The one place where anything thrown on the way to a procedure becomes a tRPC error.
    init(rendering error: any Error) {
        switch error {
        case let error as TRPCError: self = error
        case let error as PortalError: self.init(error)
        case let error as WriteRefusal: self.init(error)
        case let error as GatewayRefusal: self.init(error)
        case let error as SessionRefusal: self.init(error)
        case let error as RoutingError: self.init(error)
        default: self.init(.internalServerError, "Internal server error")
        }
    }

    /// Portal failures. AgentOS rate limits are TOO_MANY_REQUESTS; its absence or open breaker
    /// SERVICE_UNAVAILABLE; its timeout GATEWAY_TIMEOUT (TIMEOUT is 408, which says the client was slow,
    /// and it was not).
    init(_ error: PortalError) {
        switch error {
        case .invalid: self.init(.badRequest, error.message)
        case .forbidden: self.init(.forbidden, error.message)
        case .notFound: self.init(.notFound, error.message)
        case .tooLarge: self.init(.payloadTooLarge, error.message)
        case .unsupportedType: self.init(.unsupportedMediaType, error.message)
        case .unavailable: self.init(.serviceUnavailable, error.message, retryAfter: 5)
        case .upstream(let upstream):
            switch (upstream, UpstreamFailure(upstream)) {
            case (.rateLimited, .unavailable(let seconds)), (.keyBlocked, .unavailable(let seconds)):
                self.init(.tooManyRequests, error.message, retryAfter: seconds)
            case (_, .unavailable(let seconds)): self.init(.serviceUnavailable, error.message, retryAfter: seconds)
            case (_, .timeout): self.init(.gatewayTimeout, error.message)
            case (_, .failed): self.init(.badGateway, error.message)
            }
        }
    }

    init(_ refusal: WriteRefusal) {
        let code: TRPCCode = switch refusal {
        case .badKey: .badRequest
        case .keyReused: .unprocessableContent
        case .inFlight, .duplicateInvoice: .conflict
        case .outcomeUnknown, .storeUnavailable: .serviceUnavailable
        }
        self.init(code, refusal.message, retryAfter: refusal.retryAfter)
    }

    init(_ refusal: GatewayRefusal) {
        switch refusal {
        case .rateLimited(let wait, _): self.init(.tooManyRequests, refusal.message, retryAfter: wait)
        case .originNotAllowed, .csrfInvalid: self.init(.forbidden, refusal.message)
        case .unauthenticated(let session): self.init(session)
        }
    }

    init(_ refusal: SessionRefusal) {
        self.init(.unauthorized, refusal.message, headers: ["WWW-Authenticate": refusal.challenge])
    }

    init(_ routing: RoutingError) {
        switch routing {
        case .notFound: self.init(.notFound, "Not found")
        case .methodNotAllowed: self.init(.methodNotSupported, "Method not allowed", headers: ["Allow": routing.allowHeader ?? ""])
        }
    }

    /// The server core's own refusals. tRPC has no code for some statuses: those keep their status, with
    /// the nearest code (a 414 is still a bad request).
    init(_ refusal: ServerRefusal) {
        switch refusal {
        case .malformed(.contentTooLarge): self.init(.payloadTooLarge, refusal.message)
        case .malformed(.notImplemented): self.init(.notImplemented, refusal.message)
        case .malformed(.bodyNotStored): self.init(.serviceUnavailable, refusal.message)
        case .malformed: self.init(.badRequest, refusal.message, status: refusal.status)
        case .invalidTarget: self.init(.badRequest, refusal.message)
        case .timedOut(.head), .timedOut(.body): self.init(.timeout, refusal.message)
        case .timedOut(.handler): self.init(.serviceUnavailable, refusal.message)
        }
    }

    /// The error shape; `path` is nil for a refusal of the whole request (as tRPC leaves it out then).
    func shape(path: String?, requestID: String) -> JSONValue {
        var data: [String: JSONValue] = [
            "code": .string(code.rawValue), "httpStatus": .number(String(httpStatus)), "requestId": .string(requestID),
        ]
        if let path { data["path"] = .string(path) }
        return .object(["message": .string(message), "code": .number(String(code.jsonRPC)), "data": .object(data)])
    }
}
