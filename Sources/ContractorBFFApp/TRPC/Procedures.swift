import AgentOS
import ContractorPortal
import JSON

/// Seed 003's `contractor.*` procedures: the name, whether it is a query (GET) or a mutation (POST), and
/// how its input maps onto the service.
struct Procedure: Sendable {
    enum Kind: Sendable { case query, mutation, subscription }
    typealias Run = @Sendable (ContractorService, ContractorIdentity, InputObject, CallContext) async throws(PortalError) -> JSONValue
    /// Mutations are writes: they go through the write guard (Idempotency-Key, natural keys, recovery).
    /// They throw `PortalError` for bad input and `WriteRefusal` when the guard answers instead.
    typealias Write = @Sendable (PortalWrites, String?, ContractorIdentity, InputObject, CallContext, WriteRenderer) async throws -> PortalWrites.Answer

    enum Body: Sendable {
        case query(Run)
        case mutation(Write)
        /// Served over server-sent events by `TRPCRoutes.subscribe` (httpSubscriptionLink), never batched.
        case subscription
    }

    let body: Body
    /// What the API description says of it: a line, its input's schema (nil: it takes none) and its
    /// answer's, beside the code that reads the one and writes the other.
    let summary: String
    let input: JSONValue?
    let output: JSONValue

    var kind: Kind {
        switch body {
        case .query: .query
        case .mutation: .mutation
        case .subscription: .subscription
        }
    }

    static let all: [String: Procedure] = [
        // The signed-in contractor's job changes as they happen; input `{"lastEventId"?: string}`.
        "contractor.onJobUpdate": Procedure(
            body: .subscription, summary: "The contractor's job changes as they happen (httpSubscriptionLink, server-sent events)",
            input: ["type": "object", "properties": ["lastEventId": ["type": "string"]]],
            output: ["type": "object", "required": ["jobId", "kind", "source", "at"], "description": "a job event: the job, what changed (kind), who changed it (source), when, and the change"]),
        "contractor.status": query(
            "The gateway's view of the contractor's session and AgentOS",
            input: nil,
            output: ["type": "object"]
        ) { service, who, _, _ throws(PortalError) in service.status(who) },
        "contractor.insights": query(
            "Dashboard figures; a part that could not be read is null and named in unavailable",
            input: nil,
            output: ModelSchemas.reference("ContractorInsights")
        ) { service, who, _, context throws(PortalError) in try await service.insights(who, context).json },
        "contractor.account": query(
            "The contractor's account (null when AgentOS has none)",
            input: nil,
            output: ["oneOf": [ModelSchemas.reference("ContractorAccount"), ["type": "null"]]]
        ) { service, who, _, context throws(PortalError) in
            try await service.account(who, context)?.json ?? .null
        },
        "contractor.contacts": query(
            "The contractor's contacts",
            input: nil,
            output: ["type": "array", "items": ModelSchemas.reference("ContractorContact")]
        ) { service, who, _, context throws(PortalError) in
            .array(try await service.contacts(who, context).map(\.json))
        },
        "contractor.maintenanceJobs": query(
            "A page of the contractor's maintenance jobs",
            input: Procedure.page,
            output: ["type": "array", "items": ModelSchemas.reference("ContractorMaintenanceJob")]
        ) { service, who, input, context throws(PortalError) in
            .array(try await service.maintenanceJobs(who, offset: try input.int("offset"), count: try input.int("count"), context).map { $0.answer() })
        },
        "contractor.maintenanceJobDetails": query(
            "One of the contractor's jobs (null when it is not found or not theirs)",
            input: Procedure.job,
            output: ["oneOf": [ModelSchemas.reference("ContractorMaintenanceJob"), ["type": "null"]]]
        ) { service, who, input, context throws(PortalError) in
            try await service.maintenanceJobDetails(who, jobId: try input.requiredID("jobId"), context)?.json ?? .null
        },
        "contractor.maintenanceJobNotes": query(
            "A job's notes",
            input: Procedure.job,
            output: ["type": "array", "items": ModelSchemas.reference("ContractorJobNote")]
        ) { service, who, input, context throws(PortalError) in
            .array(try await service.maintenanceJobNotes(who, jobId: try input.requiredID("jobId"), context).map(\.json))
        },
        "contractor.toggleJobCompletion": mutation(
            "Mark a job complete, or open again",
            input: ["type": "object", "required": ["jobId", "completed"], "properties": ["jobId": Procedure.id, "completed": ["type": "boolean"]]],
            output: ModelSchemas.reference("JobCompletion")
        ) { writes, key, who, input, context, render in
            guard let completed = try input.bool("completed") else { throw PortalError.invalid(field: "completed", reason: "is required") }
            return try await writes.setCompletion(key: key, who, jobId: try input.requiredID("jobId"), completed: completed, context, render)
        },
        "contractor.addJobNote": mutation(
            "Add a note to a job",
            input: ["type": "object", "required": ["jobId", "text"], "properties": ["jobId": Procedure.id, "text": ["type": "string", "minLength": 1, "maxLength": 5000]]],
            output: ModelSchemas.reference("ContractorJobNote")
        ) { writes, key, who, input, context, render in
            try await writes.addNote(key: key, who, jobId: try input.requiredID("jobId"), text: try input.requiredString("text"), field: "text", context, render)
        },
        "contractor.statements": query(
            "The contractor's statement for a period",
            input: ["type": "object", "properties": ["dateFrom": ["type": "string"], "dateTo": ["type": "string"]]],
            output: ModelSchemas.reference("ContractorStatement")
        ) { service, who, input, context throws(PortalError) in
            try await service.statements(who, dateFrom: try input.string("dateFrom"), dateTo: try input.string("dateTo"), context).json
        },
        "contractor.pendingStatements": query(
            "Entries not yet paid",
            input: nil,
            output: ["type": "array", "items": ModelSchemas.reference("PendingStatementEntry")]
        ) { service, who, _, context throws(PortalError) in
            .array(try await service.pendingStatements(who, context).map(\.json))
        },
        "contractor.submitInvoice": mutation(
            "Submit an invoice (JSON, or FormData with its PDF as file)",
            input: Procedure.invoice,
            output: ModelSchemas.reference("InvoiceSubmissionResult")
        ) { writes, key, who, input, context, render in
            let draft = InvoiceDraft(
                jobId: try input.requiredID("jobId"), amount: try input.requiredDecimal("amount"), reference: try input.string("reference"),
                invoiceDate: try input.string("invoiceDate"), description: try input.string("description"), documents: try input.invoiceDocuments())
            return try await writes.submitInvoice(key: key, who, draft, context, render)
        },
        // FormData only: `jobId`, one or more `file` entries, an optional `description`.
        "contractor.attachJobDocument": mutation(
            "Attach photos and documents to a job (FormData only: jobId, file…, description)",
            input: Procedure.documents,
            output: ModelSchemas.reference("JobDocuments")
        ) { writes, key, who, input, context, render in
            try await writes.attachDocuments(
                key: key, who, jobId: try input.requiredID("jobId"), files: try input.jobDocuments(), description: try input.string("description"),
                context, render)
        },
    ]

