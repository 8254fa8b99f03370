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
    /// What every connection lives by.
    let rules: ConnectionRules
    /// How often each loop looks at its connections' deadlines.
    let tick: UInt64

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
        let rules = ConnectionRules(configuration)
        self.rules = rules
        // The sweep runs often enough that the shortest timeout is kept to about a fifth of itself.
        let shortest = [rules.headerTimeout, rules.bodyTimeout, rules.sendTimeout, rules.keepAliveTimeout, rules.handlerTimeout,
                        rules.lingerTimeout].min() ?? 0
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

/// One thread, one epoll instance, the connections it accepted. It moves bytes between sockets and each
/// connection's `ConnectionMachine`, runs the handlers the machines ask for, and ticks them when their
/// deadlines come; every decision about a connection is the machine's. Handlers run in Swift
/// concurrency; their answers come back to this thread (`answers`, or through `execute` from another),
/// so connection state is only ever touched on this thread.
final class EventLoop: @unchecked Sendable {
    private static let listenerTag = UInt64(UInt32.max) + 1
    private static let wakeTag = UInt64(UInt32.max) + 2

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
    /// This loop's access lines since the last hand-over to the logger: at each sweep (a tick, at most
    /// 100 ms), past 32 KiB, and when the loop ends, so a busy loop takes the logger's lock a few hundred
    /// times a second rather than once per turn.
    private var accessLines = LogLines()
    /// What the machines are handed with every event; built once, it only reaches back into this loop.
    private var context: ConnectionContext!
    /// Emptied action buffers with their capacity, for `deliver` (which can nest).
    private var spareActions: [[ConnectionMachine.Action]] = []
    /// Handlers' answers given on this thread (a task that prefers this loop ends here), waiting for the
    /// loop to hand them to their machines after the event in progress: no lock and no closure per answer,
    /// and never a delivery inside the call that started the handler (a pipelined request's handler would
    /// start inside its predecessor's, without bound). Two buffers, swapped, so a drain allocates nothing.
    private var answers: [Answer] = []
    private var answering: [Answer] = []

    private struct Answer {
        let connection: Connection
        let serial: UInt64
        let response: Response
    }

