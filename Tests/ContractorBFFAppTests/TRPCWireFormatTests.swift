import AgentOS
@testable import ContractorBFFApp
import TestSupport
import Testing
import JSON

/// The bytes tRPC 11's own producers write, taken from tRPC's test snapshots and source
/// (`packages/tests/server/adapters/awsLambda.test.tsx`, `stream/jsonl.test.ts`, `stream/sse.ts`), not from
/// this implementation.
@Suite("tRPC 11 wire format", .scoped)
struct TRPCWireFormatTests {
    static let data = JSONValue.object(["text": .string("hello world")])

    @Test func oneStreamedCallIsTRPCsSnapshot() {
        // awsLambda.test.tsx "streaming with normal response".
        var lines = TRPCWire.JSONLines(transformer: .none, calls: 1)
        let bytes = lines.head(calls: 1) + lines.lines(index: 0, CallAnswer(.success(Self.data), path: "hello", requestID: "r"))
        #expect(String(decoding: bytes, as: UTF8.self) == """
            {"0":[[0],[null,0,0]]}
            [0,0,[[{"result":0}],["result",0,1]]]
            [1,0,[[{"data":0}],["data",0,2]]]
            [2,0,[[{"text":"hello world"}]]]

            """)
    }

    @Test func superjsonWrapsEveryWholeLine() {
        // jsonl.test.ts: the head of a two-value stream under SuperJSON.serialize.
        let lines = TRPCWire.JSONLines(transformer: .superjson, calls: 2)
        #expect(String(decoding: lines.head(calls: 2), as: UTF8.self) == #"{"json":{"0":[[0],[null,0,0]],"1":[[0],[null,0,1]]}}"# + "\n")
        var more = lines
        let line = String(decoding: more.lines(index: 1, CallAnswer(.success(.number("42")), path: "p", requestID: "r")), as: UTF8.self)
        #expect(line == """
            {"json":[1,0,[[{"result":0}],["result",0,2]]]}
            {"json":[2,0,[[{"data":0}],["data",0,3]]]}
            {"json":[3,0,[[42]]]}

            """)
    }

    /// tRPC's producer numbers chunks as it meets them: the calls' placeholders first, then each call's
    /// `result` and `data` placeholders in the order the calls finish.
    @Test func callsFinishingOutOfOrderTakeTheNextChunkIds() {
        var lines = TRPCWire.JSONLines(transformer: .none, calls: 3)
        _ = lines.head(calls: 3)
        let second = String(decoding: lines.lines(index: 2, CallAnswer(.success(.bool(true)), path: "p", requestID: "r")), as: UTF8.self)
        let failed = String(decoding: lines.lines(index: 0, CallAnswer(.failure(TRPCError(.notFound, "gone")), path: "p", requestID: "r")), as: UTF8.self)
        let first = String(decoding: lines.lines(index: 1, CallAnswer(.success(.null), path: "p", requestID: "r")), as: UTF8.self)
        #expect(second.hasPrefix(#"[2,0,[[{"result":0}],["result",0,3]]]"# + "\n" + #"[3,0,[[{"data":0}],["data",0,4]]]"# + "\n[4,0,[[true]]]\n"))
        #expect(failed.hasPrefix(#"[0,0,[[{"error":{"code":-32004,"data":{"code":"NOT_FOUND","httpStatus":404,"path":"p","requestId":"r"},"message":"gone"}}]]]"#))
        #expect(first == #"[1,0,[[{"result":0}],["result",0,5]]]"# + "\n" + #"[5,0,[[{"data":0}],["data",0,6]]]"# + "\n[6,0,[[null]]]\n")
    }

    /// sse.ts writes each field as `name: value\n`, then `\n\n`.
    @Test func eventFramesAreTRPCsSSE() {
        let wire = TRPCWire(transformer: .superjson)
        let format = wire.eventFormat(path: "contractor.onJobUpdate", requestID: "r", reconnectAfterInactivity: nil)
        #expect(String(decoding: format.opening, as: UTF8.self) == "event: connected\ndata: {}\n\n\n")
        #expect(String(decoding: format.ping, as: UTF8.self) == "event: ping\ndata: \n\n\n")
        #expect(String(decoding: format.end(.drained), as: UTF8.self) == "event: return\ndata: \n\n\n")
        let event = JobEvent(id: EventID(epoch: "ab", sequence: 7), kind: .note, jobId: "J-1", source: .gateway, payload: .object(["jobId": .string("J-1")]))
        #expect(String(decoding: format.event(event), as: UTF8.self) == "data: {\"json\":{\"jobId\":\"J-1\"}}\nid: ab-7\n\n\n")
        let expired = String(decoding: format.end(.sessionEnded(.invalid(.expired))), as: UTF8.self)
        #expect(expired.hasPrefix("event: serialized-error\ndata: {\"json\":{\"code\":-32001,"))
        #expect(expired.hasSuffix("}}\n\n\n"))
        let withReconnect = wire.eventFormat(path: "p", requestID: "r", reconnectAfterInactivity: .seconds(45))
        #expect(String(decoding: withReconnect.opening, as: UTF8.self) == "event: connected\ndata: {\"reconnectAfterInactivityMs\":45000}\n\n\n")
    }

    @Test(arguments: [
        // superjson.serialize(undefined) as tRPC's client sends a query without input.
        (#"{"json":null,"meta":{"values":["undefined"],"v":1}}"#, "nil"),
        (#"{"json":{"jobId":"J-1","note":null},"meta":{"values":{"note":["undefined"]},"v":1}}"#, #"{"jobId":"J-1"}"#),
        (#"{"json":{"dateFrom":"2026-02-01T00:00:00.000Z"},"meta":{"values":{"dateFrom":["Date"]},"v":1}}"#, #"{"dateFrom":"2026-02-01T00:00:00.000Z"}"#),
        (#"{"json":{"a":{"b.c":null,"d":1}},"meta":{"values":{"a.b\\.c":["undefined"]},"v":1}}"#, #"{"a":{"d":1}}"#),
        (#"{"json":{"a":[1,null]},"meta":{"values":{"a":[["undefined"], {}], "a.1":["undefined"]},"v":1}}"#, "BAD_REQUEST"),
        (#"{"json":{"list":[1,null]},"meta":{"values":{"list.1":["undefined"]},"v":1}}"#, #"{"list":[1,null]}"#),
        (#"{"json":{"tags":["a"]},"meta":{"values":{"tags":["set"]},"v":1}}"#, "BAD_REQUEST"),
        (#"{"json":{"amount":"1"},"meta":{"values":{"amount":["bigint"]},"v":1}}"#, "BAD_REQUEST"),
        (#"{"json":{"when":"x"},"meta":{"values":{"when":[["custom","Decimal"]]},"v":1}}"#, "BAD_REQUEST"),
        (#"{"json":{"a":{},"b":{}},"meta":{"referentialEqualities":{"a":["b"]},"v":1}}"#, "BAD_REQUEST"),
        (#"{"json":{"when":1},"meta":{"values":{"when":["Date"]},"v":1}}"#, "BAD_REQUEST"),
        (#"{"json":{"a":1},"meta":{"values":7}}"#, "BAD_REQUEST"),
        (#"{"jobId":"J-1"}"#, "BAD_REQUEST"),
    ])
    func superjsonInputsAreUnwrapped(_ input: String, _ expected: String) throws {
        let raw = try JSONText.parse(Array(input.utf8))
        switch Result(catching: { () throws(TRPCError) in try TRPCTransformer.superjson.input(raw) }) {
        case .success(let value):
            #expect(value.map { String(decoding: $0.serialized(), as: UTF8.self) } ?? "nil" == expected)
        case .failure(let error):
            #expect(error.code.rawValue == expected, "\(error.message)")
            #expect(expected != "BAD_REQUEST" || !error.message.isEmpty)
        }
    }

    @Test func plainServersRefuseSuperjsonAndTheReverse() throws {
        let wrapped = try JSONText.parse(Array(#"{"json":{"jobId":"J-1"}}"#.utf8))
        #expect(throws: TRPCError.self) { try TRPCTransformer.none.input(wrapped) }
        #expect(try TRPCTransformer.none.input(.object(["jobId": .string("J-1")])) == .object(["jobId": .string("J-1")]))
        #expect(try TRPCTransformer.superjson.input(nil) == nil)
    }
}

extension Result where Failure == TRPCError {
    init(catching body: () throws(TRPCError) -> Success) {
        do { self = .success(try body()) } catch { self = .failure(error) }
    }
}