    static func query(_ summary: String, input: JSONValue?, output: JSONValue, _ run: @escaping Run) -> Procedure {
        Procedure(body: .query(run), summary: summary, input: input, output: output)
    }

    static func mutation(_ summary: String, input: JSONValue?, output: JSONValue, _ write: @escaping Write) -> Procedure {
        Procedure(body: .mutation(write), summary: summary, input: input, output: output)
    }

    // Input schemas more than one procedure takes.
    static let id: JSONValue = ["type": "string", "minLength": 1, "maxLength": 128]
    static let job: JSONValue = ["type": "object", "required": ["jobId"], "properties": ["jobId": id]]
    static let page: JSONValue = [
        "type": "object", "properties": ["offset": ["type": "integer", "minimum": 0, "maximum": 1_000_000], "count": ["type": "integer", "minimum": 1]],
    ]
    static let invoiceFields: [String: JSONValue] = [
        "jobId": id, "amount": ["type": ["number", "string"], "description": "more than 0, at most 1000000, at most two decimals"],
        "reference": ["type": "string", "maxLength": 100], "invoiceDate": ["type": "string"], "description": ["type": "string", "maxLength": 2000],
    ]
    static let invoice: JSONValue = ["type": "object", "required": ["jobId", "amount"], "properties": .object(invoiceFields)]
    static let documents: JSONValue = [
        "type": "object", "required": ["jobId", "file"],
        "properties": ["jobId": id, "file": ["type": "array", "items": APIParts.file], "description": ["type": "string", "maxLength": 2000]],
    ]
}
