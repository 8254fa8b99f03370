import AgentOS
import Foundation
import JSON

/// Seed 003's ContractorStatementEntry. A signed `Amount` stands for `Credit` when positive and for
/// `Debit` when negative.
public struct ContractorStatementEntry: Sendable, Equatable {
    public var entryId: String
    public var date: Date?
    public var description: String?
    public var debit: Decimal?
    public var credit: Decimal?
    public var balance: Decimal?
    public var jobId: String?
    public var propertyAddress: String?
    public var category: String?
    public var invoiceNumber: String?
    public var metadata: [String: JSONValue]

    public static let aliases = AliasTable([
        FieldRule("entryId", .id, names: "OID", "EntryID", "TransactionID", "TransactionNumber"),
        FieldRule("date", .date, names: "Date", "TransactionDate"),
        FieldRule("description", .text, names: "Description", "Narrative"),
        FieldRule("debit", .money, [.field("Debit"), .signedPart("Amount", positive: false)]),
        FieldRule("credit", .money, [.field("Credit"), .signedPart("Amount", positive: true)]),
        FieldRule("balance", .money, names: "Balance"),
        FieldRule("jobId", .id, names: "JobID", "WorksOrderID"),
        FieldRule("propertyAddress", .text, names: "PropertyAddress"),
        FieldRule("category", .text, names: "Category"),
        FieldRule("invoiceNumber", .id, names: "InvoiceNumber", "InvoiceRef", "InvoiceID"),
    ])

    public init?(upstream: JSONValue) {
        guard let fields = upstream.objectValue else { return nil }
        let record = Self.aliases.map(fields)
        entryId = record.text("entryId") ?? ""
        date = record.date("date")
        description = record.text("description")
        debit = record.money("debit")
        credit = record.money("credit")
        balance = record.money("balance")
        jobId = record.text("jobId")
        propertyAddress = record.text("propertyAddress")
        category = record.text("category")
        invoiceNumber = record.text("invoiceNumber")
        metadata = record.metadata
    }

    public var json: JSONValue {
        var out = JSONFields()
        out.text("entryId", entryId)
        out.date("date", date)
        out.text("description", description)
        out.money("debit", debit)
        out.money("credit", credit)
        out.money("balance", balance)
        out.text("jobId", jobId)
        out.text("propertyAddress", propertyAddress)
        out.text("category", category)
        out.text("invoiceNumber", invoiceNumber)
        out.metadata(metadata)
        return out.json
    }
}

/// Seed 003's ContractorStatement. Totals AgentOS does not send are summed, exactly, from the entries.
public struct ContractorStatement: Sendable, Equatable {
    public var entries: [ContractorStatementEntry]
    public var openingBalance: Decimal?
    public var closingBalance: Decimal?
    public var totalDebits: Decimal?
    public var totalCredits: Decimal?
    public var periodStart: Date?
    public var periodEnd: Date?
    public var metadata: [String: JSONValue]

    public static let aliases = AliasTable([
        FieldRule("openingBalance", .money, names: "OpeningBalance"),
        FieldRule("closingBalance", .money, names: "ClosingBalance"),
        FieldRule("totalDebits", .money, names: "TotalDebits"),
        FieldRule("totalCredits", .money, names: "TotalCredits"),
        FieldRule("periodStart", .date, names: "PeriodStart", "DateFrom"),
        FieldRule("periodEnd", .date, names: "PeriodEnd", "DateTo"),
    ])
    static let entryNames = ["Entries", "Transactions", "Items"]

    /// The statement AgentOS does not have (404): no entries, nothing known.
    public static let empty = ContractorStatement(upstream: .object([:]))

    /// A statement record, or a bare list of entries.
    public init(upstream: JSONValue) {
        let fields = upstream.objectValue ?? [:]
        let record = Self.aliases.map(fields)
        let rawEntries = upstream.arrayValue ?? Self.entryNames.lazy.compactMap { fields[$0]?.arrayValue }.first ?? []
        entries = rawEntries.compactMap(ContractorStatementEntry.init(upstream:))
        openingBalance = record.money("openingBalance")
        closingBalance = record.money("closingBalance")
        totalDebits = record.money("totalDebits") ?? entries.compactMap(\.debit).exactSum
        totalCredits = record.money("totalCredits") ?? entries.compactMap(\.credit).exactSum
        periodStart = record.date("periodStart")
        periodEnd = record.date("periodEnd")
        // Entries are mapped on their own; the statement's metadata keeps the other raw fields.
        metadata = fields.filter { !Self.entryNames.contains($0.key) }
    }

    public var json: JSONValue {
        var out = JSONFields()
        out.value("entries", .array(entries.map(\.json)))
        out.money("openingBalance", openingBalance)
        out.money("closingBalance", closingBalance)
        out.money("totalDebits", totalDebits)
        out.money("totalCredits", totalCredits)
        out.date("periodStart", periodStart)
        out.date("periodEnd", periodEnd)
        out.metadata(metadata)
        return out.json
    }
}

extension Array where Element == Decimal {
    /// Decimal addition is exact for money: ten times 0.10 is 1.00, not 0.9999999999999999.
    public var exactSum: Decimal { reduce(Decimal(0), +) }
}
