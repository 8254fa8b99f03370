import CLibPQ
import Foundation
import Glibc
import Synchronization

/// `LISTEN` on a connection of its own, on a thread of its own (libpq's socket is waited on with `poll`,
/// which would hold a thread of the cooperative pool): each notification is handed to the handlers of its
/// channel. A lost connection is made again (once a second while the server is away); since notifications
/// sent meanwhile are gone, the `resumed` handlers run after each reconnect, for the listeners to catch up
/// by reading what they follow.
public final class PGListener: Sendable {
    public typealias Handler = @Sendable (_ payload: String) -> Void

    private struct State {
        var handlers: [String: [Handler]] = [:]
        var resumed: [@Sendable () -> Void] = []
        var stopped = false
        var started = false
        var connected = false
    }

    let conninfo: String
    private let state = Mutex(State())

    public init(conninfo: String) { self.conninfo = conninfo }

    /// `handler` gets every payload sent to `channel` (a plain identifier) once the listener runs.
    public func on(_ channel: String, _ handler: @escaping Handler) {
        state.withLock { $0.handlers[channel, default: []].append(handler) }
    }

    /// `handler` runs each time the connection is made again after it was lost.
    public func onResumed(_ handler: @escaping @Sendable () -> Void) {
        state.withLock { $0.resumed.append(handler) }
    }

    /// Whether the listening connection is up now.
    public var isConnected: Bool { state.withLock { $0.connected } }

    /// Starts listening on the channels handlers were given for (once).
    public func start() {
        let first = state.withLock { state in
            defer { state.started = true }
            return !state.started
        }
        guard first else { return }
        let thread = Thread { [self] in run() }
        thread.name = "postgres-listen"
        thread.start()
    }

    public func stop() { state.withLock { $0.stopped = true } }

    private var stopped: Bool { state.withLock { $0.stopped } }

    private func run() {
        var handle: OpaquePointer?
        var everConnected = false
        defer { if let handle { PQfinish(handle) } }
        while !stopped {
            if handle == nil || PQstatus(handle) != CONNECTION_OK {
                if let old = handle { PQfinish(old) }
                handle = listen()
                state.withLock { $0.connected = handle != nil }
                guard handle != nil else {
                    Thread.sleep(forTimeInterval: 1)
                    continue
                }
                if everConnected { for handler in state.withLock({ $0.resumed }) { handler() } }
                everConnected = true
            }
            var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
            // A bounded wait, so `stop` is seen within it.
            guard poll(&descriptor, 1, 250) > 0 else { continue }
            guard PQconsumeInput(handle) == 1 else {
                PQfinish(handle)
                handle = nil
                state.withLock { $0.connected = false }
                continue
            }
            while let notice = PQnotifies(handle) {
                let channel = String(cString: notice.pointee.relname)
                let payload = String(cString: notice.pointee.extra)
                PQfreemem(notice)
                for handler in state.withLock({ $0.handlers[channel] ?? [] }) { handler(payload) }
            }
        }
    }

    /// A connection listening on every channel with handlers, or nil while the server cannot be reached.
    private func listen() -> OpaquePointer? {
        guard let handle = PQconnectdb(conninfo) else { return nil }
        guard PQstatus(handle) == CONNECTION_OK else {
            PQfinish(handle)
            return nil
        }
        for channel in state.withLock({ Array($0.handlers.keys) }) {
            let result = PQexec(handle, "LISTEN \"\(channel.replacingOccurrences(of: "\"", with: "\"\""))\"")
            let listening = PQresultStatus(result) == PGRES_COMMAND_OK
            PQclear(result)
            guard listening else {
                PQfinish(handle)
                return nil
            }
        }
        return handle
    }
}

/// Tasks waiting for a notification about one name (a cache key, an agency), each until a timeout: a
/// notification wakes every waiter of its name at once.
public final class PGWaiters: Sendable {
    private struct Waiter {
        let name: String
        let continuation: CheckedContinuation<Bool, Never>
    }

    private struct State {
        var waiters: [UInt64: Waiter] = [:]
        var next: UInt64 = 0
        /// Waits begun whose continuation is not registered yet, and those of them whose timeout came first.
        var starting: Set<UInt64> = []
        var expired: Set<UInt64> = []
    }

    private let state = Mutex(State())

    public init() {}

    /// True when `name` was notified before `timeout`, false when the timeout came first.
    public func wait(for name: String, timeout: Duration) async -> Bool {
        let id = state.withLock { state in
            state.next += 1
            state.starting.insert(state.next)
            return state.next
        }
        let timer = Task {
            guard (try? await Task.sleep(for: timeout)) != nil else { return }
            self.expire(id)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { continuation in
            let late = state.withLock { state in
                state.starting.remove(id)
                if state.expired.remove(id) != nil { return true }
                state.waiters[id] = Waiter(name: name, continuation: continuation)
                return false
            }
            if late { continuation.resume(returning: false) }
        }
    }

    /// Wakes every waiter of `name`.
    public func notify(_ name: String) {
        let woken = state.withLock { state in
            let ids = state.waiters.filter { $0.value.name == name }.map(\.key)
            return ids.compactMap { state.waiters.removeValue(forKey: $0) }
        }
        for waiter in woken { waiter.continuation.resume(returning: true) }
    }

    /// Wakes every waiter (after a reconnect, when what they waited for may have been missed).
    public func notifyAll() {
        let woken = state.withLock { state in
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in woken { waiter.continuation.resume(returning: true) }
    }

    private func expire(_ id: UInt64) {
        let waiter = state.withLock { state -> Waiter? in
            if let waiter = state.waiters.removeValue(forKey: id) { return waiter }
            if state.starting.contains(id) { state.expired.insert(id) }
            return nil
        }
        waiter?.continuation.resume(returning: false)
    }
}
