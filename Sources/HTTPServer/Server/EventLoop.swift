import CLinux
import Foundation
import Glibc
import Logging
import Synchronization

/// What every loop of one server shares: read-only settings plus two atomics.
final class ServerShared: Sendable {
    let configuration: ServerConfiguration
    let logger: Logger
    let responder: @Sendable (Request) async -> Response
    let renderRefusal: RefusalRenderer
    let listenFD: Int32
    let openConnections = Atomic<Int>(0)
    /// The longest any loop's sweep ran late since the last read of it, in nanoseconds.
    let maxLag = Atomic<UInt64>(0)
    /// The access log is on and the logger writes info lines.
    let logsAccess: Bool

    func recordLag(_ lag: UInt64) {
        var seen = maxLag.load(ordering: .relaxed)
        while lag > seen {
            let (exchanged, original) = maxLag.compareExchange(expected: seen, desired: lag, ordering: .relaxed)
            if exchanged { break }
            seen = original
        }
    }
    /// Open connections per client address, across loops, for `maxConnectionsPerAddress`.
    let perAddress = Mutex<[String: Int]>([:])
    let uncappedAddress: @Sendable (String) -> Bool
    // Timeouts in the loops' unit, monotonic nanoseconds.
    let headerTimeout: UInt64, bodyTimeout: UInt64, sendTimeout: UInt64, keepAliveTimeout: UInt64
    let handlerTimeout: UInt64, lingerTimeout: UInt64, tick: UInt64, bodyDeadline: UInt64

    init(
        configuration: ServerConfiguration, logger: Logger, listenFD: Int32, renderRefusal: @escaping RefusalRenderer,
        uncappedAddress: @escaping @Sendable (String) -> Bool, responder: @escaping @Sendable (Request) async -> Response
    ) {
        self.configuration = configuration
        self.uncappedAddress = uncappedAddress
        self.renderRefusal = renderRefusal
        self.logger = logger
        self.listenFD = listenFD
        self.responder = responder
        logsAccess = configuration.accessLog && logger.accepts(.info)
        headerTimeout = configuration.headerTimeout.nanoseconds
        bodyTimeout = configuration.bodyTimeout.nanoseconds
        sendTimeout = configuration.sendTimeout.nanoseconds
        keepAliveTimeout = configuration.keepAliveTimeout.nanoseconds
        handlerTimeout = configuration.handlerTimeout.nanoseconds
        bodyDeadline = configuration.bodyDeadline.nanoseconds
        lingerTimeout = configuration.lingerTimeout.nanoseconds
        // The sweep runs often enough that the shortest timeout is kept to about a fifth of itself.
        let shortest = [headerTimeout, bodyTimeout, sendTimeout, keepAliveTimeout, handlerTimeout, lingerTimeout].min() ?? 0
        tick = min(100_000_000, max(5_000_000, shortest / 5))
    }

    /// Takes a place for one more connection from `address`; false when it already holds its share.
    func admit(_ address: String) -> Bool {
        guard !uncappedAddress(address) else { return true }
        return perAddress.withLock { counts in
            let open = counts[address, default: 0]
            guard open < configuration.maxConnectionsPerAddress else { return false }
            counts[address] = open + 1
            return true
        }
    }

    func release(_ address: String) {
        guard !uncappedAddress(address) else { return }
        perAddress.withLock { counts in
            let open = counts[address, default: 0] - 1
            counts[address] = open > 0 ? open : nil
        }
    }
}

