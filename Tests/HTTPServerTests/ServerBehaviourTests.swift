import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HTTPServer
import Testing
import TestSupport

@Suite("Well-formed HTTP/1.1 and HTTP/1.0 traffic", .scoped)
struct ServerBehaviourTests {
    /// Runs `body` on its own thread with a connection to a fresh server, then stops the server.
    func withConnection<T: Sendable>(
        _ configure: @escaping @Sendable (inout ServerConfiguration) -> Void = { _ in },
        _ body: @escaping @Sendable (RawConnection, RunningServer) -> T
    ) async throws -> T {
        let running = try RunningServer.start(configure, router: TestRoutes.router)
        let result = await offPool { () -> T? in
            guard let connection = RawConnection(port: running.port) else { return nil }
            return body(connection, running)
        }
        await running.stop()
        return try #require(result, "could not connect")
    }

    @Test func keepAliveConnectionIsReused() async throws {
        let (first, second, closed) = try await withConnection { connection, _ in
            connection.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            let first = connection.readResponse()
            connection.send("GET /items/42 HTTP/1.1\r\nHost: x\r\n\r\n")
            let second = connection.readResponse()
            return (first, second, connection.closedByServer(within: 0.3))
        }
        #expect(first?.status == 200 && first?.text == "hello")
        #expect(second?.status == 200 && second?.text == "item 42")
        #expect(first?.header("Content-Length") == "5")
        #expect(first?.header("Date") != nil)
        #expect(!closed)
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        let bodies = try await withConnection { connection, _ in
            connection.send(
                "GET /slow?ms=150 HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
                    + "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbodyGET /items/7 HTTP/1.1\r\nHost: x\r\n\r\n")
            return (0..<4).map { _ in connection.readResponse()?.text }
        }
        #expect(bodies == ["slow 150", "hello", "body", "item 7"])
    }

    @Test func aLongPipelineIsAnsweredWholeAndInOrder() async throws {
        // More answers given at once than the loop hands to its connections in one turn (64), with one
        // handler midway that waits (its answer comes back from another thread).
        let texts = try await withConnection { connection, _ in
            connection.send((0..<200).map { $0 == 100 ? "GET /slow?ms=20 HTTP/1.1\r\nHost: x\r\n\r\n" : "GET /items/\($0) HTTP/1.1\r\nHost: x\r\n\r\n" }.joined())
            return (0..<200).map { _ in connection.readResponse()?.text }
        }
        #expect(texts == (0..<200).map { $0 == 100 ? "slow 20" : "item \($0)" })
    }

    @Test func http10ClosesByDefault() async throws {
        let (response, closed) = try await withConnection { connection, _ in
            connection.send("GET /hello HTTP/1.0\r\n\r\n")
            return (connection.readResponse(), connection.closedByServer(within: 3))
        }
        #expect(response?.status == 200)
        #expect(response?.header("Connection") == "close")
        #expect(closed)
    }

