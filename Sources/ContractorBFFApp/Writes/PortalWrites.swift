import AgentOS
import ContractorPortal
import Foundation
import JSON

/// A write's answer in the portal's terms, before an adapter shapes it.
enum WriteAnswer: Sendable {
    case note(ContractorJobNote)
    case completion(JobCompletion)
    case invoice(InvoiceSubmissionResult)
    /// Files attached to a job, one AgentOS answer each, in the order sent.
    case documents(jobId: String, [AttachedDocument])

    var json: JSONValue {
        switch self {
        case .note(let note): note.json
        case .completion(let completion): completion.json
        case .invoice(let result): result.json
        case .documents(let jobId, let documents): .object(["jobId": .string(jobId), "documents": .array(documents.map(\.json))])
        }
    }
}

/// What identifies uploaded files in a write's fingerprint, its recovery and its audit line: name, type,
/// size and SHA-256, never the bytes.
enum UploadIdentity {
    static func json(_ file: UploadFile) -> JSONValue {
        .object(["fileName": .string(file.fileName), "mediaType": .string(file.mediaType), "size": .number(String(file.size)), "sha256": .string(file.sha256)])
    }

    static func audit(_ files: [UploadFile]) -> [AuditLog.File] {
        files.map { AuditLog.File(name: $0.fileName, size: $0.size, sha256: $0.sha256) }
    }
}

/// How one adapter writes a write's answer. What is stored for replay is exactly what the adapter sent,
/// so a key is bound to the adapter that first used it (`via` is part of the request's fingerprint).
struct WriteRenderer: Sendable {
    let via: String
    let answer: @Sendable (WriteAnswer) -> StoredOutcome
    let failure: @Sendable (PortalError) -> StoredOutcome
}

/// The portal's three writes, each validated first (a bad request never claims a key), then run through the
/// write guard with what to look for at AgentOS should the outcome of an earlier attempt be unknown.
/// Each begins by putting its context at `.write`: every AgentOS call a write makes (its ownership read,
/// checks, the write) spends the writes' share of the budget, which reads cannot take.
struct PortalWrites: Sendable {
    typealias Answer = (outcome: StoredOutcome, replayed: Bool)

    let service: ContractorService
    let writeGuard: WriteGuard
    /// Told of every write that AgentOS took, for the contractor's job-event streams.
    var events: JobEventHub?
    /// `INVOICE_DOCUMENT_REQUIRED`: an invoice without its PDF is refused.
    var invoiceDocumentRequired = false

    func addNote(
        key: String?, _ who: ContractorIdentity, jobId rawJobId: String, text rawText: String, field: String,
        _ context: CallContext, _ render: WriteRenderer
    ) async throws(WriteRefusal) -> Answer {
        let context = context.at(.write)
        let jobId: String, text: String
        do {
            jobId = try Validate.id(rawJobId, field: "jobId")
            text = try Validate.noteText(rawText, field: field)
        } catch { return (render.failure(error), false) }
        // Recovery looks for the note by a digest of its text; the stored answer (what a replay sends back)
        // holds the created note, text included, for IDEMPOTENCY_TTL_SECONDS, as the README says.
        let digest = Crypto.hex(Crypto.sha256(Array(text.utf8)))
        let intent = WriteGuard.Intent(
            action: "note.add", jobId: jobId,
            canonical: JSONValue.object(["via": .string(render.via), "jobId": .string(jobId), "text": .string(text)]).serialized(),
            recovery: .object(["textSha256": .string(digest)]), naturalKey: nil)
        let service = service
        // Checks look at AgentOS as it is now, past the read cache.
        let now = context.pastTheCache()
        return try await guarded(key, intent, who, context, render, recover: { recovery in
            guard case .string(let wanted)? = recovery["textSha256"] else { return .unreachable }
            do {
                let notes = try await service.ownNotes(who, jobId: jobId, now)
                let match = notes.first { Crypto.hex(Crypto.sha256(Array($0.text.trimmingCharacters(in: .whitespacesAndNewlines).utf8))) == wanted }
                return match.map { .found(render.answer(.note($0))) } ?? .absent
            } catch PortalError.notFound { return .absent } catch { return .unreachable }
        }, perform: { _ in
            await self.settle(who, render) { () async throws(PortalError) in
                .note(try await service.addJobNote(who, jobId: jobId, text: text, field: field, context))
            }
        })
    }

