import AgentOS
import Foundation
import HTTPServer
import JSON
import Logging

/// A stand-in AgentOS that serves the contract of ../shared/agentos-upstream.md from Fixtures/, for running
/// and testing offline. It requires the API key (header `api_key` or `ApiKey`, or `?api_key=`), answers 404
/// for unknown ids, applies writes in memory, counts what it received, and misbehaves on request through
/// `FaultInjector` (configured in code or by `POST /__fixture/faults`).
public struct FixtureAgentOS: Sendable {
    public let store: FixtureStore
    public let faults: FaultInjector
    /// AgentOS's 50 requests per minute per key (off unless set).
    public let keyLimit: KeyLimit

    public init(file path: String, keyLimit: KeyLimit.Settings = KeyLimit.Settings()) throws {
        try self.init(store: try FixtureStore(file: path), keyLimit: keyLimit)
    }

    public init(store: FixtureStore, keyLimit: KeyLimit.Settings = KeyLimit.Settings()) {
        self.store = store
        faults = FaultInjector()
        self.keyLimit = KeyLimit(keyLimit)
    }

    /// The configured data file; the default's file, when it is not there (a binary run away from the
    /// repository), is the built-in copy of it. A data file named otherwise must exist.
    public static func data(_ path: String, isDefault: Bool, keyLimit: KeyLimit.Settings = KeyLimit.Settings()) throws -> (FixtureAgentOS, source: String) {
        if isDefault && !FileManager.default.fileExists(atPath: path) {
            return (FixtureAgentOS(store: try FixtureStore.builtIn(), keyLimit: keyLimit), "built-in")
        }
        return (try FixtureAgentOS(file: path, keyLimit: keyLimit), path)
    }

    /// A server for it; its handler timeout is long, so a hang fault really never answers.
    public func makeServer(host: String = "127.0.0.1", port: Int = 0, logger: Logger) -> HTTPServer {
        var configuration = ServerConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.handlerTimeout = .seconds(3600)
        configuration.drainTimeout = .milliseconds(200)
        configuration.eventLoops = 1
        // Uploads as large as AgentOS is likely to take them, spooled as the gateway spools its own.
        configuration.limits.bodyRoutes = ReceivedForm.bodyRoutes(maxBytes: 64 * 1024 * 1024)
        let responder = Responder(router: router)
        return HTTPServer(configuration: configuration, logger: logger) { await responder.respond($0) }
    }

