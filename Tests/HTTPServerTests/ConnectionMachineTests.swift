import Foundation
@testable import HTTPServer
import Synchronization
import Testing

/// The connection's life without a socket or a wall clock: each case is a script of events at given
/// times (milliseconds), and the actions and final phase it must produce. The "socket" here takes every
/// byte the machine queues at once unless a step says the client stopped reading.
@Suite("Connection state machine")
struct ConnectionMachineTests {
    static let ms: UInt64 = 1_000_000

    /// Short, distinct timeouts, so each one is identifiable by the time it fires.
    static var rules: ConnectionRules {
        var configuration = ServerConfiguration()
        configuration.headerTimeout = .milliseconds(100)
        configuration.bodyTimeout = .milliseconds(200)
        configuration.bodyDeadline = .milliseconds(1000)
        configuration.sendTimeout = .milliseconds(300)
        configuration.keepAliveTimeout = .milliseconds(400)
        configuration.handlerTimeout = .milliseconds(500)
        configuration.lingerTimeout = .milliseconds(600)
        configuration.maxPendingStreamBytes = 64
        configuration.limits.maxBodyBytes = 32
        return ConnectionRules(configuration)
    }

    enum Step: Sendable {
        case bytes(String, at: UInt64)
        case answer(serial: UInt64, status: Int, body: String, at: UInt64)
        case answerWith(serial: UInt64, Response, at: UInt64)
        case chunk(serial: UInt64, String, at: UInt64)
        case streamEnd(serial: UInt64, at: UInt64)
        case hangUp(at: UInt64)
        case eof(at: UInt64)
        case tick(at: UInt64)
        case drain(at: UInt64)
        /// From now on the client takes no bytes (the send timeout's case).
        case clientStopsReading
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let steps: [Step]
        /// Every action, in order, as `describe` writes it.
        let actions: [String]
        let phase: String
        /// Substrings the bytes on the wire must hold, in this order.
        var wire: [String] = []
        var testDescription: String { name }
    }

    /// Runs a script and reports what came out.
    final class Harness: @unchecked Sendable {
        var machine = ConnectionMachine(remoteAddress: "192.0.2.1", rules: ConnectionMachineTests.rules, now: 0)
        var actions: [String] = []
        var wire: [UInt8] = []
        var clientReads = true
        var nextID = 0
        lazy var context = ConnectionContext(
            rules: ConnectionMachineTests.rules, renderRefusal: ErrorResponse.refusals,
            newRequestID: { [unowned self] in
                nextID += 1
                return "id-\(nextID)"
            },
            dateLine: { Array("Date: Thu, 01 Jan 2026 00:00:00 GMT\r\n".utf8) },
            handlerDeadline: { ContinuousClock.now })

        func run(_ steps: [Step]) {
            for step in steps {
                switch step {
                case .bytes(let text, let at): deliver(.received(ArraySlice(text.utf8)), at)
                case .answer(let serial, let status, let body, let at):
                    deliver(.handlerAnswered(serial: serial, Response(status: status, bytes: Array(body.utf8))), at)
                case .answerWith(let serial, let response, let at): deliver(.handlerAnswered(serial: serial, response), at)
                case .chunk(let serial, let text, let at): deliver(.streamChunk(serial: serial, Array(text.utf8)), at)
                case .streamEnd(let serial, let at): deliver(.streamEnded(serial: serial), at)
                case .hangUp(let at): deliver(.hungUp, at)
                case .eof(let at): deliver(.inputEnded, at)
                case .tick(let at): deliver(.tick, at)
                case .drain(let at): deliver(.drain, at)
                case .clientStopsReading: clientReads = false
                }
            }
        }

        func deliver(_ event: ConnectionMachine.Event, _ at: UInt64) {
            var produced: [ConnectionMachine.Action] = []
            machine.handle(event, at: at * ConnectionMachineTests.ms, in: context, into: &produced)
            for action in produced {
                actions.append(Self.describe(action))
                if case .send = action, clientReads {
                    let bytes = machine.withPendingOutput { Array($0) }
                    wire += bytes
                    deliver(.sent(bytes.count), at)
                }
            }
        }

        static func describe(_ action: ConnectionMachine.Action) -> String {
            switch action {
            case .send: "send"
            case .startHandler(let request, let serial): "start \(request.method) \(request.target) #\(serial)"
            case .startStream(_, let serial): "stream #\(serial)"
            case .cancelHandler: "cancel"
            case .shutdownOutput: "shutdown"
            case .close: "close"
            case .reset: "reset"
            case .log(let exchange): "log \(exchange.status)"
            }
        }

