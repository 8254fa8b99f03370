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
}
