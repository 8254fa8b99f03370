import AgentOS
import HTTPServer
import JSON

/// Every REST route the gateway serves, as the API description writes it. The router's routes and these
/// are held equal by a test (`OpenAPITests`), both ways.
enum RESTOperations {
    typealias P = APIParts

    static func all(_ examples: APIExamples, metrics: Bool, portalPage: Bool) -> [APIOperation] {
        var operations = system + auth + contractor(examples) + description
        if metrics { operations.append(metricsOperation) }
        if portalPage { operations += PortalPage.operations }
        return operations
    }

    static let system: [APIOperation] = [
        APIOperation(
            method: .get, path: "/healthz", id: "healthz", tag: "probes", summary: "Alive: the process answers HTTP (nothing else is checked)",
            access: .open, responses: P.errors(P.anyRoute).merging([
                200: P.json("alive", ["type": "object", "required": ["status"], "properties": ["status": ["type": "string", "enum": ["ok"]]]], example: ["status": "ok"]),
            ]) { $1 }),
        APIOperation(
            method: .get, path: "/readyz", id: "readyz", tag: "probes",
            summary: "Ready: AgentOS configured and its breaker not open; each agency's mirror and its import's progress",
            access: .open, responses: P.errors(P.anyRoute).merging([200: P.json("ready", readiness), 503: P.json("not ready", readiness, headers: ["Retry-After": P.retryAfterHeader])]) { $1 }),
    ]

    static let readiness: JSONValue = [
        "type": "object", "required": ["status", "agentos", "mirror", "store"],
        "properties": [
            "status": ["type": "string", "enum": ["ready", "not ready"]],
            "agentos": [
                "type": "object", "required": ["configured", "mode", "breaker"],
                "properties": [
                    "configured": ["type": "boolean"],
                    "mode": ["type": "string", "enum": .array(Application.UpstreamMode.allCases.map { .string($0.rawValue) })],
                    "breaker": ["type": "string", "enum": .array(CircuitBreaker.State.allCases.map { .string($0.rawValue) })],
                ],
            ],
            "mirror": ["type": ["object", "null"], "description": "each agency's mirror: its import's state, share done and time left (importProgress); with PostgreSQL, this replica's role and whether it hears of the others' changes (hearsChanges; false: its pages are served stale)"],
            "store": [
                "type": "object", "required": ["kind"], "description": "where shared state lives; with PostgreSQL, whether it answers (writes wait for it, reads do not)",
                "properties": ["kind": ["type": "string", "enum": ["embedded", "postgresql"]], "reachable": ["type": "boolean"], "writes": ["type": "string"]],
            ],
        ],
    ]

    static let metricsOperation = APIOperation(
        method: .get, path: "/metrics", id: "metrics", tag: "operations",
        summary: "Prometheus text exposition (only when METRICS_TOKEN is set, and only with it as a bearer token)",
        access: .metricsToken, responses: P.errors(P.anyRoute + [401]).merging([
            200: P.response("the metrics", content: ["text/plain; version=0.0.4": ["schema": ["type": "string"]]]),
        ]) { $1 })

    static let description: [APIOperation] = [
        APIOperation(
            method: .get, path: "/openapi.json", id: "openapi", tag: "description", summary: "This description (OpenAPI 3.1)", access: .open,
            responses: P.errors(P.anyRoute).merging([200: P.json("the description", ["type": "object", "required": ["openapi", "paths"]])]) { $1 }),
        APIOperation(
            method: .get, path: "/docs", id: "docs", tag: "description", summary: "This description as a page, written by the server from /openapi.json",
            access: .open, responses: P.errors(P.anyRoute).merging([200: P.response("the page", content: ["text/html": ["schema": ["type": "string"]]])]) { $1 }),
    ]

    // MARK: sign-in

    static let tokens: JSONValue = [
        "type": "object", "required": ["accessToken", "tokenType", "expiresIn", "refreshToken", "refreshExpiresIn", "user"],
        "properties": [
            "accessToken": ["type": "string", "description": "the session token (also set as the session cookie)"],
            "tokenType": ["type": "string", "enum": ["Bearer"]], "expiresIn": ["type": "integer"],
            "refreshToken": ["type": "string", "description": "single use; also set as the refresh cookie"], "refreshExpiresIn": ["type": "integer"],
            "user": [
                "type": "object", "required": ["email", "contractorId", "agency", "role"],
                "properties": ["email": ["type": "string"], "contractorId": ["type": "string"], "agency": ["type": "string"], "role": ["type": "string"]],
            ],
        ],
    ]

    static let cookies: [String: JSONValue] = [
        "Set-Cookie": ["description": "the session cookie and the refresh cookie (HttpOnly, Secure, SameSite=Strict)", "schema": ["type": "string"]],
    ]