    init(shared: ServerShared) throws(ServerError) {
        self.shared = shared
        epfd = clinux_epoll_create()
        wakeFD = clinux_eventfd()
        guard epfd >= 0, wakeFD >= 0 else { throw .socketFailed(Socket.errorText()) }
        clinux_epoll_add(epfd, wakeFD, CLINUX_EPOLLIN, Self.wakeTag)
        listening = clinux_epoll_add(epfd, shared.listenFD, CLINUX_EPOLLIN | CLINUX_EPOLLEXCLUSIVE, Self.listenerTag) == 0
        let handlerTimeout = shared.configuration.handlerTimeout
        context = ConnectionContext(
            rules: shared.rules, renderRefusal: shared.renderRefusal,
            newRequestID: { [unowned self] in ids.requestID() },
            dateLine: { [unowned self] in currentDateLine() },
            handlerDeadline: { .now + handlerTimeout })
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
            for connection in Array(connections.values) { deliver(.drain, to: connection) }
        }
    }

    /// Close everything and end the thread.
    func stop() {
        execute { [self] in
            Array(connections.values).forEach { closeSocket($0) }
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
            // Answers left by a bounded drain are taken up again at once.
            let wait = answers.isEmpty ? timeoutMs : 0
            let count = events.withUnsafeMutableBufferPointer {
                clinux_epoll_wait(epfd, $0.baseAddress, Int32($0.count), wait)
            }
            now = Socket.monotonicNanoseconds()
            for index in 0..<max(0, Int(count)) {
                handle(events[index])
            }
            deliverAnswers()
            runInbox()
            deliverAnswers()
            if now >= nextSweep {
                // How late the sweep runs is how long the loop was kept from its events: its lag.
                shared.recordLag(now - nextSweep)
                sweep()
                nextSweep = now + shared.tick
                shared.logger.write(&accessLines)
            } else if accessLines.bytes.count >= 32 << 10 {
                shared.logger.write(&accessLines)
            }
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
                closeSocket(connection)
                return
            }
            if event.events & (CLINUX_EPOLLIN | CLINUX_EPOLLHUP | CLINUX_EPOLLRDHUP) != 0 { connection.readable = true }
            // A client that hangs up while its request is handled, or its answer streamed (a JSON-lines
            // batch, server-sent events), is gone: the machine closes, which cancels the task and so the
            // work still running for it (a client that only half-closes after sending loses its answer
            // too; none of the portal's clients do that).
            if event.events & (CLINUX_EPOLLHUP | CLINUX_EPOLLRDHUP) != 0 { deliver(.hungUp, to: connection) }
            if event.events & CLINUX_EPOLLOUT != 0 { flush(connection) }
            pump(connection)
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

    /// A handler's answer, from its task, on whichever thread it ended.
    private func answered(_ answer: Answer) {
        if threadID.load(ordering: .relaxed) == UInt(pthread_self()) {
            answers.append(answer)
        } else {
            execute { [self] in answers.append(answer) }
        }
    }

    /// Hands the waiting answers to their machines, and those that arrive meanwhile (a pipelined request
    /// answered at once), up to a bound so one client's pipeline cannot hold the loop.
    private func deliverAnswers() {
        for _ in 0..<64 {
            if answers.isEmpty { return }
            swap(&answers, &answering)
            for answer in answering {
                deliver(.handlerAnswered(serial: answer.serial, answer.response), to: answer.connection)
                pump(answer.connection)
            }
            answering.removeAll(keepingCapacity: true)
        }
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
            connections[fd] = Connection(fd: fd, machine: ConnectionMachine(remoteAddress: remote, rules: shared.rules, now: now))
            clinux_epoll_add(epfd, fd, CLINUX_EPOLLIN | CLINUX_EPOLLOUT | CLINUX_EPOLLRDHUP | CLINUX_EPOLLET, UInt64(fd))
        }
    }

    private func stopListening() {
        guard listening else { return }
        clinux_epoll_del(epfd, shared.listenFD)
        listening = false
    }

    // MARK: moving bytes

    /// Hands the machine one event and carries out what it asks for. Carrying out an action can deliver
    /// another event (a send that completes a response), so action buffers are taken from a stack of
    /// spares and put back empty, their capacity kept.
    private func deliver(_ event: ConnectionMachine.Event, to connection: Connection) {
        guard !connection.socketClosed else { return }
        var actions = spareActions.popLast() ?? []
        connection.machine.handle(event, at: now, in: context, into: &actions)
        for action in actions {
            // An answer's log line comes after its send, which may have closed the socket: it is written all
            // the same (every answer is logged); nothing else is done on a closed socket.
            if case .log = action {} else if connection.socketClosed { continue }
            perform(action, connection)
        }
        actions.removeAll(keepingCapacity: true)
        spareActions.append(actions)
    }

    private func perform(_ action: ConnectionMachine.Action, _ connection: Connection) {
        switch action {
        case .send:
            flush(connection)
        case .startHandler(let request, let serial):
            let responder = shared.responder
            // The handler's task prefers this loop as its executor and starts at once, on this thread, so
            // a handler that needs no await (a probe, a cached answer) runs without a trip through any queue
            // and its answer waits in `answers`; after each await it comes back here, so its work never
            // waits for the shared pool, whatever else keeps that busy (without the preference, under the
            // whole test suite's load, answers came late enough for clients' timeouts to fire).
            connection.task = Task.immediate(executorPreference: self) { [self] in
                answered(Answer(connection: connection, serial: serial, response: await responder(request)))
            }
        case .startStream(let stream, let serial):
            connection.task = Task(executorPreference: self) { [self] in
                for await chunk in stream where !chunk.isEmpty {
                    execute { [self] in deliver(.streamChunk(serial: serial, chunk), to: connection) }
                }
                execute { [self] in
                    deliver(.streamEnded(serial: serial), to: connection)
                    pump(connection)
                }
            }
        case .cancelHandler:
            connection.task?.cancel()
            connection.task = nil
        case .shutdownOutput:
            shutdown(connection.fd, Int32(SHUT_WR))
        case .close:
            closeSocket(connection)
        case .reset:
            // SO_LINGER with a zero timeout turns close() into a reset.
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(connection.fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            closeSocket(connection)
        case .log(let exchange):
            logExchange(exchange, remote: connection.remoteAddress)
        }
    }

    /// Reads while the machine wants input and the socket has some (edge-triggered: until EAGAIN).
    private func pump(_ connection: Connection) {
        while connection.readable && connection.machine.wantsInput && !connection.socketClosed {
            let count = scratch.withUnsafeMutableBytes { recv(connection.fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                // A short read drained the socket: edge-triggered epoll reports the next data anyway (a
                // hung-up peer is read to its EOF).
                if count < scratch.count && !connection.machine.peerClosedInput { connection.readable = false }
                deliver(.received(scratch[0..<count]), to: connection)
                continue
            }
            if count < 0 && errno == EINTR { continue }
            if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                connection.readable = false
                return
            }
            deliver(.inputEnded, to: connection)
        }
    }

    /// Writes what the machine has queued until the socket takes no more.
    private func flush(_ connection: Connection) {
        while connection.machine.hasPendingOutput && !connection.socketClosed {
            let sent = connection.machine.withPendingOutput { bytes in
                send(connection.fd, bytes.baseAddress!, bytes.count, Int32(MSG_NOSIGNAL))
            }
            if sent > 0 {
                deliver(.sent(sent), to: connection)
                continue
            }
            if sent < 0 && errno == EINTR { continue }
            if sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return }
            closeSocket(connection)
            return
        }
    }

    private func closeSocket(_ connection: Connection) {
        guard !connection.socketClosed else { return }
        connection.socketClosed = true
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
        let due = connections.values.filter { connection in connection.machine.nextDeadline.map { now >= $0 } ?? false }
        for connection in due {
            deliver(.tick, to: connection)
            pump(connection)
        }
    }

    // MARK: small things

    /// One access line, written into this loop's batch.
    private func logExchange(_ exchange: ConnectionMachine.Exchange, remote: String) {
        guard shared.logsAccess else { return }
        // Keys are constants and three values cannot hold anything JSON escapes (a request id is
        // `RequestID.isWellFormed` or ours, a method a token or "-", the remote an address's text): written
        // as they are. Only the path is escaped.
        accessLines.begin(.info, "access")
        accessLines.verbatim(#","requestId":""#)
        accessLines.verbatim(exchange.requestID)
        accessLines.verbatim(#"","method":""#)
        accessLines.verbatim(exchange.method)
        accessLines.verbatim(#"","path":"#)
        accessLines.escaped(exchange.path)
        accessLines.verbatim(#","status":"#)
        accessLines.integer(exchange.status)
        accessLines.verbatim(#","bytes":"#)
        accessLines.integer(exchange.bytes)
        accessLines.verbatim(#","durationMs":"#)
        accessLines.milliseconds(nanoseconds: Socket.monotonicNanoseconds() &- exchange.startedAt)
        accessLines.verbatim(#","remote":""#)
        accessLines.verbatim(remote)
        accessLines.verbatim("\"")
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

/// Handler and stream tasks run on the loop that owns their connection (SE-0417 task executor preference).
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
