import AgentOS
import HTTPServer
import JSON

/// Every answer tRPC's links read, written in one place, through the configured transformer (tRPC 11's
/// resolveResponse, jsonl and sse producers, and transformTRPCResponse are the reference for the bytes).
struct TRPCWire: Sendable {
    let transformer: TRPCTransformer

    /// tRPC writes this on every answer: the same URL answers JSON or JSON lines by a request header.
    static let vary = "trpc-accept, accept"

    /// One call's element, transformed: `{"result":{"data":T(x)}}` or `{"error":T(shape)}`.
    func element(_ answer: CallAnswer) -> JSONValue {
        switch answer.outcome {
        case .data(let data): .object(["result": .object(["data": transformer.output(data)])])
        case .error(let shape): .object(["error": (answer.encoding ?? transformer).output(shape)])
        }
    }

    /// httpLink: the one element; httpBatchLink: the array in call order, 207 when the statuses differ.
    func response(_ answers: [CallAnswer], batch: Bool) -> Response {
        let statuses = answers.map(\.status)
        let status = Set(statuses).count == 1 ? statuses[0] : 207
        let body = batch ? JSONValue.array(answers.map(element)) : element(answers[0])
        var response = Response.json(status: status, body.serialized())
        decorate(&response)
        if let retryAfter = answers.lazy.compactMap(\.retryAfter).first { response.headers.set("Retry-After", String(retryAfter)) }
        if answers.contains(where: \.replayed) { response.headers.set("Idempotent-Replayed", "true") }
        return response
    }

    /// A request refused as a whole (before any call ran): one `{"error": T(shape)}` whatever the link and
    /// however many calls the batch named. tRPC's links apply it to every call of the batch (httpBatchLink
    /// maps a non-array answer onto every operation; httpBatchStreamLink reads a non-2xx answer as JSON).
    func refusal(_ error: TRPCError, requestID: String) -> Response {
        let body = JSONValue.object(["error": transformer.output(error.shape(path: nil, requestID: requestID))])
        var response = Response.json(status: error.httpStatus, body.serialized())
        decorate(&response)
        if let retryAfter = error.retryAfter { response.headers.set("Retry-After", String(retryAfter)) }
        for (name, value) in error.headers { response.headers.set(name, value) }
        return response
    }

    func decorate(_ response: inout Response) {
        response.headers.set("Cache-Control", "no-store")
        response.headers.set("Vary", Self.vary)
    }

    // MARK: httpBatchStreamLink

    /// The JSON lines of a streamed batch (tRPC 11 `jsonlStreamProducer`): a head naming a placeholder
    /// chunk per call, then, as each call finishes, its chunk lines. Each line goes through the transformer
    /// whole (superjson: `{"json": line}`). Chunk ids are given out as tRPC's producer does: 0…n−1 to the
    /// calls in the head, then the next free ones to the `result` and `data` placeholders of each call in
    /// the order the calls finish:
    ///
    ///     {"0":[[0],[null,0,0]],"1":[[0],[null,0,1]]}
    ///     [1,0,[[{"result":0}],["result",0,2]]]
    ///     [2,0,[[{"data":0}],["data",0,3]]]
    ///     [3,0,[[<data of call 1>]]]
    ///     [0,0,[[{"error":<shape>}]]]
    struct JSONLines: Sendable {
        let transformer: TRPCTransformer
        private(set) var nextChunk: Int

        init(transformer: TRPCTransformer, calls: Int) {
            self.transformer = transformer
            nextChunk = calls
        }

        func head(calls: Int) -> [UInt8] {
            var line = Array("{".utf8)
            for index in 0..<calls {
                if index > 0 { line += ",".utf8 }
                line += "\"\(index)\":[[0],[null,0,\(index)]]".utf8
            }
            line += "}".utf8
            return framed(line)
        }

        /// The lines that settle call `index`.
        mutating func lines(index: Int, _ answer: CallAnswer) -> [UInt8] {
            switch answer.outcome {
            case .error(let shape):
                return framed(Array("[\(index),0,[[{\"error\":".utf8) + shape.serialized() + Array("}]]]".utf8))
            case .data(let data):
                let result = nextChunk, value = nextChunk + 1
                nextChunk += 2
                return framed(Array("[\(index),0,[[{\"result\":0}],[\"result\",0,\(result)]]]".utf8))
                    + framed(Array("[\(result),0,[[{\"data\":0}],[\"data\",0,\(value)]]]".utf8))
                    + framed(Array("[\(value),0,[[".utf8) + data.serialized() + Array("]]]".utf8))
            }
        }

        private func framed(_ line: [UInt8]) -> [UInt8] {
            switch transformer {
            case .none: line + [UInt8(ascii: "\n")]
            case .superjson: Array("{\"json\":".utf8) + line + Array("}\n".utf8)
            }
        }
    }

