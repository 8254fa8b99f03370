import AgentOS
import ContractorPortal
import HTTPServer
import JSON

/// Why the guard answered instead of the write. Each adapter maps these to its own error shape.
public enum WriteRefusal: Error, Sendable, Equatable {
    /// The Idempotency-Key header is malformed.
    case badKey
    /// The key was used before with a different request (422).
    case keyReused
    /// The first request with this key is still running (409).
    case inFlight
    /// An invoice for this job and reference was already submitted within the window (409).
    case duplicateInvoice(String)
    /// The outcome of an earlier attempt is unknown and AgentOS could not be asked (503).
    case outcomeUnknown
    /// The idempotency record could not be made durable, so the write was not attempted (503).
    case storeUnavailable

    public var message: String {
        switch self {
        case .badKey: "Idempotency-Key must be 1 to 255 printable ASCII characters"
        case .keyReused: "This Idempotency-Key was already used with a different request; use a new key for a new request"
        case .inFlight: "A request with this Idempotency-Key is still being processed; retry it later with the same key"
        case .duplicateInvoice(let what): what
        case .outcomeUnknown:
            "The outcome of an earlier attempt with this key is not known yet and AgentOS could not be checked; retry later with the same key"
        case .storeUnavailable: "Writes are paused: their idempotency record cannot be stored; retry later with the same Idempotency-Key"
        }
    }

    /// Seconds to wait before retrying, where waiting is the remedy.
    public var retryAfter: Int? {
        switch self {
        case .inFlight: 1
        case .outcomeUnknown, .storeUnavailable: 5
        case .badKey, .keyReused, .duplicateInvoice: nil
        }
    }
}

/// How a write ended, for the guard: stored for replay, not sent at all (the key is released), or sent
/// with an unknown result (a retry checks AgentOS before sending again; if the call may still be running
/// there, only once it has had the time to end).
public enum WriteResult: Sendable {
    case final(StoredOutcome)
    case notSent(StoredOutcome)
    case unknown(StoredOutcome, callMayStillRun: Bool)

    var outcome: StoredOutcome {
        switch self { case .final(let o), .notSent(let o), .unknown(let o, _): o }
    }
}

/// Exactly-once writes (Stripe's rules, TradeKitt's 24 h): an `Idempotency-Key` scoped to the contractor
/// replays the first request's outcome; the same key with another request is refused; a key whose first
/// request is still running is refused; after a crash or an unknown outcome, AgentOS is checked before
/// anything is sent again. Invoices also carry a natural key (job + reference) against duplicates sent
/// without a key.
public struct WriteGuard: Sendable {
    public struct Intent: Sendable {
        public var action: String
        public var jobId: String
        /// The request as the client sent it, canonical: the same bytes mean the same request.
        public var canonical: [UInt8]
        /// What to look for at AgentOS if the outcome is unknown (and, for completion, the state to send).
        public var recovery: JSONValue
        /// Invoices: job and reference.
        public var naturalKey: String?
        /// Uploaded files, for the audit line (names, sizes, digests; never contents).
        public var files: [AuditLog.File] = []
    }

    public typealias Recover = @Sendable (JSONValue) async -> RecoveryCheck
    public enum RecoveryCheck: Sendable {
        /// AgentOS has it: this is the outcome to answer (and store).
        case found(StoredOutcome)
        /// AgentOS does not have it: send it now.
        case absent
        /// AgentOS could not be asked.
        case unreachable
        /// AgentOS has part of it (some of an upload's files): go on with this recovery, which says what
        /// is already there, and send only the rest.
        case resume(JSONValue)
    }

    let store: any IdempotencyStore
    let audit: AuditLog

    public init(store: any IdempotencyStore, audit: AuditLog) {
        self.store = store
        self.audit = audit
    }

    /// `Idempotency-Key`: 1 to 255 printable ASCII characters.
    public static func validKey(_ key: String) -> Bool {
        !key.isEmpty && key.utf8.count <= 255 && key.utf8.allSatisfy { (0x20...0x7E).contains($0) }
    }

