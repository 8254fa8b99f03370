import AgentOS
import ContractorPortal
import Foundation
import HTTPServer
import JSON

/// Seed 003's procedures over tRPC 11's HTTP wire format, as its links speak it (trpc.io/docs/rpc and
/// tRPC's resolveResponse): queries by GET with `?input=`, mutations by POST with a JSON body; `?batch=1`
/// with comma-joined paths and inputs keyed "0", "1", … answered as an array in order (httpBatchLink,
/// 207 when the calls' statuses differ) or, with `trpc-accept: application/jsonl`, as JSON lines that
/// stream as the calls finish (httpBatchStreamLink); subscriptions as server-sent events
/// (httpSubscriptionLink). Inputs and answers go through the configured transformer (`TRPCTransformer`),
/// except a `FormData` input (a non-batched POST of `multipart/form-data`, as tRPC 11 sends one), which is
/// read as the upload routes read theirs and never transformed; its answer is transformed as any other.
enum TRPCRoutes {
    static let prefix = "/api/trpc/"

    struct Call: Sendable {
        let path: String
        let procedure: Result<Procedure, TRPCError>
        var input: JSONValue?
        /// A FormData input, read and checked (the only input of its call).
        var form: UploadForm?
    }

    struct Services: Sendable {
        let service: ContractorService
        let writes: PortalWrites
        let sessions: SessionAuthenticator
        let settings: AppConfiguration.TRPCSettings
        let events: JobEventHub
        let eventSettings: AppConfiguration.EventSettings
        let uploads: UploadSettings
    }

    static func register(on router: inout Router, _ services: Services) {
        let handler: Handler = { request in await handle(request, services) }
        // HEAD reaches the GET route (RFC 9110 §9.3.2) and is answered 204 there, as tRPC does.
        router.get(prefix + ":path", handler)
        router.post(prefix + ":path", handler)
    }