    /// Status 200, chunked, the head at once and each call's lines as it finishes; when the client hangs
    /// up, the body's consumer is cancelled and with it the calls still running.
    func stream(calls count: Int, sequential: Bool, run: @escaping @Sendable (Int) async -> CallAnswer) -> Response {
        let (body, continuation) = AsyncStream<[UInt8]>.makeStream()
        let transformer = transformer
        let producer = Task {
            var lines = JSONLines(transformer: transformer, calls: count)
            continuation.yield(lines.head(calls: count))
            if sequential {
                // Mutations run in the order sent: a later one may rely on an earlier.
                for index in 0..<count {
                    let answer = await run(index)
                    continuation.yield(lines.lines(index: index, answer))
                }
            } else {
                await withTaskGroup(of: (Int, CallAnswer).self) { group in
                    for index in 0..<count { group.addTask { (index, await run(index)) } }
                    for await (index, answer) in group { continuation.yield(lines.lines(index: index, answer)) }
                }
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in producer.cancel() }
        var response = Response(status: 200, body: .stream(body))
        // tRPC's own server says application/json for the JSON-lines body too.
        response.headers.set("Content-Type", "application/json")
        decorate(&response)
        return response
    }

    /// A stream whose calls have all answered already (a keyed mutation, run before the head so that
    /// `Idempotent-Replayed` can be said): the same lines, at once.
    func stream(_ answers: [CallAnswer]) -> Response {
        var lines = JSONLines(transformer: transformer, calls: answers.count)
        var bytes = lines.head(calls: answers.count)
        for (index, answer) in answers.enumerated() { bytes += lines.lines(index: index, answer) }
        let (body, continuation) = AsyncStream<[UInt8]>.makeStream()
        continuation.yield(bytes)
        continuation.finish()
        var response = Response(status: 200, body: .stream(body))
        response.headers.set("Content-Type", "application/json")
        decorate(&response)
        if answers.contains(where: \.replayed) { response.headers.set("Idempotent-Replayed", "true") }
        return response
    }

    // MARK: httpSubscriptionLink

    /// tRPC 11's `sseStreamProducer` frames: each field on its own line, then a blank line and one more
    /// (its writer ends every message with `\n\n` after the fields' own line ends).
    func eventFormat(path: String, requestID: String, reconnectAfterInactivity: Duration?) -> EventStreamFormat {
        let transformer = transformer
        let options: JSONValue = reconnectAfterInactivity.map { .object(["reconnectAfterInactivityMs": .number(String(Int($0 / .milliseconds(1))))]) } ?? .object([:])
        var headers = EventStreamFormat.streamHeaders
        headers.set("Vary", Self.vary)
        return EventStreamFormat(
            opening: Array("event: connected\ndata: ".utf8) + options.serialized() + Array("\n\n\n".utf8),
            event: { event in
                Array("data: ".utf8) + transformer.output(event.payload).serialized() + Array("\nid: \(event.id)\n\n\n".utf8)
            },
            ping: Array("event: ping\ndata: \n\n\n".utf8),
            end: { end in
                switch end {
                case .drained: return Array("event: return\ndata: \n\n\n".utf8)
                case .sessionEnded(let refusal):
                    return Self.serializedError(TRPCError(refusal), path: path, requestID: requestID, transformer)
                }
            },
            headers: headers)
    }

    static func serializedError(_ error: TRPCError, path: String, requestID: String, _ transformer: TRPCTransformer) -> [UInt8] {
        Array("event: serialized-error\ndata: ".utf8) + transformer.output(error.shape(path: path, requestID: requestID)).serialized() + Array("\n\n\n".utf8)
    }

    /// A subscription refused before it started: what tRPC's server answers then (its procedure's error
    /// as the stream's one event), so the link surfaces the error instead of reconnecting blindly.
    func refusedSubscription(_ error: TRPCError, path: String, requestID: String) -> Response {
        let bytes = Array("event: connected\ndata: {}\n\n\n".utf8) + Self.serializedError(error, path: path, requestID: requestID, transformer)
        let (body, continuation) = AsyncStream<[UInt8]>.makeStream()
        continuation.yield(bytes)
        continuation.finish()
        var headers = EventStreamFormat.streamHeaders
        headers.set("Vary", Self.vary)
        return Response(status: 200, headers: headers, body: .stream(body))
    }
}

/// One call's place in the answer, untransformed: what a write stores for replay and what every link
/// writes (through `TRPCWire`).
struct CallAnswer: Sendable {
    enum Outcome: Sendable, Equatable {
        case data(JSONValue)
        case error(shape: JSONValue)
    }

    var outcome: Outcome
    var status: Int
    var retryAfter: Int?
    var replayed = false
    /// Another encoding than the configured one for this call's error (see `TRPCError.encoding`); the
    /// batch and single links read each element on its own, so one element can differ.
    var encoding: TRPCTransformer?

    init(_ result: Result<JSONValue, TRPCError>, path: String, requestID: String) {
        switch result {
        case .success(let data):
            outcome = .data(data)
            status = 200
        case .failure(let error):
            outcome = .error(shape: error.shape(path: path, requestID: requestID))
            status = error.httpStatus
            retryAfter = error.retryAfter
            encoding = error.encoding
        }
    }

    /// The untransformed element, `{"result":{"data":x}}` or `{"error":shape}`: what is stored for replay.
    var element: JSONValue {
        switch outcome {
        case .data(let data): .object(["result": .object(["data": data])])
        case .error(let shape): .object(["error": shape])
        }
    }

    /// A write's outcome as the guard gives it, first or replayed: the stored element.
    init(_ answer: PortalWrites.Answer) {
        let element = (try? JSONText.parse(answer.outcome.body)) ?? .null
        if let data = element["result"]?["data"] {
            outcome = .data(data)
        } else {
            outcome = .error(shape: element["error"] ?? .null)
        }
        status = answer.outcome.status
        retryAfter = answer.outcome.retryAfter
        replayed = answer.replayed
    }
}