    static let auth: [APIOperation] = [
        APIOperation(
            method: .post, path: "/api/auth/login", id: "login", tag: "sign-in", summary: "Sign in with email and password",
            description: "Limited per address and per account and address; failures lock out for a growing time (429 with Retry-After).",
            access: .open,
            requestBody: P.jsonBody([
                "type": "object", "required": ["email", "password"],
                "properties": ["email": ["type": "string", "maxLength": 254], "password": ["type": "string"]],
            ], example: ["email": "c-1001@demo.fixture.test", "password": "printed-at-start"]),
            responses: P.errors(P.anyRoute + [401, 503]).merging([200: P.json("signed in", tokens, headers: cookies)]) { $1 }),
        APIOperation(
            method: .post, path: "/api/auth/refresh", id: "refresh", tag: "sign-in",
            summary: "A new access and refresh token for a refresh token (the body's, else the refresh cookie); a reused one ends its sign-in",
            access: .open,
            requestBody: P.jsonBody(["type": "object", "properties": ["refreshToken": ["type": "string", "maxLength": 256]]], required: false),
            responses: P.errors(P.anyRoute + [401, 503]).merging([200: P.json("refreshed", tokens, headers: cookies)]) { $1 }),
        APIOperation(
            method: .post, path: "/api/auth/logout", id: "logout", tag: "sign-in", summary: "Sign out: ends the sign-in's refresh tokens and clears the cookies",
            access: .open,
            requestBody: P.jsonBody(["type": "object", "properties": ["refreshToken": ["type": "string"]]], required: false),
            responses: P.errors(P.anyRoute + [403]).merging([204: P.response("signed out", headers: cookies)]) { $1 }),
        APIOperation(
            method: .get, path: "/api/auth/me", id: "me", tag: "sign-in", summary: "Who the session is", access: .session,
            responses: P.errors(P.anyRoute + [401, 403]).merging([
                200: P.json("the session", [
                    "type": "object", "required": ["contractorId", "agency", "role", "expiresAt"],
                    "properties": [
                        "contractorId": ["type": "string"], "agency": ["type": "string"], "role": ["type": ["string", "null"]],
                        "expiresAt": ["type": "integer", "description": "seconds since 1970"], "sessionId": ["type": "string"],
                    ],
                ]),
            ]) { $1 }),
        APIOperation(
            method: .get, path: "/api/security/csrf-token", id: "csrfToken", tag: "sign-in",
            summary: "The CSRF token a cookie session sends as X-CSRF-Token on every write", access: .session,
            responses: P.errors(P.anyRoute + [401, 403]).merging([
                200: P.json("the token", ["type": "object", "required": ["csrfToken"], "properties": ["csrfToken": ["type": "string"]]]),
            ]) { $1 }),
    ]

    // MARK: the contractor's routes

