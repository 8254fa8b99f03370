import AgentOS
import ContractorPortal
import HTTPServer

/// Seed 002's REST routes over the contractor service. Every route needs a session (401 before the
/// handler runs); who is asking always comes from it.
enum ContractorRoutes {
    typealias Action = @Sendable (Request, Session, CallContext) async throws(PortalError) -> Response

    static func register(on router: inout Router, service: ContractorService, sessions: SessionAuthenticator) {
        func route(_ method: HTTPMethod, _ path: String, _ action: @escaping Action) {
            router.on(method, path) { request in
                let session: Session
                switch sessions.authenticate(request) {
                case .success(let found): session = found
                case .failure(let refusal): throw RESTError.from(refusal)
                }
                let context = CallContext(requestID: request.requestID, deadline: request.deadline)
                do {
                    var response = try await action(request, session, context)
                    response.headers.set("Cache-Control", "no-store")
                    return response
                } catch let error as PortalError {
                    throw RESTError.from(error)
                }
            }
        }

        route(.get, "/api/contractor/account") { _, session, context throws(PortalError) in
            guard let account = try await service.account(session.identity, context) else { throw .notFound("Contractor not found") }
            return json(account.json)
        }
        route(.get, "/api/contractor/contacts") { _, session, context throws(PortalError) in
            json(.array(try await service.contacts(session.identity, context).map(\.json)))
        }
        route(.get, "/api/contractor/jobs") { request, session, context throws(PortalError) in
            let offset = try queryInt(request, "offset"), count = try queryInt(request, "count")
            let jobs = try await service.maintenanceJobsWithNotes(session.identity, offset: offset, count: count, context)
            return json(.array(jobs.map { job, notes in
                guard case .object(var fields) = job.json else { return job.json }
                fields["notes"] = .array(notes.map(\.json))
                return .object(fields)
            }))
        }
        // An empty body keeps seed 002's toggle; `{"completed": bool}` says what is wanted and is not racy.
        route(.patch, "/api/contractor/jobs/:jobId/complete") { request, session, context throws(PortalError) in
            let input = try jsonBody(request)
            let result = try await service.setJobCompletion(
                session.identity, jobId: request.parameters["jobId"] ?? "", completed: try input.bool("completed"), context)
            return json(result.json)
        }
        route(.post, "/api/contractor/jobs/:jobId/notes") { request, session, context throws(PortalError) in
            let input = try jsonBody(request)
            let note = try await service.addJobNote(
                session.identity, jobId: request.parameters["jobId"] ?? "", text: try input.requiredString("note"), field: "note", context)
            return json(note.json, status: 201)
        }
        route(.get, "/api/contractor/statements/historical") { request, session, context throws(PortalError) in
            let statement = try await service.statements(session.identity, dateFrom: request.query("dateFrom"), dateTo: request.query("dateTo"), context)
            return json(statement.json)
        }
        route(.get, "/api/contractor/statements/pending") { _, session, context throws(PortalError) in
            json(.array(try await service.pendingStatements(session.identity, context).map(\.json)))
        }
        route(.post, "/api/contractor/invoices") { request, session, context throws(PortalError) in
            let input = try jsonBody(request)
            let draft = InvoiceDraft(
                jobId: try input.requiredID("jobId"), amount: try input.requiredDecimal("amount"), reference: try input.string("reference"),
                invoiceDate: try input.string("invoiceDate"), description: try input.string("description"))
            let result = try await service.submitInvoice(session.identity, draft, context)
            // AgentOS answered but did not accept: not "Created". The contractor sees AgentOS's reason.
            guard result.success else { throw .invalid(field: "invoice", reason: "was not accepted by AgentOS: \(result.message ?? "no reason given")") }
            return json(result.json, status: 201)
        }
    }

    static func json(_ value: JSONValue, status: Int = 200) -> Response {
        Response.json(status: status, value.serialized())
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
