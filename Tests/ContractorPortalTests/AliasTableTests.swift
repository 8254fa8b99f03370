import AgentOS
import ContractorPortal
import Foundation
import JSON
import Testing

/// Every upstream name of docs/agentos-field-names.md's table, each alone in a record, through the
/// model's alias table to its camelCase field.
@Suite("Alias tables: every upstream name of the contract")
struct AliasTableTests {
    enum Model: String, Sendable { case account, contact, job, note, entry, pending, invoice, statement }

    static func map(_ model: Model, _ record: [String: JSONValue]) -> JSONValue {
        let value = JSONValue.object(record)
        switch model {
        case .account: return ContractorAccount(upstream: value)?.json ?? .null
        case .contact: return ContractorContact(upstream: value)?.json ?? .null
        case .job: return ContractorMaintenanceJob(upstream: value)?.json ?? .null
        case .note: return ContractorJobNote(upstream: value, jobId: "parent")?.json ?? .null
        case .entry: return ContractorStatementEntry(upstream: value)?.json ?? .null
        case .pending: return PendingStatementEntry(upstream: value)?.json ?? .null
        case .invoice: return InvoiceSubmissionResult(upstream: value).json
        case .statement: return ContractorStatement(upstream: value).json
        }
    }

    struct Row: Sendable, CustomTestStringConvertible {
        let model: Model
        let field: String
        let record: [String: JSONValue]
        let expected: JSONValue
        var testDescription: String { "\(model.rawValue).\(field) ← \(record.keys.sorted().joined(separator: "+"))" }
    }

    static func rows(_ model: Model, _ field: String, _ names: [String], _ raw: JSONValue, _ expected: JSONValue) -> [Row] {
        names.map { Row(model: model, field: field, record: [$0: raw], expected: expected) }
    }