    /// `precheck` runs for a key never seen before it is claimed: an answer from it (the job is not this
    /// contractor's) is the write's answer, and nothing is recorded for the key, on disk or in the audit log.
    public func run(
        key: String?, _ intent: Intent, _ who: ContractorIdentity, _ context: CallContext,
        precheck: (@Sendable () async -> StoredOutcome?)? = nil,
        recover: Recover, perform: @Sendable (JSONValue) async -> WriteResult
    ) async throws(WriteRefusal) -> (outcome: StoredOutcome, replayed: Bool) {
        func audit(_ outcome: String, _ status: Int?, _ detail: String? = nil) async {
            await self.audit.record(AuditLog.Event(
                action: intent.action, agency: who.shortName, contractor: who.contractorId, target: intent.jobId,
                outcome: outcome, status: status, requestID: context.requestID, detail: detail, files: intent.files.isEmpty ? nil : intent.files))
        }
        let fingerprint = Crypto.hex(Crypto.sha256(Array(intent.action.utf8) + [0] + intent.canonical))
        var keyID: IdempotencyID?
        var recovery = intent.recovery
        var mustCheck = false
        if let key {
            guard Self.validKey(key) else { throw .badKey }
            let id = IdempotencyID(agency: who.shortName, contractor: who.contractorId, key: "key:" + key)
            if let precheck, await !store.holds(id), let refused = await precheck() { return (refused, false) }
            let claim: Claim
            do { claim = try await store.claim(id, fingerprint: fingerprint, recovery: recovery) } catch { throw .storeUnavailable }
            switch claim {
            case .replay(let outcome):
                await audit("replayed", outcome.status)
                return (outcome, true)
            case .mismatch: throw .keyReused
            case .inFlight: throw .inFlight
            case .unknown(let stored):
                recovery = stored
                mustCheck = true
            case .fresh: break
            }
            keyID = id
        }
        // The natural key: a second invoice for the same job and reference within the window.
        var naturalID: IdempotencyID?
        if let natural = intent.naturalKey, !mustCheck {
            let id = IdempotencyID(agency: who.shortName, contractor: who.contractorId, key: "natural:" + natural)
            let claim: Claim
            do { claim = try await store.claim(id, fingerprint: "natural", recovery: recovery) } catch {
                if let keyID { await store.release(keyID) }
                throw .storeUnavailable
            }
            switch claim {
            case .fresh: naturalID = id
            case .unknown(let stored):
                // A keyless earlier attempt whose outcome is unknown: look before sending.
                naturalID = id
                recovery = stored
                mustCheck = true
            case .replay(let outcome):
                if let keyID { await store.release(keyID) }
                await audit("duplicate", 409)
                throw .duplicateInvoice(Self.describe(outcome))
            case .inFlight, .mismatch:
                if let keyID { await store.release(keyID) }
                await audit("duplicate", 409)
                throw .duplicateInvoice("an invoice for this job and reference is being submitted")
            }
        }
        let ids = [keyID, naturalID].compactMap { $0 }
        /// Outcomes are stored under the key; the natural key holds only an accepted invoice (a refused one
        /// may be corrected and sent again).
        func settle(_ outcome: StoredOutcome) async {
            if let keyID { try? await store.finish(keyID, outcome: outcome) }
            if let naturalID {
                if (200..<300).contains(outcome.status) { try? await store.finish(naturalID, outcome: outcome) } else { await store.release(naturalID) }
            }
        }
        if mustCheck {
            switch await recover(recovery) {
            case .found(let outcome):
                await settle(outcome)
                await audit("recovered", outcome.status, "AgentOS already had it")
                if keyID == nil { throw .duplicateInvoice(Self.describe(outcome)) }
                return (outcome, true)
            case .unreachable:
                for id in ids { try? await store.finish(id, outcome: nil) }
                await audit("unknown", nil, "AgentOS could not be checked")
                throw .outcomeUnknown
            case .absent: break
            case .resume(let rest):
                recovery = rest
                await audit("resumed", nil, "AgentOS had part of it")
            }
        }
        let result = await perform(recovery)
        switch result {
        case .final(let outcome):
            // A record that cannot be stored now stays "in flight" on disk: a retry checks AgentOS first.
            await settle(outcome)
            await audit((200..<300).contains(outcome.status) ? "ok" : "rejected", outcome.status)
        case .notSent(let outcome):
            for id in ids { await store.release(id) }
            await audit("refused", outcome.status)
        case .unknown(let outcome, let callMayStillRun):
            for id in ids { try? await store.finish(id, outcome: nil, callMayStillRun: callMayStillRun) }
            await audit("unknown", outcome.status)
        }
        return (result.outcome, false)
    }

    static func describe(_ outcome: StoredOutcome) -> String {
        let body = (try? JSONText.parse(outcome.body)) ?? .null
        let data = body["result"]?["data"] ?? body
        if case .string(let id)? = data["invoiceId"] { return "invoice \(id) was already submitted for this job and reference" }
        return "an invoice was already submitted for this job and reference"
    }
}
