import AgentOS
import Foundation
import JSON

/// Which write a key belongs to: keys are scoped to the contractor (two contractors may use the same key).
public struct IdempotencyID: Sendable, Hashable {
    public let agency: String
    public let contractor: String
    public let key: String

    public init(agency: String, contractor: String, key: String) {
        self.agency = agency
        self.contractor = contractor
        self.key = key
    }
}

/// A write's outcome as the caller saw it, replayed byte for byte.
public struct StoredOutcome: Sendable, Equatable {
    public var status: Int
    public var body: [UInt8]
    /// `Retry-After` seconds for an answer that says "wait"; such answers are never stored (nothing was
    /// written), so this is not persisted.
    public var retryAfter: Int?

    public init(status: Int, body: [UInt8], retryAfter: Int? = nil) {
        self.status = status
        self.body = body
        self.retryAfter = retryAfter
    }
}

/// A stored key's state, with what only that state has. Both stores keep it under `name` (a JSON line's
/// `state`, a table column) beside the fields its case carries.
enum IdempotencyRecordState: Sendable, Equatable {
    /// Sent, the outcome not yet known (in a record read back after a crash, or held by another replica,
    /// it may never be).
    case inFlight
    /// AgentOS answered: every retry gets this answer.
    case done(StoredOutcome)
    /// The outcome is unknown; AgentOS is not looked at for it before `settleUntil` (milliseconds since
    /// 1970; 0: at once).
    case unknown(settleUntil: Int)

    var name: String {
        switch self {
        case .inFlight: "inflight"
        case .done: "done"
        case .unknown: "unknown"
        }
    }

    /// From a stored name and the fields beside it; a `done` without its answer, or a name this version
    /// does not know, is read as unknown (looked up at AgentOS rather than trusted).
    init(name: String, outcome: StoredOutcome?, settleUntil: Int) {
        if name == "inflight" {
            self = .inFlight
        } else if name == "done", let outcome {
            self = .done(outcome)
        } else {
            self = .unknown(settleUntil: settleUntil)
        }
    }
}

/// What a claim on a key finds.
public enum Claim: Sendable, Equatable {
    /// Never seen (or expired): the caller owns the key and must `finish` or `release` it.
    case fresh
    /// Done before: answer this.
    case replay(StoredOutcome)
    /// The first request with this key is still running in this process.
    case inFlight
    /// The key was used with a different request.
    case mismatch
    /// The first request was sent and its outcome is unknown (the process died, or AgentOS failed or timed
    /// out after it may have applied it). The caller owns the key again, and must look at AgentOS before
    /// sending anything; `recovery` says what to look for.
    case unknown(recovery: JSONValue)
}

public enum IdempotencyStoreError: Error, Sendable, Equatable {
    /// The record could not be made durable: the write must not proceed.
    case unavailable(String)
}

/// Where idempotency records live. The embedded default is a file under DATA_DIR; a shared store for
/// several replicas can implement the same protocol without touching callers.
public protocol IdempotencyStore: Sendable {
    /// Claims `id` for a request with this fingerprint. A fresh or unknown claim is durable (written and
    /// synced) before this returns, so a crash after it cannot lose the fact that a call may have gone out.
    func claim(_ id: IdempotencyID, fingerprint: String, recovery: JSONValue) async throws(IdempotencyStoreError) -> Claim
    /// The outcome of a claimed request: stored for replay (durably), or nil when it is unknown. An unknown
    /// outcome whose call may still be running at AgentOS (timed out, connection lost) is not looked for
    /// until that call has had the time to end: till then the key answers "in flight".
    func finish(_ id: IdempotencyID, outcome: StoredOutcome?, callMayStillRun: Bool) async throws(IdempotencyStoreError)
    /// Nothing was sent (validation, ownership, refused before the call): the claim is forgotten.
    func release(_ id: IdempotencyID) async
    /// Whether a live record exists for `id` (read only, nothing written): a key never seen needs its
    /// request checked before anything is claimed for it.
    func holds(_ id: IdempotencyID) async -> Bool
}

extension IdempotencyStore {
    public func finish(_ id: IdempotencyID, outcome: StoredOutcome?) async throws(IdempotencyStoreError) {
        try await finish(id, outcome: outcome, callMayStillRun: false)
    }
}

extension IdempotencyStore {
    /// Until when a record left "in flight" by a process that is gone (it crashed, or another replica that
    /// may still be running) is answered "in flight": three upstream deadlines after its attempt began (the
    /// ownership read, the write, the lingering), by when AgentOS has finished that call or never will.
    static func settledAfterCrash(attemptedAt: Int, upstreamDeadlineMs: Int) -> Int { attemptedAt + 3 * upstreamDeadlineMs }
}
