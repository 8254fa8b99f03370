import AgentOS
import Foundation
import JSON

/// Seed 003's PendingStatementEntry: raised, not yet paid. `amount` is `null` when AgentOS's value cannot
/// be read as money (never a guessed 0).
public struct PendingStatementEntry: Sendable, Equatable {
    public var entryId = ""
    public var date: Date?
    public var description = ""
    public var amount: Decimal?
    public var jobId: String?
    public var propertyAddress: String?
    public var invoiceNumber: String?
    public var status: String?
    public var metadata: [String: JSONValue] = [:]

    public static let aliases = AliasTable<PendingStatementEntry>([
        .id("entryId", \.entryId, "OID", "EntryID", "TransactionID", "TransactionNumber"),
        .date("date", \.date, "Date", "TransactionDate"),
        .text("description", \.description, "Description", "Narrative"),
        .money("amount", \.amount, "Amount", "Value"),
        .id("jobId", \.jobId, "JobID", "WorksOrderID"),
        .text("propertyAddress", \.propertyAddress, "PropertyAddress"),
        .id("invoiceNumber", \.invoiceNumber, "InvoiceNumber", "InvoiceRef", "InvoiceID"),
        .text("status", \.status, "Status", "PaymentStatus"),
    ])

    public init?(upstream: JSONValue) {
        guard let fields = upstream.objectValue else { return nil }
        Self.aliases.read(fields, into: &self)
        metadata = fields
    }

    public var json: JSONValue {
        .object(Self.aliases.write(self, metadata: metadata))
    }
}