    @Test func http10KeepAliveIsHonoured() async throws {
        let (first, second) = try await withConnection { connection, _ in
            connection.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            let first = connection.readResponse()
            connection.send("GET /items/1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            return (first, connection.readResponse())
        }
        #expect(first?.header("Connection") == "keep-alive")
        #expect(second?.text == "item 1")
    }

    @Test func connectionCloseFromClientIsHonoured() async throws {
        let (response, closed) = try await withConnection { connection, _ in
            connection.send("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return (connection.readResponse(), connection.closedByServer(within: 3))
        }
        #expect(response?.header("Connection") == "close")
        #expect(closed)
    }

    @Test func chunkedBodyWithExtensionsAndTrailers() async throws {
        let response = try await withConnection { connection, _ in
            connection.send(
                "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: ignored\r\n\r\n")
            return connection.readResponse()
        }
        #expect(response?.status == 200)
        #expect(response?.text == "hello world")
    }

    @Test func bodyArrivingInPiecesIsAssembled() async throws {
        let response = try await withConnection { connection, _ in
            connection.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhel")
            Thread.sleep(forTimeInterval: 0.05)
            connection.send("lo wo")
            Thread.sleep(forTimeInterval: 0.05)
            connection.send("rld")
            return connection.readResponse()
        }
        #expect(response?.text == "hello world")
        #expect(response?.header("X-Body-Length") == "11")
    }

    @Test func headByteAtATimeIsParsed() async throws {
        let response = try await withConnection { connection, _ in
            for byte in "GET /items/9 HTTP/1.1\r\nHost: x\r\n\r\n".utf8 { connection.send([byte]) }
            return connection.readResponse()
        }
        #expect(response?.text == "item 9")
    }

    @Test func expectContinueGetsInterimResponseBeforeBody() async throws {
        let (interim, final) = try await withConnection { connection, _ in
            connection.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
            let interim = connection.readResponse()
            connection.send("hello")
            return (interim, connection.readResponse())
        }
        #expect(interim?.status == 100)
        #expect(final?.status == 200)
        #expect(final?.text == "hello")
    }

    @Test func expectContinueWithTooLargeBodyIsRefusedWithoutReading() async throws {
        let (response, closed) = try await withConnection { connection, _ in
            connection.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\nExpect: 100-continue\r\n\r\n")
            return (connection.readResponse(), connection.closedByServer(within: 3))
        }
        #expect(response?.status == 413)
        #expect(closed)
    }

    @Test func bodyLimitIsConfigurable() async throws {
        let response = try await withConnection({ $0.limits.maxBodyBytes = 4 }) { connection, _ in
            connection.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
            return connection.readResponse()
        }
        #expect(response?.status == 413)
    }

    @Test func headAnswersHeadersWithoutBody() async throws {
        let (head, next) = try await withConnection { connection, _ in
            connection.send("HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            let head = connection.readResponse(headRequest: true)
            connection.send("GET /items/3 HTTP/1.1\r\nHost: x\r\n\r\n")
            return (head, connection.readResponse())
        }
        #expect(head?.status == 200)
        #expect(head?.header("Content-Length") == "5")
        #expect(head?.body.isEmpty == true)
        // Had the HEAD response carried a body, it would be read here as the next response's start.
        #expect(next?.text == "item 3")
    }

    @Test func streamedResponseIsChunked() async throws {
        let (response, next) = try await withConnection { connection, _ in
            // Read timeouts a loaded run cannot reach (the whole suite starts at once on two cores): what is
            // tested is the framing, not the time.
            connection.send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = connection.readResponse(timeout: 30)
            connection.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            return (response, connection.readResponse(timeout: 30))
        }
        #expect(response?.header("Transfer-Encoding") == "chunked")
        #expect(response?.header("Content-Length") == nil)
        #expect(response?.text == "one two three")
        #expect(next?.text == "hello")
    }

    @Test func streamedResponseToHTTP10IsSentRawAndClosed() async throws {
        let (response, closed) = try await withConnection { connection, _ in
            connection.send("GET /stream HTTP/1.0\r\n\r\n")
            return (connection.readResponse(timeout: 30), connection.closedByServer(within: 10))
        }
        #expect(response?.text == "one two three")
        #expect(closed)
    }

    @Test func unknownErrorIsGeneric500WithRequestID() async throws {
        let response = try await withConnection { connection, _ in
            connection.send("GET /throw HTTP/1.1\r\nHost: x\r\n\r\n")
            return connection.readResponse()
        }
        let answered = try #require(response)
        #expect(answered.status == 500)
        let object = try JSONSerialization.jsonObject(with: Data(answered.body)) as? [String: String]
        #expect(object?["error"] == "Internal server error")
        #expect(object?["requestId"] == answered.header("X-Request-Id"))
        #expect(!answered.text.contains("Failure"), "no internal type names leak")
    }

    @Test func httpErrorKeepsItsStatusAndMessage() async throws {
        let response = try await withConnection { connection, _ in
            connection.send("GET /teapot HTTP/1.1\r\nHost: x\r\n\r\n")
            return connection.readResponse()
        }
        #expect(response?.status == 418)
        #expect(response?.text.contains("short and stout") == true)
    }

    @Test func unknownPathIs404AndWrongMethodIs405WithAllow() async throws {
        let (missing, wrong) = try await withConnection { connection, _ in
            connection.send("GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n")
            let missing = connection.readResponse()
            connection.send("DELETE /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            return (missing, connection.readResponse())
        }
        #expect(missing?.status == 404)
        #expect(wrong?.status == 405)
        #expect(wrong?.header("Allow") == "GET, HEAD")
    }

    @Test func requestIDIsKeptWhenWellFormedAndReplacedWhenNot() async throws {
        let (kept, replaced) = try await withConnection { connection, _ in
            connection.send("GET /hello HTTP/1.1\r\nHost: x\r\nX-Request-Id: trace-123.abc\r\n\r\n")
            let kept = connection.readResponse()
            connection.send("GET /hello HTTP/1.1\r\nHost: x\r\nX-Request-Id: has spaces and \"quotes\"\r\n\r\n")
            return (kept, connection.readResponse())
        }
        #expect(kept?.header("X-Request-Id") == "trace-123.abc")
        let generated = try #require(replaced?.header("X-Request-Id"))
        #expect(generated.count == 32 && generated.allSatisfy(\.isHexDigit))
    }

    @Test func accessLogLineHasTheDocumentedFieldsAndNoQueryString() async throws {
        let running = try RunningServer.start(router: TestRoutes.router)
        let response = await exchange(port: running.port, "GET /query?secret=hunter2 HTTP/1.1\r\nHost: x\r\nX-Request-Id: log-1\r\nConnection: close\r\n\r\n").response
        await running.stop()
        #expect(response?.status == 200)
        let line = try #require(running.log.events("access").first { $0["requestId"] as? String == "log-1" })
        #expect(line["method"] as? String == "GET")
        #expect(line["path"] as? String == "/query")
        #expect(line["status"] as? Int == 200)
        #expect(line["bytes"] as? Int == response?.body.count)
        #expect(line["durationMs"] is Double)
        #expect(line["time"] is String)
        #expect(!running.log.all.joined().contains("hunter2"))
    }

    @Test func pathAndQueryArePercentDecoded() async throws {
        let (space, slash, query, invalid, after) = try await withConnection { connection, _ in
            var answers: [RawResponse?] = []
            for target in ["/items/a%20b", "/items/a%2Fb", "/query?x=a%26b&y=c+d", "/items/%zz", "/hello"] {
                connection.send("GET \(target) HTTP/1.1\r\nHost: x\r\n\r\n")
                answers.append(connection.readResponse())
            }
            return (answers[0], answers[1], answers[2], answers[3], answers[4])
        }
        #expect(space?.text == "item a b")
        #expect(slash?.text == "item a/b", "an encoded slash stays inside its segment")
        #expect(query?.text == "x=a&b;y=c d")
        #expect(invalid?.status == 400)
        #expect(after?.text == "hello", "a bad path is not a framing error: the connection stays usable")
    }

    @Test func absoluteFormTargetIsServed() async throws {
        let response = try await withConnection { connection, _ in
            connection.send("GET http://example.com/items/5?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n")
            return connection.readResponse()
        }
        #expect(response?.text == "item 5")
    }

    @Test func repeatedIdenticalContentLengthAndLeadingEmptyLineAreAccepted() async throws {
        let response = try await withConnection { connection, _ in
            connection.send("\r\nPOST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello")
            return connection.readResponse()
        }
        #expect(response?.text == "hello")
    }

    @Test func handlerHeadersCannotSplitTheResponse() async throws {
        let response = try await withConnection { connection, _ in
            connection.send("GET /inject HTTP/1.1\r\nHost: x\r\n\r\n")
            return connection.readResponse()
        }
        #expect(response?.header("Set-Cookie") == nil)
        #expect(response?.header("X-Evil")?.contains("Set-Cookie") == true)
    }

    @Test func urlSessionTrafficIsServed() async throws {
        let running = try RunningServer.start(router: TestRoutes.router)
        var post = URLRequest(url: running.baseURL.appendingPathComponent("echo"))
        post.httpMethod = "POST"
        post.httpBody = Data("from URLSession".utf8)
        let (getData, getResponse) = try await URLSession.shared.data(from: running.baseURL.appendingPathComponent("hello"))
        let (postData, postResponse) = try await URLSession.shared.data(for: post)
        await running.stop()
        #expect((getResponse as? HTTPURLResponse)?.statusCode == 200)
        #expect(String(decoding: getData, as: UTF8.self) == "hello")
        #expect((postResponse as? HTTPURLResponse)?.statusCode == 200)
        #expect(String(decoding: postData, as: UTF8.self) == "from URLSession")
    }

    @Test func manyConcurrentClientsAreAllServed() async throws {
        let running = try RunningServer.start(router: TestRoutes.router)
        let statuses = await withTaskGroup(of: Int?.self) { group in
            for index in 0..<200 {
                group.addTask {
                    let url = running.baseURL.appendingPathComponent("items/\(index)")
                    guard let (data, response) = try? await URLSession.shared.data(from: url) else { return nil }
                    let ok = String(decoding: data, as: UTF8.self) == "item \(index)"
                    return ok ? (response as? HTTPURLResponse)?.statusCode : -1
                }
            }
            return await group.reduce(into: [Int?]()) { $0.append($1) }
        }
        await running.stop()
        #expect(statuses.count == 200)
        #expect(statuses.allSatisfy { $0 == 200 })
    }

    @Test func ipv6LoopbackIsServed() async throws {
        let running = try RunningServer.start({ $0.host = "::1" }, router: TestRoutes.router)
        let response = await offPool { () -> RawResponse? in
            guard let connection = RawConnection(port: running.port, host: "::1") else { return nil }
            connection.send("GET /hello HTTP/1.1\r\nHost: [::1]\r\n\r\n")
            return connection.readResponse()
        }
        await running.stop()
        #expect(response?.text == "hello")
    }

    @Test func ephemeralPortIsReportedAndLogged() async throws {
        let running = try RunningServer.start(router: TestRoutes.router)
        await running.stop()
        #expect(running.port > 0)
        #expect(running.log.events("listening").first?["port"] as? Int == running.port)
    }
}