        var phase: String {
            switch machine.phase {
            case .awaitingHead(let deadline, let idle): "\(idle ? "idle" : "head") until \(deadline / ConnectionMachineTests.ms)"
            case .readingBody(let deadline, let ends): "body until \(deadline / ConnectionMachineTests.ms) ends \(ends / ConnectionMachineTests.ms)"
            case .handling(let deadline): "handling until \(deadline / ConnectionMachineTests.ms)"
            case .streaming(let chunked): chunked ? "streaming chunked" : "streaming raw"
            case .flushing: "flushing"
            case .lingering(let deadline, let discarded): "lingering until \(deadline / ConnectionMachineTests.ms) dropped \(discarded)"
            case .closed: "closed"
            }
        }
    }

    static let get = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"

    static let cases: [Case] = [
        Case(name: "a silent connection is closed at the header timeout, not before",
             steps: [.tick(at: 99), .tick(at: 100)], actions: ["close"], phase: "closed"),
        Case(name: "a head begun and not finished is 408 at the header timeout, then a lingering close",
             steps: [.bytes("GET /a HT", at: 10), .tick(at: 100), .tick(at: 699), .tick(at: 700)],
             actions: ["send", "shutdown", "log 408", "close"], phase: "closed",
             wire: ["HTTP/1.1 408 ", "X-Request-Id: id-1\r\n", "Connection: close\r\n", "Date: Thu"]),
        Case(name: "a request starts its handler; the answer is sent and the connection waits idle",
             steps: [.bytes(get, at: 10), .answer(serial: 1, status: 200, body: "hi", at: 20)],
             actions: ["start GET /a #1", "send", "log 200"], phase: "idle until 420",
             wire: ["HTTP/1.1 200 OK\r\n", "X-Request-Id: id-1\r\nContent-Length: 2\r\nDate: Thu, 01 Jan 2026 00:00:00 GMT\r\n\r\nhi"]),
        Case(name: "an idle kept-alive connection is closed at the keep-alive timeout without a word",
             steps: [.bytes(get, at: 10), .answer(serial: 1, status: 200, body: "", at: 20), .tick(at: 419), .tick(at: 420)],
             actions: ["start GET /a #1", "send", "log 200", "close"], phase: "closed"),
        Case(name: "the next request on a kept-alive connection gets the header timeout from its first byte",
             steps: [.bytes(get, at: 10), .answer(serial: 1, status: 200, body: "", at: 20), .bytes("GET /b", at: 50)],
             actions: ["start GET /a #1", "send", "log 200"], phase: "head until 150"),
        Case(name: "pipelined requests wait for the answer before them",
             steps: [.bytes(get + get.replacingOccurrences(of: "/a", with: "/b"), at: 10), .answer(serial: 1, status: 204, body: "", at: 20),
                     .answer(serial: 2, status: 200, body: "b", at: 30)],
             actions: ["start GET /a #1", "send", "start GET /b #2", "log 204", "send", "log 200"], phase: "idle until 430",
             wire: ["HTTP/1.1 204 No Content\r\nX-Request-Id: id-1\r\nDate", "HTTP/1.1 200 OK\r\nX-Request-Id: id-2\r\nContent-Length: 1\r\n"]),
        Case(name: "a handler past its timeout is cancelled and answered 503; its late answer is dropped",
             steps: [.bytes(get, at: 10), .tick(at: 510), .answer(serial: 1, status: 200, body: "late", at: 600)],
             actions: ["start GET /a #1", "cancel", "send", "log 503"], phase: "idle until 910",
             wire: ["HTTP/1.1 503 "]),
        Case(name: "Connection: close is honoured: the answer says so and the connection lingers",
             steps: [.bytes("GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", at: 10), .answer(serial: 1, status: 200, body: "x", at: 20),
                     .bytes("more", at: 30), .eof(at: 40)],
             actions: ["start GET /a #1", "send", "shutdown", "log 200", "close"], phase: "closed",
             wire: ["Content-Length: 1\r\nConnection: close\r\n"]),
        Case(name: "lingering drops at most the largest body, then closes",
             steps: [.bytes("GET /a HTTP/1.0\r\n\r\n", at: 10), .answer(serial: 1, status: 200, body: "", at: 20),
                     .bytes(String(repeating: "z", count: 30), at: 30), .bytes(String(repeating: "z", count: 3), at: 31)],
             actions: ["start GET /a #1", "send", "shutdown", "log 200", "close"], phase: "closed"),
        Case(name: "HTTP/1.0 keep-alive is answered with Connection: keep-alive",
             steps: [.bytes("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", at: 10), .answer(serial: 1, status: 200, body: "", at: 20)],
             actions: ["start GET /a #1", "send", "log 200"], phase: "idle until 420", wire: ["Connection: keep-alive\r\n"]),
        Case(name: "a client that hangs up while its handler runs cancels it",
             steps: [.bytes(get, at: 10), .hangUp(at: 15), .answer(serial: 1, status: 200, body: "", at: 20)],
             actions: ["start GET /a #1", "close"], phase: "closed"),
        Case(name: "a request that arrives with the client's FIN is not started",
             steps: [.hangUp(at: 5), .bytes(get, at: 10)], actions: ["close"], phase: "closed"),
        Case(name: "a body's pause limit, then its 408",
             steps: [.bytes("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab", at: 10), .bytes("c", at: 150), .tick(at: 349), .tick(at: 350)],
             actions: ["send", "shutdown", "log 408"], phase: "lingering until 950 dropped 0"),
        Case(name: "a body's overall deadline holds however steadily it trickles",
             steps: [.bytes("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 30\r\n\r\n", at: 0)]
                + (1...9).map { Step.bytes("x", at: UInt64($0) * 150) } + [.tick(at: 1000)],
             actions: ["send", "shutdown", "log 408"], phase: "lingering until 1600 dropped 0"),
        Case(name: "Expect: 100-continue is answered before the body, then the request",
             steps: [.bytes("POST /a HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n", at: 10), .bytes("ok", at: 20)],
             actions: ["send", "start POST /a #1"], phase: "handling until 520", wire: ["HTTP/1.1 100 Continue\r\n\r\n"]),
        Case(name: "a body over the limit is refused on its word, before any of it",
             steps: [.bytes("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 33\r\n\r\n", at: 10)],
             actions: ["send", "shutdown", "log 413"], phase: "lingering until 610 dropped 0", wire: ["HTTP/1.1 413 "]),
        Case(name: "a TLS ClientHello's first byte is a 400 at once",
             steps: [.bytes("\u{16}", at: 10)], actions: ["send", "shutdown", "log 400"], phase: "lingering until 610 dropped 0",
             wire: ["HTTP/1.1 400 ", "malformed method"]),
        Case(name: "a streamed answer is chunked and ends with the last chunk",
             steps: [.bytes(get, at: 10), .answerWith(serial: 1, Response(body: .stream(AsyncStream { $0.finish() })), at: 20),
                     .chunk(serial: 1, "abc", at: 30), .streamEnd(serial: 1, at: 40)],
             actions: ["start GET /a #1", "stream #1", "send", "send", "log 200", "send"], phase: "idle until 440",
             wire: ["Transfer-Encoding: chunked\r\n", "\r\n\r\n3\r\nabc\r\n0\r\n\r\n"]),
        Case(name: "a stream to a client that stopped reading is cut off past its pending limit",
             steps: [.bytes(get, at: 10), .clientStopsReading, .answerWith(serial: 1, Response(body: .stream(AsyncStream { $0.finish() })), at: 20),
                     .chunk(serial: 1, String(repeating: "s", count: 80), at: 30)],
             actions: ["start GET /a #1", "stream #1", "send", "close"], phase: "closed"),
        Case(name: "output the client does not take is given up at the send timeout",
             steps: [.bytes(get, at: 10), .clientStopsReading, .answer(serial: 1, status: 200, body: "x", at: 20), .tick(at: 319), .tick(at: 320)],
             actions: ["start GET /a #1", "send", "log 200", "close"], phase: "closed"),
        Case(name: "a drain closes an idle connection",
             steps: [.bytes(get, at: 10), .answer(serial: 1, status: 200, body: "", at: 20), .drain(at: 30)],
             actions: ["start GET /a #1", "send", "log 200", "close"], phase: "closed"),
        Case(name: "a drain lets the answer in progress finish, with Connection: close",
             steps: [.bytes(get, at: 10), .drain(at: 15), .answer(serial: 1, status: 200, body: "", at: 20)],
             actions: ["start GET /a #1", "send", "shutdown", "log 200"], phase: "lingering until 620 dropped 0",
             wire: ["Connection: close\r\n"]),
        Case(name: "an aborted answer is a reset",
             steps: [.bytes(get, at: 10), .answerWith(serial: 1, Response.abortConnection(), at: 20)],
             actions: ["start GET /a #1", "log 0", "reset"], phase: "closed"),
        Case(name: "a cut-off answer sends what it announced less at least one byte, then resets",
             steps: [.bytes(get, at: 10), .answerWith(serial: 1, Response(body: .cutOff(Array("abcdef".utf8), sent: 9)), at: 20)],
             actions: ["start GET /a #1", "log 200", "send", "reset"], phase: "closed", wire: ["Content-Length: 6\r\n", "\r\n\r\nabcde"]),
        Case(name: "the client's own well-formed request id is kept",
             steps: [.bytes("GET /a HTTP/1.1\r\nHost: x\r\nX-Request-Id: trace-7\r\n\r\n", at: 10), .answer(serial: 1, status: 200, body: "", at: 20)],
             actions: ["start GET /a #1", "send", "log 200"], phase: "idle until 420", wire: ["X-Request-Id: trace-7\r\n"]),
    ]

