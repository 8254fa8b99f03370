import Foundation
import Glibc
import Logging
import Synchronization

/// The HTTP/1.1 server: a listening socket shared by one epoll loop per core. It knows requests and
/// responses and nothing of what the handlers do.
public final class HTTPServer: Sendable {
    public let configuration: ServerConfiguration
    private let logger: Logger
    private let responder: @Sendable (Request) async -> Response
    private let renderRefusal: RefusalRenderer
    private let uncappedAddress: @Sendable (String) -> Bool
    private let running = Mutex<(shared: ServerShared, loops: [EventLoop])?>(nil)

    /// `renderRefusal` writes the server's own refusals (malformed requests, oversized heads and bodies,
    /// timeouts) in the shape the application's clients read; by default `ErrorResponse`'s.
    public init(
        configuration: ServerConfiguration, logger: Logger, renderRefusal: @escaping RefusalRenderer = ErrorResponse.refusals,
        uncappedAddress: @escaping @Sendable (String) -> Bool = { _ in false },
        responder: @escaping @Sendable (Request) async -> Response
    ) {
        self.configuration = configuration
        self.uncappedAddress = uncappedAddress
        self.logger = logger
        self.renderRefusal = renderRefusal
        self.responder = responder
    }

    /// Binds and starts the loops; returns the bound port (the kernel's choice when configured with 0).
    @discardableResult
    public func start() throws(ServerError) -> Int {
        let started = running.withLock { $0 != nil }
        guard !started else { throw .alreadyStarted }
        signal(SIGPIPE, SIG_IGN)
        Self.raiseDescriptorLimit()
        let (fd, port) = try Socket.listen(host: configuration.host, port: configuration.port)
        let shared = ServerShared(configuration: configuration, logger: logger, listenFD: fd, renderRefusal: renderRefusal, uncappedAddress: uncappedAddress, responder: responder)
        let count = configuration.eventLoops > 0 ? configuration.eventLoops : ProcessInfo.processInfo.activeProcessorCount
        var loops: [EventLoop] = []
        do {
            for _ in 0..<max(1, count) { loops.append(try EventLoop(shared: shared)) }
        } catch {
            close(fd)
            throw error
        }
        for (index, loop) in loops.enumerated() { loop.start(name: "http-loop-\(index)") }
        running.withLock { $0 = (shared, loops) }
        logger.log(.info, "listening", ["host": .string(configuration.host), "port": .int(port), "eventLoops": .int(loops.count)])
        return port
    }

    /// Connections open right now, across loops.
    public var openConnections: Int {
        running.withLock { $0?.shared.openConnections.load(ordering: .relaxed) ?? 0 }
    }

    /// The longest an event loop was late to its timers since the last call (and resets it): how long a
    /// request could have waited on a busy loop. Zero when stopped.
    public func takeEventLoopLag() -> Duration {
        let nanoseconds = running.withLock { $0?.shared.maxLag.exchange(0, ordering: .relaxed) ?? 0 }
        return .nanoseconds(Int64(nanoseconds))
    }

    /// Graceful stop: no new connections, idle ones closed, in-flight requests given the drain timeout to
    /// finish (each answered with `Connection: close`), then everything closed. `whileDraining` runs once
    /// new connections are refused and before the wait: where the application ends its long-lived streams
    /// (server-sent events) in their own words, which the server cannot do for it.
    public func shutdown(whileDraining: @Sendable () async -> Void = {}) async {
        guard let (shared, loops) = running.withLock({ state in
            defer { state = nil }
            return state
        }) else { return }
        logger.log(.info, "draining", ["openConnections": .int(shared.openConnections.load(ordering: .relaxed))])
        loops.forEach { $0.beginDrain() }
        await whileDraining()
        let deadline = ContinuousClock.now + configuration.drainTimeout
        while shared.openConnections.load(ordering: .relaxed) > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        let abandoned = shared.openConnections.load(ordering: .relaxed)
        loops.forEach { $0.stop() }
        while !loops.allSatisfy(\.hasExited) { try? await Task.sleep(for: .milliseconds(5)) }
        close(shared.listenFD)
        logger.log(.info, "stopped", ["abandonedConnections": .int(abandoned)])
    }

    /// 10,000 connections need more descriptors than the usual soft limit of 1,024; take the hard limit.
    private static func raiseDescriptorLimit() {
        var limit = rlimit()
        let resource = Int32(RLIMIT_NOFILE.rawValue)
        guard getrlimit(resource, &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        setrlimit(resource, &limit)
    }
}