/// One thread, one epoll instance, the connections it accepted. Handlers run in Swift concurrency; their
/// answers come back through `execute`, so connection state is only ever touched on this thread.
final class EventLoop: @unchecked Sendable {
    private static let listenerTag = UInt64(UInt32.max) + 1
    private static let wakeTag = UInt64(UInt32.max) + 2
    private static let continueLine = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    private let shared: ServerShared
    private let epfd: Int32
    private let wakeFD: Int32
    private let inbox = Mutex<Inbox>(Inbox())
    /// The loop thread's pthread id, 0 until it runs (pthread_t is an integer on Linux).
    private let threadID = Atomic<UInt>(0)
    private let exited = Atomic<Bool>(false)
    // Loop-thread state.
    private var connections: [Int32: Connection] = [:]
    private var now: UInt64 = Socket.monotonicNanoseconds()
    private var ids = IDGenerator()
    private var scratch = [UInt8](repeating: 0, count: 64 * 1024)
    private var running = true
    private var draining = false
    private var listening = false
    private var acceptResumesAt: UInt64 = 0
    private var dateSecond = 0
    private var dateLine: [UInt8] = []
    /// This loop's access lines since the last hand-over to the logger (once per turn of the loop).
    private var accessLines = LogLines()

    init(shared: ServerShared) throws(ServerError) {
        self.shared = shared
        epfd = clinux_epoll_create()
        wakeFD = clinux_eventfd()
        guard epfd >= 0, wakeFD >= 0 else { throw .socketFailed(Socket.errorText()) }
        clinux_epoll_add(epfd, wakeFD, CLINUX_EPOLLIN, Self.wakeTag)
        listening = clinux_epoll_add(epfd, shared.listenFD, CLINUX_EPOLLIN | CLINUX_EPOLLEXCLUSIVE, Self.listenerTag) == 0
    }

    var hasExited: Bool { exited.load(ordering: .acquiring) }