    @Test(arguments: cases)
    func transitions(_ testCase: Case) {
        let harness = Harness()
        harness.run(testCase.steps)
        #expect(harness.actions == testCase.actions)
        #expect(harness.phase == testCase.phase)
        let wire = String(decoding: harness.wire, as: UTF8.self)
        var rest = wire[...]
        for expected in testCase.wire {
            guard let found = rest.range(of: expected) else {
                Issue.record("the wire lacks \(expected.debugDescription) (in order): \(wire.debugDescription)")
                break
            }
            rest = rest[found.upperBound...]
        }
    }

    @Test func theNextDeadlineIsThePhasesOrTheSendTimeoutsWhicheverIsFirst() {
        let harness = Harness()
        #expect(harness.machine.nextDeadline == 100 * Self.ms)
        harness.run([.bytes(Self.get, at: 10)])
        #expect(harness.machine.nextDeadline == 510 * Self.ms)
        harness.run([.clientStopsReading, .answer(serial: 1, status: 200, body: "x", at: 20)])
        #expect(harness.machine.nextDeadline == 320 * Self.ms, "flushing has no deadline of its own; the send timeout runs")
        #expect(harness.machine.wantsInput == false)
    }
}

@Suite("Response head encoder")
struct ResponseHeadTests {
    static let date = Array("Date: Thu, 01 Jan 2026 00:00:00 GMT\r\n".utf8)

