import AgentOS
import ContractorPortal
import HTTPServer
import JSON

/// Seed 002's REST routes over the contractor service. Every route needs a session (401 before the
/// handler runs); who is asking always comes from it.
enum ContractorRoutes {
    /// Handlers throw `PortalError` or `WriteRefusal`; `route` maps both, in one place, to REST errors.
    typealias Action = @Sendable (Request, Session, CallContext) async throws -> Response

    typealias WriteAction = @Sendable (Request, Session, CallContext, WriteRenderer) async throws -> PortalWrites.Answer

    static func register(on router: inout Router, service: ContractorService, writes: PortalWrites, sessions: SessionAuthenticator, uploads: UploadSettings) {
        func route(_ method: HTTPMethod, _ path: String, _ action: @escaping Action) {
            router.on(method, path) { request in
                let session: Session
                switch await sessions.session(of: request) {
                case .success(let found): session = found
                case .failure(let refusal): throw RESTError.from(refusal)
                }
                let context = CallContext(requestID: request.requestID, deadline: request.deadline, tenant: session.identity.tenant)
                do {
                    let trace = CacheTrace()
                    var response = try await CacheTrace.$current.withValue(trace) { try await action(request, session, context) }
                    response.headers.set("Cache-Control", "no-store")
                    CacheHeaders.apply(trace, to: &response)
                    return response
                } catch let error as PortalError {
                    throw RESTError.from(error)
                } catch let refusal as WriteRefusal {
                    throw RESTError.from(refusal)
                }
            }
        }

        // A write answers what the guard says: the outcome (first or replayed), or why it was refused.
        func write(_ method: HTTPMethod, _ path: String, _ action: @escaping WriteAction) {
            route(method, path) { request, session, context in
                let answer = try await action(request, session, context, renderer(request.requestID))
                var response = Response.json(status: answer.outcome.status, answer.outcome.body)
                if answer.replayed { response.headers.set("Idempotent-Replayed", "true") }
                if let retryAfter = answer.outcome.retryAfter { response.headers.set("Retry-After", String(retryAfter)) }
                return response
            }
        }

        route(.get, "/api/contractor/account") { _, session, context in
            guard let account = try await service.account(session.identity, context) else { throw PortalError.notFound("Contractor not found") }
            return json(account.json)
        }
        route(.get, "/api/contractor/contacts") { _, session, context in
            json(.array(try await service.contacts(session.identity, context).map(\.json)))
        }
        route(.get, "/api/contractor/jobs") { request, session, context in
            let offset = try queryInt(request, "offset"), count = try queryInt(request, "count")
            let jobs = try await service.maintenanceJobsWithNotes(session.identity, offset: offset, count: count, context)
            // `notesLoaded: false`: the view's budget of notes calls was spent before this job's turn.
            return json(.array(jobs.map { job, notes in
                job.answer(adding: ["notes": .array((notes ?? []).map(\.json)), "notesLoaded": .bool(notes != nil)])
            }))
        }
        // An empty body keeps seed 002's toggle; `{"completed": bool}` says what is wanted and is not racy.
        write(.patch, "/api/contractor/jobs/:jobId/complete") { request, session, context, render in
            let input = try jsonBody(request)
            return try await writes.setCompletion(
                key: request.headers["Idempotency-Key"], session.identity, jobId: request.parameters["jobId"] ?? "",
                completed: try input.bool("completed"), context, render)
        }
        write(.post, "/api/contractor/jobs/:jobId/notes") { request, session, context, render in
            let input = try jsonBody(request)
            return try await writes.addNote(
                key: request.headers["Idempotency-Key"], session.identity, jobId: request.parameters["jobId"] ?? "",
                text: try input.requiredString("note"), field: "note", context, render)
        }
        // Both also as CSV downloads (`?format=csv`, or `Accept: text/csv`).
        route(.get, "/api/contractor/statements/historical") { request, session, context in
            let csv = try StatementExports.wantsCSV(request)
            let statement = try await service.statements(session.identity, dateFrom: request.query("dateFrom"), dateTo: request.query("dateTo"), context)
            guard csv else { return json(statement.json) }
            let period = [request.query("dateFrom"), request.query("dateTo")].compactMap { $0 }.joined(separator: "-to-")
            return StatementExports.response(
                StatementExports.historical(statement), name: "statement-\(session.identity.contractorId)" + (period.isEmpty ? "" : "-" + period))
        }
        route(.get, "/api/contractor/statements/pending") { request, session, context in
            let csv = try StatementExports.wantsCSV(request)
            let entries = try await service.pendingStatements(session.identity, context)
            guard csv else { return json(.array(entries.map(\.json))) }
            return StatementExports.response(StatementExports.pending(entries), name: "pending-\(session.identity.contractorId)")
        }
        // JSON, or multipart/form-data: the same fields and one `file` part, the invoice's PDF.
        write(.post, "/api/contractor/invoices") { request, session, context, render in
            let input = try uploadOrJSONBody(request, uploads)
            let draft = InvoiceDraft(
                jobId: try input.requiredID("jobId"), amount: try input.requiredDecimal("amount"), reference: try input.string("reference"),
                invoiceDate: try input.string("invoiceDate"), description: try input.string("description"), documents: try input.invoiceDocuments())
            return try await writes.submitInvoice(key: request.headers["Idempotency-Key"], session.identity, draft, context, render)
        }
        // multipart/form-data: one or more `file` parts (photos, documents) and an optional `description`.
        write(.post, "/api/contractor/jobs/:jobId/documents") { request, session, context, render in
            guard UploadForm.isForm(request) else { throw PortalError.unsupportedType("Send the files as multipart/form-data") }
            let input = InputObject(form: try UploadForm.read(request, uploads))
            return try await writes.attachDocuments(
                key: request.headers["Idempotency-Key"], session.identity, jobId: request.parameters["jobId"] ?? "",
                files: try input.jobDocuments(), description: try input.string("description"), context, render)
        }
    }

