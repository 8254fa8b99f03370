import AgentOS
import Foundation
import JSON

/// Seed 003's ContractorMaintenanceJob, plus what the portal needs and does not print: the owner
/// (for the ownership rule) and the notes AgentOS embedded in the record, if it did.
public struct ContractorMaintenanceJob: Sendable, Equatable {
    public var jobId = ""
    public var propertyId = ""
    public var propertyAddress: String?
    public var title = ""
    public var description: String?
    public var status = ""
    public var priority: String?
    public var reportedDate: Date?
    public var completedDate: Date?
    public var estimatedCost: Decimal?
    public var actualCost: Decimal?
    public var category: String?
    public var tenantName: String?
    public var landlordName: String?
    public var accessDetails: String?
    public var metadata: [String: JSONValue] = [:]
    /// The contractor the job is assigned to, when the record says.
    public var owner: String?
    /// `MaintenanceNotes`, when present: no notes call is needed then.
    public var embeddedNotes: [ContractorJobNote]?
    /// A change the gateway made that the next import has not confirmed yet (read-your-writes).
    public var awaitingConfirmation = false
    /// When the job should be done by, from its priority's SLA target and its reported date; and whether
    /// that has passed with the job still open (set by the service, which knows the targets and the time).
    public var dueBy: Date?
    public var overdue: Bool?
    /// The record's own fields (and `dueBy`, fixed by its reported date and priority) written once as JSON
    /// when the mirror imports it: serialising every job of every page was most of a jobs view's cost.
    /// `answer` adds what depends on the moment. Whoever changes a field it holds sets it there too.
    public private(set) var encoded: EncodedObject?
    /// The `dueBy` `encoded` was written with.
    private var encodedDueBy: Date?

    /// Writes `encoded` now.
    public func precomputed() -> ContractorMaintenanceJob {
        var job = self
        job.encoded = EncodedObject(recordFields)
        job.encodedDueBy = dueBy
        return job
    }

    /// The status set by the gateway's own write, in the fields and in what is written.
    public mutating func show(status: String) {
        self.status = status
        encoded?.set("status", .string(status))
    }

    public static let aliases = AliasTable<ContractorMaintenanceJob>([
        .id("jobId", \.jobId, "OID", "JobID", "WorksOrderID", "ID"),
        .id("propertyId", \.propertyId, "PropertyID", "PropertyOID"),
        .text("propertyAddress", \.propertyAddress,
              "PropertyAddress", "Property", "Address",
              .joined([["PropertyAddress1"], ["PropertyAddress2"], ["PropertyAddress3"], ["PropertyAddress4"], ["PropertyPostcode"]], separator: ", ")),
        .text("title", \.title, "Title", "IssueTitle", "Summary", "Subject"),
        .text("description", \.description, "Description", "IssueFault", "Details"),
        .text("status", \.status, "Status", "JobStatus"),
        .text("priority", \.priority, "Priority", "IssuePriority", "PriorityName"),
        .date("reportedDate", \.reportedDate, "ReportedDate", "Reported", "ReportedAt", "DateReported"),
        .date("completedDate", \.completedDate, "CompletedDate", "ClosedDate", "DateCompleted"),
        .money("estimatedCost", \.estimatedCost, "EstimatedCost", "Estimate", "QuoteAmount"),
        .money("actualCost", \.actualCost, "ActualCost", "Cost", "InvoiceAmount"),
        .text("category", \.category, "Category", "JobType", "Trade"),
        .text("tenantName", \.tenantName, "TenantName", "Tenant"),
        .text("landlordName", \.landlordName, "LandlordName", "Landlord"),
        .text("accessDetails", \.accessDetails, "AccessDetails", "AccessInstructions", "KeyInfo"),
        // Read for the ownership rule, never printed.
        .id("owner", \.owner, "ContractorID", "AssignedContractorID", "AssignedTo", written: false),
    ])

    public init?(upstream: JSONValue) {
        guard let fields = upstream.objectValue else { return nil }
        Self.aliases.read(fields, into: &self)
        metadata = fields
        let parent = jobId
        embeddedNotes = fields["MaintenanceNotes"]?.arrayValue.map { $0.compactMap { ContractorJobNote(upstream: $0, jobId: parent) } }
    }

    public var isCompleted: Bool { Self.isCompleted(status) }
    public var isCancelled: Bool { Self.isCancelled(status) }

    /// Completed, Complete, "Completed - awaiting invoice"…: AgentOS's status names vary by agency.
    public static func isCompleted(_ status: String) -> Bool { containsIgnoringASCIICase(status, "complet") }
    public static func isCancelled(_ status: String) -> Bool { containsIgnoringASCIICase(status, "cancel") }

    /// `needle` (lowercase ASCII) in `text`, ASCII letters compared without case: on every job of every
    /// page, where Foundation's lowercased().contains() cost more than the rest of the check.
    static func containsIgnoringASCIICase(_ text: String, _ needle: StaticString) -> Bool {
        let wanted = UnsafeBufferPointer(start: needle.utf8Start, count: needle.utf8CodeUnitCount)
        let bytes = Array(text.utf8)
        guard bytes.count >= wanted.count else { return false }
        outer: for start in 0...(bytes.count - wanted.count) {
            for offset in 0..<wanted.count {
                var byte = bytes[start + offset]
                if byte >= 65 && byte <= 90 { byte += 32 }
                guard byte == wanted[offset] else { continue outer }
            }
            return true
        }
        return false
    }

    public var json: JSONValue { .object(allFields) }

    /// The job as an answer carries it, with `extra` members (a view's notes): from what the import wrote
    /// when there is that, else written now. The same text as `json` plus `extra`, either way.
    public func answer(adding extra: [String: JSONValue] = [:]) -> JSONValue {
        guard let encoded else { return .object(allFields.merging(extra) { _, added in added }) }
        var added = momentFields
        if let dueBy, dueBy != encodedDueBy { added["dueBy"] = OutputFormat.date(dueBy) }
        added.merge(extra) { _, view in view }
        return encoded.adding(added)
    }

    /// Everything `json` prints, written now.
    private var allFields: [String: JSONValue] {
        recordFields.merging(momentFields) { _, moment in moment }
    }

    /// What depends on the moment: overdue as of now, a write of ours not yet confirmed.
    private var momentFields: [String: JSONValue] {
        var fields: [String: JSONValue] = [:]
        if let overdue { fields["overdue"] = .bool(overdue) }
        if awaitingConfirmation { fields["awaitingConfirmation"] = .bool(true) }
        return fields
    }

    /// The record's fields as seed 003 writes them, with `dueBy` (fixed by its reported date and priority).
    var recordFields: [String: JSONValue] {
        var fields = Self.aliases.write(self, metadata: metadata)
        if let dueBy { fields["dueBy"] = OutputFormat.date(dueBy) }
        return fields
    }
}