    public var router: Router {
        var router = Router()
        let store = store
        // The documented V4 calls first: their literal segments must win over the modelled patterns.
        @Sendable func paging(_ request: Request) throws -> (Int, Int) {
            let offset = Int(request.parameters["offset"] ?? "") ?? -1, count = Int(request.parameters["count"] ?? "") ?? -1
            // AgentOS documents at most 1000 per request.
            guard offset >= 0, (1...1000).contains(count) else { throw HTTPError(400, "bad paging") }
            return (offset, count)
        }
        route(&router, .get, "/v4/maintenance/:shortName/company/branches/:offset/:count", "branches") { request, agency in
            let (offset, count) = try paging(request)
            return await store.branches(agency, offset: offset, count: count)
        }
        route(&router, .get, "/v4/maintenance/:shortName/jobs/statusTypes/:offset/:count", "statusTypes") { request, agency in
            let (offset, count) = try paging(request)
            return await store.statusTypes(agency, offset: offset, count: count)
        }
        route(&router, .get, "/v4/maintenance/:shortName/jobs/:branchId/:offset/:count", "branchJobs") { request, agency in
            let (offset, count) = try paging(request)
            return await store.branchJobs(agency, request.parameters["branchId"] ?? "", offset: offset, count: count)
        }
        route(&router, .get, "/v4/maintenance/:shortName/contacts/contractors/:branchId/:offset/:count", "branchContractors") { request, agency in
            let (offset, count) = try paging(request)
            return await store.branchContractors(agency, request.parameters["branchId"] ?? "", offset: offset, count: count)
        }
        route(&router, .patch, "/v4/maintenance/:shortName/jobs/:jobId", "updateJob") { request, agency in
            await store.updateJob(agency, request.parameters["jobId"] ?? "", try Self.body(request))
        }
        // As JSON (the model), or as a form: the model's fields and a `Documents` part per file.
        route(&router, .post, "/v4/maintenance/:shortName/invoice/submit", "invoiceSubmit", created: true) { request, agency in
            guard ReceivedForm.isForm(request) else { return await store.submitDocumentedInvoice(agency, try Self.body(request)) }
            let form = try ReceivedForm(request)
            guard form.files.allSatisfy({ $0.field == "Documents" }) else { throw HTTPError(400, "files must be sent as Documents") }
            return await store.submitDocumentedInvoice(agency, form.model, documents: form.files.map(\.record))
        }
        route(&router, .post, "/v4/maintenance/:shortName/jobs/:jobId/attachdocument", "attachDocument", created: true) { request, agency in
            guard ReceivedForm.isForm(request) else { throw HTTPError(415, "multipart/form-data expected") }
            let form = try ReceivedForm(request)
            guard form.files.count == 1, let file = form.files.first, file.field == "file" else { throw HTTPError(400, "one file part named file expected") }
            return await store.attachDocument(agency, request.parameters["jobId"] ?? "", file.record, description: form.fields["Description"])
        }
        route(&router, .get, "/v4/maintenance/:shortName/jobs/:jobId/documents", "jobDocuments") { request, agency in
            await store.documents(agency, request.parameters["jobId"] ?? "")
        }
        route(&router, .get, "/v4/maintenance/:shortName/contractors/:contractorId", "contractor") { request, agency in
            await store.contractor(agency, request.parameters["contractorId"] ?? "")
        }
        route(&router, .get, "/v4/maintenance/:shortName/contractors/:contractorId/contacts", "contacts") { request, agency in
            await store.contacts(agency, request.parameters["contractorId"] ?? "")
        }
        route(&router, .get, "/v4/maintenance/:shortName/contractors/:contractorId/jobs", "jobs") { request, agency in
            let offset = Int(request.query("offset") ?? "0") ?? -1
            let count = Int(request.query("count") ?? "100") ?? -1
            // AgentOS documents at most 1000 per request.
            guard offset >= 0, (1...1000).contains(count) else { throw HTTPError(400, "bad paging") }
            return await store.jobs(agency, request.parameters["contractorId"] ?? "", offset: offset, count: count)
        }
        route(&router, .get, "/v4/maintenance/:shortName/jobs/:jobId", "job") { request, agency in
            await store.job(agency, request.parameters["jobId"] ?? "")
        }
        route(&router, .get, "/v4/maintenance/:shortName/jobs/:jobId/notes", "notes") { request, agency in
            await store.notes(agency, request.parameters["jobId"] ?? "")
        }
        route(&router, .patch, "/v4/maintenance/:shortName/jobs/:jobId/completion", "setCompletion") { request, agency in
            guard case .bool(let completed)? = try Self.body(request)["Completed"] else { throw HTTPError(400, "Completed required") }
            return await store.setCompletion(agency, request.parameters["jobId"] ?? "", completed: completed)
        }
        route(&router, .post, "/v4/maintenance/:shortName/jobs/:jobId/notes", "addNote", created: true) { request, agency in
            let body = try Self.body(request)
            guard case .string(let text)? = body["Text"], !text.isEmpty else { throw HTTPError(400, "Text required") }
            return await store.addNote(agency, request.parameters["jobId"] ?? "", text: text, author: FixtureStore.text(body["Author"]) ?? "")
        }
        route(&router, .get, "/v4/accounts/:shortName/contractors/:contractorId/statement", "statement") { request, agency in
            await store.statement(agency, request.parameters["contractorId"] ?? "")
        }
        route(&router, .get, "/v4/accounts/:shortName/contractors/:contractorId/pending", "pending") { request, agency in
            await store.pending(agency, request.parameters["contractorId"] ?? "")
        }
        route(&router, .post, "/v4/accounts/:shortName/contractors/:contractorId/invoices", "submitInvoice", created: true) { request, agency in
            await store.submitInvoice(agency, request.parameters["contractorId"] ?? "", invoice: try Self.body(request))
        }
        addControlRoutes(&router)
        return router
    }

