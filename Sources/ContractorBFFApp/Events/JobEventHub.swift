import AgentOS
import ContractorPortal
import Foundation
import HTTPServer
import JSON
import Synchronization

/// A resumable event id: this process's epoch and a sequence number. An id from another process (a
/// restart, another replica) names events this one never had, so a resume from it is refused as gone.
struct EventID: Sendable, Equatable, CustomStringConvertible {
    let epoch: String
    let sequence: UInt64

    var description: String { "\(epoch)-\(sequence)" }

    init(epoch: String, sequence: UInt64) {
        self.epoch = epoch
        self.sequence = sequence
    }

    /// `<epoch>-<sequence>`, at most 64 bytes of `[0-9a-f-]`.
    init?(_ text: String) {
        guard text.utf8.count <= 64, let dash = text.lastIndex(of: "-"), let sequence = UInt64(text[text.index(after: dash)...]) else { return nil }
        epoch = String(text[..<dash])
        guard !epoch.isEmpty, epoch.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else { return nil }
        self.sequence = sequence
    }
}

/// One change to one of a contractor's jobs, as the event streams carry it.
struct JobEvent: Sendable, Equatable {
    enum Kind: String, Sendable { case status, completion, note, assignment }
    /// Who made the change known: the gateway's own write, or a read of AgentOS that found it.
    enum Source: String, Sendable { case gateway, agentos }

    let id: EventID
    let kind: Kind
    let jobId: String
    let source: Source
    let payload: JSONValue

    /// `{"jobId","kind","source","at",…}`: `status` and `completed` for a status or completion change, the
    /// note for a note.
    static func payload(kind: Kind, jobId: String, source: Source, at: Date, _ fields: [String: JSONValue]) -> JSONValue {
        var object = fields
        object["jobId"] = .string(jobId)
        object["kind"] = .string(kind.rawValue)
        object["source"] = .string(source.rawValue)
        object["at"] = OutputFormat.date(at)
        return .object(object)
    }
}

/// Why a subscription cannot start.
enum SubscribeRefusal: Error, Sendable, Equatable {
    case tooMany(GatewayRefusal.Scope)
    /// The events after the client's last id are no longer buffered (or were never this process's).
    case gone(lastEventID: String)

    var message: String {
        switch self {
        case .tooMany(.session): "Too many event streams open for this session; close one first"
        case .tooMany(.address): "Too many event streams open on this server; retry later"
        case .gone(let id): "Events after \(id) are no longer buffered: refetch the jobs, then subscribe again without a last event id"
        }
    }
}

/// What a subscriber's stream is fed: events, and the ends the hub decides (a drain).
enum Delivery: Sendable, Equatable {
    case event(JobEvent)
    case drained
}

/// The job events of every contractor: announced by the gateway's own writes and by what its reads of
/// AgentOS find changed, buffered per contractor (bounded) for `Last-Event-ID` resume, and delivered to
/// each open subscription of that contractor. Synchronous under one lock: it is told of every read on
/// the read's path, and must never make that path wait.
final class JobEventHub: JobObserver, Sendable {
    struct Subscription: Sendable {
        let id: UInt64
        /// Buffered events after the client's last id, oldest first, to send before the live ones.
        let replay: [JobEvent]
        let deliveries: AsyncStream<Delivery>
    }

    /// What a read last showed of a job, so a read that shows otherwise is a change.
    struct Seen: Sendable, Equatable {
        var status: String?
        var completed: Bool?
        var noteIDs: Set<String>?
    }

    private struct ContractorLog {
        var events: [JobEvent] = []
        var droppedThrough: UInt64 = 0
    }

    private struct Subscriber {
        let contractor: String
        let session: String
        let continuation: AsyncStream<Delivery>.Continuation
    }

    private struct State {
        var sequence: UInt64 = 0
        var logs: [String: ContractorLog] = [:]
        /// Contractors in the order their logs were last written, to forget the least recent one first.
        var logOrder: [String: UInt64] = [:]
        /// The newest sequence of any log forgotten whole: a resume from before it cannot be vouched for.
        var forgottenThrough: UInt64 = 0
        var seen: [String: Seen] = [:]
        var seenOrder: [String] = []
        var subscribers: [UInt64: Subscriber] = [:]
        var nextSubscriber: UInt64 = 0
        var draining = false
    }

    let settings: AppConfiguration.EventSettings
    let epoch: String
    /// Contractors whose logs are kept, and jobs whose last state is remembered.
    let maxContractors: Int
    let maxSeenJobs: Int
    private let state = Mutex(State())
    private let now: @Sendable () -> Date

