import AgentOS
import ContractorPortal

/// Seed 003's `contractor.*` procedures: the name, whether it is a query (GET) or a mutation (POST), and
/// how its input maps onto the service.
struct Procedure: Sendable {
    enum Kind: Sendable { case query, mutation }
    typealias Run = @Sendable (ContractorService, ContractorIdentity, InputObject, CallContext) async throws(PortalError) -> JSONValue

    let kind: Kind
    let run: Run

    static let all: [String: Procedure] = [
        "contractor.status": query { service, who, _, _ throws(PortalError) in service.status(who) },
        "contractor.insights": query { service, who, _, context throws(PortalError) in try await service.insights(who, context).json },
        "contractor.account": query { service, who, _, context throws(PortalError) in
            try await service.account(who, context)?.json ?? .null
        },
        "contractor.contacts": query { service, who, _, context throws(PortalError) in
            .array(try await service.contacts(who, context).map(\.json))
        },
        "contractor.maintenanceJobs": query { service, who, input, context throws(PortalError) in
            .array(try await service.maintenanceJobs(who, offset: try input.int("offset"), count: try input.int("count"), context).map(\.json))
        },
        "contractor.maintenanceJobDetails": query { service, who, input, context throws(PortalError) in
            try await service.maintenanceJobDetails(who, jobId: try input.requiredID("jobId"), context)?.json ?? .null
        },
        "contractor.maintenanceJobNotes": query { service, who, input, context throws(PortalError) in
            .array(try await service.maintenanceJobNotes(who, jobId: try input.requiredID("jobId"), context).map(\.json))
        },
        "contractor.toggleJobCompletion": mutation { service, who, input, context throws(PortalError) in
            guard let completed = try input.bool("completed") else { throw .invalid(field: "completed", reason: "is required") }
            return try await service.setJobCompletion(who, jobId: try input.requiredID("jobId"), completed: completed, context).json
        },
        "contractor.addJobNote": mutation { service, who, input, context throws(PortalError) in
            try await service.addJobNote(who, jobId: try input.requiredID("jobId"), text: try input.requiredString("text"), context).json
        },
        "contractor.statements": query { service, who, input, context throws(PortalError) in
            try await service.statements(who, dateFrom: try input.string("dateFrom"), dateTo: try input.string("dateTo"), context).json
        },
        "contractor.pendingStatements": query { service, who, _, context throws(PortalError) in
            .array(try await service.pendingStatements(who, context).map(\.json))
        },
        "contractor.submitInvoice": mutation { service, who, input, context throws(PortalError) in
            let draft = InvoiceDraft(
                jobId: try input.requiredID("jobId"), amount: try input.requiredDecimal("amount"), reference: try input.string("reference"),
                invoiceDate: try input.string("invoiceDate"), description: try input.string("description"))
            return try await service.submitInvoice(who, draft, context).json
        },
    ]

    static func query(_ run: @escaping Run) -> Procedure { Procedure(kind: .query, run: run) }
    static func mutation(_ run: @escaping Run) -> Procedure { Procedure(kind: .mutation, run: run) }
}
