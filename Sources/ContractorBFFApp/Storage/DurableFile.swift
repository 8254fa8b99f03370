import AgentOS
import Foundation
import Glibc
import JSON

/// The embedded stores' one way to keep records on disk: a JSON-lines file under DATA_DIR (0600, in a 0700
/// directory), each appended line synced (fdatasync) before the append returns, rewritten compactly at
/// start (temporary file, fsync, rename, directory fsync). A torn last line, left by a crash mid-append,
/// is skipped when read back.
final class DurableFile: @unchecked Sendable {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let path: String
    private let directory: String
    // Only used from the owning actor (appends) or before it is shared (init).
    private var fd: Int32 = -1

    /// Opens `name` in `directory`, hands back every readable line, and keeps the lines `compact` returns.
    init(directory: String, name: String, compact: ([JSONValue]) -> [JSONValue]) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        self.directory = directory
        path = directory + "/" + name
        var lines: [JSONValue] = [], unreadable = false
        let data = FileManager.default.contents(atPath: path)
        if let data {
            for line in data.split(separator: UInt8(ascii: "\n")) {
                if let value = try? JSONText.parse(Array(line)) { lines.append(value) } else { unreadable = true }
            }
        }
        let kept = compact(lines)
        if data == nil {
            // A new file: created, and its directory entry synced, before anything is appended to it.
            try openForAppend(creating: true)
            syncDirectory()
        } else if kept == lines && !unreadable && data?.last.map({ $0 == 10 }) != false {
            // Nothing to drop: no need to rewrite (and sync) what is already on disk.
            try openForAppend(creating: false)
        } else {
            try rewrite(kept)
        }
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    /// Replaces the whole file with these lines, atomically.
    private func rewrite(_ lines: [JSONValue]) throws {
        let bytes = Array(lines.map { $0.serialized() + [10] }.joined())
        let temporary = path + ".tmp"
        let tmp = Glibc.open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard tmp >= 0 else { throw Failure(description: "cannot write \(temporary): errno \(errno)") }
        let written = bytes.withUnsafeBytes { Glibc.write(tmp, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(tmp) == 0 else {
            Glibc.close(tmp)
            throw Failure(description: "cannot write \(temporary): errno \(errno)")
        }
        Glibc.close(tmp)
        guard rename(temporary, path) == 0 else { throw Failure(description: "cannot replace \(path): errno \(errno)") }
        syncDirectory()
        try openForAppend(creating: false)
    }

    private func openForAppend(creating: Bool) throws {
        if fd >= 0 { Glibc.close(fd) }
        fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CLOEXEC | (creating ? O_CREAT : 0), 0o600)
        guard fd >= 0 else { throw Failure(description: "cannot open \(path): errno \(errno)") }
    }

    private func syncDirectory() {
        let directoryFD = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            _ = fsync(directoryFD)
            Glibc.close(directoryFD)
        }
    }

    /// Appends one line; it is on disk when this returns.
    func append(_ line: JSONValue) throws(Failure) {
        let bytes = line.serialized() + [10]
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fdatasync(fd) == 0 else { throw Failure(description: "\(path): record not durable: errno \(errno)") }
    }
}