    func start(name: String) {
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Closures and task jobs waiting to run on this loop's thread.
    struct Inbox {
        var work: [@Sendable () -> Void] = []
        var jobs: [UnownedJob] = []
        var isEmpty: Bool { work.isEmpty && jobs.isEmpty }
    }

    /// Runs `work` on this loop's thread soon. Callable from any thread.
    func execute(_ work: @escaping @Sendable () -> Void) {
        let wasEmpty = inbox.withLock { inbox in
            defer { inbox.work.append(work) }
            return inbox.isEmpty
        }
        if wasEmpty { wake() }
    }

    /// The loop's own thread needs no wake-up (it runs the inbox before it sleeps again) unless `force`d.
    private func wake(force: Bool = false) {
        if !force && threadID.load(ordering: .relaxed) == UInt(pthread_self()) { return }
        var one: UInt64 = 1
        _ = Glibc.write(wakeFD, &one, 8)
    }

    /// Stop accepting, close idle connections, and close each busy one after its current response.
    func beginDrain() {
        execute { [self] in
            draining = true
            stopListening()
            let idle = connections.values.filter { connection in
                if case .awaitingHead = connection.phase { return !connection.hasUnreadInput }
                return false
            }
            idle.forEach(closeNow)
        }
    }

    /// Close everything and end the thread.
    func stop() {
        execute { [self] in
            Array(connections.values).forEach(closeNow)
            running = false
        }
    }

    // MARK: the loop

    private func run() {
        threadID.store(UInt(pthread_self()), ordering: .relaxed)
        var events = [clinux_event](repeating: clinux_event(), count: 256)
        var nextSweep = now + shared.tick
        let timeoutMs = Int32(max(1, shared.tick / 1_000_000))
        while running {
            let count = events.withUnsafeMutableBufferPointer {
                clinux_epoll_wait(epfd, $0.baseAddress, Int32($0.count), timeoutMs)
            }
            now = Socket.monotonicNanoseconds()
            for index in 0..<max(0, Int(count)) {
                handle(events[index])
            }
            runInbox()
            if now >= nextSweep {
                // How late the sweep runs is how long the loop was kept from its events: its lag.
                shared.recordLag(now - nextSweep)
                sweep()
                nextSweep = now + shared.tick
            }
            shared.logger.write(&accessLines)
        }
        shared.logger.write(&accessLines)
        close(epfd)
        close(wakeFD)
        exited.store(true, ordering: .releasing)
    }

    private func handle(_ event: clinux_event) {
        switch event.data {
        case Self.listenerTag:
            acceptConnections()
        case Self.wakeTag:
            var value: UInt64 = 0
            _ = Glibc.read(wakeFD, &value, 8)
        default:
            guard let connection = connections[Int32(truncatingIfNeeded: event.data)] else { return }
            if event.events & CLINUX_EPOLLERR != 0 {
                closeNow(connection)
                return
            }
            if event.events & (CLINUX_EPOLLIN | CLINUX_EPOLLHUP | CLINUX_EPOLLRDHUP) != 0 {
                connection.readable = true
                if event.events & (CLINUX_EPOLLHUP | CLINUX_EPOLLRDHUP) != 0 { connection.peerClosedInput = true }
            }
            // A client that hangs up while its request is handled is gone: cancel the handler rather than
            // compute an answer nobody reads (a client that only half-closes after sending loses its
            // answer too; none of the portal's clients do that).
            // The same holds for a streamed answer (a JSON-lines batch, server-sent events): closing cancels
            // the task that feeds it, and so the work still running for it.
            if event.events & (CLINUX_EPOLLHUP | CLINUX_EPOLLRDHUP) != 0, connection.isAnswering {
                closeNow(connection)
                return
            }
            if event.events & CLINUX_EPOLLOUT != 0 { flush(connection) }
            if connection.readable { drive(connection) }
        }
    }

    /// Runs what other threads (and this loop's own tasks) queued, including what that work queues in
    /// turn, up to a bound so that sockets are never starved.
    private func runInbox() {
        for _ in 0..<64 {
            let taken = inbox.withLock { inbox in
                defer { inbox = Inbox() }
                return inbox
            }
            if taken.isEmpty { return }
            for job in taken.jobs { job.runSynchronously(on: asUnownedTaskExecutor()) }
            for item in taken.work { item() }
        }
        wake(force: true)
    }

    // MARK: accepting

    private func acceptConnections() {
        guard listening else { return }
        for _ in 0..<128 {
            var address = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { clinux_accept(shared.listenFD, $0, &length) }
            }
            if fd < 0 {
                switch errno {
                case EINTR, ECONNABORTED, EPROTO: continue
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    // Out of descriptors: a level-triggered listener would spin, so stop listening briefly.
                    shared.logger.log(.warning, "accept_paused", ["reason": .string(Socket.errorText())])
                    stopListening()
                    acceptResumesAt = now + 100_000_000
                    return
                default: return
                }
            }
            guard shared.openConnections.load(ordering: .relaxed) < shared.configuration.maxConnections else {
                close(fd)
                continue
            }
            // One address may hold only its share of the connections, so slow clients from one place
            // cannot keep everyone else out (trusted proxies, which carry many clients, are exempt).
            let remote = Socket.addressText(address)
            guard shared.admit(remote) else {
                close(fd)
                continue
            }
            shared.openConnections.add(1, ordering: .relaxed)
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let connection = Connection(
                fd: fd, remoteAddress: remote,
                parser: RequestParser(limits: shared.configuration.limits),
                phase: .awaitingHead(deadline: now + shared.headerTimeout, idle: false))
            connections[fd] = connection
            clinux_epoll_add(epfd, fd, CLINUX_EPOLLIN | CLINUX_EPOLLOUT | CLINUX_EPOLLRDHUP | CLINUX_EPOLLET, UInt64(fd))
        }
    }

    private func stopListening() {
        guard listening else { return }
        clinux_epoll_del(epfd, shared.listenFD)
        listening = false
    }

    // MARK: reading

    private func drive(_ connection: Connection) {
        switch connection.phase {
        case .awaitingHead, .readingBody: readRequests(connection)
        case .lingering: discardInput(connection)
        default: break
        }
    }

