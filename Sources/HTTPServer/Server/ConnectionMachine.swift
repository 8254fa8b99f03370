/// The timeouts and limits a connection lives by, in the loops' clock (monotonic nanoseconds).
struct ConnectionRules: Sendable {
    var headerTimeout: UInt64, bodyTimeout: UInt64, bodyDeadline: UInt64, sendTimeout: UInt64
    var keepAliveTimeout: UInt64, handlerTimeout: UInt64, lingerTimeout: UInt64
    var limits: ParserLimits
    var maxPendingStreamBytes: Int
    var standardFields: ResponseHead.StandardFields

    init(_ configuration: ServerConfiguration) {
        headerTimeout = configuration.headerTimeout.nanoseconds
        bodyTimeout = configuration.bodyTimeout.nanoseconds
        bodyDeadline = configuration.bodyDeadline.nanoseconds
        sendTimeout = configuration.sendTimeout.nanoseconds
        keepAliveTimeout = configuration.keepAliveTimeout.nanoseconds
        handlerTimeout = configuration.handlerTimeout.nanoseconds
        lingerTimeout = configuration.lingerTimeout.nanoseconds
        limits = configuration.limits
        maxPendingStreamBytes = configuration.maxPendingStreamBytes
        standardFields = ResponseHead.StandardFields(configuration.standardHeaders)
    }
}

/// What the machine needs from the world besides the time of each event: fresh request ids, the `Date`
/// line, a handler's deadline on the clock handlers read, and the application's rendering of the server's
/// own refusals. The event loop passes its own; tests pass fixed ones.
struct ConnectionContext {
    let rules: ConnectionRules
    let renderRefusal: RefusalRenderer
    let newRequestID: () -> String
    let dateLine: () -> [UInt8]
    let handlerDeadline: () -> ContinuousClock.Instant
}

/// One connection's life as a pure state machine: events in (bytes read, bytes sent, a handler's answer,
/// a hang-up, the passing of time), actions out (send, start a handler, close, …). It owns the
/// connection's input and output buffers and every rule of HTTP/1.1 persistence, pipelining and
/// timeouts; the event loop only moves bytes between it and the socket, runs handlers, and ticks it.
struct ConnectionMachine: Sendable {
    /// Where the connection is in its life; each case carries the deadline that applies to it, so an
    /// impossible mix (reading while handling) cannot be written.
    enum Phase: Sendable, Equatable {
        /// Waiting for a request head. `idle` is a kept-alive connection between requests (keep-alive
        /// timeout); otherwise a head is being read (header timeout).
        case awaitingHead(deadline: UInt64, idle: Bool)
        /// A head with a body was read; `deadline` is for the next body bytes, at the latest `ends`, by
        /// when the whole body must be in.
        case readingBody(deadline: UInt64, ends: UInt64)
        /// A handler is running; no more input is read until it answered (pipelined requests wait).
        case handling(deadline: UInt64)
        /// A streamed (chunked) response is being sent as its chunks arrive.
        case streaming(chunked: Bool)
        /// A whole response is queued; once it is sent the connection reads again or closes.
        case flushing
        /// Output is shut down; input is read and dropped (`discarded` so far) until the client closes,
        /// the deadline, or more than the largest body any route takes.
        case lingering(deadline: UInt64, discarded: Int)
        case closed
    }

    enum Event: Sendable {
        /// Bytes read from the socket.
        case received(ArraySlice<UInt8>)
        /// The read side ended (EOF or an error).
        case inputEnded
        /// The peer hung up (EPOLLRDHUP/HUP); bytes it sent before may still be read.
        case hungUp
        /// The socket took this many bytes of `pendingOutput`.
        case sent(Int)
        case handlerAnswered(serial: UInt64, Response)
        case streamChunk(serial: UInt64, [UInt8])
        case streamEnded(serial: UInt64)
        /// Time passed (`nextDeadline` was reached).
        case tick
        /// The server is stopping: close when idle, `Connection: close` on the answer in progress.
        case drain
    }

