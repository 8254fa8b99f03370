import Foundation
import Glibc

/// A throwaway PostgreSQL cluster for one test: `initdb` into a temporary directory, `pg_ctl start` on a
/// Unix socket there (no TCP port), stopped and deleted by `stop()`. Debian's `postgresql` package
/// provides the binaries (`.ci/run` installs it); as root they run as its `postgres` user, since
/// PostgreSQL refuses to run as root.
public final class TestPostgres: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// libpq's connection string for the cluster's `postgres` database.
    public let conninfo: String
    let directory: String
    let binaries: String
    let port: Int
    private let stopping = Once()

    /// The directory of `initdb` and `pg_ctl`, newest version first; nil when PostgreSQL is not installed.
    public static let binDirectory: String? = {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).sorted { (Int($0) ?? 0) > (Int($1) ?? 0) }
        return versions.map { "\(root)/\($0)/bin" }.first { FileManager.default.isExecutableFile(atPath: $0 + "/initdb") }
    }()

    /// Whether the PostgreSQL tests can run here. In CI they must: there a missing server fails them.
    public static var runnable: Bool { binDirectory != nil || ProcessInfo.processInfo.environment["CI"] != nil }

    public static func start() async throws -> TestPostgres {
        guard let binaries = binDirectory else {
            throw Failure(description: "PostgreSQL is not installed (Debian postgresql; scripts/ci-packages.txt): its tests cannot run")
        }
        // Short: a Unix socket's path must fit in 107 bytes.
        let directory = "/tmp/pg-" + UUID().uuidString.prefix(8).lowercased()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let asRoot = geteuid() == 0
        if asRoot, let user = getpwnam("postgres") {
            chown(directory, user.pointee.pw_uid, user.pointee.pw_gid)
        }
        let port = Int.random(in: 20_000...60_000)
        func run(_ tool: String, _ arguments: [String]) async throws {
            let command = asRoot ? ["runuser", "-u", "postgres", "--", binaries + "/" + tool] : [binaries + "/" + tool]
            let outcome = try await ExternalTool.run(command[0], Array(command.dropFirst()) + arguments)
            guard outcome.code == 0 else { throw Failure(description: "\(tool) failed (\(outcome.code)): \(outcome.output)") }
        }
        try await run("initdb", ["-D", directory + "/data", "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"])
        try await run("pg_ctl", [
            "-D", directory + "/data", "-l", directory + "/log", "-w", "-t", "60",
            "-o", "-p \(port) -k \(directory) -c listen_addresses='' -c fsync=off -c max_connections=100", "start",
        ])
        let cluster = TestPostgres(conninfo: "host=\(directory) port=\(port) user=postgres dbname=postgres", directory: directory, binaries: binaries, port: port)
        TestScope.onEnd { await cluster.stop() }
        return cluster
    }

    private init(conninfo: String, directory: String, binaries: String, port: Int) {
        self.conninfo = conninfo
        self.directory = directory
        self.binaries = binaries
        self.port = port
    }

    /// Stops the server (`mode` fast or immediate) and leaves the files for `start`-ing it again.
    public func pause(immediately: Bool = false) async throws {
        try await control(["-m", immediately ? "immediate" : "fast", "stop"])
    }

    /// Starts the paused server again on the same socket.
    public func resume() async throws {
        try await control(["-l", directory + "/log", "-w", "-t", "60", "-o", "-p \(port) -k \(directory) -c listen_addresses='' -c fsync=off", "start"])
    }

    /// Stops the server and removes its files.
    public func stop() async {
        guard stopping.first else { return }
        try? await control(["-m", "immediate", "stop"])
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func control(_ arguments: [String]) async throws {
        let asRoot = geteuid() == 0
        let tool = binaries + "/pg_ctl"
        let command = asRoot ? ["runuser", "-u", "postgres", "--", tool] : [tool]
        let outcome = try await ExternalTool.run(command[0], Array(command.dropFirst()) + ["-D", directory + "/data"] + arguments)
        guard outcome.code == 0 else { throw Failure(description: "pg_ctl \(arguments.last ?? "") failed: \(outcome.output)") }
    }
}
