import ContractorPortal
import JSON

/// JSON Schemas (OpenAPI 3.1, JSON Schema 2020-12) of seed 003's models, made from the alias tables that
/// read and write them, so a field added to a table is described without a second list to keep in step.
/// What a model writes beside its table (a statement's entries, a job's notes) is added here by name.
enum ModelSchemas {
    /// Every named schema of `components.schemas`.
    static var all: [String: JSONValue] {
        [
            "ContractorAccount": object(ContractorAccount.aliases),
            "ContractorContact": object(ContractorContact.aliases),
            "ContractorMaintenanceJob": object(ContractorMaintenanceJob.aliases, extra: jobExtras),
            "ContractorMaintenanceJobWithNotes": object(ContractorMaintenanceJob.aliases, extra: jobExtras.merging([
                "notes": .object(["type": "array", "items": reference("ContractorJobNote")]),
                "notesLoaded": .object([
                    "type": "boolean",
                    "description": "false when the view's budget of notes calls was spent before this job's turn: its notes are then not shown (an empty list) and are loaded in the background",
                ]),
            ]) { $1 }, required: ["notes", "notesLoaded"]),
            "ContractorJobNote": object(ContractorJobNote.aliases),
            "ContractorStatementEntry": object(ContractorStatementEntry.aliases),
            "ContractorStatement": object(ContractorStatement.aliases, extra: [
                "entries": .object(["type": "array", "items": reference("ContractorStatementEntry")]),
            ], required: ["entries"]),
            "PendingStatementEntry": object(PendingStatementEntry.aliases),
            "InvoiceSubmissionResult": object(InvoiceSubmissionResult.aliases),
            "AttachedDocument": object(AttachedDocument.aliases, extra: ["size": .object(["type": "integer", "minimum": 0])], required: ["size"]),
            "ContractorInsights": insights,
            "JobCompletion": .object([
                "type": "object", "required": ["jobId", "completed", "job"],
                "properties": .object([
                    "jobId": .object(["type": "string"]), "completed": .object(["type": "boolean"]),
                    "job": .object(["oneOf": [reference("ContractorMaintenanceJob"), .object(["type": "null"])]]),
                ]),
            ]),
            "JobDocuments": .object([
                "type": "object", "required": ["jobId", "documents"],
                "properties": .object([
                    "jobId": .object(["type": "string"]), "documents": .object(["type": "array", "items": reference("AttachedDocument")]),
                ]),
            ]),
            "Error": .object([
                "type": "object", "required": ["error", "requestId"],
                "description": "Every REST error: what is wrong, and the request's id (also in X-Request-Id) for the logs",
                "properties": .object(["error": .object(["type": "string"]), "requestId": .object(["type": "string"])]),
            ]),
        ]
    }

    static func reference(_ name: String) -> JSONValue { .object(["$ref": .string("#/components/schemas/" + name)]) }

    /// What a job writes beside its table: the SLA's due time and mark, and a write not yet imported.
    static let jobExtras: [String: JSONValue] = [
        "dueBy": .object(["type": "string", "format": "date-time", "description": "when the job's priority's SLA target says it should be done"]),
        "overdue": .object(["type": "boolean", "description": "the SLA target has passed with the job still open"]),
        "awaitingConfirmation": .object(["type": "boolean", "description": "a change made here that AgentOS has not confirmed yet"]),
    ]

    static var insights: JSONValue {
        // null when the part it is counted from is unavailable (named in `unavailable`).
        let count: JSONValue = ["type": ["integer", "null"], "minimum": 0]
        let money: JSONValue = ["type": ["number", "null"]]
        return .object([
            "type": "object",
            "required": ["totalAssignedJobs", "activeJobs", "completedJobs", "pendingPaymentAmount", "totalEarnedAmount", "unavailable", "jobsTruncated", "overdueJobs"],
            "properties": .object([
                "totalAssignedJobs": count, "activeJobs": count, "completedJobs": count,
                "overdueJobs": [
                    "type": ["integer", "null"], "minimum": 0,
                    "description": "open jobs past their SLA target; null when the jobs part is unavailable, or counted without the mirror (MIRROR=off reads job statuses only)",
                ],
                "pendingPaymentAmount": money, "totalEarnedAmount": money,
                "jobsTruncated": .object(["type": "boolean"]),
                "unavailable": .object([
                    "type": "array", "description": "the parts that could not be read this time: their figures are null, never a guessed zero",
                    "items": .object(["type": "string", "enum": .array(ContractorInsights.Part.allCases.map { .string($0.rawValue) })]),
                ]),
            ]),
        ])
    }

    /// A model's object schema: each written rule typed by its reader, `metadata` (the record AgentOS
    /// sent, whole), and the extras. Every field is always present (`null` where the seed allows it).
    static func object<Model>(_ table: AliasTable<Model>, extra: [String: JSONValue] = [:], required: [String] = []) -> JSONValue {
        var properties: [String: JSONValue] = [
            "metadata": .object(["type": "object", "description": "the record as AgentOS sent it, PascalCase and all"]),
        ]
        var names = ["metadata"] + required
        for rule in table.rules where rule.isWritten {
            properties[rule.name] = schema(rule.reader, nullable: rule.nullable)
            names.append(rule.name)
        }
        properties.merge(extra) { $1 }
        return .object(["type": "object", "required": .array(names.map(JSONValue.string)), "properties": .object(properties)])
    }

    static func schema(_ reader: ValueReader, nullable: Bool) -> JSONValue {
        func typed(_ type: String) -> JSONValue { nullable ? .array([.string(type), "null"]) : .string(type) }
        switch reader {
        case .text, .id: return .object(["type": typed("string")])
        case .money: return .object(["type": typed("number"), "description": "exact, two decimals"])
        case .date: return .object(["type": typed("string"), "format": "date-time"])
        case .bool: return .object(["type": typed("boolean")])
        case .textList: return .object(["type": "array", "items": .object(["type": "string"])])
        }
    }
}