    enum Action: Sendable {
        /// Output is waiting in `pendingOutput`.
        case send
        case startHandler(Request, serial: UInt64)
        /// Feed the stream's chunks back as `streamChunk` and `streamEnded` events.
        case startStream(AsyncStream<[UInt8]>, serial: UInt64)
        case cancelHandler
        /// Half-close: no more bytes from us (lingering close).
        case shutdownOutput
        case close
        /// Close with a reset (RST) rather than a FIN.
        case reset
        case log(Exchange)
    }

    /// What the access log needs of the request being answered.
    struct Exchange: Sendable, Equatable {
        var method: String
        var path: String
        /// The request-target as received (for a refusal rendered in the shape of the API it names).
        var target: String
        var requestID: String
        var startedAt: UInt64
        var isHead: Bool
        var version: HTTPVersion
        var status = 0
        var bytes = 0
    }

    private static let continueLine = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    private(set) var phase: Phase
    let remoteAddress: String
    private var parser: RequestParser
    private var inbound: [UInt8] = []
    private var inboundStart = 0
    private var outbound: [UInt8] = []
    private var outboundStart = 0
    /// When queued output must have been taken by the client.
    private var sendDeadline: UInt64 = 0
    private(set) var peerClosedInput = false
    private var keepAlive = true
    private var draining = false
    /// Bumped for every request, so a late answer for an earlier one is recognised and dropped.
    private(set) var serial: UInt64 = 0
    private var exchange: Exchange?

    init(remoteAddress: String, rules: ConnectionRules, now: UInt64) {
        self.remoteAddress = remoteAddress
        parser = RequestParser(limits: rules.limits)
        phase = .awaitingHead(deadline: now + rules.headerTimeout, idle: false)
    }

    // MARK: what the loop asks

    /// The loop reads the socket only while this holds (pipelined requests wait in the socket).
    var wantsInput: Bool {
        switch phase {
        case .awaitingHead, .readingBody, .lingering: true
        case .handling, .streaming, .flushing, .closed: false
        }
    }

    var isClosed: Bool { phase == .closed }
    var hasPendingOutput: Bool { outboundStart < outbound.count }
    var hasUnreadInput: Bool { inboundStart < inbound.count }

    /// A handler is working on the request, or its answer is still being streamed.
    var isAnswering: Bool {
        switch phase {
        case .handling, .streaming: true
        default: false
        }
    }

