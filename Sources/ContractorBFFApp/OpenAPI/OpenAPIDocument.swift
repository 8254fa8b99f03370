import HTTPServer
import JSON
import Synchronization

/// The API description (OpenAPI 3.1): the REST operations and, as operations under `/api/trpc/…`, tRPC's
/// procedures, with the shapes tRPC's wire gives them under the configured transformer.
struct OpenAPIDocument: Sendable {
    let rest: [APIOperation]
    let procedures: [String: Procedure]
    let transformer: TRPCTransformer

    static let version = "1.0.0"

    /// Every operation: REST's, then one per procedure.
    var operations: [APIOperation] { rest + procedures.sorted { $0.key < $1.key }.map { trpc($0.key, $0.value) } }

    var json: JSONValue {
        var paths: [String: [String: JSONValue]] = [:]
        for operation in operations {
            paths[operation.templatePath, default: [:]][operation.method.rawValue.lowercased()] = Self.write(operation)
        }
        return [
            "openapi": "3.1.0",
            "info": [
                "title": "ContractorBFF", "version": .string(Self.version),
                "description": "The contractor portal's API: REST (seed 002) and tRPC 11 (seed 003's contractor.* procedures), served from each agency's mirror of AgentOS. Errors: REST answers {\"error\", \"requestId\"}; tRPC answers its own error shape.",
            ],
            "tags": [
                ["name": "contractor", "description": "the signed-in contractor's account, contacts and jobs; who is asking always comes from the session"],
                ["name": "statements", "description": "statements and pending entries, as JSON or CSV downloads"],
                ["name": "uploads", "description": "invoices with their PDF and job documents, as multipart/form-data; files are typed by their content"],
                ["name": "events", "description": "server-sent events"],
                ["name": "sign-in", "description": "the portal's own sign-in: access tokens (also as the session cookie), rotating refresh tokens, the CSRF token of cookie sessions"],
                ["name": "trpc", "description": .string(trpcDescription)],
                ["name": "probes", "description": "liveness and readiness"],
                ["name": "description", "description": "this description"],
                ["name": "operations", "description": "for the operator"],
                ["name": "portal page", "description": "the contractor portal page the gateway serves (plain files, no build step)"],
            ],
            "paths": .object(paths.mapValues(JSONValue.object)),
            "components": [
                "schemas": .object(ModelSchemas.all.merging(trpcSchemas) { $1 }),
                "securitySchemes": [
                    "bearerAuth": ["type": "http", "scheme": "bearer", "description": "a session token: the login's accessToken, or `contractor-bff token`"],
                    "sessionCookie": ["type": "apiKey", "in": "cookie", "name": .string(SessionAuthenticator.cookieName), "description": "the session cookie the login sets"],
                    "csrfToken": ["type": "apiKey", "in": "header", "name": "X-CSRF-Token", "description": "with the session cookie, on every write: GET /api/security/csrf-token"],
                    "metricsToken": ["type": "http", "scheme": "bearer", "description": "METRICS_TOKEN"],
                ],
            ],
        ]
    }

    private var trpcDescription: String {
        "seed 003's procedures as tRPC 11's links speak them: queries by GET with ?input= (URL-encoded JSON), mutations by POST with a JSON body, "
            + "?batch=1 with comma-joined procedure names and inputs keyed \"0\", \"1\", … (httpBatchLink; trpc-accept: application/jsonl streams the answers as JSON lines, httpBatchStreamLink), "
            + "subscriptions as server-sent events (httpSubscriptionLink). Transformer: \(transformer.rawValue)"
            + (transformer == .superjson ? " (inputs and answers wrapped as {\"json\": value})." : " (plain JSON).")
    }

    static func write(_ operation: APIOperation) -> JSONValue {
        var fields: [String: JSONValue] = [
            "operationId": .string(operation.id), "tags": [.string(operation.tag)], "summary": .string(operation.summary),
            "responses": .object(Dictionary(uniqueKeysWithValues: operation.responses.map { (String($0.key), $0.value) })),
        ]
        if let description = operation.description { fields["description"] = .string(description) }
        if !operation.parameters.isEmpty { fields["parameters"] = .array(operation.parameters) }
        if let body = operation.requestBody { fields["requestBody"] = body }
        switch operation.access {
        case .open: break
        case .session:
            // A write with the cookie also needs the CSRF header; a bearer token needs nothing more.
            let cookie: JSONValue = operation.method == .get ? ["sessionCookie": []] : ["sessionCookie": [], "csrfToken": []]
            fields["security"] = [["bearerAuth": []], cookie]
        case .metricsToken: fields["security"] = [["metricsToken": []]]
        }
        return .object(fields)
    }

