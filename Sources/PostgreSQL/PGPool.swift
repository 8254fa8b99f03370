import Dispatch
import Foundation
import Synchronization

/// A bounded pool of connections. Each connection has a serial queue of its own, so libpq's blocking
/// calls never hold a thread of the cooperative pool; a caller waits (without a thread) for a free
/// connection until its deadline. Every connection has a statement timeout, so no statement outlives the
/// request that sent it by more than that.
public final class PGPool: Sendable {
    /// One connection and the queue its calls run on.
    final class Slot: @unchecked Sendable {
        // Touched only on `queue`.
        var connection: PGConnection?
        let queue: DispatchQueue

        init(index: Int) { queue = DispatchQueue(label: "postgres-\(index)") }
    }

    struct State {
        var idle: [Slot] = []
        var made = 0
        var waiters: [(id: UInt64, continuation: CheckedContinuation<Slot?, Never>)] = []
        var nextWaiter: UInt64 = 0
        /// Waiters whose deadline passed before they were queued: they are answered at once.
        var expired: Set<UInt64> = []
    }

    public let size: Int
    let conninfo: String
    public let statementTimeoutMs: Int
    private let state = Mutex(State())
    private let trips = Atomic<Int>(0)

    /// Calls made through the pool (each a round trip or a transaction's few), for tests and metrics.
    public var roundTrips: Int { trips.load(ordering: .relaxed) }

    public init(conninfo: String, size: Int, statementTimeoutMs: Int) {
        self.conninfo = conninfo
        self.size = max(1, size)
        self.statementTimeoutMs = statementTimeoutMs
    }

    /// Runs `work` with a connection of its own (a transaction may span several statements), on that
    /// connection's queue, once one is free before `deadline`, and before the caller's (`CallerDeadline`,
    /// the request being served) unless the call `outlivesCaller`. With less time left than the statement
    /// timeout, the work's statements get only that time, so no call a request makes outlives it.
    /// `outlivesCaller` is for work that must finish whatever the request's deadline (recording a write's
    /// outcome, the audit) and for background work that carries deadlines of its own.
    public func withConnection<T: Sendable>(
        deadline: ContinuousClock.Instant, outlivesCaller: Bool = false, _ work: @escaping @Sendable (PGSession) throws(PGError) -> T
    ) async throws(PGError) -> T {
        // Only the caller's deadline shortens statements: a call's own deadline bounds its wait for a
        // connection, as it always did, without extra statements.
        let callers = outlivesCaller ? nil : CallerDeadline.current.flatMap { $0 < deadline ? $0 : nil }
        let deadline = callers ?? deadline
        guard ContinuousClock.now < deadline, let slot = await acquire(deadline: deadline) else { throw .timedOut }
        defer { release(slot) }
        trips.add(1, ordering: .relaxed)
        let conninfo = conninfo, timeout = statementTimeoutMs
        let outcome: Result<T, PGError> = await withCheckedContinuation { continuation in
            slot.queue.async {
                continuation.resume(returning: Result { () throws(PGError) -> T in
                    if slot.connection == nil {
                        let connection = try PGConnection(conninfo: conninfo)
                        _ = try connection.execute("SET statement_timeout = \(timeout)", [])
                        slot.connection = connection
                    }
                    let session = PGSession(connection: slot.connection!)
                    let left = Int(ContinuousClock.now.duration(to: deadline) / .milliseconds(1))
                    guard callers != nil, left < timeout else { return try work(session) }
                    guard left > 0 else { throw .timedOut }
                    _ = try session.execute("SET statement_timeout = \(left)", [])
                    defer { _ = try? session.execute("SET statement_timeout = \(timeout)", []) }
                    return try work(session)
                })
            }
        }
        return try outcome.get()
    }

    /// One statement on a free connection.
    public func execute(
        _ sql: String, _ parameters: [String?] = [], deadline: ContinuousClock.Instant, outlivesCaller: Bool = false
    ) async throws(PGError) -> PGRows {
        try await withConnection(deadline: deadline, outlivesCaller: outlivesCaller) { session throws(PGError) in try session.execute(sql, parameters) }
    }

    private func acquire(deadline: ContinuousClock.Instant) async -> Slot? {
        enum Next { case slot(Slot), wait }
        let next: Next = state.withLock { state in
            if let slot = state.idle.popLast() { return .slot(slot) }
            if state.made < size {
                state.made += 1
                return .slot(Slot(index: state.made))
            }
            return .wait
        }
        if case .slot(let slot) = next { return slot }
        let id = state.withLock { state -> UInt64 in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        let timer = Task { [weak self] in
            // Cancelled: the waiter was answered first.
            guard (try? await Task.sleep(until: deadline, clock: .continuous)) != nil else { return }
            self?.expire(id)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { continuation in
            enum Queued { case handed(Slot), expired, waiting }
            let queued: Queued = state.withLock { state in
                // Freed between the first look and now.
                if let slot = state.idle.popLast() { return .handed(slot) }
                if state.expired.remove(id) != nil { return .expired }
                state.waiters.append((id, continuation))
                return .waiting
            }
            switch queued {
            case .handed(let slot): continuation.resume(returning: slot)
            case .expired: continuation.resume(returning: nil)
            case .waiting: break
            }
        }
    }

    private func expire(_ id: UInt64) {
        let waiter = state.withLock { state in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else {
                // Not queued yet: it will find this when it is.
                state.expired.insert(id)
                return nil as (id: UInt64, continuation: CheckedContinuation<Slot?, Never>)?
            }
            return state.waiters.remove(at: index)
        }
        waiter?.continuation.resume(returning: nil)
    }

    private func release(_ slot: Slot) {
        let waiter = state.withLock { state in
            if state.waiters.isEmpty {
                state.idle.append(slot)
                return nil as CheckedContinuation<Slot?, Never>?
            }
            return state.waiters.removeFirst().continuation
        }
        waiter?.resume(returning: slot)
    }
}

/// A connection lent to one piece of work; `transaction` runs its body between BEGIN and COMMIT
/// (ROLLBACK on any error).
public struct PGSession {
    let connection: PGConnection

    public func execute(_ sql: String, _ parameters: [String?] = []) throws(PGError) -> PGRows {
        try connection.execute(sql, parameters)
    }

    /// Several statements, no parameters (a migration's script).
    public func executeScript(_ sql: String) throws(PGError) {
        try connection.executeScript(sql)
    }

    public func transaction<T>(_ body: (PGSession) throws(PGError) -> T) throws(PGError) -> T {
        _ = try execute("BEGIN")
        do {
            let value = try body(self)
            _ = try execute("COMMIT")
            return value
        } catch {
            _ = try? execute("ROLLBACK")
            throw error
        }
    }
}

/// The deadline of the request a task serves: pool calls made within it end by then (see
/// `PGPool.withConnection`).
public enum CallerDeadline {
    @TaskLocal public static var current: ContinuousClock.Instant?
}