    static let text = JSONValue.string("x")
    static let all: [Row] = [
        rows(.account, "contractorId", ["OID", "ContractorID", "ID"], .number("3003"), .string("3003")),
        rows(.account, "companyName", ["CompanyName", "Company"], text, text),
        rows(.account, "displayName", ["DisplayName", "Name", "FullName"], text, text),
        rows(.account, "email", ["EmailAddress", "EMailAddress", "Email"], text, text),
        rows(.account, "phone", ["Phone", "LandPhone", "PhoneNumber", "WorkPhone"], text, text),
        rows(.account, "mobile", ["Mobile", "MobilePhone", "MobileNumber"], text, text),
        rows(.account, "addressLine1", ["AddressLine1", "Address1"], text, text),
        rows(.account, "addressLine2", ["AddressLine2", "Address2"], text, text),
        rows(.account, "addressLine3", ["AddressLine3", "Address3"], text, text),
        rows(.account, "postcode", ["Postcode", "PostCode"], text, text),
        rows(.account, "address", ["Address", "Address1", "AddressLine2", "Address4", "County", "PostCode"], text, text),
        rows(.account, "vatNumber", ["VATNumber", "VatNumber", "VatRegNo"], text, text),
        rows(.account, "companyRegNumber", ["CompanyRegNumber", "CompanyNumber"], text, text),
        rows(.account, "isActive", ["IsActive", "Active"], .string("Y"), .bool(true)),
        rows(.account, "isActive", ["Status"], .string("Active"), .bool(true)),
        rows(.account, "isActive", ["Status"], .string("Suspended"), .bool(false)),
        rows(.account, "branchId", ["BranchID", "BranchOID"], .number("7"), .string("7")),
        rows(.account, "trades", ["Trades", "TradeTypes"], .string("Gas, Plumbing"), .array([.string("Gas"), .string("Plumbing")])),
        rows(.contact, "contactId", ["ContactID", "OID", "ID"], .number("21"), .string("21")),
        rows(.contact, "name", ["Name", "FullName"], text, text),
        rows(.contact, "email", ["EmailAddress", "EMailAddress", "Email"], text, text),
        rows(.contact, "phone", ["Phone", "LandPhone", "PhoneNumber", "WorkPhone"], text, text),
        rows(.contact, "mobile", ["Mobile", "MobilePhone", "MobileNumber"], text, text),
        rows(.contact, "role", ["Role", "JobTitle"], text, text),
        rows(.contact, "isPrimary", ["IsPrimary", "Primary"], .number("1"), .bool(true)),
        rows(.job, "jobId", ["OID", "JobID", "WorksOrderID", "ID"], .number("7001"), .string("7001")),
        rows(.job, "propertyId", ["PropertyID", "PropertyOID"], text, text),
        rows(.job, "propertyAddress", ["PropertyAddress", "Property", "Address", "PropertyAddress1", "PropertyPostcode"], text, text),
        rows(.job, "title", ["Title", "IssueTitle", "Summary", "Subject"], text, text),
        rows(.job, "description", ["Description", "IssueFault", "Details"], text, text),
        rows(.job, "status", ["Status", "JobStatus"], text, text),
        rows(.job, "priority", ["Priority", "IssuePriority", "PriorityName"], .string("High"), .string("High")),
        rows(.job, "reportedDate", ["ReportedDate", "Reported", "ReportedAt", "DateReported"], .string("2026-03-28"), .string("2026-03-28T00:00:00Z")),
        rows(.job, "completedDate", ["CompletedDate", "ClosedDate", "DateCompleted"], .string("28/03/2026"), .string("2026-03-28T00:00:00Z")),
        rows(.job, "estimatedCost", ["EstimatedCost", "Estimate", "QuoteAmount"], .string("£1,234.50"), .number("1234.5")),
        rows(.job, "actualCost", ["ActualCost", "Cost", "InvoiceAmount"], .string("95.00"), .number("95")),
        rows(.job, "category", ["Category", "JobType", "Trade"], text, text),
        rows(.job, "tenantName", ["TenantName", "Tenant"], text, text),
        rows(.job, "landlordName", ["LandlordName", "Landlord"], text, text),
        rows(.job, "accessDetails", ["AccessDetails", "AccessInstructions", "KeyInfo"], text, text),
        rows(.note, "noteId", ["OID", "NoteID", "ID"], .number("71"), .string("71")),
        rows(.note, "jobId", ["JobID"], .number("7001"), .string("7001")),
        rows(.note, "text", ["Text", "NoteContents", "Note", "Body"], text, text),
        rows(.note, "createdAt", ["CreatedAt", "DateCreated", "Created"], .string("/Date(1774688400000)/"), .string("2026-03-28T09:00:00Z")),
        rows(.note, "createdBy", ["CreatedBy", "Author", "UserName"], text, text),
        rows(.note, "type", ["Type", "NoteType"], text, text),
        rows(.entry, "entryId", ["OID", "EntryID", "TransactionID", "TransactionNumber"], .number("1"), .string("1")),
        rows(.entry, "date", ["Date", "TransactionDate"], .string("2026-02-03T10:00:00Z"), .string("2026-02-03T10:00:00Z")),
        rows(.entry, "description", ["Description", "Narrative"], text, text),
        rows(.entry, "debit", ["Debit"], .string("5.00"), .number("5")),
        rows(.entry, "credit", ["Credit"], .number("120.10"), .number("120.1")),
        rows(.entry, "credit", ["Amount"], .number("120.10"), .number("120.1")),
        rows(.entry, "debit", ["Amount"], .number("-20.05"), .number("20.05")),
        rows(.entry, "balance", ["Balance"], .string("100.05"), .number("100.05")),
        rows(.entry, "jobId", ["JobID", "WorksOrderID"], text, text),
        rows(.entry, "propertyAddress", ["PropertyAddress"], text, text),
        rows(.entry, "category", ["Category"], text, text),
        rows(.entry, "invoiceNumber", ["InvoiceNumber", "InvoiceRef", "InvoiceID"], text, text),
        rows(.pending, "entryId", ["OID", "EntryID", "TransactionID", "TransactionNumber"], text, text),
        rows(.pending, "date", ["Date", "TransactionDate"], .string("2026-07-01T09:00:00"), .string("2026-07-01T08:00:00Z")),
        rows(.pending, "description", ["Description", "Narrative"], text, text),
        rows(.pending, "amount", ["Amount", "Value"], .string("£95.00"), .number("95")),
        rows(.pending, "jobId", ["JobID", "WorksOrderID"], text, text),
        rows(.pending, "invoiceNumber", ["InvoiceNumber", "InvoiceRef", "InvoiceID"], text, text),
        rows(.pending, "status", ["Status", "PaymentStatus"], text, text),
        rows(.invoice, "invoiceId", ["InvoiceID", "OID", "ID"], .number("5"), .string("5")),
        rows(.invoice, "success", ["Success", "Accepted"], .string("N"), .bool(false)),
        rows(.invoice, "message", ["Message"], text, text),
        rows(.statement, "openingBalance", ["OpeningBalance"], .number("0"), .number("0")),
        rows(.statement, "closingBalance", ["ClosingBalance"], .string("1,500.00"), .number("1500")),
        rows(.statement, "totalDebits", ["TotalDebits"], .number("3"), .number("3")),
        rows(.statement, "totalCredits", ["TotalCredits"], .number("1500.0"), .number("1500")),
        rows(.statement, "periodStart", ["PeriodStart", "DateFrom"], .string("01/02/2026"), .string("2026-02-01T00:00:00Z")),
        rows(.statement, "periodEnd", ["PeriodEnd", "DateTo"], .string("2026-02-28"), .string("2026-02-28T00:00:00Z")),
    ].flatMap { $0 }

