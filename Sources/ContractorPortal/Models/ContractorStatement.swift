import AgentOS
import Foundation
import JSON

/// Seed 003's ContractorStatementEntry. A signed `Amount` stands for `Credit` when positive and for
/// `Debit` when negative.
public struct ContractorStatementEntry: Sendable, Equatable {
    public var entryId = ""
    public var date: Date?
    public var description: String?
    public var debit: Decimal?
    public var credit: Decimal?
    public var balance: Decimal?
    public var jobId: String?
    public var propertyAddress: String?
    public var category: String?
    public var invoiceNumber: String?
    public var metadata: [String: JSONValue] = [:]

    public static let aliases = AliasTable<ContractorStatementEntry>([
        .id("entryId", \.entryId, "OID", "EntryID", "TransactionID", "TransactionNumber"),
        .date("date", \.date, "Date", "TransactionDate"),
        .text("description", \.description, "Description", "Narrative"),
        .money("debit", \.debit, "Debit", .signedPart("Amount", positive: false)),
        .money("credit", \.credit, "Credit", .signedPart("Amount", positive: true)),
        .money("balance", \.balance, "Balance"),
        .id("jobId", \.jobId, "JobID", "WorksOrderID"),
        .text("propertyAddress", \.propertyAddress, "PropertyAddress"),
        .text("category", \.category, "Category"),
        .id("invoiceNumber", \.invoiceNumber, "InvoiceNumber", "InvoiceRef", "InvoiceID"),
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

/// Seed 003's ContractorStatement. Totals AgentOS does not send are summed, exactly, from the entries.
public struct ContractorStatement: Sendable, Equatable {
    public var entries: [ContractorStatementEntry] = []
    public var openingBalance: Decimal?
    public var closingBalance: Decimal?
    public var totalDebits: Decimal?
    public var totalCredits: Decimal?
    public var periodStart: Date?
    public var periodEnd: Date?
    public var metadata: [String: JSONValue] = [:]

    public static let aliases = AliasTable<ContractorStatement>([
        .money("openingBalance", \.openingBalance, "OpeningBalance"),
        .money("closingBalance", \.closingBalance, "ClosingBalance"),
        .money("totalDebits", \.totalDebits, "TotalDebits"),
        .money("totalCredits", \.totalCredits, "TotalCredits"),
        .date("periodStart", \.periodStart, "PeriodStart", "DateFrom"),
        .date("periodEnd", \.periodEnd, "PeriodEnd", "DateTo"),
    ])
    static let entryNames = ["Entries", "Transactions", "Items"]

    /// The statement AgentOS does not have (404): no entries, nothing known.
    public static let empty = ContractorStatement(upstream: .object([:]))

    /// A statement record, or a bare list of entries.
    public init(upstream: JSONValue) {
        let fields = upstream.objectValue ?? [:]
        let rawEntries = upstream.arrayValue ?? Self.entryNames.lazy.compactMap { fields[$0]?.arrayValue }.first ?? []
        entries = rawEntries.compactMap(ContractorStatementEntry.init(upstream:))
        Self.aliases.read(fields, into: &self)
        // Totals AgentOS does not send are summed from the entries.
        if totalDebits == nil { totalDebits = entries.compactMap(\.debit).exactSum }
        if totalCredits == nil { totalCredits = entries.compactMap(\.credit).exactSum }
        // Entries are mapped on their own; the statement's metadata keeps the other raw fields.
        metadata = fields.filter { !Self.entryNames.contains($0.key) }
    }

    public var json: JSONValue {
        var fields = Self.aliases.write(self, metadata: metadata)
        fields["entries"] = .array(entries.map(\.json))
        return .object(fields)
    }
}

extension Array where Element == Decimal {
    /// Decimal addition is exact for money: ten times 0.10 is 1.00, not 0.9999999999999999.
    public var exactSum: Decimal { reduce(Decimal(0), +) }
}