    static func contractor(_ examples: APIExamples) -> [APIOperation] {
        let read = P.errors(P.contractorRoute)
        func ok(_ description: String, _ schema: JSONValue, _ example: JSONValue?) -> [Int: JSONValue] {
            [200: P.json(description, schema, example: example, headers: P.cacheHeaders)]
        }
        let csvOr: (String, JSONValue, JSONValue?) -> JSONValue = { description, schema, example in
            var json: [String: JSONValue] = ["schema": schema]
            if let example { json["example"] = example }
            return P.response(description, content: ["application/json": .object(json), "text/csv": ["schema": ["type": "string"]]], headers: P.cacheHeaders.merging([
                "Content-Disposition": ["description": "attachment with a safe file name (CSV only)", "schema": ["type": "string"]],
            ]) { $1 })
        }
        let format = P.query("format", "json (the default) or csv; Accept: text/csv also asks for CSV", ["type": "string", "enum": ["json", "csv"]])
        let day: JSONValue = ["type": "string", "description": "YYYY-MM-DD, or a date-time with a zone"]
        let writeAnswer: (String, JSONValue, Int) -> [Int: JSONValue] = { description, schema, status in
            P.errors(P.write).merging([status: P.json(description, schema, headers: ["Idempotent-Replayed": P.replayedHeader])]) { $1 }
        }
        let invoiceFields = Procedure.invoiceFields
        return [
            APIOperation(
                method: .get, path: "/api/contractor/account", id: "account", tag: "contractor", summary: "The signed-in contractor's account",
                access: .session, responses: read.merging(ok("the account", ModelSchemas.reference("ContractorAccount"), examples.account)) { $1 }
                    .merging(P.errors([404])) { $1 }),
            APIOperation(
                method: .get, path: "/api/contractor/contacts", id: "contacts", tag: "contractor", summary: "The contractor's contacts",
                access: .session,
                responses: read.merging(ok("the contacts", ["type": "array", "items": ModelSchemas.reference("ContractorContact")], examples.contacts)) { $1 }),
            APIOperation(
                method: .get, path: "/api/contractor/jobs", id: "jobs", tag: "contractor",
                summary: "A page of the contractor's maintenance jobs, each with its notes (notesLoaded false when they could not be loaded this time)",
                access: .session,
                parameters: [
                    P.query("offset", "jobs to skip (0 to 1000000)", ["type": "integer", "minimum": 0, "maximum": 1_000_000]),
                    P.query("count", "jobs in the page (1 to the configured maximum)", ["type": "integer", "minimum": 1]),
                ],
                responses: read.merging(ok(
                    "the jobs", ["type": "array", "items": ModelSchemas.reference("ContractorMaintenanceJobWithNotes")], examples.jobsWithNotes)) { $1 }),
            APIOperation(
                method: .patch, path: "/api/contractor/jobs/:jobId/complete", id: "completeJob", tag: "contractor",
                summary: "Mark the job complete, or open again; an empty body toggles (seed 002)", access: .session,
                parameters: [P.jobId, P.idempotencyKey],
                requestBody: P.jsonBody(["type": "object", "properties": ["completed": ["type": "boolean"]]], required: false, example: ["completed": true]),
                responses: writeAnswer("the job's completion", ModelSchemas.reference("JobCompletion"), 200)),
            APIOperation(
                method: .post, path: "/api/contractor/jobs/:jobId/notes", id: "addJobNote", tag: "contractor", summary: "Add a note to the job",
                access: .session, parameters: [P.jobId, P.idempotencyKey],
                requestBody: P.jsonBody([
                    "type": "object", "required": ["note"], "properties": ["note": ["type": "string", "minLength": 1, "maxLength": 5000]],
                ], example: ["note": "Replaced the washer; no further leak."]),
                responses: writeAnswer("the note", ModelSchemas.reference("ContractorJobNote"), 201)),
            APIOperation(
                method: .post, path: "/api/contractor/jobs/:jobId/documents", id: "attachJobDocuments", tag: "uploads",
                summary: "Attach photos and documents to the job (PDF, JPEG, PNG, DOC, DOCX, XLS, XLSX, typed by content)", access: .session,
                parameters: [P.jobId, P.idempotencyKey],
                requestBody: [
                    "required": true,
                    "content": ["multipart/form-data": ["schema": [
                        "type": "object", "required": ["file"],
                        "properties": ["file": ["type": "array", "items": P.file], "description": ["type": "string", "maxLength": 2000]],
                    ]]],
                ],
                responses: writeAnswer("what AgentOS answered per file", ModelSchemas.reference("JobDocuments"), 201).merging(P.errors([413, 415])) { $1 }),
            APIOperation(
                method: .get, path: "/api/contractor/statements/historical", id: "statement", tag: "statements",
                summary: "The contractor's statement for a period (JSON, or a CSV download)", access: .session,
                parameters: [P.query("dateFrom", "the period's first day", day), P.query("dateTo", "the period's last day", day), format],
                responses: read.merging([200: csvOr("the statement", ModelSchemas.reference("ContractorStatement"), examples.statement)]) { $1 }),
            APIOperation(
                method: .get, path: "/api/contractor/statements/pending", id: "pendingStatements", tag: "statements",
                summary: "Entries not yet paid (JSON, or a CSV download)", access: .session, parameters: [format],
                responses: read.merging([
                    200: csvOr("the pending entries", ["type": "array", "items": ModelSchemas.reference("PendingStatementEntry")], examples.pending),
                ]) { $1 }),
            APIOperation(
                method: .post, path: "/api/contractor/invoices", id: "submitInvoice", tag: "uploads",
                summary: "Submit an invoice: JSON, or multipart/form-data with the same fields and one file part, the invoice's PDF",
                access: .session, parameters: [P.idempotencyKey],
                requestBody: [
                    "required": true,
                    "content": [
                        "application/json": [
                            "schema": ["type": "object", "required": ["jobId", "amount"], "properties": .object(invoiceFields)],
                            "example": ["jobId": .string(examples.jobId ?? "J-1"), "amount": 120.5, "reference": "INV-0042"],
                        ],
                        "multipart/form-data": [
                            "schema": ["type": "object", "required": ["jobId", "amount", "file"], "properties": .object(invoiceFields.merging(["file": P.file]) { $1 })],
                        ],
                    ],
                ],
                responses: writeAnswer("the invoice AgentOS accepted", ModelSchemas.reference("InvoiceSubmissionResult"), 201).merging(P.errors([413, 415])) { $1 }),
            APIOperation(
                method: .get, path: "/api/contractor/events", id: "events", tag: "events",
                summary: "The contractor's job changes as server-sent events (event: jobUpdate; resumes after Last-Event-ID)", access: .session,
                parameters: [
                    P.query("lastEventId", "resume after this event (as Last-Event-ID)", ["type": "string"]),
                    ["name": "Last-Event-ID", "in": "header", "required": false, "schema": ["type": "string"]],
                ],
                responses: P.errors(P.contractorRoute + [409]).merging([
                    200: P.response("the stream", content: ["text/event-stream": ["schema": ["type": "string"]]]),
                ]) { $1 }),
        ]
    }
}
