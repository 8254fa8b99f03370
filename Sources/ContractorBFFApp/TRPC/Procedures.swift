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

    var kind: Kind {
        switch body {
        case .query: .query
        case .mutation: .mutation
        case .subscription: .subscription
        }
    }

    static let all: [String: Procedure] = [
        // The signed-in contractor's job changes as they happen; input `{"lastEventId"?: string}`.
        "contractor.onJobUpdate": Procedure(body: .subscription),
        "contractor.status": query { service, who, _, _ throws(PortalError) in service.status(who) },
        "contractor.insights": query { service, who, _, context throws(PortalError) in try await service.insights(who, context).json },
        "contractor.account": query { service, who, _, context throws(PortalError) in
            try await service.account(who, context)?.json ?? .null
        },
        "contractor.contacts": query { service, who, _, context throws(PortalError) in
            .array(try await service.contacts(who, context).map(\.json))
        },
        "contractor.maintenanceJobs": query { service, who, input, context throws(PortalError) in
            .array(try await service.maintenanceJobs(who, offset: try input.int("offset"), count: try input.int("count"), context).map { $0.answer() })
        },
        "contractor.maintenanceJobDetails": query { service, who, input, context throws(PortalError) in
            try await service.maintenanceJobDetails(who, jobId: try input.requiredID("jobId"), context)?.json ?? .null
        },
        "contractor.maintenanceJobNotes": query { service, who, input, context throws(PortalError) in
            .array(try await service.maintenanceJobNotes(who, jobId: try input.requiredID("jobId"), context).map(\.json))
        },
        "contractor.toggleJobCompletion": mutation { writes, key, who, input, context, render in
            guard let completed = try input.bool("completed") else { throw PortalError.invalid(field: "completed", reason: "is required") }
            return try await writes.setCompletion(key: key, who, jobId: try input.requiredID("jobId"), completed: completed, context, render)
        },
        "contractor.addJobNote": mutation { writes, key, who, input, context, render in
            try await writes.addNote(key: key, who, jobId: try input.requiredID("jobId"), text: try input.requiredString("text"), field: "text", context, render)
        },
        "contractor.statements": query { service, who, input, context throws(PortalError) in
            try await service.statements(who, dateFrom: try input.string("dateFrom"), dateTo: try input.string("dateTo"), context).json
        },
        "contractor.pendingStatements": query { service, who, _, context throws(PortalError) in
            .array(try await service.pendingStatements(who, context).map(\.json))
        },
        "contractor.submitInvoice": mutation { writes, key, who, input, context, render in
            let draft = InvoiceDraft(
                jobId: try input.requiredID("jobId"), amount: try input.requiredDecimal("amount"), reference: try input.string("reference"),
                invoiceDate: try input.string("invoiceDate"), description: try input.string("description"), documents: try input.invoiceDocuments())
            return try await writes.submitInvoice(key: key, who, draft, context, render)
        },
        // FormData only: `jobId`, one or more `file` entries, an optional `description`.
        "contractor.attachJobDocument": mutation { writes, key, who, input, context, render in
            try await writes.attachDocuments(
                key: key, who, jobId: try input.requiredID("jobId"), files: try input.jobDocuments(), description: try input.string("description"),
                context, render)
        },
    ]

    static func query(_ run: @escaping Run) -> Procedure { Procedure(body: .query(run)) }
    static func mutation(_ write: @escaping Write) -> Procedure { Procedure(body: .mutation(write)) }
}