    init(settings: AppConfiguration.EventSettings, maxContractors: Int = 10_000, maxSeenJobs: Int = 100_000, now: @escaping @Sendable () -> Date = Date.init) {
        self.settings = settings
        self.maxContractors = maxContractors
        self.maxSeenJobs = maxSeenJobs
        self.now = now
        epoch = Crypto.hex(Crypto.randomBytes(6))
    }

    static func key(_ who: ContractorIdentity) -> String { who.shortName + "\u{1F}" + who.contractorId }
    static func jobKey(_ who: ContractorIdentity, _ jobId: String) -> String { key(who) + "\u{1F}" + jobId }

    // MARK: announcing

    /// The gateway's own writes: announced at once, and remembered as seen so the next read does not
    /// announce them again.
    func wrote(_ answer: WriteAnswer, by who: ContractorIdentity) {
        let at = now()
        switch answer {
        case .note(let note):
            state.withLock { state in
                let key = Self.jobKey(who, note.jobId)
                if var seen = state.seen[key], seen.noteIDs != nil {
                    seen.noteIDs?.insert(note.noteId)
                    state.seen[key] = seen
                }
                publish(&state, who, .note, jobId: note.jobId, source: .gateway, JobEvent.payload(kind: .note, jobId: note.jobId, source: .gateway, at: at, ["note": note.json]))
            }
        case .completion(let completion):
            state.withLock { state in
                let status = completion.job?.status
                remember(&state, Self.jobKey(who, completion.jobId)) { seen in
                    seen.completed = completion.completed
                    if let status { seen.status = status }
                }
                var fields: [String: JSONValue] = ["completed": .bool(completion.completed)]
                if let status { fields["status"] = .string(status) }
                publish(&state, who, .completion, jobId: completion.jobId, source: .gateway, JobEvent.payload(kind: .completion, jobId: completion.jobId, source: .gateway, at: at, fields))
            }
        case .invoice, .documents:
            break
        }
    }

    func saw(jobs: [ContractorMaintenanceJob], of who: ContractorIdentity) {
        guard !jobs.isEmpty else { return }
        let at = now()
        state.withLock { state in
            for job in jobs where !job.jobId.isEmpty {
                let key = Self.jobKey(who, job.jobId)
                let before = state.seen[key]
                remember(&state, key) { seen in
                    seen.status = job.status
                    seen.completed = job.isCompleted
                }
                guard let before, let status = before.status, status != job.status else { continue }
                let kind: JobEvent.Kind = before.completed != job.isCompleted ? .completion : .status
                publish(&state, who, kind, jobId: job.jobId, source: .agentos, JobEvent.payload(
                    kind: kind, jobId: job.jobId, source: .agentos, at: at,
                    ["status": .string(job.status), "previousStatus": .string(status), "completed": .bool(job.isCompleted)]))
            }
        }
    }

    func saw(notes: [ContractorJobNote], ofJob jobId: String, of who: ContractorIdentity) {
        let at = now()
        state.withLock { state in
            let key = Self.jobKey(who, jobId)
            let known = state.seen[key]?.noteIDs
            remember(&state, key) { seen in seen.noteIDs = Set(notes.map(\.noteId)) }
            // The first list read of a job is where its notes begin to be known, not news.
            guard let known else { return }
            for note in notes where !known.contains(note.noteId) {
                publish(&state, who, .note, jobId: jobId, source: .agentos, JobEvent.payload(kind: .note, jobId: jobId, source: .agentos, at: at, ["note": note.json]))
            }
        }
    }

    private func remember(_ state: inout State, _ key: String, _ change: (inout Seen) -> Void) {
        var seen = state.seen[key] ?? Seen()
        if state.seen[key] == nil {
            state.seenOrder.append(key)
            if state.seenOrder.count > maxSeenJobs {
                // Forgetting a job only costs its next change's announcement by a read.
                let forgotten = state.seenOrder.removeFirst()
                state.seen[forgotten] = nil
            }
        }
        change(&seen)
        state.seen[key] = seen
    }