    /// The bytes to write next.
    func withPendingOutput<T>(_ body: (UnsafeRawBufferPointer) -> T) -> T {
        outbound.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[outboundStart...])) }
    }

    /// The earliest time at which a `tick` changes anything; nil when no deadline is running.
    var nextDeadline: UInt64? {
        let send = hasPendingOutput ? sendDeadline : UInt64.max
        let phaseDeadline: UInt64
        switch phase {
        case .awaitingHead(let deadline, _), .readingBody(let deadline, _), .handling(let deadline), .lingering(let deadline, _):
            phaseDeadline = deadline
        case .streaming, .flushing, .closed:
            phaseDeadline = .max
        }
        let earliest = min(send, phaseDeadline)
        return earliest == .max ? nil : earliest
    }

    // MARK: events

    /// Appends what the event asks of the loop to `actions` (the loop's own reused buffer: an array per
    /// event was an allocation three times a request).
    mutating func handle(_ event: Event, at now: UInt64, in context: ConnectionContext, into actions: inout [Action]) {
        guard !isClosed else {
            // A reset after a cut-off answer still sends what was queued before it.
            if case .sent(let count) = event { advanceOutput(by: count) }
            return
        }
        switch event {
        case .received(let bytes):
            received(bytes, now, context, &actions)
        case .inputEnded:
            // The client went away; a request it did not finish gets no answer.
            close(&actions)
        case .hungUp:
            peerClosedInput = true
            // A client that hangs up while its request is handled (or its answer streamed) is gone: cancel
            // the work rather than compute an answer nobody reads.
            if isAnswering { close(&actions) }
        case .sent(let count):
            sent(count, now, context, &actions)
        case .handlerAnswered(let answered, let response):
            // A handler that already timed out, or whose client left, has nobody to answer.
            guard answered == serial, case .handling = phase else { break }
            respond(response, now, context, &actions)
        case .streamChunk(let streamed, let chunk):
            guard streamed == serial, case .streaming(let chunked) = phase, !chunk.isEmpty else { break }
            if chunked { enqueue(Array((String(chunk.count, radix: 16) + "\r\n").utf8), now, context) }
            enqueue(chunk, now, context)
            if chunked { enqueue([cr, lf], now, context) }
            exchange?.bytes += chunk.count
            // The client is not reading: a stream must not pile up without bound.
            if outbound.count - outboundStart > context.rules.maxPendingStreamBytes {
                close(&actions)
            } else {
                actions.append(.send)
            }
        case .streamEnded(let streamed):
            guard streamed == serial, case .streaming(let chunked) = phase else { break }
            if chunked { enqueue(Array("0\r\n\r\n".utf8), now, context) }
            log(&actions)
            phase = .flushing
            // A raw (HTTP/1.0) stream whose bytes are all out already ends here; otherwise once they are.
            if hasPendingOutput { actions.append(.send) } else { responseSent(now, context, &actions) }
        case .tick:
            expire(now, context, &actions)
        case .drain:
            draining = true
            if case .awaitingHead = phase, !hasUnreadInput { close(&actions) }
        }
    }

    private mutating func received(_ bytes: ArraySlice<UInt8>, _ now: UInt64, _ context: ConnectionContext, _ actions: inout [Action]) {
        if case .lingering(let deadline, let discarded) = phase {
            let total = discarded + bytes.count
            if total > context.rules.limits.largestBody {
                close(&actions)
            } else {
                phase = .lingering(deadline: deadline, discarded: total)
            }
            return
        }
        if !hasUnreadInput {
            inbound.removeAll(keepingCapacity: true)
            inboundStart = 0
        }
        inbound.append(contentsOf: bytes)
        switch phase {
        case .readingBody(_, let ends):
            phase = .readingBody(deadline: min(now + context.rules.bodyTimeout, ends), ends: ends)
            readRequests(now, context, &actions)
        case .awaitingHead:
            readRequests(now, context, &actions)
        default:
            break  // kept for when the answer in progress is sent
        }
    }

    /// Parses what was read: starts the next request's handler, or waits for more bytes.
    private mutating func readRequests(_ now: UInt64, _ context: ConnectionContext, _ actions: inout [Action]) {
        while true {
            let event: RequestParser.Event?
            do {
                event = try parser.next(inbound, from: &inboundStart)
            } catch {
                // A framing error: answered, then closed, whatever the client asked for.
                answerItself(.malformed(error), now, context, &actions)
                return
            }
            switch event {
            case .head(let head)?:
                // The body must arrive by a deadline of its own however steadily it trickles; each read
                // also has the pause limit (a stall ends it sooner).
                let ends = now + context.rules.bodyDeadline
                phase = .readingBody(deadline: min(now + context.rules.bodyTimeout, ends), ends: ends)
                if head.expectsContinue && !hasUnreadInput {
                    enqueue(Self.continueLine, now, context)
                    actions.append(.send)
                }
            case .request(let head, let body)?:
                // The client already hung up (its FIN came with the request): nobody will read an answer,
                // and no later event would say so, so do not start the work at all.
                if peerClosedInput {
                    close(&actions)
                    return
                }
                releaseConsumedInput()
                startExchange(head, body, now, context, &actions)
                return
            case nil:
                if case .awaitingHead(_, true) = phase {
                    if hasUnreadInput {
                        phase = .awaitingHead(deadline: now + context.rules.headerTimeout, idle: false)
                    } else if draining {
                        close(&actions)
                    }
                }
                return
            }
        }
    }

    private mutating func startExchange(
        _ head: RequestHead, _ body: RequestBody, _ now: UInt64, _ context: ConnectionContext, _ actions: inout [Action]
    ) {
        let incomingID = head.headers["X-Request-Id"]
        let requestID = incomingID.flatMap { RequestID.isWellFormed($0) ? $0 : nil } ?? context.newRequestID()
        serial &+= 1
        keepAlive = head.keepAlive
        exchange = Exchange(
            method: head.method, path: String(head.target.prefix { $0 != "?" }), target: head.target, requestID: requestID,
            startedAt: now, isHead: head.method == "HEAD", version: head.version)
        phase = .handling(deadline: now + context.rules.handlerTimeout)
        do {
            let request = try Request(
                method: HTTPMethod(head.method), target: head.target, version: head.version, headers: head.headers,
                body: body.memoryBytes, spooledBody: body.spoolFile, requestID: requestID, remoteAddress: remoteAddress,
                deadline: context.handlerDeadline())
            actions.append(.startHandler(request, serial: serial))
        } catch {
            let refusal = RefusalContext(requestID: requestID, target: head.target)
            respond(context.renderRefusal(.invalidTarget(error.message), refusal), now, context, &actions)
        }
    }

    /// The server's own answer to a request it could not read in full: rendered by the application's
    /// renderer for the target as far as it was read, and the connection closed after it.
    private mutating func answerItself(_ refusal: ServerRefusal, _ now: UInt64, _ context: ConnectionContext, _ actions: inout [Action]) {
        let requestID = context.newRequestID()
        serial &+= 1
        keepAlive = false
        exchange = Exchange(method: "-", path: "-", target: "", requestID: requestID, startedAt: now, isHead: false, version: .http11)
        respond(context.renderRefusal(refusal, RefusalContext(requestID: requestID, target: parser.targetSeen)), now, context, &actions)
    }

    // MARK: answering

    private mutating func respond(_ response: Response, _ now: UInt64, _ context: ConnectionContext, _ actions: inout [Action]) {
        guard var exchange else { return }
        let closing = !keepAlive || draining || response.headers["Connection"].map { $0.lowercased() == "close" } == true
        keepAlive = !closing
        let noBody = HTTPStatus.forbidsBody(response.status)
        exchange.status = response.status
        func head(_ framing: ResponseHead.Framing, _ persistence: ResponseHead.Persistence) -> [UInt8] {
            ResponseHead.encode(
                status: response.status, headers: response.headers, standard: context.rules.standardFields,
                requestID: exchange.requestID, framing: framing, persistence: persistence, date: context.dateLine())
        }
        switch response.body {
        case .abort:
            exchange.status = 0
            self.exchange = exchange
            log(&actions)
            reset(&actions)
        case .cutOff(let bytes, let sent):
            enqueue(head(.length(bytes.count), .unstated), now, context)
            // At least one byte short of what the head announced, or it would not be cut off.
            let partial = Array(bytes.prefix(max(0, min(sent, bytes.count - 1))))
            enqueue(partial, now, context)
            exchange.bytes = partial.count
            self.exchange = exchange
            log(&actions)
            actions.append(.send)
            reset(&actions)
        case .bytes(let bytes):
            enqueue(head(noBody ? .none : .length(bytes.count), persistence(exchange.version)), now, context)
            if !noBody && !exchange.isHead { enqueue(bytes, now, context) }
            exchange.bytes = noBody ? 0 : bytes.count
            self.exchange = exchange
            phase = .flushing
            // Sent first, logged after: the client has its answer while the line is written.
            actions.append(.send)
            log(&actions)
        case .stream(let stream):
            let chunked = exchange.version == .http11
            // HTTP/1.0 has no chunks: the end of the stream is the end of the connection.
            if !chunked { keepAlive = false }
            enqueue(head(chunked && !noBody ? .chunked : .none, persistence(exchange.version)), now, context)
            self.exchange = exchange
            if noBody || exchange.isHead {
                log(&actions)
                phase = .flushing
                actions.append(.send)
                return
            }
            phase = .streaming(chunked: chunked)
            actions.append(.startStream(stream, serial: serial))
            actions.append(.send)
        }
    }

    private func persistence(_ version: HTTPVersion) -> ResponseHead.Persistence {
        if !keepAlive { return .close }
        return version == .http10 ? .keepAlive : .unstated
    }

    private mutating func enqueue(_ bytes: [UInt8], _ now: UInt64, _ context: ConnectionContext) {
        if !hasPendingOutput { sendDeadline = now + context.rules.sendTimeout }
        outbound.append(contentsOf: bytes)
    }

    private mutating func advanceOutput(by count: Int) {
        outboundStart = min(outbound.count, outboundStart + count)
    }

    private mutating func sent(_ count: Int, _ now: UInt64, _ context: ConnectionContext, _ actions: inout [Action]) {
        advanceOutput(by: count)
        sendDeadline = now + context.rules.sendTimeout
        guard !hasPendingOutput else { return }
        outbound.removeAll(keepingCapacity: outbound.capacity <= 16 * 1024)
        outboundStart = 0
        if case .flushing = phase { responseSent(now, context, &actions) }
    }

    /// The whole response is out: read the next request, or close lingering.
    private mutating func responseSent(_ now: UInt64, _ context: ConnectionContext, _ actions: inout [Action]) {
        exchange = nil
        guard keepAlive else {
            // Lingering close (nginx's): shut our side, then read and drop what the client still sends,
            // so it reads the response rather than a reset.
            actions.append(.shutdownOutput)
            inbound = []
            inboundStart = 0
            phase = .lingering(deadline: now + context.rules.lingerTimeout, discarded: 0)
            return
        }
        phase = .awaitingHead(deadline: now + context.rules.keepAliveTimeout, idle: true)
        readRequests(now, context, &actions)
    }

    private mutating func log(_ actions: inout [Action]) {
        if let exchange { actions.append(.log(exchange)) }
    }

    // MARK: time

    private mutating func expire(_ now: UInt64, _ context: ConnectionContext, _ actions: inout [Action]) {
        if hasPendingOutput && now >= sendDeadline {
            close(&actions)  // the client stopped taking our bytes
            return
        }
        switch phase {
        case .awaitingHead(let deadline, let idle) where now >= deadline:
            // A silent connection, or an idle kept-alive one, is closed without a word; a head begun is 408.
            if idle || !hasUnreadInput {
                close(&actions)
            } else {
                answerItself(.timedOut(.head), now, context, &actions)
            }
        case .readingBody(let deadline, _) where now >= deadline:
            answerItself(.timedOut(.body), now, context, &actions)
        case .handling(let deadline) where now >= deadline:
            actions.append(.cancelHandler)
            guard let exchange else { return close(&actions) }
            let refusal = RefusalContext(requestID: exchange.requestID, target: exchange.target)
            respond(context.renderRefusal(.timedOut(.handler), refusal), now, context, &actions)
        case .lingering(let deadline, _) where now >= deadline:
            close(&actions)
        default:
            break
        }
    }

    // MARK: ending

    private mutating func close(_ actions: inout [Action]) {
        guard !isClosed else { return }
        phase = .closed
        actions.append(.close)
    }

    private mutating func reset(_ actions: inout [Action]) {
        guard !isClosed else { return }
        phase = .closed
        actions.append(.reset)
    }

    /// Drops consumed input; keeps a small buffer's capacity for the next request, frees a large one.
    private mutating func releaseConsumedInput() {
        if inboundStart == inbound.count {
            inbound.removeAll(keepingCapacity: inbound.capacity <= 16 * 1024)
            inboundStart = 0
        } else if inboundStart > 64 * 1024 {
            inbound.removeFirst(inboundStart)
            inboundStart = 0
        }
    }
}