    private func readRequests(_ connection: Connection) {
        while true {
            let event: RequestParser.Event?
            do {
                event = try connection.parser.next(connection.inbound, from: &connection.inboundStart)
            } catch {
                refuse(connection, error)
                return
            }
            switch event {
            case .head(let head)?:
                // The body must arrive by a deadline of its own however steadily it trickles; each read
                // also has the pause limit (a stall ends it sooner).
                let ends = now + shared.bodyDeadline
                connection.phase = .readingBody(deadline: min(now + shared.bodyTimeout, ends), ends: ends)
                if head.expectsContinue && !connection.hasUnreadInput {
                    enqueue(connection, Self.continueLine)
                    flush(connection)
                    if connection.isClosed { return }
                }
            case .request(let head, let body)?:
                // The client already hung up (its FIN came with the request): nobody will read an answer,
                // and no later event would say so, so do not start the work at all.
                if connection.peerClosedInput {
                    closeNow(connection)
                    return
                }
                connection.releaseConsumedInput()
                startExchange(connection, head: head, body: body)
                return
            case nil:
                if case .awaitingHead(_, true) = connection.phase {
                    if connection.hasUnreadInput {
                        connection.phase = .awaitingHead(deadline: now + shared.headerTimeout, idle: false)
                    } else if draining {
                        closeNow(connection)
                        return
                    }
                }
                guard connection.readable else { return }
                switch receive(connection) {
                case .received:
                    if case .readingBody(_, let ends) = connection.phase {
                        connection.phase = .readingBody(deadline: min(now + shared.bodyTimeout, ends), ends: ends)
                    }
                case .wouldBlock:
                    return
                case .closed:
                    // The client went away; a request it did not finish gets no answer.
                    closeNow(connection)
                    return
                }
            }
        }
    }

    private enum ReceiveResult { case received, wouldBlock, closed }

    private func receive(_ connection: Connection) -> ReceiveResult {
        while true {
            let count = scratch.withUnsafeMutableBytes { recv(connection.fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                if !connection.hasUnreadInput {
                    connection.inbound.removeAll(keepingCapacity: true)
                    connection.inboundStart = 0
                }
                connection.inbound.append(contentsOf: scratch[0..<count])
                // A short read drained the socket: edge-triggered epoll reports the next data anyway.
                if count < scratch.count && !connection.peerClosedInput { connection.readable = false }
                return .received
            }
            if count == 0 { return .closed }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK:
                connection.readable = false
                return .wouldBlock
            default: return .closed
            }
        }
    }

    private func discardInput(_ connection: Connection) {
        while true {
            let count = scratch.withUnsafeMutableBytes { recv(connection.fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                connection.discarded += count
                if connection.discarded > shared.configuration.limits.largestBody { closeNow(connection); return }
                continue
            }
            if count < 0 && errno == EINTR { continue }
            if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                connection.readable = false
                return
            }
            closeNow(connection)
            return
        }
    }

    // MARK: handling

    private func startExchange(_ connection: Connection, head: RequestHead, body: RequestBody) {
        let incomingID = head.headers["X-Request-Id"]
        let requestID = incomingID.flatMap { RequestID.isWellFormed($0) ? $0 : nil } ?? ids.requestID()
        connection.serial &+= 1
        connection.keepAlive = head.keepAlive
        connection.exchange = Connection.Exchange(
            method: head.method, path: String(head.target.prefix { $0 != "?" }), target: head.target, requestID: requestID,
            startedAt: now, isHead: head.method == "HEAD", version: head.version)
        connection.phase = .handling(deadline: now + shared.handlerTimeout)
        let request: Request
        do {
            request = try Request(
                method: HTTPMethod(head.method), target: head.target, version: head.version, headers: head.headers,
                body: body.memoryBytes, spooledBody: body.spoolFile, requestID: requestID, remoteAddress: connection.remoteAddress,
                deadline: .now + shared.configuration.handlerTimeout)
        } catch {
            let context = RefusalContext(requestID: requestID, target: head.target)
            respond(connection, shared.renderRefusal(.invalidTarget(error.message), context))
            return
        }
        let serial = connection.serial
        let responder = shared.responder
        // The handler's task prefers this loop as its executor: it starts here and comes back here after
        // each await, so a request costs no thread hop unless the handler waits on something elsewhere.
        connection.task = Task(executorPreference: self) { [self] in
            let response = await responder(request)
            execute { [self] in handlerFinished(connection, serial: serial, response: response) }
        }
    }

