import AgentOS
import ContractorPortal
import HTTPServer

/// Seed 003's procedures over tRPC's HTTP wire format (trpc.io/docs/rpc): queries by GET with `?input=`,
/// mutations by POST with a JSON body; `?batch=1` with comma-joined paths and inputs keyed "0", "1", …
/// answered as an array in order (207 when the calls' statuses differ). Inputs may be plain JSON or
/// superjson-style `{"json": …}`; answers are plain JSON.
enum TRPCRoutes {
    static let prefix = "/api/trpc/"

    struct Call: Sendable {
        let path: String
        let procedure: Result<Procedure, TRPCError>
        var input: JSONValue?
    }

    /// One call's place in the answer: its element (`{"result":…}` or `{"error":…}`) and HTTP status.
    struct CallAnswer: Sendable {
        var element: JSONValue
        var status: Int
        var retryAfter: Int?
        var replayed = false

        init(_ result: Result<JSONValue, TRPCError>, path: String, requestID: String) {
            switch result {
            case .success(let data):
                element = .object(["result": .object(["data": data])])
                status = 200
            case .failure(let error):
                element = error.json(path: path, requestID: requestID)
                status = error.code.httpStatus
                retryAfter = error.retryAfter
            }
        }

        /// A write's outcome as the guard gives it, first or replayed: the stored element, as sent.
        init(_ answer: PortalWrites.Answer) {
            element = (try? JSONText.parse(answer.outcome.body)) ?? .null
            status = answer.outcome.status
            retryAfter = answer.outcome.retryAfter
            replayed = answer.replayed
        }
    }

    struct Services: Sendable {
        let service: ContractorService
        let writes: PortalWrites
        let sessions: SessionAuthenticator
        let maxBatch: Int
    }

    static func register(on router: inout Router, _ services: Services) {
        let handler: Handler = { request in await handle(request, services) }
        router.get(prefix + ":path", handler)
        router.post(prefix + ":path", handler)
    }

