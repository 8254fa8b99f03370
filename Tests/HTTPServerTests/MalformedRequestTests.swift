import HTTPServer
import Testing
import TestSupport

/// One malformed or smuggling-style request and what the server must answer. After every one of these the
/// connection must be closed: once framing is in doubt, nothing after it can be trusted.
struct MalformedCase: Sendable, CustomTestStringConvertible {
    let name: String
    let request: [UInt8]
    let status: Int
    var testDescription: String { name }

    init(_ name: String, _ request: String, _ status: Int) {
        self.name = name
        self.request = Array(request.utf8)
        self.status = status
    }

    init(_ name: String, bytes: [UInt8], _ status: Int) {
        self.name = name
        self.request = bytes
        self.status = status
    }
}

private let post = "POST /echo HTTP/1.1\r\nHost: x\r\n"
private let get = "GET /hello HTTP/1.1\r\nHost: x\r\n"

let malformedCases: [MalformedCase] = [
    // Framing: RFC 9112 §6.1, §6.3.
    MalformedCase("Content-Length with Transfer-Encoding", post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    MalformedCase("Transfer-Encoding with Content-Length", post + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello", 400),
    MalformedCase("two differing Content-Length fields", post + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400),
    MalformedCase("differing Content-Length list", post + "Content-Length: 5, 6\r\n\r\nhello!", 400),
    MalformedCase("Content-Length with a plus sign", post + "Content-Length: +5\r\n\r\nhello", 400),
    MalformedCase("negative Content-Length", post + "Content-Length: -1\r\n\r\n", 400),
    MalformedCase("Content-Length not a number", post + "Content-Length: abc\r\n\r\n", 400),
    MalformedCase("empty Content-Length", post + "Content-Length:\r\n\r\n", 400),
    MalformedCase("Content-Length with inner space", post + "Content-Length: 1 2\r\n\r\n", 400),
    MalformedCase("Content-Length in hex", post + "Content-Length: 0x5\r\n\r\nhello", 400),
    MalformedCase("last coding not chunked", post + "Transfer-Encoding: gzip\r\n\r\n", 400),
    MalformedCase("chunked then gzip", post + "Transfer-Encoding: chunked, gzip\r\n\r\n", 400),
    MalformedCase("unknown coding before chunked", post + "Transfer-Encoding: foo, chunked\r\n\r\n0\r\n\r\n", 501),
    MalformedCase("gzip before chunked", post + "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501),
    MalformedCase("chunked twice", post + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400),
    MalformedCase("xchunked", post + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 400),
    MalformedCase("chunked with a parameter", post + "Transfer-Encoding: chunked;q=1\r\n\r\n0\r\n\r\n", 400),
    MalformedCase("empty element in Transfer-Encoding", post + "Transfer-Encoding: chunked,\r\n\r\n0\r\n\r\n", 400),
    MalformedCase("Transfer-Encoding in HTTP/1.0", "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    MalformedCase("Content-Length over the body limit", post + "Content-Length: 2000000\r\n\r\n", 413),
    MalformedCase("Content-Length beyond any integer", post + "Content-Length: 99999999999999999999999\r\n\r\n", 413),
    // Chunked bodies.
    MalformedCase("chunk size not hex", post + "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 400),
    MalformedCase("chunk size overflows", post + "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\nx\r\n0\r\n\r\n", 400),
    MalformedCase("chunk size with leading space", post + "Transfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n", 400),
    MalformedCase("negative chunk size", post + "Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n", 400),
    MalformedCase("chunk data longer than its size", post + "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n", 400),
    MalformedCase("chunk size line ended by bare LF", post + "Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", 400),
    MalformedCase("control character in chunk extension", post + "Transfer-Encoding: chunked\r\n\r\n5;a=\u{1}\r\nhello\r\n0\r\n\r\n", 400),
    MalformedCase("chunk over the body limit", post + "Transfer-Encoding: chunked\r\n\r\n200000\r\nabc", 413),
    MalformedCase("folded trailer", post + "Transfer-Encoding: chunked\r\n\r\n0\r\nX-T: a\r\n b\r\n\r\n", 400),
    // Field lines: RFC 9112 §5, RFC 9110 §5.5.
    MalformedCase("obs-fold", get + "X-A: b\r\n  c\r\n\r\n", 400),
    MalformedCase("space before colon", "GET /hello HTTP/1.1\r\nHost : x\r\n\r\n", 400),
    MalformedCase("tab before colon", get + "X-A\t: b\r\n\r\n", 400),
    MalformedCase("space inside field name", get + "X A: b\r\n\r\n", 400),
    MalformedCase("non-token field name", get + "X@A: b\r\n\r\n", 400),
    MalformedCase("empty field name", get + ": b\r\n\r\n", 400),
    MalformedCase("field line without colon", get + "XA\r\n\r\n", 400),
    MalformedCase("NUL in field value", bytes: Array((get + "X-A: a").utf8) + [0] + Array("b\r\n\r\n".utf8), 400),
    MalformedCase("bare CR in field value", get + "X-A: b\rc\r\n\r\n", 400),
    MalformedCase("DEL in field value", get + "X-A: b\u{7F}\r\n\r\n", 400),
    MalformedCase("vertical tab in field value", get + "X-A: b\u{0B}c\r\n\r\n", 400),
    MalformedCase("bare LF line endings", "GET /hello HTTP/1.1\nHost: x\n\n", 400),
    MalformedCase("bare LF ending one field", get + "X-A: b\nX-B: c\r\n\r\n", 400),
    MalformedCase("header section over 16 KiB", get + "X-Big: " + String(repeating: "a", count: 17 * 1024) + "\r\n\r\n", 431),
    MalformedCase("more than 100 fields", get + (0...100).map { "X-F\($0): v\r\n" }.joined() + "\r\n", 431),
    MalformedCase("missing Host in HTTP/1.1", "GET /hello HTTP/1.1\r\n\r\n", 400),
    MalformedCase("two Host fields", get + "Host: y\r\n\r\n", 400),
    MalformedCase("Host with a space", "GET /hello HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
    MalformedCase("Host with a slash", "GET /hello HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
    MalformedCase("unsupported expectation", get + "Expect: 200-ok\r\n\r\n", 417),
    // Request line: RFC 9112 §3.
    MalformedCase("non-token method", "GE(T /hello HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    MalformedCase("method too long", String(repeating: "A", count: 40) + " /hello HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    MalformedCase("leading space before method", " GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    MalformedCase("double space after method", "GET  /hello HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    MalformedCase("tab as separator", "GET\t/hello HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    MalformedCase("space inside target", "GET /he llo HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    MalformedCase("HTTP/0.9 request line", "GET /hello\r\n\r\n", 400),
    MalformedCase("lowercase version", "GET /hello http/1.1\r\nHost: x\r\n\r\n", 400),
    MalformedCase("two-digit version", "GET /hello HTTP/1.10\r\nHost: x\r\n\r\n", 400),
    MalformedCase("HTTP/2.0", "GET /hello HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    MalformedCase("control character in target", "GET /he\u{1}llo HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    MalformedCase("non-ASCII byte in target", "GET /h\u{E9}llo HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    MalformedCase("NUL in request line", bytes: Array("GET /he".utf8) + [0] + Array("llo HTTP/1.1\r\nHost: x\r\n\r\n".utf8), 400),
    MalformedCase("target over 8 KiB", "GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    MalformedCase("unterminated target over 8 KiB", "GET /" + String(repeating: "a", count: 9000), 414),
    MalformedCase("authority-form", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n", 400),
    MalformedCase("asterisk with GET", "GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    MalformedCase("absolute-form with another scheme", "GET ftp://x/hello HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    MalformedCase("many empty lines before request", String(repeating: "\r\n", count: 10) + get + "\r\n", 400),
    MalformedCase("bare LF before request line", "\n" + get + "\r\n", 400),
]

@Suite("Malformed requests get a clear 4xx/5xx and a closed connection", .scoped)
struct MalformedRequestTests {
    @Test("the table holds at least 40 cases")
    func tableIsLarge() {
        #expect(malformedCases.count >= 40)
    }

    @Test(arguments: malformedCases)
    func refusedAndClosed(_ testCase: MalformedCase) async throws {
        let running = try RunningServer.start(router: TestRoutes.router)
        let request = testCase.request
        let (response, closed) = await offPool { () -> (RawResponse?, Bool) in
            guard let connection = RawConnection(port: running.port) else { return (nil, false) }
            connection.send(request)
            let response = connection.readResponse(timeout: 5)
            return (response, connection.closedByServer(within: 5))
        }
        await running.stop()
        let answered = try #require(response, "no response")
        #expect(answered.status == testCase.status)
        #expect(answered.header("Connection")?.lowercased() == "close")
        #expect(answered.text.contains("\"error\""), "error body in the documented shape")
        #expect(closed, "connection must be closed after a framing error")
    }

    @Test("the server survives every malformed case sent on one connection after another")
    func serverStillServesAfterAbuse() async throws {
        let running = try RunningServer.start(router: TestRoutes.router)
        for testCase in malformedCases {
            let request = testCase.request
            _ = await offPool { () -> Bool in
                guard let connection = RawConnection(port: running.port) else { return false }
                connection.send(request)
                return connection.closedByServer(within: 5)
            }
        }
        let (response, _) = await exchange(port: running.port, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        await running.stop()
        #expect(response?.status == 200)
        #expect(response?.text == "hello")
    }
}