    /// REST's shapes for a write: the created note or invoice (201), the completion (200), or the error
    /// body. An invoice AgentOS answered but did not accept is not "Created": the contractor sees its reason.
    static func renderer(_ requestID: String) -> WriteRenderer {
        @Sendable func failure(_ error: PortalError) -> StoredOutcome {
            let response = ErrorResponse.make(for: RESTError.from(error), requestID: requestID)
            return StoredOutcome(status: response.status, body: response.bodyBytes ?? [], retryAfter: RESTError.retryAfter(error))
        }
        return WriteRenderer(via: "rest", answer: { answer in
            switch answer {
            case .note(let note): StoredOutcome(status: 201, body: note.json.serialized())
            case .completion(let completion): StoredOutcome(status: 200, body: completion.json.serialized())
            case .invoice(let result) where result.success: StoredOutcome(status: 201, body: result.json.serialized())
            case .invoice(let result):
                failure(.invalid(field: "invoice", reason: "was not accepted by AgentOS: \(result.message ?? "no reason given")"))
            case .documents: StoredOutcome(status: 201, body: answer.json.serialized())
            }
        }, failure: failure)
    }

    static func json(_ value: JSONValue, status: Int = 200) -> Response {
        Response.json(status: status, value.serialized())
    }

    /// An upload route's body: a form (read and checked), or JSON within the ordinary limit.
    static func uploadOrJSONBody(_ request: Request, _ uploads: UploadSettings) throws(PortalError) -> InputObject {
        if UploadForm.isForm(request) { return InputObject(form: try UploadForm.read(request, uploads)) }
        var copy = request
        copy.body = try request.jsonBytes(max: uploads.maxJSONBytes)
        copy.spooledBody = nil
        return try jsonBody(copy)
    }

    /// A body must be JSON (or empty where the route allows no input).
    static func jsonBody(_ request: Request) throws(PortalError) -> InputObject {
        if !request.body.isEmpty, let type = request.headers["Content-Type"], !type.lowercased().hasPrefix("application/json") {
            throw .invalid(field: "body", reason: "must be sent as application/json")
        }
        return try InputObject.body(request.body)
    }

    static func queryInt(_ request: Request, _ name: String) throws(PortalError) -> Int? {
        guard let raw = request.query(name) else { return nil }
        guard !raw.isEmpty, raw.utf8.count <= 9, raw.utf8.allSatisfy({ (48...57).contains($0) }), let value = Int(raw) else {
            throw .invalid(field: name, reason: "must be a non-negative integer")
        }
        return value
    }
}

/// `X-Cache` (HIT, STALE or MISS: the least fresh of the reads an answer was built from) and `Age` (the
/// oldest data's age in seconds), when the answer used cached reads at all.
enum CacheHeaders {
    static func apply(_ trace: CacheTrace, to response: inout Response) {
        // An error reveals nothing of the data, so neither does it say how fresh that was.
        guard response.status < 400 else { return }
        if let mirror = trace.mirrorState { response.headers.set("X-Mirror-State", mirror) }
        guard let outcome = trace.outcome else { return }
        response.headers.set("X-Cache", outcome.rawValue)
        response.headers.set("Age", String(trace.ageSeconds))
    }
}