    static func handle(_ request: Request, _ services: Services) async -> Response {
        let maxBatch = services.maxBatch
        let paths = (request.parameters["path"] ?? "").split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let batch = ["1", "true"].contains(request.query("batch") ?? "")
        // Whole-request refusals first: they answer every call alike.
        func refuseAll(_ error: TRPCError) -> Response {
            respond(paths.map { CallAnswer(.failure(error), path: $0, requestID: request.requestID) }, batch: batch)
        }
        guard batch || paths.count == 1 else { return refuseAll(TRPCError(.badRequest, "Batching needs ?batch=1")) }
        guard paths.count <= maxBatch else { return refuseAll(TRPCError(.badRequest, "A batch may hold at most \(maxBatch) calls")) }
        let rawInput: [UInt8]?
        if request.method == .post {
            if !request.body.isEmpty, let type = request.headers["Content-Type"], !type.lowercased().hasPrefix("application/json") {
                return refuseAll(TRPCError(.badRequest, "body must be sent as application/json"))
            }
            rawInput = request.body.isEmpty ? nil : request.body
        } else {
            rawInput = request.query("input").map { Array($0.utf8) }
        }
        var input: JSONValue?
        if let rawInput {
            guard let parsed = try? JSONText.parse(rawInput) else { return refuseAll(TRPCError(.parseError, "input is not valid JSON")) }
            input = parsed
        }
        var calls: [Call] = []
        for (index, path) in paths.enumerated() {
            var callInput = input
            if batch {
                switch input {
                case nil, .null?: callInput = nil
                case .object(let inputs)?: callInput = inputs[String(index)]
                default: return refuseAll(TRPCError(.badRequest, #"a batch input must be an object keyed "0", "1", …"#))
                }
            }
            calls.append(Call(path: path, procedure: lookup(path, method: request.method), input: callInput))
        }
        let session: Session
        switch await services.sessions.authenticate(request) {
        case .success(let found): session = found
        case .failure(let refusal):
            // An unknown path or wrong method still says so; every real procedure needs the session.
            let unauthorized = TRPCError(.unauthorized, refusal.message)
            return respond(calls.map { call in CallAnswer(.failure(call.procedure.failureValue ?? unauthorized), path: call.path, requestID: request.requestID) },
                           batch: batch, challenge: refusal.challenge)
        }
        let mutations = calls.filter { (try? $0.procedure.get())?.kind == .mutation }.count
        let key = request.headers["Idempotency-Key"]
        // A key stands for one write: with two, a retry could not say which one it repeats.
        if key != nil, mutations > 1 {
            return refuseAll(TRPCError(.badRequest, "An Idempotency-Key covers one mutation: send each keyed mutation in its own request"))
        }
        let context = CallContext(requestID: request.requestID, deadline: request.deadline)
        let caller = Caller(services: services, session: session, context: context, key: key)
        let trace = CacheTrace()
        let answers = await CacheTrace.$current.withValue(trace) { () async -> [CallAnswer?] in
            var answers = [CallAnswer?](repeating: nil, count: calls.count)
            if mutations > 0 || calls.count == 1 {
                // Mutations in a batch run one after another, in the order sent: a later one may rely on an earlier.
                for (index, call) in calls.enumerated() { answers[index] = await caller.run(call) }
            } else {
                await withTaskGroup(of: (Int, CallAnswer).self) { group in
                    for (index, call) in calls.enumerated() { group.addTask { (index, await caller.run(call)) } }
                    for await (index, answer) in group { answers[index] = answer }
                }
            }
            return answers
        }
        var response = respond(zip(calls, answers).map { call, answer in
            answer ?? CallAnswer(.failure(TRPCError(.internalServerError, "Internal server error")), path: call.path, requestID: request.requestID)
        }, batch: batch)
        CacheHeaders.apply(trace, to: &response)
        return response
    }

    /// A refusal made before any procedure ran (rate limit, CSRF, Origin), in tRPC's shape: one error per
    /// call of the batch, or the single error.
    static func refusal(_ request: Request, _ error: any Error) -> Response {
        let http = error as? HTTPError ?? HTTPError(500, "Internal server error")
        let code: TRPCCode = switch http.status {
        case 400: .badRequest
        case 401: .unauthorized
        case 403: .forbidden
        case 404: .notFound
        case 405: .methodNotSupported
        case 413: .payloadTooLarge
        case 429: .tooManyRequests
        case 503: .serviceUnavailable
        default: .internalServerError
        }
        let paths = (request.parameters["path"] ?? String(request.path.dropFirst(prefix.count)))
            .split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let batch = ["1", "true"].contains(request.query("batch") ?? "")
        let trpcError = TRPCError(code, http.message, retryAfter: http.headers["Retry-After"].flatMap { Int($0) })
        var response = respond((batch ? paths : [paths.first ?? ""]).map { CallAnswer(.failure(trpcError), path: $0, requestID: request.requestID) }, batch: batch)
        for (name, value) in http.headers where response.headers[name] == nil { response.headers.add(name, value) }
        return response
    }

    static func lookup(_ path: String, method: HTTPMethod) -> Result<Procedure, TRPCError> {
        guard let procedure = Procedure.all[path] else { return .failure(TRPCError(.notFound, "No procedure found on path \"\(path)\"")) }
        switch (procedure.kind, method) {
        case (.query, .get), (.query, .head), (.mutation, .post): return .success(procedure)
        case (.query, _): return .failure(TRPCError(.methodNotSupported, "\(path) is a query: send it with GET"))
        case (.mutation, _): return .failure(TRPCError(.methodNotSupported, "\(path) is a mutation: send it with POST"))
        }
    }

    /// What every call of one request shares: who asks, the deadline, the request's Idempotency-Key.
    struct Caller: Sendable {
        let services: Services
        let session: Session
        let context: CallContext
        let key: String?

        func run(_ call: Call) async -> CallAnswer {
            let requestID = context.requestID
            let procedure: Procedure
            switch call.procedure {
            case .success(let found): procedure = found
            case .failure(let error): return CallAnswer(.failure(error), path: call.path, requestID: requestID)
            }
            do {
                let input = try InputObject(unwrapSuperjson(call.input))
                try input.checkIdentity(session.identity)
                switch procedure.body {
                case .query(let run):
                    return CallAnswer(.success(try await run(services.service, session.identity, input, context)), path: call.path, requestID: requestID)
                case .mutation(let write):
                    return CallAnswer(try await write(services.writes, key, session.identity, input, context, renderer(path: call.path, requestID: requestID)))
                }
            } catch let error as PortalError {
                return CallAnswer(.failure(TRPCError(error)), path: call.path, requestID: requestID)
            } catch let refusal as WriteRefusal {
                return CallAnswer(.failure(TRPCError(refusal)), path: call.path, requestID: requestID)
            } catch {
                return CallAnswer(.failure(TRPCError(.internalServerError, "Internal server error")), path: call.path, requestID: requestID)
            }
        }
    }

    /// tRPC's shapes for a write: the call's element, so a replay inside a batch reads like the first answer.
    static func renderer(path: String, requestID: String) -> WriteRenderer {
        @Sendable func stored(_ answer: CallAnswer) -> StoredOutcome {
            StoredOutcome(status: answer.status, body: answer.element.serialized(), retryAfter: answer.retryAfter)
        }
        return WriteRenderer(via: "trpc", answer: { answer in
            let data: JSONValue = switch answer {
            case .note(let note): note.json
            case .completion(let completion): completion.json
            case .invoice(let result): result.json
            }
            return stored(CallAnswer(.success(data), path: path, requestID: requestID))
        }, failure: { error in stored(CallAnswer(.failure(TRPCError(error)), path: path, requestID: requestID)) })
    }

    /// superjson sends `{"json": value, "meta": {...}}`; the value is the input.
    static func unwrapSuperjson(_ input: JSONValue?) -> JSONValue? {
        guard case .object(let fields)? = input, fields["json"] != nil, Set(fields.keys).isSubset(of: ["json", "meta"]) else { return input }
        return fields["json"]
    }

    static func respond(_ answers: [CallAnswer], batch: Bool, challenge: String? = nil) -> Response {
        let statuses = answers.map(\.status)
        let status = Set(statuses).count == 1 ? statuses[0] : 207
        var response = Response.json(status: status, (batch ? JSONValue.array(answers.map(\.element)) : answers[0].element).serialized())
        response.headers.set("Cache-Control", "no-store")
        if let retryAfter = answers.lazy.compactMap(\.retryAfter).first { response.headers.set("Retry-After", String(retryAfter)) }
        if answers.contains(where: \.replayed) { response.headers.set("Idempotent-Replayed", "true") }
        if let challenge { response.headers.set("WWW-Authenticate", challenge) }
        return response
    }
}

extension Result {
    var failureValue: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