    @Test(arguments: all)
    func eachUpstreamNameReachesItsField(_ row: Row) {
        let mapped = Self.map(row.model, row.record)
        #expect(mapped[row.field] == row.expected)
        // Whatever was read, the raw field stays in metadata.
        if row.model != .statement || row.record.keys.first.map({ !["Entries", "Transactions", "Items"].contains($0) }) == true {
            #expect(mapped["metadata"] == .object(row.record))
        }
    }

    @Test func composedFields() {
        let account = Self.map(.account, ["AddressLine1": .string("1 Canal St"), "Address2": .string("Leeds"), "Address4": .string("W Yorks"), "PostCode": .string("LS1")])
        #expect(account["address"] == .string("1 Canal St, Leeds, W Yorks, LS1"))
        let contact = Self.map(.contact, ["Forename": .string("Bob"), "Surname": .string("Pipe")])
        #expect(contact["name"] == .string("Bob Pipe"))
        let job = Self.map(.job, ["PropertyAddress1": .string("9 Park Lane"), "PropertyAddress2": .string("Leeds"), "PropertyPostcode": .string("LS2 7EY")])
        #expect(job["propertyAddress"] == .string("9 Park Lane, Leeds, LS2 7EY"))
        for name in ["Entries", "Transactions", "Items"] {
            let statement = Self.map(.statement, [name: .array([.object(["Credit": .number("0.10")]), .object(["Amount": .number("-0.20")])])])
            #expect(statement["entries"]?.arrayValue?.count == 2, "\(name)")
            #expect(statement["totalCredits"] == .number("0.1"))
            #expect(statement["totalDebits"] == .number("0.2"))
        }
    }

    @Test func unreadableValuesAreNullAndKeptInMetadata() {
        let record: [String: JSONValue] = ["OID": .string("J-1"), "EstimatedCost": .string("not a number"), "ReportedDate": .string("yesterday"),
                                           "Status": .object([:]), "ContractorID": .array([])]
        let job = Self.map(.job, record)
        #expect(job["estimatedCost"] == .null)
        #expect(job["reportedDate"] == .null)
        #expect(job["status"] == .string(""), "seed 003 types status as a string: empty, not null")
        #expect(job["metadata"] == .object(record))
        #expect(ContractorMaintenanceJob(upstream: .object(record))?.owner == nil)
        #expect(ContractorMaintenanceJob(upstream: .number("5")) == nil, "a record that is not an object is skipped, not fatal")
    }

