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

    static func register(on router: inout Router, service: ContractorService, sessions: SessionAuthenticator, maxBatch: Int) {
        let handler: Handler = { request in
            await handle(request, service: service, sessions: sessions, maxBatch: maxBatch)
        }
        router.get(prefix + ":path", handler)
        router.post(prefix + ":path", handler)
    }

    static func handle(_ request: Request, service: ContractorService, sessions: SessionAuthenticator, maxBatch: Int) async -> Response {
        let paths = (request.parameters["path"] ?? "").split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let batch = ["1", "true"].contains(request.query("batch") ?? "")
        // Whole-request refusals first: they answer every call alike.
        func refuseAll(_ error: TRPCError) -> Response {
            respond(paths.map { ($0, Result<JSONValue, TRPCError>.failure(error)) }, batch: batch, requestID: request.requestID)
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
        switch sessions.authenticate(request) {
        case .success(let found): session = found
        case .failure(let refusal):
            // An unknown path or wrong method still says so; every real procedure needs the session.
            let unauthorized = TRPCError(.unauthorized, refusal.message)
            return respond(calls.map { call in (call.path, .failure(call.procedure.failureValue ?? unauthorized)) },
                           batch: batch, requestID: request.requestID, challenge: refusal.challenge)
        }
        let context = CallContext(requestID: request.requestID, deadline: request.deadline)
        let hasMutation = calls.contains { (try? $0.procedure.get())?.kind == .mutation }
        var outcomes = [Result<JSONValue, TRPCError>?](repeating: nil, count: calls.count)
        if hasMutation || calls.count == 1 {
            // Mutations in a batch run one after another, in the order sent: a later one may rely on an earlier.
            for (index, call) in calls.enumerated() { outcomes[index] = await run(call, service, session, context) }
        } else {
            await withTaskGroup(of: (Int, Result<JSONValue, TRPCError>).self) { group in
                for (index, call) in calls.enumerated() { group.addTask { (index, await run(call, service, session, context)) } }
                for await (index, outcome) in group { outcomes[index] = outcome }
            }
        }
        return respond(zip(calls, outcomes).map { call, outcome in (call.path, outcome ?? .failure(TRPCError(.internalServerError, "Internal server error"))) },
                       batch: batch, requestID: request.requestID)
    }

    static func lookup(_ path: String, method: HTTPMethod) -> Result<Procedure, TRPCError> {
        guard let procedure = Procedure.all[path] else { return .failure(TRPCError(.notFound, "No procedure found on path \"\(path)\"")) }
        switch (procedure.kind, method) {
        case (.query, .get), (.query, .head), (.mutation, .post): return .success(procedure)
        case (.query, _): return .failure(TRPCError(.methodNotSupported, "\(path) is a query: send it with GET"))
        case (.mutation, _): return .failure(TRPCError(.methodNotSupported, "\(path) is a mutation: send it with POST"))
        }
    }

    static func run(_ call: Call, _ service: ContractorService, _ session: Session, _ context: CallContext) async -> Result<JSONValue, TRPCError> {
        let procedure: Procedure
        switch call.procedure {
        case .success(let found): procedure = found
        case .failure(let error): return .failure(error)
        }
        do {
            let input = try InputObject(unwrapSuperjson(call.input))
            try input.checkIdentity(session.identity)
            return .success(try await procedure.run(service, session.identity, input, context))
        } catch {
            return .failure(TRPCError(error))
        }
    }

    /// superjson sends `{"json": value, "meta": {...}}`; the value is the input.
    static func unwrapSuperjson(_ input: JSONValue?) -> JSONValue? {
        guard case .object(let fields)? = input, fields["json"] != nil, Set(fields.keys).isSubset(of: ["json", "meta"]) else { return input }
        return fields["json"]
    }

    static func respond(_ outcomes: [(path: String, result: Result<JSONValue, TRPCError>)], batch: Bool, requestID: String, challenge: String? = nil) -> Response {
        let bodies: [JSONValue] = outcomes.map { path, result in
            switch result {
            case .success(let data): .object(["result": .object(["data": data])])
            case .failure(let error): error.json(path: path, requestID: requestID)
            }
        }
        let statuses = outcomes.map { outcome in
            switch outcome.result {
            case .success: 200
            case .failure(let error): error.code.httpStatus
            }
        }
        let status = Set(statuses).count == 1 ? statuses[0] : 207
        var response = Response.json(status: status, (batch ? JSONValue.array(bodies) : bodies[0]).serialized())
        response.headers.set("Cache-Control", "no-store")
        if let retryAfter = outcomes.lazy.compactMap({ $0.result.failureValue?.retryAfter }).first {
            response.headers.set("Retry-After", String(retryAfter))
        }
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