    /// `completed: nil` is the toggle. Its target is read before the guard and kept with the claim, so a
    /// retry after an unknown outcome sends the state first meant, not the opposite of what it finds.
    func setCompletion(
        key: String?, _ who: ContractorIdentity, jobId rawJobId: String, completed: Bool?, _ context: CallContext, _ render: WriteRenderer
    ) async throws(WriteRefusal) -> Answer {
        let context = context.at(.write)
        let jobId: String, target: Bool
        do {
            jobId = try Validate.id(rawJobId, field: "jobId")
            if let completed { target = completed } else {
                target = !(try await service.currentJob(who, jobId: jobId, context.pastTheCache()).isCompleted)
            }
        } catch { return (render.failure(error), false) }
        let intent = WriteGuard.Intent(
            action: "job.completion", jobId: jobId,
            canonical: JSONValue.object(["via": .string(render.via), "jobId": .string(jobId), "completed": completed.map(JSONValue.bool) ?? .null]).serialized(),
            recovery: .object(["completed": .bool(target)]), naturalKey: nil)
        let service = service
        // Checks look at AgentOS as it is now, past the read cache.
        let now = context.pastTheCache()
        return try await guarded(key, intent, who, context, render, recover: { recovery in
            guard case .bool(let wanted)? = recovery["completed"] else { return .unreachable }
            do {
                let job = try await service.currentJob(who, jobId: jobId, now)
                guard job.isCompleted == wanted else { return .absent }
                return .found(render.answer(.completion(JobCompletion(jobId: job.jobId, completed: wanted, job: job))))
            } catch PortalError.notFound { return .absent } catch { return .unreachable }
        }, perform: { recovery in
            let state: Bool = if case .bool(let stored)? = recovery["completed"] { stored } else { target }
            return await self.settle(who, render) { () async throws(PortalError) in
                .completion(try await service.setJobCompletion(who, jobId: jobId, completed: state, context))
            }
        })
    }

    /// An invoice's natural key is its job and reference (without a reference: its job, amount and date),
    /// so the same invoice sent twice without a key is refused, naming the first.
    func submitInvoice(
        key: String?, _ who: ContractorIdentity, _ draft: InvoiceDraft, _ context: CallContext, _ render: WriteRenderer
    ) async throws(WriteRefusal) -> Answer {
        let context = context.at(.write)
        let invoice: Invoice
        do throws(PortalError) {
            invoice = try draft.validated()
            if invoiceDocumentRequired && invoice.documents.isEmpty {
                throw .invalid(field: "file", reason: "is required: invoices are accepted with their PDF (multipart/form-data with a file part)")
            }
        } catch { return (render.failure(error), false) }
        let amount = OutputFormat.money(invoice.amount)
        let fields: [String: JSONValue] = [
            "jobId": .string(invoice.jobId), "amount": amount, "reference": invoice.reference.map(JSONValue.string) ?? .null,
            "invoiceDate": .string(invoice.invoiceDate),
        ]
        var canonical = fields
        canonical["via"] = .string(render.via)
        canonical["description"] = invoice.description.map(JSONValue.string) ?? .null
        // The same key with another file is another request (422), however alike the fields.
        canonical["documents"] = .array(invoice.documents.map(UploadIdentity.json))
        let natural = invoice.reference.map { "\(invoice.jobId)|reference:\($0)" }
            ?? "\(invoice.jobId)|amount:\(String(decoding: amount.serialized(), as: UTF8.self))|date:\(invoice.invoiceDate)"
        let intent = WriteGuard.Intent(
            action: "invoice.submit", jobId: invoice.jobId, canonical: JSONValue.object(canonical).serialized(),
            recovery: .object(fields), naturalKey: natural, files: UploadIdentity.audit(invoice.documents))
        let service = service
        // Checks look at AgentOS as it is now, past the read cache.
        let now = context.pastTheCache()
        return try await guarded(key, intent, who, context, render, recover: { recovery in
            // What the first attempt sent (for a natural key it may differ from this request in its amount).
            guard case .string(let jobId)? = recovery["jobId"], case .number(let literal)? = recovery["amount"],
                  let sentAmount = Decimal(string: literal, locale: Locale(identifier: "en_US_POSIX")),
                  case .string(let date)? = recovery["invoiceDate"] else { return .unreachable }
            var reference: String?
            if case .string(let sent)? = recovery["reference"] { reference = sent }
            let sent = Invoice(jobId: jobId, amount: sentAmount, reference: reference, invoiceDate: date, description: nil)
            do {
                guard let entry = try await service.submittedInvoice(who, sent, now) else { return .absent }
                let result = InvoiceSubmissionResult(upstream: .object([
                    "InvoiceID": .string(entry.entryId), "Success": .bool(true), "Message": .string("Invoice already received by AgentOS"),
                ]))
                return .found(render.answer(.invoice(result)))
            } catch { return .unreachable }
        }, perform: { _ in
            await self.settle(who, render) { () async throws(PortalError) in .invoice(try await service.submitInvoice(who, invoice, context)) }
        })
    }

