import Foundation
import HTTPServer
import TestSupport
import Testing

/// Bytes that cannot begin an HTTP/1.x request are answered the moment they are seen, not when the header
/// timeout fires. The timeout here is the default ten seconds; every answer must come well inside it.
@Suite("Non-HTTP bytes are refused at once", .scoped)
struct EarlyRefusalTests {
    /// A real TLS 1.2/1.3 ClientHello, as OpenSSL (through Python's ssl module) writes it for a handshake
    /// with localhost: the bytes a browser sends to an `https://` address that is plain HTTP.
    static func clientHello() async throws -> [UInt8] {
        let script = """
        import ssl, sys
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
        try:
            tls.do_handshake()
        except ssl.SSLWantReadError:
            pass
        sys.stdout.buffer.write(outgoing.read())
        """
        let child = try ChildProcess(
            executable: "/usr/bin/env", arguments: ["python3", "-c", script], environment: ProcessInfo.processInfo.environment, directory: "/")
        let output = await offPool { child.standardOutput.readDataToEndOfFile() }
        _ = await offPool { child.wait() }
        return [UInt8](output)
    }

    /// Sends `bytes` and nothing more; the response, whether the server closed, and how long the answer took.
    static func answer(to bytes: [UInt8], port: Int) async -> (RawResponse?, closed: Bool, seconds: Double) {
        await offPool { () -> (RawResponse?, closed: Bool, seconds: Double) in
            guard let connection = RawConnection(port: port) else { return (nil, false, 0) }
            let started = ContinuousClock.now
            connection.send(bytes)
            let response = connection.readResponse(timeout: 15)
            let elapsed = ContinuousClock.now - started
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            return (response, connection.closedByServer(within: 5), seconds)
        }
    }

    @Test func aTLSClientHelloGets400AtOnce() async throws {
        let hello = try await Self.clientHello()
        // A TLS record: handshake (22), a 3.x record version, a ClientHello (1) inside.
        try #require(hello.count > 40, "python3's ssl module wrote no ClientHello")
        #expect(hello[0] == 0x16 && hello[1] == 0x03 && hello[5] == 0x01)
        let running = try RunningServer.start(router: TestRoutes.router)
        #expect(running.server.configuration.headerTimeout == .seconds(10))
        let (response, closed, seconds) = await Self.answer(to: hello, port: running.port)
        await running.stop()
        let answered = try #require(response, "no answer to a ClientHello")
        #expect(answered.status == 400)
        #expect(answered.header("Connection")?.lowercased() == "close")
        #expect(answered.text.contains("malformed method"))
        #expect(closed)
        // Well before the ten-second header timeout (on a loaded two-core machine, a second is a lot).
        #expect(seconds < 2, "answered after \(seconds) s")
    }

    @Test(arguments: [
        ("a field name with a space", "GET /hello HTTP/1.1\r\nHost: x\r\nX A", "malformed field name"),
        ("a control byte in a field value", "GET /hello HTTP/1.1\r\nHost: x\r\nX-A: \u{1}", "control character in field value"),
        ("a method longer than its limit", String(repeating: "M", count: 33), "malformed method"),
        ("a request line with no version yet but a bad one", "GET /hello HTTPS", "malformed HTTP version"),
    ])
    func anInvalidByteEndsTheExchangeWithoutWaitingForTheRest(name: String, bytes: String, message: String) async throws {
        let running = try RunningServer.start(router: TestRoutes.router)
        let (response, closed, seconds) = await Self.answer(to: Array(bytes.utf8), port: running.port)
        await running.stop()
        let answered = try #require(response, "no answer to \(name)")
        #expect(answered.status == 400)
        #expect(answered.text.contains(message))
        #expect(closed)
        #expect(seconds < 2, "answered after \(seconds) s")
    }

    @Test func anOverlongTargetWithoutALineEndGets414AtOnce() async throws {
        let running = try RunningServer.start(router: TestRoutes.router)
        let bytes = Array(("GET /" + String(repeating: "a", count: 9000)).utf8)
        let (response, closed, seconds) = await Self.answer(to: bytes, port: running.port)
        await running.stop()
        #expect(response?.status == 414)
        #expect(closed)
        #expect(seconds < 2, "answered after \(seconds) s")
    }
}