    private func handlerFinished(_ connection: Connection, serial: UInt64, response: Response) {
        // A handler that already timed out, or whose client left, has nobody to answer.
        guard connection.serial == serial, case .handling = connection.phase else { return }
        connection.task = nil
        respond(connection, response)
    }

    /// A framing error: answer it, then close, whatever the client asked for.
    private func refuse(_ connection: Connection, _ error: ParseError) {
        answerItself(connection, .malformed(error))
    }

    // MARK: writing

    private func respond(_ connection: Connection, _ response: Response) {
        guard var exchange = connection.exchange else { return }
        let closing = !connection.keepAlive || draining
            || response.headers["Connection"].map { $0.lowercased() == "close" } == true
        connection.keepAlive = !closing
        let noBody = HTTPStatus.forbidsBody(response.status)
        var head = "HTTP/1.1 \(response.status) \(HTTPStatus.reason(response.status))\r\n"
        for (name, value) in response.headers where !Self.isServerOwned(name) {
            head += name + ": " + value + "\r\n"
        }
        for (name, value) in shared.configuration.standardHeaders where response.headers[name] == nil && !Self.isServerOwned(name) {
            head += name + ": " + value + "\r\n"
        }
        head += "X-Request-Id: " + exchange.requestID + "\r\n"
        exchange.status = response.status
        switch response.body {
        case .abort:
            exchange.status = 0
            connection.exchange = exchange
            logExchange(connection)
            reset(connection)
        case .cutOff(let bytes, let sent):
            head += "Content-Length: \(bytes.count)\r\n"
            enqueueHead(connection, head)
            // At least one byte short of what the head announced, or it would not be cut off.
            let partial = Array(bytes.prefix(max(0, min(sent, bytes.count - 1))))
            enqueue(connection, partial)
            exchange.bytes = partial.count
            connection.exchange = exchange
            logExchange(connection)
            flush(connection)
            reset(connection)
        case .bytes(let bytes):
            if !noBody { head += "Content-Length: \(bytes.count)\r\n" }
            head += connectionLine(connection, exchange)
            enqueueHead(connection, head)
            if !noBody && !exchange.isHead { enqueue(connection, bytes) }
            exchange.bytes = noBody ? 0 : bytes.count
            connection.exchange = exchange
            logExchange(connection)
            connection.phase = .flushing
            flush(connection)
        case .stream(let stream):
            let chunked = exchange.version == .http11
            if !chunked { connection.keepAlive = false }
            if chunked && !noBody { head += "Transfer-Encoding: chunked\r\n" }
            head += connectionLine(connection, exchange)
            enqueueHead(connection, head)
            connection.exchange = exchange
            if noBody || exchange.isHead {
                logExchange(connection)
                connection.phase = .flushing
                flush(connection)
                return
            }
            connection.phase = .streaming(chunked: chunked)
            let serial = connection.serial
            connection.task = Task(executorPreference: self) { [self] in
                for await chunk in stream where !chunk.isEmpty {
                    execute { [self] in streamChunk(connection, serial: serial, chunk) }
                }
                execute { [self] in streamEnded(connection, serial: serial) }
            }
            flush(connection)
        }
    }

    private func connectionLine(_ connection: Connection, _ exchange: Connection.Exchange) -> String {
        if !connection.keepAlive { return "Connection: close\r\n" }
        return exchange.version == .http10 ? "Connection: keep-alive\r\n" : ""
    }

