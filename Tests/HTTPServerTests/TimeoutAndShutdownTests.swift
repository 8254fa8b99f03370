import Foundation
import HTTPServer
import Logging
import TestSupport
import Testing

/// Each timeout with a short configured value. Bounds are generous (seconds, not milliseconds): they
/// prove that the server acts by itself, not how fast the machine is.
@Suite("Timeouts, connection cap and graceful shutdown", .scoped)
struct TimeoutAndShutdownTests {
    static func short(_ configuration: inout ServerConfiguration) {
        configuration.headerTimeout = .milliseconds(300)
        configuration.bodyTimeout = .milliseconds(300)
        configuration.keepAliveTimeout = .milliseconds(300)
        configuration.handlerTimeout = .milliseconds(300)
        configuration.sendTimeout = .milliseconds(300)
    }

    @Test func slowlorisHeadGets408AndClose() async throws {
        let running = try RunningServer.start(Self.short, router: TestRoutes.router)
        let (response, closed) = await offPool { () -> (RawResponse?, Bool) in
            guard let connection = RawConnection(port: running.port) else { return (nil, false) }
            connection.send("GET /hello HTTP/1.1\r\nHo")
            return (connection.readResponse(timeout: 5), connection.closedByServer(within: 5))
        }
        await running.stop()
        #expect(response?.status == 408)
        #expect(closed)
    }

    @Test func silentNewConnectionIsClosedWithoutAResponse() async throws {
        let running = try RunningServer.start(Self.short, router: TestRoutes.router)
        let (closed, bytes) = await offPool { () -> (Bool, Int) in
            guard let connection = RawConnection(port: running.port) else { return (false, -1) }
            let closed = connection.closedByServer(within: 5)
            return (closed, connection.readResponse(timeout: 0.1) == nil ? 0 : 1)
        }
        await running.stop()
        #expect(closed)
        #expect(bytes == 0)
    }

    @Test func idleKeepAliveConnectionIsClosed() async throws {
        let running = try RunningServer.start(Self.short, router: TestRoutes.router)
        let (status, closed) = await offPool { () -> (Int?, Bool) in
            guard let connection = RawConnection(port: running.port) else { return (nil, false) }
            connection.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            let status = connection.readResponse()?.status
            return (status, connection.closedByServer(within: 5))
        }
        // The counter drops just after the close the client saw.
        let deadline = ContinuousClock.now + .seconds(2)
        while running.server.openConnections > 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(running.server.openConnections == 0)
        await running.stop()
        #expect(status == 200)
        #expect(closed)
    }

    @Test func stalledBodyGets408AndClose() async throws {
        let running = try RunningServer.start(Self.short, router: TestRoutes.router)
        let (response, closed) = await offPool { () -> (RawResponse?, Bool) in
            guard let connection = RawConnection(port: running.port) else { return (nil, false) }
            connection.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
            return (connection.readResponse(timeout: 5), connection.closedByServer(within: 5))
        }
        await running.stop()
        #expect(response?.status == 408)
        #expect(closed)
    }

    @Test func slowHandlerGets503AndConnectionStaysUsable() async throws {
        let running = try RunningServer.start(Self.short, router: TestRoutes.router)
        let (timedOut, next) = await offPool { () -> (RawResponse?, RawResponse?) in
            guard let connection = RawConnection(port: running.port) else { return (nil, nil) }
            connection.send("GET /slow?ms=5000 HTTP/1.1\r\nHost: x\r\n\r\n")
            let timedOut = connection.readResponse(timeout: 5)
            connection.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            return (timedOut, connection.readResponse(timeout: 5))
        }
        await running.stop()
        #expect(timedOut?.status == 503)
        #expect(timedOut?.text.contains("requestId") == true)
        #expect(next?.text == "hello", "the late answer of the timed-out handler must not take the next request's place")
    }

