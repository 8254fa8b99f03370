import AgentOS
import Foundation
import JSON

/// Seed 003's dashboard KPIs. A KPI whose upstream part failed is `null`, and the part is named in
/// `unavailable`, so the dashboard shows what it can instead of nothing.
public struct ContractorInsights: Sendable, Equatable {
    /// The upstream parts insights are computed from, as `unavailable` names them.
    public enum Part: String, Sendable, CaseIterable {
        case jobs, pendingStatements, statement
    }

    public var totalAssignedJobs: Int?
    public var activeJobs: Int?
    public var completedJobs: Int?
    public var pendingPaymentAmount: Decimal?
    public var totalEarnedAmount: Decimal?
    public var unavailable: [Part]
    /// True when the contractor has more jobs than the configured cap: active and completed count the
    /// first `cap` jobs only (the total is still AgentOS's).
    public var jobsTruncated: Bool
    /// Open jobs past their SLA target (null when the jobs part is unavailable).
    public var overdueJobs: Int?

    public var json: JSONValue {
        var out = JSONFields()
        out.int("totalAssignedJobs", totalAssignedJobs)
        out.int("activeJobs", activeJobs)
        out.int("completedJobs", completedJobs)
        out.money("pendingPaymentAmount", pendingPaymentAmount)
        out.money("totalEarnedAmount", totalEarnedAmount)
        out.value("unavailable", .array(unavailable.map { .string($0.rawValue) }))
        out.bool("jobsTruncated", jobsTruncated)
        out.int("overdueJobs", overdueJobs)
        return out.json
    }
}
