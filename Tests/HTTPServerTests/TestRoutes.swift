import HTTPServer

/// The routes the server tests talk to.
enum TestRoutes {
    struct Failure: Error {}

    static var router: Router {
        var router = Router()
        router.get("/hello") { _ in Response(bytes: Array("hello".utf8)) }
        router.post("/echo") { request in
            Response(headers: ["X-Body-Length": String(request.body.count)], bytes: request.body)
        }
        router.get("/items/:id") { request in
            Response(bytes: Array("item \(request.parameters["id"] ?? "?")".utf8))
        }
        router.get("/query") { request in
            Response(bytes: Array(request.query.map { "\($0.name)=\($0.value)" }.joined(separator: ";").utf8))
        }
        router.get("/slow") { request in
            let milliseconds = Int(request.query("ms") ?? "") ?? 200
            try await Task.sleep(for: .milliseconds(milliseconds))
            return Response(bytes: Array("slow \(milliseconds)".utf8))
        }
        router.get("/throw") { _ in throw Failure() }
        router.get("/teapot") { _ in throw HTTPError(418, "short and stout") }
        router.get("/stream") { _ in
            let (stream, continuation) = AsyncStream<[UInt8]>.makeStream()
            Task {
                for part in ["one ", "two ", "three"] {
                    continuation.yield(Array(part.utf8))
                    try? await Task.sleep(for: .milliseconds(20))
                }
                continuation.finish()
            }
            return Response(headers: ["Content-Type": "text/plain"], body: .stream(stream))
        }
        router.get("/inject") { _ in Response(headers: ["X-Evil": "a\r\nSet-Cookie: owned=1"], bytes: []) }
        return router
    }
}