    private func publish(_ state: inout State, _ who: ContractorIdentity, _ kind: JobEvent.Kind, jobId: String, source: JobEvent.Source, _ payload: JSONValue) {
        state.sequence += 1
        let event = JobEvent(id: EventID(epoch: epoch, sequence: state.sequence), kind: kind, jobId: jobId, source: source, payload: payload)
        let key = Self.key(who)
        var log = state.logs[key] ?? ContractorLog()
        log.events.append(event)
        if log.events.count > settings.bufferPerContractor {
            let dropped = log.events.removeFirst()
            log.droppedThrough = dropped.id.sequence
        }
        state.logs[key] = log
        state.logOrder[key] = state.sequence
        if state.logs.count > maxContractors, let oldest = state.logOrder.min(by: { $0.value < $1.value }) {
            state.forgottenThrough = max(state.forgottenThrough, oldest.value)
            state.logs[oldest.key] = nil
            state.logOrder[oldest.key] = nil
        }
        for subscriber in state.subscribers.values where subscriber.contractor == key {
            subscriber.continuation.yield(.event(event))
        }
    }

    /// What an import of the agency found changed: status changes (and completions), jobs assigned to a
    /// contractor, and jobs taken from one (reassigned or removed).
    func imported(_ changes: [MirrorChange], agency: String) {
        let at = now()
        state.withLock { state in
            for change in changes {
                let who = ContractorIdentity(shortName: agency, contractorId: change.contractor)
                let key = Self.jobKey(who, change.jobId)
                switch change.kind {
                case .status(let from, let to):
                    let completed = ContractorMaintenanceJob.isCompleted(to)
                    let kind: JobEvent.Kind = ContractorMaintenanceJob.isCompleted(from) != completed ? .completion : .status
                    // A read may already have announced it: the hub remembers what it last said.
                    if state.seen[key]?.status == to { continue }
                    remember(&state, key) { seen in
                        seen.status = to
                        seen.completed = completed
                    }
                    publish(&state, who, kind, jobId: change.jobId, source: .agentos, JobEvent.payload(
                        kind: kind, jobId: change.jobId, source: .agentos, at: at,
                        ["status": .string(to), "previousStatus": .string(from), "completed": .bool(completed)]))
                case .assigned:
                    publish(&state, who, .assignment, jobId: change.jobId, source: .agentos, JobEvent.payload(
                        kind: .assignment, jobId: change.jobId, source: .agentos, at: at, ["assigned": .bool(true)]))
                case .unassigned, .removed:
                    state.seen[key] = nil
                    publish(&state, who, .assignment, jobId: change.jobId, source: .agentos, JobEvent.payload(
                        kind: .assignment, jobId: change.jobId, source: .agentos, at: at, ["assigned": .bool(false), "removed": .bool(change.kind == .removed)]))
                }
            }
        }
    }

    // MARK: subscribing

    /// Registers a subscriber and takes its replay in one step, so no event falls between the two.
    func subscribe(_ who: ContractorIdentity, session: String, after lastEventID: String?) throws(SubscribeRefusal) -> Subscription {
        let key = Self.key(who)
        let (deliveries, continuation) = AsyncStream<Delivery>.makeStream()
        let result = state.withLock { state -> Result<Subscription, SubscribeRefusal> in
            if state.draining { return .failure(.tooMany(.address)) }
            if state.subscribers.count >= settings.maxSubscribers { return .failure(.tooMany(.address)) }
            if state.subscribers.values.filter({ $0.session == session }).count >= settings.maxPerSession { return .failure(.tooMany(.session)) }
            var replay: [JobEvent] = []
            if let lastEventID {
                guard let id = EventID(lastEventID), id.epoch == epoch, id.sequence <= state.sequence else { return .failure(.gone(lastEventID: lastEventID)) }
                let log = state.logs[key]
                let vouchedFrom = max(log?.droppedThrough ?? 0, log == nil ? state.forgottenThrough : 0)
                guard id.sequence >= vouchedFrom else { return .failure(.gone(lastEventID: lastEventID)) }
                replay = (log?.events ?? []).filter { $0.id.sequence > id.sequence }
            }
            state.nextSubscriber += 1
            let id = state.nextSubscriber
            state.subscribers[id] = Subscriber(contractor: key, session: session, continuation: continuation)
            return .success(Subscription(id: id, replay: replay, deliveries: deliveries))
        }
        switch result {
        case .success(let subscription):
            continuation.onTermination = { [weak self] _ in self?.unsubscribe(subscription.id) }
            return subscription
        case .failure(let refusal):
            continuation.finish()
            throw refusal
        }
    }

    func unsubscribe(_ id: UInt64) {
        _ = state.withLock { $0.subscribers.removeValue(forKey: id) }
    }

    var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// The server is stopping: every stream is told so (its `return`), and no new one starts.
    func drain() {
        let subscribers = state.withLock { state in
            state.draining = true
            return Array(state.subscribers.values)
        }
        for subscriber in subscribers {
            subscriber.continuation.yield(.drained)
            subscriber.continuation.finish()
        }
    }
}