    /// Photos and documents for the contractor's own job, one AgentOS call per file (the documented call
    /// takes one). Exactly once per file: after an unknown outcome (a crash, a timeout, a failure part-way)
    /// AgentOS's list of the job's documents is read and only the files it does not hold are sent.
    func attachDocuments(
        key: String?, _ who: ContractorIdentity, jobId rawJobId: String, files: [UploadFile], description rawDescription: String?,
        _ context: CallContext, _ render: WriteRenderer
    ) async throws(WriteRefusal) -> Answer {
        let context = context.at(.write)
        let jobId: String, description: String?
        do throws(PortalError) {
            jobId = try Validate.id(rawJobId, field: "jobId")
            description = try Validate.optionalText(rawDescription, field: "description", max: 2_000)
            guard !files.isEmpty else { throw PortalError.invalid(field: "file", reason: "is required: send one or more files") }
        } catch { return (render.failure(error), false) }
        let identities = files.map(UploadIdentity.json)
        let intent = WriteGuard.Intent(
            action: "job.documents", jobId: jobId,
            canonical: JSONValue.object([
                "via": .string(render.via), "jobId": .string(jobId), "description": description.map(JSONValue.string) ?? .null,
                "files": .array(identities),
            ]).serialized(),
            recovery: .object(["files": .array(identities)]), naturalKey: nil, files: UploadIdentity.audit(files))
        let service = service
        let now = context.pastTheCache()
        return try await guarded(key, intent, who, context, render, recover: { recovery in
            let held: [AttachedDocument]
            do { held = try await service.jobDocuments(who, jobId: jobId, now) } catch { return .unreachable }
            // AgentOS's own record of each file it holds, by the file's place in the upload.
            var present: [String: JSONValue] = [:]
            for (index, file) in files.enumerated() {
                if let record = held.first(where: { $0.isRecord(of: file) }) { present[String(index)] = .object(record.metadata) }
            }
            if present.count == files.count {
                let documents = files.indices.compactMap { index in
                    present[String(index)].map { AttachedDocument(answer: $0, sent: files[index], description: description) }
                }
                return .found(render.answer(.documents(jobId: jobId, documents)))
            }
            if present.isEmpty { return .absent }
            var resumed = recovery.objectValue ?? [:]
            resumed["present"] = .object(present)
            return .resume(.object(resumed))
        }, perform: { recovery in
            var done: [Int: AttachedDocument] = [:]
            for (index, record) in recovery["present"]?.objectValue ?? [:] {
                if let position = Int(index), files.indices.contains(position) {
                    done[position] = AttachedDocument(answer: record, sent: files[position], description: description)
                }
            }
            for (index, file) in files.enumerated() where done[index] == nil {
                do throws(PortalError) {
                    done[index] = try await service.attachJobDocument(who, jobId: jobId, file: file, description: description, context)
                } catch {
                    let failed = await self.settle(who, render) { () async throws(PortalError) -> WriteAnswer in throw error }
                    // Files before this one are at AgentOS: the key must stay claimed, and a retry checks
                    // which arrived before sending the rest.
                    guard !done.isEmpty else { return failed }
                    if case .unknown = failed { return failed }
                    return .unknown(failed.outcome, callMayStillRun: false)
                }
            }
            let documents = files.indices.compactMap { done[$0] }
            return await self.settle(who, render) { () async throws(PortalError) in .documents(jobId: jobId, documents) }
        })
    }

    /// The guard around one write (its context already at the writes' priority).
    func guarded(
        _ key: String?, _ intent: WriteGuard.Intent, _ who: ContractorIdentity, _ context: CallContext, _ render: WriteRenderer,
        recover: @escaping WriteGuard.Recover, perform: @escaping @Sendable (JSONValue) async -> WriteResult
    ) async throws(WriteRefusal) -> Answer {
        // A keyed write for a job that is not this contractor's is refused before its key is claimed, so
        // it leaves no idempotency record or audit line behind (a cached read: repeated refusals cost
        // nothing upstream). The write itself still checks the job afresh.
        let service = service
        let precheck: @Sendable () async -> StoredOutcome? = {
            do throws(PortalError) {
                _ = try await service.currentJob(who, jobId: intent.jobId, context)
                return nil
            } catch {
                if case .notFound(let message) = error { return render.failure(.notFound(message)) }
                return nil
            }
        }
        return try await writeGuard.run(key: key, intent, who, context, precheck: precheck, recover: recover, perform: perform)
    }

    /// How a write ended, for the guard: answered, refused before anything was applied, or failed in a way
    /// that may have left it applied at AgentOS (a timeout, a lost connection, a 5xx, an unreadable 2xx).
    func settle(_ who: ContractorIdentity, _ render: WriteRenderer, _ body: () async throws(PortalError) -> WriteAnswer) async -> WriteResult {
        do {
            let answer = try await body()
            events?.wrote(answer, by: who)
            return .final(render.answer(answer))
        } catch {
            let outcome = render.failure(error)
            guard case .upstream(let upstream) = error else { return .notSent(outcome) }
            switch upstream {
            // No answer: AgentOS may still be working on it. An answer (a 5xx, an unreadable 2xx): it is done.
            case .timeout, .transport: return .unknown(outcome, callMayStillRun: true)
            case .upstream, .unreadableBody: return .unknown(outcome, callMayStillRun: false)
            case .notConfigured, .circuitOpen, .rateLimited, .keyBlocked, .overloaded, .unauthorized, .forbidden, .rejected:
                return .notSent(outcome)
            }
        }
    }
}
