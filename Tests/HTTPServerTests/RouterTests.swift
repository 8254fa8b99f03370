@testable import HTTPServer
import Testing

@Suite("Router and middleware")
struct RouterTests {
    struct Tag: Middleware {
        let name: String
        func handle(_ request: Request, next: Handler) async throws -> Response {
            var response = try await next(request)
            response.headers.add("X-Chain", name)
            return response
        }
    }

    struct Gate: Middleware {
        func handle(_ request: Request, next: Handler) async throws -> Response {
            guard request.headers["Authorization"] != nil else { throw HTTPError(401, "Sign in first") }
            return try await next(request)
        }
    }

    var router: Router {
        var router = Router()
        router.patch("/api/contractor/jobs/:jobId/complete") { request in
            Response(bytes: Array((request.parameters["jobId"] ?? "").utf8))
        }
        router.get("/api/contractor/jobs") { _ in Response(bytes: Array("list".utf8)) }
        return router
    }

    @Test func parametersAreBoundFromDecodedSegments() async throws {
        let responder = Responder(router: router)
        let response = await responder.respond(try Request(method: .patch, target: "/api/contractor/jobs/J%2017/complete"))
        #expect(response.bodyBytes.map { String(decoding: $0, as: UTF8.self) } == "J 17")
    }

    @Test func trailingSlashAndEmptyParameterDoNotMatchWrongly() async throws {
        let responder = Responder(router: router)
        #expect(await responder.respond(try Request(method: .get, target: "/api/contractor/jobs/")).status == 200)
        #expect(await responder.respond(try Request(method: .patch, target: "/api/contractor/jobs//complete")).status == 404)
    }

    @Test func middlewareRunsOutsideInAndCanRefuse() async throws {
        let responder = Responder(router: router, middleware: [Tag(name: "outer"), Tag(name: "inner"), Gate()])
        let allowed = await responder.respond(try Request(method: .get, target: "/api/contractor/jobs", headers: ["Authorization": "x"]))
        #expect(allowed.headers.values("X-Chain") == ["inner", "outer"])
        let refused = await responder.respond(try Request(method: .get, target: "/api/contractor/jobs"))
        #expect(refused.status == 401)
        #expect(refused.headers.values("X-Chain") == [], "a thrown error skips the layers above it; one place maps it")
        #expect(String(decoding: refused.bodyBytes ?? [], as: UTF8.self) == #"{"error":"Sign in first","requestId":"test"}"#)
    }

    @Test func headIsServedByGetAndListedInAllow() async throws {
        let responder = Responder(router: router)
        #expect(await responder.respond(try Request(method: .head, target: "/api/contractor/jobs")).status == 200)
        let wrong = await responder.respond(try Request(method: .post, target: "/api/contractor/jobs"))
        #expect(wrong.status == 405)
        #expect(wrong.headers["Allow"] == "GET, HEAD")
    }
}