    private func enqueueHead(_ connection: Connection, _ head: String) {
        enqueue(connection, Array(head.utf8))
        enqueue(connection, currentDateLine())
        enqueue(connection, [cr, lf])
    }

    /// Fields the server writes itself; a handler's copy would contradict the framing.
    private static func isServerOwned(_ name: String) -> Bool {
        ["Content-Length", "Transfer-Encoding", "Connection", "Date", "X-Request-Id"].contains {
            HTTPHeaders.equalNames($0, name)
        }
    }

    private func streamChunk(_ connection: Connection, serial: UInt64, _ chunk: [UInt8]) {
        guard connection.serial == serial, case .streaming(let chunked) = connection.phase else { return }
        if chunked { enqueue(connection, Array((String(chunk.count, radix: 16) + "\r\n").utf8)) }
        enqueue(connection, chunk)
        if chunked { enqueue(connection, [cr, lf]) }
        connection.exchange?.bytes += chunk.count
        if connection.outbound.count - connection.outboundStart > shared.configuration.maxPendingStreamBytes {
            closeNow(connection)
            return
        }
        flush(connection)
    }

    private func streamEnded(_ connection: Connection, serial: UInt64) {
        guard connection.serial == serial, case .streaming(let chunked) = connection.phase else { return }
        connection.task = nil
        if chunked { enqueue(connection, Array("0\r\n\r\n".utf8)) }
        logExchange(connection)
        connection.phase = .flushing
        flush(connection)
    }

    private func enqueue(_ connection: Connection, _ bytes: [UInt8]) {
        if !connection.hasPendingOutput { connection.sendDeadline = now + shared.sendTimeout }
        connection.outbound.append(contentsOf: bytes)
    }