    /// One upstream route: count it, check the key and agency, maybe misbehave, answer JSON or 404.
    private func route(
        _ router: inout Router, _ method: HTTPMethod, _ pattern: String, _ name: String, created: Bool = false,
        _ answer: @escaping @Sendable (Request, String) async throws -> JSONValue?
    ) {
        let store = store, faults = faults, limit = keyLimit
        router.on(method, pattern) { request in
            await store.noteReceived(name, path: request.path)
            let key = request.headers["api_key"] ?? request.headers["ApiKey"] ?? request.query("api_key")
            guard key == store.apiKey else { return Self.plain(401, "Authorization has been denied for this request.") }
            switch limit.check(key ?? "") {
            case .allowed: break
            case .limited:
                var response = Self.plain(429, "API calls quota exceeded! maximum admitted 50 per 1m.")
                response.headers.set("Retry-After", "60")
                return response
            case .blocked: return Self.plain(403, "Forbidden: API key blocked after repeated 429 responses")
            }
            let agency = request.parameters["shortName"] ?? ""
            guard await store.hasAgency(agency) else { return Self.plain(403, "Forbidden") }
            let fault = faults.draw(for: name)
            if let (rule, jitter) = fault {
                let delay = rule.latencyMs + Int(Double(rule.jitterMs) * jitter)
                // Like a real server, AgentOS finishes a write it started when its caller goes away: the delay
                // before a write is applied runs outside the handler's task, so a hang-up (or a killed caller)
                // does not cancel the write. Reads, and hangs, stay cancellable.
                if delay > 0, method != .get {
                    try await Task { try await Task.sleep(for: .milliseconds(delay)) }.value
                } else if delay > 0 {
                    try await Task.sleep(for: .milliseconds(delay))
                }
                if !rule.afterApplying, let response = try await Self.misbehave(rule) { return response }
            }
            let value = try await answer(request, agency)
            if let (rule, _) = fault, rule.afterApplying, let response = try await Self.misbehave(rule) { return response }
            guard let value else { return Self.plain(404, "Not found") }
            var response = Response.json(status: created ? 201 : 200, value.serialized())
            if let (rule, _) = fault {
                let bytes = value.serialized()
                if rule.truncate { response = Response(status: response.status, headers: response.headers, body: .cutOff(bytes, sent: bytes.count / 2)) }
                if rule.malformed { response = Response.json(Array("{\"Data\": [<html>".utf8)) }
            }
            return response
        }
    }

    private static func misbehave(_ rule: FaultRule) async throws -> Response? {
        if rule.hang {
            try await Task.sleep(for: .seconds(3600))
            return plain(504, "hung")
        }
        if rule.reset { return .abortConnection() }
        if let status = rule.status {
            var response = plain(status, "<html><body>\(HTTPStatus.reason(status))</body></html>")
            if let retryAfter = rule.retryAfter { response.headers.set("Retry-After", retryAfter) }
            return response
        }
        return nil
    }

    /// Test API: `POST /__fixture/faults {"seed": n, "rules": [...]}`, `DELETE /__fixture/faults`,
    /// `GET /__fixture/counters`, `GET /__fixture/documents` (every file received: agency, job or invoice,
    /// name, type, size, SHA-256), `POST /__fixture/reset`.
    private func addControlRoutes(_ router: inout Router) {
        let store = store, faults = faults, keyLimit = keyLimit
        router.post("/__fixture/faults") { request in
            faults.load(try Self.body(request))
            return Response(status: 204)
        }
        router.delete("/__fixture/faults") { _ in
            faults.set([])
            return Response(status: 204)
        }
        router.get("/__fixture/counters") { _ in
            func object(_ counts: [String: Int]) -> JSONValue { .object(counts.mapValues { .number(String($0)) }) }
            let received = await store.received, writes = await store.writes, limits = keyLimit.counters
            return Response.json(JSONValue.object([
                "received": object(received), "writes": object(writes),
                "limit": object(["limited429": limits.limited, "blocked403": limits.blocked, "peakPerWindow": limits.peakInWindow]),
            ]).serialized())
        }
        router.get("/__fixture/documents") { _ in
            Response.json(JSONValue.object(["documents": .array(await store.receivedDocuments)]).serialized())
        }
        router.post("/__fixture/reset") { _ in
            await store.reset()
            keyLimit.reset()
            faults.set([])
            return Response(status: 204)
        }
    }

    static func body(_ request: Request) throws -> JSONValue {
        // `content`: on an upload route a large JSON body is spooled, not in `body`.
        guard let value = try? JSONText.parse(try request.content.bytes()), value.objectValue != nil else { throw HTTPError(400, "JSON object expected") }
        return value
    }

    /// Error bodies as an ASP.NET API might send them: not reliably JSON.
    static func plain(_ status: Int, _ text: String) -> Response {
        Response(status: status, headers: ["Content-Type": "text/html"], bytes: Array(text.utf8))
    }
}
