import Foundation

/// The executor of the actors that write durable files: one dedicated thread, so their fdatasync calls
/// (milliseconds each, more on a busy disk) never hold one of the cooperative pool's few threads, which
/// serve every request. Jobs run in the order they arrive.
final class DiskExecutor: SerialExecutor, @unchecked Sendable {
    static let shared = DiskExecutor()

    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []

    private init() {
        let thread = Thread { [unowned self] in run() }
        thread.name = "contractor-bff.disk"
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor { UnownedSerialExecutor(ordinary: self) }

    private func run() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            condition.unlock()
            for job in batch { job.runSynchronously(on: asUnownedSerialExecutor()) }
        }
    }
}