    private func flush(_ connection: Connection) {
        while connection.hasPendingOutput {
            let sent = connection.outbound.withUnsafeBytes { raw in
                send(connection.fd, raw.baseAddress! + connection.outboundStart, raw.count - connection.outboundStart, Int32(MSG_NOSIGNAL))
            }
            if sent > 0 {
                connection.outboundStart += sent
                connection.sendDeadline = now + shared.sendTimeout
                continue
            }
            if sent < 0 && errno == EINTR { continue }
            if sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return }
            closeNow(connection)
            return
        }
        connection.outbound.removeAll(keepingCapacity: connection.outbound.capacity <= 16 * 1024)
        connection.outboundStart = 0
        if case .flushing = connection.phase { responseSent(connection) }
    }

    private func responseSent(_ connection: Connection) {
        connection.exchange = nil
        guard connection.keepAlive else {
            beginLingeringClose(connection)
            return
        }
        connection.phase = .awaitingHead(deadline: now + shared.keepAliveTimeout, idle: true)
        readRequests(connection)
    }

    private func beginLingeringClose(_ connection: Connection) {
        shutdown(connection.fd, Int32(SHUT_WR))
        connection.inbound = []
        connection.inboundStart = 0
        connection.phase = .lingering(deadline: now + shared.lingerTimeout)
        discardInput(connection)
    }

    /// SO_LINGER with a zero timeout turns close() into a reset.
    private func reset(_ connection: Connection) {
        guard !connection.isClosed else { return }
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(connection.fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        closeNow(connection)
    }

    private func closeNow(_ connection: Connection) {
        guard !connection.isClosed else { return }
        connection.phase = .closed
        connection.task?.cancel()
        connection.task = nil
        connections.removeValue(forKey: connection.fd)
        close(connection.fd)
        shared.openConnections.subtract(1, ordering: .relaxed)
        shared.release(connection.remoteAddress)
    }

    // MARK: timers

    private func sweep() {
        if !listening && !draining && acceptResumesAt != 0 && now >= acceptResumesAt {
            acceptResumesAt = 0
            listening = clinux_epoll_add(epfd, shared.listenFD, CLINUX_EPOLLIN | CLINUX_EPOLLEXCLUSIVE, Self.listenerTag) == 0
        }
        var expired: [Connection] = []
        for connection in connections.values where isExpired(connection) { expired.append(connection) }
        expired.forEach(expire)
    }

    private func isExpired(_ connection: Connection) -> Bool {
        if connection.hasPendingOutput && now >= connection.sendDeadline { return true }
        switch connection.phase {
        case .awaitingHead(let deadline, _), .readingBody(let deadline, _), .handling(let deadline), .lingering(let deadline):
            return now >= deadline
        case .streaming, .flushing, .closed:
            return false
        }
    }

    private func expire(_ connection: Connection) {
        if connection.hasPendingOutput && now >= connection.sendDeadline {
            closeNow(connection)  // the client stopped taking our bytes
            return
        }
        switch connection.phase {
        case .awaitingHead(_, let idle):
            if idle || !connection.hasUnreadInput {
                closeNow(connection)
            } else {
                timedOut(connection, .head)
            }
        case .readingBody:
            timedOut(connection, .body)
        case .handling:
            connection.task?.cancel()
            connection.task = nil
            guard let exchange = connection.exchange else { return closeNow(connection) }
            let context = RefusalContext(requestID: exchange.requestID, target: exchange.target)
            respond(connection, shared.renderRefusal(.timedOut(.handler), context))
        case .lingering:
            closeNow(connection)
        case .streaming, .flushing, .closed:
            break
        }
    }

    private func timedOut(_ connection: Connection, _ phase: ServerRefusal.Phase) {
        answerItself(connection, .timedOut(phase))
    }

    /// The server's own answer to a request it could not read in full: rendered by the application's
    /// renderer for the target as far as it was read, and the connection closed after it.
    private func answerItself(_ connection: Connection, _ refusal: ServerRefusal) {
        let requestID = ids.requestID()
        connection.serial &+= 1
        connection.keepAlive = false
        connection.exchange = Connection.Exchange(
            method: "-", path: "-", target: "", requestID: requestID, startedAt: now, isHead: false, version: .http11)
        respond(connection, shared.renderRefusal(refusal, RefusalContext(requestID: requestID, target: connection.parser.targetSeen)))
    }

    // MARK: small things

    /// One access line, written into this loop's batch (handed to the logger before the loop sleeps).
    private func logExchange(_ connection: Connection) {
        guard shared.logsAccess, let exchange = connection.exchange else { return }
        accessLines.begin(.info, "access")
        accessLines.field("requestId", exchange.requestID)
        accessLines.field("method", exchange.method)
        accessLines.field("path", exchange.path)
        accessLines.field("status", exchange.status)
        accessLines.field("bytes", exchange.bytes)
        accessLines.field("durationMs", .double(Double(Socket.monotonicNanoseconds() - exchange.startedAt) / 1_000_000))
        accessLines.field("remote", connection.remoteAddress)
        accessLines.end()
    }

    /// `Date: ...\r\n`, formatted once a second (RFC 9110 §6.6.1 asks an origin server with a clock for it).
    private func currentDateLine() -> [UInt8] {
        var seconds = time(nil)
        if Int(seconds) != dateSecond {
            dateSecond = Int(seconds)
            var parts = tm()
            gmtime_r(&seconds, &parts)
            var text = [CChar](repeating: 0, count: 64)
            let length = strftime(&text, text.count, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &parts)
            dateLine = text[0..<length].map { UInt8(bitPattern: $0) }
        }
        return dateLine
    }
}

/// Handler tasks run on the loop that owns their connection (SE-0417 task executor preference).
extension EventLoop: TaskExecutor {
    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let wasEmpty = inbox.withLock { inbox in
            defer { inbox.jobs.append(job) }
            return inbox.isEmpty
        }
        if wasEmpty { wake() }
    }
}
