import AgentOS
import Foundation
import JSON

/// The embedded idempotency store: an append-only JSON-lines file, each line the latest state of one key,
/// fsynced before a claim or an outcome is acknowledged. Read back at start (a torn last line from a
/// crash is skipped), expired records dropped, and the file rewritten compactly.
///
/// A record whose call timed out or lost its connection, or that a process left "in flight" when it died,
/// may belong to a call AgentOS is still working on. It is answered "in flight" (409) until AgentOS has
/// had the time to finish that call: one upstream deadline after our call gave up, or, after a crash (when
/// that moment is unknown), three after the attempt began (the ownership read, the write, the lingering).
/// Only then does a retry look at AgentOS, which by then has finished the call or never will.
public actor FileIdempotencyStore: IdempotencyStore {
    /// Runs on the disk thread: its appends sync to disk.
    public nonisolated var unownedExecutor: UnownedSerialExecutor { DiskExecutor.shared.asUnownedSerialExecutor() }

    struct Record: Sendable {
        var fingerprint: String
        var state: IdempotencyRecordState
        /// Milliseconds since 1970 when the key was first claimed (the TTL runs from here).
        var createdAt: Int
        /// When the latest attempt was claimed.
        var attemptedAt: Int
        var recovery: JSONValue
    }

    private let file: DurableFile
    private let ttl: Int
    private let upstreamDeadline: Int
    private let clock: @Sendable () -> Int
    private var records: [IdempotencyID: Record] = [:]
    /// Keys whose first request is running in this process (an "inflight" record without this is a crash).
    private var running: Set<IdempotencyID> = []

    /// `clock` gives milliseconds since 1970.
    public init(
        directory: String, ttlSeconds: Int, upstreamDeadlineMs: Int, clock: @escaping @Sendable () -> Int = { Int(Date().timeIntervalSince1970 * 1000) }
    ) throws {
        ttl = ttlSeconds * 1000
        upstreamDeadline = upstreamDeadlineMs
        self.clock = clock
        let now = clock()
        var loaded: [IdempotencyID: Record] = [:]
        do {
            file = try DurableFile(directory: directory, name: "idempotency.jsonl") { lines in
                for line in lines {
                    // A tombstone (nil) makes the key fresh again.
                    guard let (id, record) = Self.decode(line) else { continue }
                    loaded[id] = record
                }
                // A request that was in flight when the process stopped has an unknown outcome now.
                loaded = loaded.filter { $0.value.createdAt + ttlSeconds * 1000 > now }
                for (id, record) in loaded where record.state == .inFlight {
                    loaded[id]?.state = .unknown(settleUntil: Self.settledAfterCrash(attemptedAt: record.attemptedAt, upstreamDeadlineMs: upstreamDeadlineMs))
                }
                return loaded.map { Self.encode($0.key, $0.value) }
            }
        } catch { throw IdempotencyStoreError.unavailable("\(error)") }
        records = loaded
    }

    public func holds(_ id: IdempotencyID) -> Bool {
        running.contains(id) || records[id].map { $0.createdAt + ttl > clock() } == true
    }

    public func claim(_ id: IdempotencyID, fingerprint: String, recovery: JSONValue) throws(IdempotencyStoreError) -> Claim {
        let now = clock()
        if var record = records[id], record.createdAt + ttl > now {
            guard record.fingerprint == fingerprint else { return .mismatch }
            switch record.state {
            case .done(let outcome): return .replay(outcome)
            case .inFlight: if running.contains(id) { return .inFlight }
            case .unknown(let settleUntil): if running.contains(id) || now < settleUntil { return .inFlight }
            }
            // Unknown: this process owns the key again; the caller checks AgentOS before sending.
            running.insert(id)
            record.state = .inFlight
            record.attemptedAt = now
            try persist(id, record)
            return .unknown(recovery: record.recovery)
        }
        let record = Record(fingerprint: fingerprint, state: .inFlight, createdAt: now, attemptedAt: now, recovery: recovery)
        try persist(id, record)
        running.insert(id)
        return .fresh
    }

    public func finish(_ id: IdempotencyID, outcome: StoredOutcome?, callMayStillRun: Bool) throws(IdempotencyStoreError) {
        running.remove(id)
        guard var record = records[id] else { return }
        record.state = outcome.map(IdempotencyRecordState.done) ?? .unknown(settleUntil: callMayStillRun ? clock() + upstreamDeadline : 0)
        try persist(id, record)
    }

    public func release(_ id: IdempotencyID) {
        running.remove(id)
        guard records.removeValue(forKey: id) != nil else { return }
        // A tombstone: read back, it makes the key fresh again.
        try? append(Self.encode(id, nil))
    }

    private func persist(_ id: IdempotencyID, _ record: Record) throws(IdempotencyStoreError) {
        try append(Self.encode(id, record))
        records[id] = record
    }

    private func append(_ line: JSONValue) throws(IdempotencyStoreError) {
        do { try file.append(line) } catch { throw .unavailable(error.description) }
    }

    static func encode(_ id: IdempotencyID, _ record: Record?) -> JSONValue {
        var fields: [String: JSONValue] = ["agency": .string(id.agency), "contractor": .string(id.contractor), "key": .string(id.key)]
        if let record {
            fields["fingerprint"] = .string(record.fingerprint)
            fields["state"] = .string(record.state.name)
            fields["createdAt"] = .number(String(record.createdAt))
            fields["attemptedAt"] = .number(String(record.attemptedAt))
            fields["recovery"] = record.recovery
            switch record.state {
            case .inFlight: break
            case .done(let outcome):
                fields["status"] = .number(String(outcome.status))
                fields["body"] = .string(String(decoding: outcome.body, as: UTF8.self))
            case .unknown(let settleUntil):
                if settleUntil > 0 { fields["settleUntil"] = .number(String(settleUntil)) }
            }
        } else {
            fields["state"] = .string("released")
        }
        return .object(fields)
    }

    /// A line read back: the key and its record, or nil for a tombstone (or a line too damaged to be one).
    static func decode(_ value: JSONValue) -> (IdempotencyID, Record?)? {
        guard case .string(let agency)? = value["agency"], case .string(let contractor)? = value["contractor"],
              case .string(let key)? = value["key"], case .string(let state)? = value["state"] else { return nil }
        let id = IdempotencyID(agency: agency, contractor: contractor, key: key)
        guard state != "released", case .string(let fingerprint)? = value["fingerprint"],
              case .number(let created)? = value["createdAt"], let createdAt = Int(created) else {
            return (id, nil)
        }
        var attemptedAt = createdAt
        if case .number(let attempted)? = value["attemptedAt"], let at = Int(attempted) { attemptedAt = at }
        var outcome: StoredOutcome?
        if case .number(let status)? = value["status"], let code = Int(status), case .string(let body)? = value["body"] {
            outcome = StoredOutcome(status: code, body: Array(body.utf8))
        }
        var settleUntil = 0
        if case .number(let until)? = value["settleUntil"], let at = Int(until) { settleUntil = at }
        let recordState = IdempotencyRecordState(name: state, outcome: outcome, settleUntil: settleUntil)
        return (id, Record(fingerprint: fingerprint, state: recordState, createdAt: createdAt, attemptedAt: attemptedAt, recovery: value["recovery"] ?? .null))
    }
}
