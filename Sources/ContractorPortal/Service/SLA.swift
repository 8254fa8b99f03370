import Foundation

/// When a job should be done by: its reported date plus its priority's target (`default` for priorities
/// without one of their own). The one place both the mirror (once, at import) and the service (for jobs
/// read live) work it out.
public enum SLA {
    public static func dueBy(_ job: ContractorMaintenanceJob, targets: [String: Duration]) -> Date? {
        guard let reported = job.reportedDate,
              let target = targets[(job.priority ?? "").lowercased()] ?? targets["default"] else { return nil }
        return reported.addingTimeInterval(Double(target.components.seconds))
    }

    /// Past its due date and still open, as of `now`.
    public static func isOverdue(_ job: ContractorMaintenanceJob, now: Date) -> Bool? {
        guard let due = job.dueBy else { return nil }
        return !job.isCompleted && !job.isCancelled && now > due
    }
}