    @Test func absentFieldsFollowSeedNullSemantics() {
        let account = Self.map(.account, [:])
        for field in ["contractorId", "companyName", "displayName"] { #expect(account[field] == .string("")) }
        for field in ["email", "phone", "mobile", "address", "postcode", "vatNumber", "companyRegNumber", "branchId"] { #expect(account[field] == .null) }
        #expect(account["isActive"] == .bool(false))
        #expect(account["trades"] == .array([]))
        let pending = Self.map(.pending, ["Amount": .string("n/a")])
        #expect(pending["amount"] == .null, "money is never guessed as 0")
    }

    /// The fixture agency as AgentOS dialects write it: each contractor's data in its own naming.
    @Test func fixtureRecordsMapInEveryDialect() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/agentos.json")
        let root = try JSONText.parse(Array(try Data(contentsOf: url)))
        let agency = try #require(root["agencies"]?["demo"])
        let spark = try #require(agency["contractors"]?["C-2002"].flatMap(ContractorAccount.init(upstream:)))
        #expect(spark.displayName == "Spark Electrical")
        #expect(spark.address == "22 Wellington Road, Leeds, Headingley, West Yorkshire, Yorkshire, LS1 4AP")
        #expect(spark.trades == ["Electrical", "PAT testing"])
        let gary = try #require(agency["contractors"]?["3003"].flatMap(ContractorAccount.init(upstream:)))
        #expect(gary.contractorId == "3003")
        #expect(gary.isActive)
        #expect(gary.phone == "0121 496 0000")
        let jobs = (agency["jobs"]?.arrayValue ?? []).compactMap(ContractorMaintenanceJob.init(upstream:))
        #expect(jobs.count == 123)
        let boiler = try #require(jobs.first { $0.jobId == "9001" })
        #expect(boiler.owner == "3003")
        #expect(boiler.estimatedCost == nil)
        #expect(boiler.metadata["EstimatedCost"] == .string("not a number"))
        #expect(boiler.actualCost == Decimal(240))
        #expect(jobs.first { $0.jobId == "J-0010" }?.embeddedNotes?.first?.text == "Embedded note for job 10")
    }

    /// One table reads and writes each model: the JSON has exactly the written rules' names (and the
    /// raw metadata), read-only rules are never printed, and a value read is the value written.
    @Test func eachTableWritesWhatItReads() throws {
        func names<M>(_ table: AliasTable<M>) -> Set<String> { Set(table.rules.filter(\.isWritten).map(\.name)) }
        let job = try #require(ContractorMaintenanceJob(upstream: .object(["OID": .string("J-1"), "ContractorID": .string("C-1"), "Status": .string("Open")])))
        #expect(Set(job.json.objectValue?.keys ?? [:].keys) == names(ContractorMaintenanceJob.aliases).union(["metadata"]))
        #expect(job.json["owner"] == nil && job.owner == "C-1" && job.json["status"] == .string("Open"))
        let account = try #require(ContractorAccount(upstream: .object(["OID": .string("C-1"), "IsActive": .bool(true)])))
        #expect(Set(account.json.objectValue?.keys ?? [:].keys) == names(ContractorAccount.aliases).union(["metadata"]))
        #expect(account.json["isActive"] == .bool(true) && account.json["email"] == .null && account.json["companyName"] == .string(""))
        let note = try #require(ContractorJobNote(upstream: .object(["Text": .string("hi")]), jobId: "J-9"))
        #expect(Set(note.json.objectValue?.keys ?? [:].keys) == names(ContractorJobNote.aliases).union(["metadata"]))
        #expect(note.json["jobId"] == .string("J-9"), "the parent's id when the note names none")
        let statement = ContractorStatement(upstream: .object(["Entries": .array([.object(["OID": .string("E-1"), "Amount": .number("-2.50")])])]))
        #expect(Set(statement.json.objectValue?.keys ?? [:].keys) == names(ContractorStatement.aliases).union(["metadata", "entries"]))
        #expect(statement.json["totalDebits"] == .number("2.5") && statement.json["entries"]?.arrayValue?.first?["debit"] == .number("2.5"))
        for (table, model) in [(names(ContractorContact.aliases), Model.contact), (names(PendingStatementEntry.aliases), .pending),
                               (names(InvoiceSubmissionResult.aliases), .invoice), (names(ContractorStatementEntry.aliases), .entry)] {
            #expect(Set(Self.map(model, [:]).objectValue?.keys ?? [:].keys) == table.union(["metadata"]), "\(model)")
        }
    }
}
