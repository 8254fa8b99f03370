import Foundation
import Glibc
import HTTPServer
import JSON
import Logging
import Synchronization

/// The append-only audit log: one JSON line per write and sign-in event, fsynced before the event is
/// acknowledged. It names who did what to which id with what outcome, and never a secret or a note's text.
public actor AuditLog {
    /// Runs on the disk thread: its appends sync to disk.
    public nonisolated var unownedExecutor: UnownedSerialExecutor { DiskExecutor.shared.asUnownedSerialExecutor() }

    private let fd: Int32
    private let logger: Logger
    /// Events by action and outcome (a bounded set: both are the code's own words), for `/metrics`:
    /// sign-ins and lock-outs, writes, idempotent replays and recoveries.
    public nonisolated let counts = Mutex<[String: Int]>([:])

    public init(directory: String, logger: Logger) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let path = directory + "/audit.jsonl"
        fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw IdempotencyStoreError.unavailable("cannot open \(path): errno \(errno)") }
        self.logger = logger
    }

    public struct Event: Sendable {
        public var action: String
        public var agency: String?
        public var contractor: String?
        public var target: String?
        public var outcome: String
        public var status: Int?
        public var requestID: String
        public var detail: String?
        /// The client's address, for sign-in events.
        public var client: String? = nil
        /// An upload's files.
        public var files: [File]? = nil
    }

    public struct File: Sendable, Equatable {
        public var name: String
        public var size: Int
        public var sha256: String
    }

    public func record(_ event: Event) {
        counts.withLock { $0[event.action + "\u{1F}" + event.outcome, default: 0] += 1 }
        var line: [UInt8] = Array("{\"time\":".utf8)
        JSONText.appendString(ISO8601DateFormatter().string(from: Date()), to: &line)
        for (name, value) in [("action", event.action), ("agency", event.agency), ("contractor", event.contractor),
                              ("target", event.target), ("outcome", event.outcome), ("requestId", event.requestID), ("detail", event.detail),
                              ("client", event.client)] {
            guard let value else { continue }
            line += Array(",\"\(name)\":".utf8)
            JSONText.appendString(value, to: &line)
        }
        if let status = event.status { line += Array(",\"status\":\(status)".utf8) }
        if let files = event.files {
            line += Array(",\"files\":".utf8)
            line += JSONValue.array(files.map { .object(["name": .string($0.name), "size": .number(String($0.size)), "sha256": .string($0.sha256)]) }).serialized()
        }
        line += Array("}\n".utf8)
        let written = line.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        if written != line.count || fdatasync(fd) != 0 {
            logger.log(.error, "audit_write_failed", ["requestId": .string(event.requestID), "errno": .int(Int(errno))])
        }
    }
}
