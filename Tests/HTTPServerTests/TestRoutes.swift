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
        // An upload route (given its own body limit by the tests that use it): where the body was kept, its
        // length and its FNV-1a digest, read back through `content` whichever way it was kept.
        router.post("/uploads/:name") { request in
            var digest: UInt64 = 0xcbf2_9ce4_8422_2325
            try request.content.forEachChunk(size: 4096) { chunk in
                for byte in chunk { digest = (digest ^ UInt64(byte)) &* 0x100_0000_01b3 }
            }
            let kept = request.spooledBody == nil ? "memory" : "spooled"
            return Response(bytes: Array("\(kept) \(request.content.count) \(String(digest, radix: 16))".utf8))
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
