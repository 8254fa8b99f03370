import AgentOS
import Foundation
import JSON

/// Seed 003's PendingStatementEntry: raised, not yet paid. `amount` is `null` when AgentOS's value cannot
/// be read as money (never a guessed 0).
public struct PendingStatementEntry: Sendable, Equatable {
    public var entryId: String
    public var date: Date?
    public var description: String
    public var amount: Decimal?
    public var jobId: String?
    public var propertyAddress: String?
    public var invoiceNumber: String?
    public var status: String?
    public var metadata: [String: JSONValue]

    public static let aliases = AliasTable([
        FieldRule("entryId", .id, names: "OID", "EntryID", "TransactionID", "TransactionNumber"),
        FieldRule("date", .date, names: "Date", "TransactionDate"),
        FieldRule("description", .text, names: "Description", "Narrative"),
        FieldRule("amount", .money, names: "Amount", "Value"),
        FieldRule("jobId", .id, names: "JobID", "WorksOrderID"),
        FieldRule("propertyAddress", .text, names: "PropertyAddress"),
        FieldRule("invoiceNumber", .id, names: "InvoiceNumber", "InvoiceRef", "InvoiceID"),
        FieldRule("status", .text, names: "Status", "PaymentStatus"),
    ])

    public init?(upstream: JSONValue) {
        guard let fields = upstream.objectValue else { return nil }
        let record = Self.aliases.map(fields)
        entryId = record.text("entryId") ?? ""
        date = record.date("date")
        description = record.text("description") ?? ""
        amount = record.money("amount")
        jobId = record.text("jobId")
        propertyAddress = record.text("propertyAddress")
        invoiceNumber = record.text("invoiceNumber")
        status = record.text("status")
        metadata = record.metadata
    }

    public var json: JSONValue {
        var out = JSONFields()
        out.text("entryId", entryId)
        out.date("date", date)
        out.text("description", description)
        out.money("amount", amount)
        out.text("jobId", jobId)
        out.text("propertyAddress", propertyAddress)
        out.text("invoiceNumber", invoiceNumber)
        out.text("status", status)
        out.metadata(metadata)
        return out.json
    }
}