    // MARK: tRPC

    /// A value as the transformer sends it: itself, or superjson's `{"json": value, "meta"?}`.
    private func wrapped(_ schema: JSONValue) -> JSONValue {
        switch transformer {
        case .none: schema
        case .superjson: ["type": "object", "required": ["json"], "properties": ["json": schema, "meta": ["type": "object"]]]
        }
    }

    private var trpcSchemas: [String: JSONValue] {
        let shape: JSONValue = [
            "type": "object", "required": ["message", "code", "data"],
            "properties": [
                "message": ["type": "string"], "code": ["type": "integer", "description": "the JSON-RPC code (-32600 …)"],
                "data": [
                    "type": "object", "required": ["code", "httpStatus"],
                    "properties": [
                        "code": ["type": "string", "description": "BAD_REQUEST, UNAUTHORIZED, NOT_FOUND, …"], "httpStatus": ["type": "integer"],
                        "path": ["type": "string"], "requestId": ["type": "string"],
                    ],
                ],
            ],
        ]
        return ["TRPCError": ["type": "object", "required": ["error"], "properties": ["error": wrapped(shape)]]]
    }

    private func trpc(_ name: String, _ procedure: Procedure) -> APIOperation {
        let path = TRPCRoutes.prefix + name
        var errors = APIParts.errors([400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 500, 502, 503, 504], schema: "TRPCError")
        var parameters: [JSONValue] = []
        if let input = procedure.input {
            parameters.append([
                "name": "input", "in": "query", "required": false, "description": "the input, as JSON text",
                "content": ["application/json": ["schema": wrapped(input)]],
            ])
        }
        let result: JSONValue = ["type": "object", "required": ["result"], "properties": ["result": ["type": "object", "required": ["data"], "properties": ["data": wrapped(procedure.output)]]]]
        switch procedure.kind {
        case .query:
            errors[200] = APIParts.json("the answer", result)
            return APIOperation(method: .get, path: path, id: name, tag: "trpc", summary: procedure.summary, access: .session, parameters: parameters, responses: errors)
        case .subscription:
            errors[200] = APIParts.response("server-sent events: data frames carry {id, data}", content: ["text/event-stream": ["schema": ["type": "string"]]])
            return APIOperation(method: .get, path: path, id: name, tag: "trpc", summary: procedure.summary, access: .session, parameters: parameters, responses: errors)
        case .mutation:
            errors[200] = APIParts.json("the answer", result, headers: ["Idempotent-Replayed": APIParts.replayedHeader])
            var content: [String: JSONValue] = [:]
            // FormData goes as it is (never transformed); the JSON body is the transformer's.
            // Only the upload routes take FormData; an input that needs a file cannot come as JSON.
            let input = procedure.input ?? ["type": "object"]
            if UploadRoutes.paths.contains(path) { content["multipart/form-data"] = ["schema": input] }
            if input["required"]?.arrayValue?.contains(.string("file")) != true { content["application/json"] = ["schema": wrapped(input)] }
            return APIOperation(
                method: .post, path: path, id: name, tag: "trpc", summary: procedure.summary, access: .session, parameters: [APIParts.idempotencyKey],
                requestBody: ["required": true, "content": .object(content)], responses: errors)
        }
    }
}

/// `GET /openapi.json` and `GET /docs`, written from the document at their first request (not at every
/// start: most processes, and every test's server, never serve them) and kept.
enum DescriptionRoutes {
    static func register(on router: inout Router, _ document: OpenAPIDocument) {
        let written = Mutex<(json: [UInt8], page: [UInt8])?>(nil)
        @Sendable func rendered() -> (json: [UInt8], page: [UInt8]) {
            written.withLock { cached in
                if let cached { return cached }
                let json = document.json
                let made = (json.serialized(), Array(DocsPage.render(json).utf8))
                cached = made
                return made
            }
        }
        let policy = DocsPage.contentSecurityPolicy
        router.get("/openapi.json") { _ in
            var response = Response.json(rendered().json)
            response.headers.set("Cache-Control", "no-cache")
            return response
        }
        router.get("/docs") { _ in
            Response(status: 200, headers: ["Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache", "Content-Security-Policy": policy], bytes: rendered().page)
        }
    }
}
