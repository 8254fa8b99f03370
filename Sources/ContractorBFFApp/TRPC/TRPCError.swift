import AgentOS
import ContractorPortal
import HTTPServer

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
    case payloadTooLarge = "PAYLOAD_TOO_LARGE"
    case conflict = "CONFLICT"
    case unprocessableContent = "UNPROCESSABLE_CONTENT"
    case tooManyRequests = "TOO_MANY_REQUESTS"
    case internalServerError = "INTERNAL_SERVER_ERROR"
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
        case .payloadTooLarge: -32013
        case .unprocessableContent: -32022
        case .tooManyRequests: -32029
        case .internalServerError, .badGateway, .serviceUnavailable, .gatewayTimeout: -32603
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
        case .payloadTooLarge: 413
        case .unprocessableContent: 422
        case .tooManyRequests: 429
        case .internalServerError: 500
        case .badGateway: 502
        case .serviceUnavailable: 503
        case .gatewayTimeout: 504
        }
    }
}

/// One failed call, as tRPC writes it: `{"error":{"message","code","data":{"code","httpStatus","path"}}}`.
struct TRPCError: Error, Sendable {
    var code: TRPCCode
    var message: String
    /// Seconds for `Retry-After`, when waiting is the remedy.
    var retryAfter: Int?

    init(_ code: TRPCCode, _ message: String, retryAfter: Int? = nil) {
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
    }

    /// The one place where portal failures become tRPC errors. AgentOS rate limits are TOO_MANY_REQUESTS;
    /// its absence or open breaker SERVICE_UNAVAILABLE; its timeout GATEWAY_TIMEOUT (TIMEOUT is 408,
    /// which says the client was slow, and it was not).
    init(_ error: PortalError) {
        switch error {
        case .invalid: self.init(.badRequest, error.message)
        case .forbidden: self.init(.forbidden, error.message)
        case .notFound: self.init(.notFound, error.message)
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

    func json(path: String, requestID: String) -> JSONValue {
        .object(["error": .object([
            "message": .string(message), "code": .number(String(code.jsonRPC)),
            "data": .object([
                "code": .string(code.rawValue), "httpStatus": .number(String(code.httpStatus)), "path": .string(path),
                "requestId": .string(requestID),
            ]),
        ])])
    }
}