    static func handle(_ request: Request, _ services: Services) async -> Response {
        let wire = TRPCWire(transformer: services.settings.transformer)
        let requestID = request.requestID
        func refuse(_ error: TRPCError) -> Response { wire.refusal(error, requestID: requestID) }
        // tRPC answers HEAD before reading anything (a serverless warm-up).
        if request.method == .head {
            var response = Response(status: 204)
            response.headers.set("Vary", TRPCWire.vary)
            return response
        }
        let rawPath = request.parameters["path"] ?? ""
        let batch = ["1", "true"].contains(request.query("batch") ?? "")
        // Counted before anything is built per call: an oversized batch costs one answer, not one per call.
        let count = rawPath.utf8.reduce(1) { $1 == UInt8(ascii: ",") ? $0 + 1 : $0 }
        guard batch || count == 1 else { return refuse(TRPCError(.badRequest, "Batching needs ?batch=1")) }
        guard count <= services.settings.maxBatch else {
            return refuse(TRPCError(.badRequest, "A batch may hold at most \(services.settings.maxBatch) calls (set the link's maxItems to match)"))
        }
        let streamed = wantsJSONLines(request)
        if streamed && !batch { return refuse(TRPCError(.badRequest, "Streaming requests must be batched (you can do a batch of 1)")) }
        if request.method == .post, let refusal = contentTypeRefusal(request) { return refuse(refusal) }
        let isForm = request.method == .post && UploadForm.isForm(request)
        if isForm && (batch || streamed) { return refuse(TRPCError(.badRequest, "FormData input cannot be batched or streamed: send it with httpLink")) }
        let paths = rawPath.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        if !batch, let procedure = Procedure.all[paths[0]], procedure.kind == .subscription {
            return await subscribe(request, path: paths[0], services, wire)
        }
        let rawInput: [UInt8]?
        if isForm {
            rawInput = nil
        } else if request.method == .post {
            // An upload path takes a larger body than JSON may have; JSON keeps the ordinary limit.
            let bytes: [UInt8]
            do { bytes = try request.jsonBytes(max: services.uploads.maxJSONBytes) } catch { return refuse(TRPCError(error)) }
            rawInput = bytes.isEmpty ? nil : bytes
        } else {
            rawInput = request.query("input").map { Array($0.utf8) }
        }
        var input: JSONValue?
        if let rawInput {
            guard let parsed = try? JSONText.parse(rawInput) else { return refuse(TRPCError(.parseError, "input is not valid JSON")) }
            input = parsed
        }
        var calls: [Call] = []
        for (index, path) in paths.enumerated() {
            var callInput = input
            if batch {
                switch input {
                case nil, .null?: callInput = nil
                case .object(let inputs)?: callInput = inputs[String(index)]
                default: return refuse(TRPCError(.badRequest, #"a batch input must be an object keyed "0", "1", …"#))
                }
            }
            calls.append(Call(path: path, procedure: lookup(path, method: request.method, batch: batch, services.settings), input: callInput))
        }
        let session: Session
        switch await services.sessions.session(of: request) {
        case .success(let found): session = found
        case .failure(let refusal): return refuse(TRPCError(refusal))
        }
        if isForm {
            // Read once the caller is known: an anonymous upload costs no parsing.
            switch calls[0].procedure {
            case .failure(let error): return refuse(error)
            case .success(let procedure) where procedure.kind != .mutation:
                return refuse(TRPCError(.methodNotSupported, "FormData input is for mutations only"))
            case .success: break
            }
            do { calls[0].form = try UploadForm.read(request, services.uploads) } catch { return refuse(TRPCError(error)) }
        }
        let mutations = calls.filter { (try? $0.procedure.get())?.kind == .mutation }.count
        let key = request.headers["Idempotency-Key"]
        // A key stands for one write: with two, a retry could not say which one it repeats.
        if key != nil, mutations > 1 {
            return refuse(TRPCError(.badRequest, "An Idempotency-Key covers one mutation: send each keyed mutation in its own request"))
        }
        let context = CallContext(requestID: requestID, deadline: request.deadline, tenant: session.identity.tenant)
        let caller = Caller(services: services, session: session, context: context, key: key)
        let sequential = mutations > 0 || calls.count == 1
        if streamed && key == nil {
            let all = calls
            return wire.stream(calls: all.count, sequential: sequential) { index in await caller.run(all[index]) }
        }
        let trace = CacheTrace()
        let answers = await CacheTrace.$current.withValue(trace) { () async -> [CallAnswer] in
            var answers = [CallAnswer?](repeating: nil, count: calls.count)
            if sequential {
                // Mutations in a batch run one after another, in the order sent: a later one may rely on an earlier.
                for (index, call) in calls.enumerated() { answers[index] = await caller.run(call) }
            } else {
                await withTaskGroup(of: (Int, CallAnswer).self) { group in
                    for (index, call) in calls.enumerated() { group.addTask { (index, await caller.run(call)) } }
                    for await (index, answer) in group { answers[index] = answer }
                }
            }
            return zip(calls, answers).map { call, answer in
                answer ?? CallAnswer(.failure(TRPCError(.internalServerError, "Internal server error")), path: call.path, requestID: requestID)
            }
        }
        // A keyed mutation by the stream link runs before the head, so that the head can say it was replayed.
        if streamed { return wire.stream(answers) }
        var response = wire.response(answers, batch: batch)
        CacheHeaders.apply(trace, to: &response)
        return response
    }

    /// httpBatchStreamLink asks with `trpc-accept: application/jsonl`, or with `streamHeader: 'accept'`
    /// with `Accept: application/jsonl` among the accepted types.
    static func wantsJSONLines(_ request: Request) -> Bool {
        if let value = request.headers["trpc-accept"] { return value.trimmingCharacters(in: .whitespaces).lowercased() == "application/jsonl" }
        return request.headers.acceptedMediaTypes.contains { $0.type == "application/jsonl" }
    }

    /// tRPC 11's content types: JSON for every link; `multipart/form-data` (FormData) for upload
    /// mutations; `application/octet-stream` (a bare file) no procedure here takes; anything else is 415.
    static func contentTypeRefusal(_ request: Request) -> TRPCError? {
        guard let type = request.headers["Content-Type"], let media = request.headers.contentMediaType else {
            return TRPCError(.unsupportedMediaType, "Missing content-type header")
        }
        switch media {
        case "application/json", "multipart/form-data": return nil
        case "application/octet-stream":
            return TRPCError(.unsupportedMediaType, "application/octet-stream input is not taken here: send files as FormData (multipart/form-data)")
        default:
            return TRPCError(.unsupportedMediaType, "Unsupported content-type \"\(type)\"")
        }
    }

    static func lookup(_ path: String, method: HTTPMethod, batch: Bool, _ settings: AppConfiguration.TRPCSettings) -> Result<Procedure, TRPCError> {
        guard let procedure = Procedure.all[path] else { return .failure(TRPCError(.notFound, "No procedure found on path \"\(path)\"")) }
        switch (procedure.kind, method) {
        case (.query, .get), (.mutation, .post): return .success(procedure)
        case (.query, .post) where settings.allowMethodOverride: return .success(procedure)
        case (.query, .post):
            return .failure(TRPCError(.methodNotSupported, "Unsupported POST-request to query procedure at path \"\(path)\" (the server accepts queries by POST with TRPC_ALLOW_METHOD_OVERRIDE)"))
        case (.query, _): return .failure(TRPCError(.methodNotSupported, "\(path) is a query: send it with GET"))
        case (.mutation, _): return .failure(TRPCError(.methodNotSupported, "\(path) is a mutation: send it with POST"))
        case (.subscription, _) where batch: return .failure(TRPCError(.badRequest, "Cannot batch subscription calls"))
        case (.subscription, _): return .failure(TRPCError(.methodNotSupported, "\(path) is a subscription: open it with GET (httpSubscriptionLink)"))
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
                let input = try call.form.map(InputObject.init(form:)) ?? InputObject(try services.settings.transformer.input(call.input))
                try input.checkIdentity(session.identity)
                switch procedure.body {
                case .query(let run):
                    return CallAnswer(.success(try await run(services.service, session.identity, input, context)), path: call.path, requestID: requestID)
                case .mutation(let write):
                    return CallAnswer(try await write(services.writes, key, session.identity, input, context, renderer(path: call.path, requestID: requestID)))
                case .subscription:
                    return CallAnswer(.failure(TRPCError(.badRequest, "Cannot batch subscription calls")), path: call.path, requestID: requestID)
                }
            } catch {
                return CallAnswer(.failure(TRPCError(rendering: error)), path: call.path, requestID: requestID)
            }
        }
    }

    /// tRPC's shapes for a write: the call's untransformed element, so a replay inside a batch reads like
    /// the first answer, through whichever link and transformer asks.
    static func renderer(path: String, requestID: String) -> WriteRenderer {
        @Sendable func stored(_ answer: CallAnswer) -> StoredOutcome {
            StoredOutcome(status: answer.status, body: answer.element.serialized(), retryAfter: answer.retryAfter)
        }
        return WriteRenderer(via: "trpc", answer: { answer in
            stored(CallAnswer(.success(answer.json), path: path, requestID: requestID))
        }, failure: { error in stored(CallAnswer(.failure(TRPCError(error)), path: path, requestID: requestID)) })
    }

    // MARK: subscriptions

    /// `contractor.onJobUpdate` over server-sent events. Refusals once the procedure is known (no
    /// session, too many streams, events no longer buffered) are the stream's one `serialized-error`, as
    /// tRPC's own server answers a subscription whose procedure failed.
    static func subscribe(_ request: Request, path: String, _ services: Services, _ wire: TRPCWire) async -> Response {
        let requestID = request.requestID
        guard request.method == .get else {
            return wire.refusal(TRPCError(.methodNotSupported, "\(path) is a subscription: open it with GET (httpSubscriptionLink)"), requestID: requestID)
        }
        func refuse(_ error: TRPCError) -> Response { wire.refusedSubscription(error, path: path, requestID: requestID) }
        let session: Session
        switch await services.sessions.session(of: request) {
        case .success(let found): session = found
        case .failure(let refusal): return refuse(TRPCError(refusal))
        }
        let lastEventID: String?
        do {
            var raw: JSONValue?
            if let text = request.query("input") {
                guard let parsed = try? JSONText.parse(Array(text.utf8)) else { return refuse(TRPCError(.parseError, "input is not valid JSON")) }
                raw = parsed
            }
            let input = try InputObject(try services.settings.transformer.input(raw))
            try input.checkIdentity(session.identity)
            // httpSubscriptionLink puts the last id in the input when it reconnects; a browser's own
            // EventSource reconnect sends Last-Event-ID.
            lastEventID = try input.string("lastEventId") ?? request.headers["Last-Event-ID"]
        } catch {
            return refuse(TRPCError(rendering: error))
        }
        let subscription: JobEventHub.Subscription
        do throws(SubscribeRefusal) {
            subscription = try services.events.subscribe(session.identity, session: session.id, after: lastEventID)
        } catch {
            return refuse(TRPCError(error))
        }
        let ping = services.eventSettings.pingInterval
        let format = wire.eventFormat(path: path, requestID: requestID, reconnectAfterInactivity: ping.map { $0 * 3 })
        let who = EventStreamer.Session(session: session, authenticator: services.sessions)
        return Response(status: 200, headers: format.headers, body: EventStreamer.body(subscription, format, ping: ping, who))
    }
}

extension TRPCError {
    init(_ refusal: SubscribeRefusal) {
        switch refusal {
        case .tooMany: self.init(.tooManyRequests, refusal.message, retryAfter: 5)
        // Not a retryable code: the link would reconnect with the same last id and be refused again.
        case .gone: self.init(.preconditionFailed, refusal.message)
        }
    }

    /// A whole request refused before it reached the tRPC handler (middleware, the router, the server
    /// core), in tRPC's shape.
    static func wholeRequest(_ error: any Error) -> TRPCError {
        TRPCError(rendering: error)
    }
}

extension Result {
    var failureValue: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