    func encode(_ status: Int, _ headers: HTTPHeaders = [:], standard: HTTPHeaders = [:], _ framing: ResponseHead.Framing,
                _ persistence: ResponseHead.Persistence) -> String {
        String(decoding: ResponseHead.encode(status: status, headers: headers, standard: ResponseHead.StandardFields(standard), requestID: "r1",
                                             framing: framing, persistence: persistence, date: Self.date), as: UTF8.self)
    }

    @Test func fieldsComeInTheirOrderAndTheHeadEndsWithAnEmptyLine() {
        #expect(encode(200, ["Content-Type": "text/plain"], .length(5), .unstated)
            == "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Request-Id: r1\r\nContent-Length: 5\r\nDate: Thu, 01 Jan 2026 00:00:00 GMT\r\n\r\n")
        #expect(encode(200, [:], .chunked, .close)
            == "HTTP/1.1 200 OK\r\nX-Request-Id: r1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\nDate: Thu, 01 Jan 2026 00:00:00 GMT\r\n\r\n")
        #expect(encode(304, [:], .none, .keepAlive)
            == "HTTP/1.1 304 Not Modified\r\nX-Request-Id: r1\r\nConnection: keep-alive\r\nDate: Thu, 01 Jan 2026 00:00:00 GMT\r\n\r\n")
    }

    @Test func theServersOwnFieldsCannotBeSetByAHandler() {
        let head = encode(200, ["content-length": "99", "Transfer-Encoding": "gzip", "Connection": "upgrade", "Date": "yesterday",
                                "X-Request-Id": "forged", "X-Other": "kept"], .length(2), .unstated)
        #expect(!head.contains("99") && !head.contains("gzip") && !head.contains("upgrade") && !head.contains("yesterday") && !head.contains("forged"))
        #expect(head.contains("X-Other: kept\r\n"))
        #expect(head.contains("Content-Length: 2\r\n"))
    }

    @Test func standardFieldsNeverCarryTheServersOwn() {
        let head = encode(200, standard: ["Content-Length": "7", "Date": "never", "X-Content-Type-Options": "nosniff"], .length(2), .unstated)
        #expect(!head.contains("Content-Length: 7") && !head.contains("never"))
        #expect(head.contains("Content-Length: 2\r\n") && head.contains("X-Content-Type-Options: nosniff\r\n"))
    }

    @Test func standardFieldsGiveWayToTheHandlers() {
        let head = encode(404, ["X-Frame-Options": "SAMEORIGIN"], standard: ["X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff"],
                          .length(0), .close)
        #expect(head.contains("X-Frame-Options: SAMEORIGIN\r\n"))
        #expect(!head.contains("DENY"))
        #expect(head.contains("X-Content-Type-Options: nosniff\r\n"))
        #expect(head.hasPrefix("HTTP/1.1 404 Not Found\r\n"))
    }
}