    @Test func clientHangingUpCancelsItsHandler() async throws {
        let cancelled = LogCapture()
        var router = Router()
        router.get("/wait") { _ in
            do { try await Task.sleep(for: .seconds(30)) } catch {
                cancelled.logger.log(.info, "handler_cancelled")
                throw error
            }
            return Response(bytes: [])
        }
        let running = try RunningServer.start(router: router)
        await offPool {
            guard let connection = RawConnection(port: running.port) else { return }
            connection.send("GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
            Thread.sleep(forTimeInterval: 0.1)
        }  // the connection is closed here, its handler still waiting
        let deadline = ContinuousClock.now + .seconds(3)
        while cancelled.events("handler_cancelled").isEmpty && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        let open = running.server.openConnections
        await running.stop()
        #expect(cancelled.events("handler_cancelled").count == 1)
        #expect(open == 0)
    }

    @Test func requestDeadlineReachesTheHandler() async throws {
        var router = Router()
        router.get("/deadline") { request in
            let left = ContinuousClock.now.duration(to: request.deadline)
            return Response(bytes: Array(String(left.components.seconds).utf8))
        }
        let running = try RunningServer.start({ $0.handlerTimeout = .seconds(7) }, router: router)
        let response = await exchange(port: running.port, "GET /deadline HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").response
        await running.stop()
        #expect(["6", "7"].contains(response?.text ?? ""))
    }

    @Test func clientThatStopsReadingIsCutOff() async throws {
        var router = Router()
        router.get("/big") { _ in Response(bytes: [UInt8](repeating: 65, count: 32 << 20)) }
        let running = try RunningServer.start(Self.short, router: router)
        let received = await offPool { () -> Int in
            guard let connection = RawConnection(port: running.port) else { return -1 }
            connection.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            Thread.sleep(forTimeInterval: 2)  // not reading: the server's send timeout runs out
            var total = 0
            while case .bytes(let count) = connection.receive(timeout: 5) { total += count }
            return total
        }
        let deadline = ContinuousClock.now + .seconds(2)
        while running.server.openConnections > 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        let open = running.server.openConnections
        await running.stop()
        #expect(received > 0)
        #expect(received < 32 << 20, "the server gave up on a client that did not read")
        #expect(open == 0)
    }

    @Test func connectionsOverTheCapAreClosedAtOnce() async throws {
        let running = try RunningServer.start({ $0.maxConnections = 2 }, router: TestRoutes.router)
        let (third, firstStillServed) = await offPool { () -> (Bool, Int?) in
            guard let first = RawConnection(port: running.port), let second = RawConnection(port: running.port) else {
                return (false, nil)
            }
            Thread.sleep(forTimeInterval: 0.2)  // both accepted
            guard let third = RawConnection(port: running.port) else { return (true, nil) }
            let closed = third.closedByServer(within: 3)
            first.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = second
            return (closed, first.readResponse()?.status)
        }
        await running.stop()
        #expect(third)
        #expect(firstStillServed == 200)
    }

    @Test func shutdownDrainsInFlightRequestsAndClosesIdleOnes() async throws {
        // The in-flight request is held until the drain has begun, not for a fixed time: a loaded run can
        // resume this task later than any handler's sleep, and the request would then finish before the
        // shutdown (kept alive, no `Connection: close`) and prove nothing.
        let (arrived, arrival) = AsyncStream<Void>.makeStream()
        let (released, release) = AsyncStream<Void>.makeStream()
        var router = TestRoutes.router
        router.get("/held") { _ in
            arrival.yield()
            for await _ in released { break }
            return Response(bytes: Array("held".utf8))
        }
        let running = try RunningServer.start(router: router)
        let idle = await offPool { () -> RawConnection? in
            let connection = RawConnection(port: running.port)
            connection?.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = connection?.readResponse()
            return connection
        }
        async let busy = offPool { () -> (RawResponse?, Bool) in
            guard let connection = RawConnection(port: running.port) else { return (nil, false) }
            connection.send("GET /held HTTP/1.1\r\nHost: x\r\n\r\n")
            return (connection.readResponse(timeout: 10), connection.closedByServer(within: 10))
        }
        for await _ in arrived { break }
        // `whileDraining` runs once every loop has been told to drain; the handler's answer reaches its
        // loop after that word, so it is answered as a draining server answers.
        await running.server.shutdown(whileDraining: { release.yield() })
        let (response, closed) = await busy
        #expect(response?.status == 200, "the in-flight request finishes")
        #expect(response?.text == "held")
        #expect(response?.header("Connection") == "close")
        #expect(closed)
        let idleClosed = await offPool { idle?.closedByServer(within: 2) ?? false }
        #expect(idleClosed)
        let refused = await offPool { RawConnection(port: running.port) == nil }
        #expect(refused, "no new connections after shutdown")
        // A log line follows its answer's send, which may end the connection: both answers are logged.
        let logged = running.log.events("access").map { "\($0["path"] ?? "") \($0["status"] ?? "")" }
        #expect(logged.contains("/held 200") && logged.contains("/hello 200"), "\(logged)")
    }

    @Test func shutdownGivesUpAfterTheDrainTimeout() async throws {
        // The stop begins once the stuck request is being handled (not after a fixed time, which a loaded
        // run can spend before the request even arrives).
        let (arrived, arrival) = AsyncStream<Void>.makeStream()
        var router = TestRoutes.router
        router.get("/stuck") { _ in
            arrival.yield()
            try await Task.sleep(for: .seconds(20))
            return Response(bytes: Array("late".utf8))
        }
        let running = try RunningServer.start({ $0.drainTimeout = .milliseconds(300) }, router: router)
        async let stuck = offPool { () -> (RawResponse?, Bool) in
            guard let connection = RawConnection(port: running.port) else { return (nil, false) }
            connection.send("GET /stuck HTTP/1.1\r\nHost: x\r\n\r\n")
            return (connection.readResponse(timeout: 15), connection.sawClose)
        }
        for await _ in arrived { break }
        let started = ContinuousClock.now
        await running.stop()
        let took = ContinuousClock.now - started
        let (response, _) = await stuck
        #expect(response == nil, "the stuck request was cut off, not answered")
        #expect(took < .seconds(5))
        #expect(running.log.events("stopped").first?["abandonedConnections"] as? Int == 1)
    }
}
