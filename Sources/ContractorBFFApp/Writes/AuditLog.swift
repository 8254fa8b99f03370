import Foundation
import Glibc
import HTTPServer
import JSON
import Logging
import PostgreSQL
import Synchronization

/// The append-only audit log: one JSON line per write and sign-in event, fsynced before the event is
/// acknowledged; with DATABASE_URL, one row of the append-only `audit_events` table instead, so every
/// replica's events are in one place. It names who did what to which id with what outcome, and never a
/// secret or a note's text.
public actor AuditLog {
    /// Runs on the disk thread: its appends sync to disk.
    public nonisolated var unownedExecutor: UnownedSerialExecutor { DiskExecutor.shared.asUnownedSerialExecutor() }

    private let fd: Int32
    private let logger: Logger
    /// Events by action and outcome (a bounded set: both are the code's own words), for `/metrics`:
    /// sign-ins and lock-outs, writes, idempotent replays and recoveries.
    public nonisolated let counts = Mutex<[String: Int]>([:])

    /// The shared store, when there is one: events go there, marked with this replica.
    private let database: PGPool?
    private let replica: String

    public init(directory: String, logger: Logger, database: PGPool? = nil, replica: String = UUID().uuidString) throws {
        self.database = database
        self.replica = replica
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

    public func record(_ event: Event) async {
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
        line += Array("}".utf8)
        if let database {
            let text = String(decoding: line, as: UTF8.self)
            do {
                _ = try await database.execute(
                    "INSERT INTO audit_events (replica, event) VALUES ($1, $2::jsonb)", [replica, text], deadline: .now + .seconds(5), outlivesCaller: true)
            } catch {
                logger.log(.error, "audit_write_failed", ["requestId": .string(event.requestID), "error": .string(error.description)])
            }
            return
        }
        line += Array("\n".utf8)
        let written = line.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        if written != line.count || fdatasync(fd) != 0 {
            logger.log(.error, "audit_write_failed", ["requestId": .string(event.requestID), "errno": .int(Int(errno))])
        }
    }
}
