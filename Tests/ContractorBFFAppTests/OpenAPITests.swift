@testable import ContractorBFFApp
import Foundation
import HTTPServer
import JSON
import TestSupport
import Testing

/// `GET /openapi.json` and `GET /docs`: the description covers every route and procedure (and nothing
/// else), is valid OpenAPI 3.1 to openapi-spec-validator, and the fixture server answers schemathesis's
/// requests as it says: no 5xx, every status documented, every body matching its schema.
@Suite("API description", .scoped)
struct OpenAPITests {
    /// Every route that can exist: the metrics route and the portal page are on.
    static let everything = ["METRICS_TOKEN": "metrics-token-for-the-tests", "PORTAL_PAGE": "on"]

    @Test func everyRouteIsDescribedAndNothingElse() async throws {
        let portal = try await Portal.start(environment: Self.everything)
        let routes = Set(portal.application.routes.map { "\($0.method.rawValue) \($0.pattern)" })
        let operations = portal.application.apiOperations
        let described = Set(operations.filter { !$0.path.hasPrefix(TRPCRoutes.prefix) }.map { "\($0.method.rawValue) \($0.path)" })
        // tRPC's procedures share one route pattern; each is described as its own operation instead.
        let trpcRoutes: Set = ["GET \(TRPCRoutes.prefix):path", "POST \(TRPCRoutes.prefix):path"]
        #expect(routes.subtracting(trpcRoutes).subtracting(described).isEmpty, "routes the description leaves out")
        #expect(described.subtracting(routes).isEmpty, "described operations no route serves")
        #expect(trpcRoutes.isSubset(of: routes))
        var procedures: [String: String] = [:]
        for operation in operations where operation.path.hasPrefix(TRPCRoutes.prefix) {
            procedures[String(operation.path.dropFirst(TRPCRoutes.prefix.count))] = operation.method.rawValue
        }
        #expect(Set(procedures.keys) == Set(Procedure.all.keys), "one operation per procedure")
        for (name, procedure) in Procedure.all {
            #expect(procedures[name] == (procedure.kind == .mutation ? "POST" : "GET"), "\(name) by its method")
        }
        // And the served document is the one made from these.
        let served = await portal.get("/openapi.json", token: nil)
        #expect(served.status == 200)
        let paths = served.json["paths"]?.objectValue ?? [:]
        let count = paths.values.reduce(0) { $0 + ($1.objectValue?.count ?? 0) }
        #expect(count == operations.count)
        #expect(paths["/api/contractor/jobs/{jobId}/notes"]?["post"]?["operationId"] == "addJobNote")
        #expect(paths["/api/trpc/contractor.submitInvoice"]?["post"]?["requestBody"]?["content"]?["multipart/form-data"] != nil)
    }

    @Test func withoutTheTokenOrThePageNeitherIsDescribed() async throws {
        let portal = try await Portal.start(environment: ["PORTAL_PAGE": "off"])
        let paths = (await portal.get("/openapi.json", token: nil)).json["paths"]?.objectValue ?? [:]
        #expect(paths["/metrics"] == nil && paths["/portal"] == nil)
        #expect(paths["/api/contractor/account"] != nil)
        #expect((await portal.get("/portal", token: nil)).status == 404)
    }

    @Test func modelsAreDescribedFromTheirAliasTablesWithFixtureExamples() async throws {
        let portal = try await Portal.start()
        let document = (await portal.get("/openapi.json", token: nil)).json
        let job = document["components"]?["schemas"]?["ContractorMaintenanceJob"]
        #expect(job?["properties"]?["estimatedCost"]?["type"] == ["number", "null"], "money from its rule")
        #expect(job?["properties"]?["reportedDate"]?["format"] == "date-time")
        #expect(job?["properties"]?["owner"] == nil, "a rule read but never written is not described")
        #expect(job?["properties"]?["dueBy"] != nil)
        // The account example is what the account route answers for the fixture's first contractor.
        let example = document["paths"]?["/api/contractor/account"]?["get"]?["responses"]?["200"]?["content"]?["application/json"]?["example"]
        let answered = await portal.get("/api/contractor/account", token: Portal.token("3003"))
        #expect(answered.status == 200)
        #expect(example != nil && example == answered.json)
        // Security schemes: bearer, or the cookie with the CSRF header on writes.
        let complete = document["paths"]?["/api/contractor/jobs/{jobId}/complete"]?["patch"]
        #expect(complete?["security"] == [["bearerAuth": []], ["sessionCookie": [], "csrfToken": []]])
        #expect(complete?["parameters"]?.arrayValue?.contains { $0["name"] == "Idempotency-Key" } == true)
    }

    @Test func theDocumentIsValidOpenAPI() async throws {
        let portal = try await Portal.start(environment: Self.everything)
        let served = await portal.get("/openapi.json", token: nil)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("openapi-\(UUID().uuidString).json")
        try Data(served.text.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let validator = try await PythonTools.path("openapi-spec-validator")
        let outcome = try await ExternalTool.run(validator, [file.path])
        #expect(outcome.code == 0, "openapi-spec-validator: \(outcome.output)")
        #expect(outcome.output.contains("OK"))
    }

    @Test func theDocsPageIsWrittenFromTheDocument() async throws {
        let portal = try await Portal.start()
        let page = await portal.get("/docs", token: nil)
        #expect(page.status == 200)
        #expect(page.header("Content-Type") == "text/html; charset=utf-8")
        // Its one inline style is allowed by hash; nothing else loads.
        #expect(page.header("Content-Security-Policy") == DocsPage.contentSecurityPolicy)
        #expect(page.text.contains("<style>\(DocsPage.style)</style>"))
        #expect(!page.text.contains("<script") && !page.text.contains("http://") && !page.text.contains("https://"))
        for path in ["/api/contractor/jobs/{jobId}/notes", "/api/trpc/contractor.insights", "/api/auth/login", "/readyz"] {
            #expect(page.text.contains(DocsPage.escape(path)), "\(path) is on the page")
        }
        #expect(page.text.contains("Example (from the fixture AgentOS)"))
    }

    /// schemathesis against the served description: every operation but the two event streams (which
    /// never end; their own tests read them), a bounded number of examples each, stateful phase on. It
    /// fails on a 5xx, an undocumented status or content type, or a body its schema does not match.
    @Test(.timeLimit(.minutes(10))) func schemathesisFindsEveryAnswerAsDocumented() async throws {
        let portal = try await Portal.start(environment: Self.everything)
        let schemathesis = try await PythonTools.path("schemathesis")
        var environment = ProcessInfo.processInfo.environment
        environment["SCHEMATHESIS_TELEMETRY"] = "false"
        environment["NO_COLOR"] = "1"
        let outcome = try await ExternalTool.run(schemathesis, [
            "run", "http://127.0.0.1:\(portal.port)/openapi.json",
            "--header", "Authorization: Bearer \(Portal.token())",
            "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance",
            "--exclude-operation-id", "events", "--exclude-operation-id", "contractor.onJobUpdate",
            "--max-examples", "8", "--seed", "20261203", "--request-timeout", "20", "--no-color",
        ], environment: environment)
        #expect(outcome.code == 0, "schemathesis: \(outcome.output.suffix(6000))")
        #expect(outcome.output.contains("passed"), "\(outcome.output.suffix(2000))")
    }
}
