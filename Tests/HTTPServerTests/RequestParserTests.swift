@testable import HTTPServer
import Testing

@Suite("Request parser state machine")
struct RequestParserTests {
    /// Feeds `bytes` in pieces of `step` and returns the complete requests.
    func parse(_ text: String, step: Int, limits: ParserLimits = ParserLimits()) throws -> [(RequestHead, [UInt8])] {
        var parser = RequestParser(limits: limits)
        var buffer: [UInt8] = [], index = 0, requests: [(RequestHead, [UInt8])] = []
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            buffer += bytes[offset..<min(bytes.count, offset + step)]
            offset += step
            while let event = try parser.next(buffer, from: &index) {
                if case .request(let head, let body) = event { requests.append((head, body.memoryBytes)) }
            }
        }
        return requests
    }

    static let pipeline = "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n"
        + "GET /b?q=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        + "PUT /c HTTP/1.0\r\nContent-Length: 3\r\n\r\nxyz"

    @Test(arguments: [1, 2, 3, 7, 64, 4096])
    func sameRequestsWhateverTheSplit(step: Int) throws {
        let requests = try parse(Self.pipeline, step: step)
        #expect(requests.map(\.0.method) == ["POST", "GET", "PUT"])
        #expect(requests.map(\.0.target) == ["/a", "/b?q=1", "/c"])
        #expect(requests.map { String(decoding: $0.1, as: UTF8.self) } == ["abcde", "", "xyz"])
        #expect(requests.map(\.0.keepAlive) == [true, false, false])
    }

    @Test func headEventPrecedesTheBody() throws {
        var parser = RequestParser()
        var index = 0
        let buffer = Array("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n".utf8)
        guard case .head(let head)? = try parser.next(buffer, from: &index) else {
            Issue.record("expected a head event")
            return
        }
        #expect(head.expectsContinue)
        #expect(head.framing == .length(2))
        #expect(try parser.next(buffer, from: &index) == nil)
        #expect(!parser.isBetweenRequests)
    }

    @Test(arguments: [
        ("GET / HTTP/1.1\r\nHost: x\r\n\r\n", true),
        ("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", false),
        ("GET / HTTP/1.1\r\nHost: x\r\nConnection: Keep-Alive, CLOSE\r\n\r\n", false),
        ("GET / HTTP/1.0\r\n\r\n", false),
        ("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true),
        ("GET / HTTP/1.2\r\nHost: x\r\n\r\n", true),
    ])
    func keepAliveFollowsVersionAndConnection(request: String, keepAlive: Bool) throws {
        let requests = try parse(request, step: 4096)
        #expect(requests.first?.0.keepAlive == keepAlive)
    }

    @Test func expectContinueIsIgnoredForHTTP10AndBodylessRequests() throws {
        let old = try parse("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx", step: 4096)
        let empty = try parse("GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n", step: 4096)
        #expect(old.first?.0.expectsContinue == false)
        #expect(empty.first?.0.expectsContinue == false)
    }

    @Test func limitsAreTheConfiguredOnes() {
        var limits = ParserLimits()
        limits.maxHeaderFields = 2
        #expect(throws: ParseError.headerFieldsTooLarge("more than 2 fields")) {
            try parse("GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n", step: 4096, limits: limits)
        }
        limits = ParserLimits()
        limits.maxRequestTargetBytes = 10
        #expect(throws: ParseError.uriTooLong) { try parse("GET /0123456789 HTTP/1.1\r\nHost: x\r\n\r\n", step: 4096, limits: limits) }
    }

    @Test func fieldValuesAreTrimmedAndKeptInOrder() throws {
        let requests = try parse("GET / HTTP/1.1\r\nHost: x\r\nX-A: \t one \r\nx-a: two\r\n\r\n", step: 4096)
        #expect(requests.first?.0.headers.values("X-A") == ["one", "two"])
    }

    /// A prefix that no valid head begins with, and the refusal it must get as soon as its last byte is
    /// read: no line ending, no timeout, no more bytes needed.
    struct EarlyRefusal: Sendable, CustomTestStringConvertible {
        let name: String
        let bytes: [UInt8]
        let error: ParseError
        var testDescription: String { name }
        init(_ name: String, _ bytes: [UInt8], _ error: ParseError) {
            self.name = name
            self.bytes = bytes
            self.error = error
        }
        init(_ name: String, _ text: String, _ error: ParseError) { self.init(name, Array(text.utf8), error) }
    }

    static let earlyRefusals: [EarlyRefusal] = [
        // The first byte of a TLS record: handshake (0x16).
        EarlyRefusal("TLS handshake byte", [0x16], .badRequest("malformed method")),
        EarlyRefusal("NUL first", [0], .badRequest("malformed method")),
        EarlyRefusal("non-token method byte", "GE(", .badRequest("malformed method")),
        EarlyRefusal("space first", " ", .badRequest("malformed method")),
        EarlyRefusal("method one byte over its limit", String(repeating: "A", count: 33), .badRequest("malformed method")),
        EarlyRefusal("CR inside the method", "GET\r", .badRequest("malformed request line")),
        EarlyRefusal("double space after the method", "GET  ", .badRequest("malformed request target")),
        EarlyRefusal("control byte in the target", "GET /a\u{1}", .badRequest("malformed request target")),
        EarlyRefusal("non-ASCII byte in the target", [71, 69, 84, 32, 47, 0xC3], .badRequest("malformed request target")),
        EarlyRefusal("target one byte over its limit", "GET /" + String(repeating: "a", count: 8 * 1024), .uriTooLong),
        EarlyRefusal("HTTP/0.9 line", "GET /a\r", .badRequest("malformed request line")),
        EarlyRefusal("lowercase version", "GET /a h", .badRequest("malformed HTTP version")),
        EarlyRefusal("letter for a version digit", "GET /a HTTP/x", .badRequest("malformed HTTP version")),
        EarlyRefusal("two-digit minor version", "GET /a HTTP/1.10", .badRequest("malformed HTTP version")),
        EarlyRefusal("bare CR after the request line", "GET /a HTTP/1.1\rX", .badRequest("bare CR in head")),
        EarlyRefusal("bare LF in the request line", "GET /a HTTP/1.1\n", .badRequest("malformed HTTP version")),
        EarlyRefusal("obs-fold", "GET /a HTTP/1.1\r\nHost: x\r\n ", .badRequest("obsolete line folding")),
        EarlyRefusal("non-token field name byte", "GET /a HTTP/1.1\r\nX@", .badRequest("malformed field name")),
        EarlyRefusal("space before the colon", "GET /a HTTP/1.1\r\nHost ", .badRequest("malformed field name")),
        EarlyRefusal("field name starting with a colon", "GET /a HTTP/1.1\r\n:", .badRequest("malformed field name")),
        EarlyRefusal("field line without a colon", "GET /a HTTP/1.1\r\nHost\r", .badRequest("field line without colon")),
        EarlyRefusal("NUL in a field value", [UInt8]("GET /a HTTP/1.1\r\nX: a".utf8) + [0], .badRequest("control character in field value")),
        EarlyRefusal("bare LF ending a field", "GET /a HTTP/1.1\r\nX: a\n", .badRequest("bare LF in head")),
    ]

    @Test(arguments: earlyRefusals)
    func refusedAsSoonAsSeen(_ refusal: EarlyRefusal) {
        // Every byte but the last is still a possible start of a head; the last one is not.
        var parser = RequestParser()
        var index = 0
        let allButLast = Array(refusal.bytes.dropLast())
        var refusedEarly: ParseError?
        do { _ = try parser.next(allButLast, from: &index) } catch { refusedEarly = error }
        #expect(refusedEarly == nil, "the bytes before the last are accepted")
        #expect(throws: refusal.error) { try parser.next(refusal.bytes, from: &index) }
    }

    @Test func trailersAreJudgedByTheSameRules() {
        let chunked = "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
        #expect(throws: ParseError.badRequest("malformed field name")) { try parse(chunked + "X A: 1\r\n\r\n", step: 4096) }
        #expect(throws: ParseError.badRequest("field line without colon")) { try parse(chunked + "XA\r\n\r\n", step: 4096) }
        #expect(throws: ParseError.badRequest("control character in field value")) { try parse(chunked + "X: \u{7F}\r\n\r\n", step: 4096) }
        #expect((try? parse(chunked + "X-T: a\tb\r\n\r\n", step: 1))?.count == 1)
    }
}
