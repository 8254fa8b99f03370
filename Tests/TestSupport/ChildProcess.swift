import CLinux
import Foundation
import Glibc

/// A child process started with posix_spawn: stdin from /dev/null, stdout and stderr as pipes, every other
/// descriptor closed in the child (so it never holds a test's sockets open). Used instead of Foundation's
/// Process, whose run() crashes now and then on Swift 6.3.1 (swift-corelibs-foundation PR #5472).
public final class ChildProcess: Sendable {
    public struct SpawnError: Error, CustomStringConvertible {
        public let errno: Int32
        public var description: String { "posix_spawn failed: \(String(cString: strerror(errno)))" }
    }

    public struct Exit: Sendable, Equatable {
        /// The exit status, or the signal number when `signalled`.
        public let code: Int32
        public let signalled: Bool

        public init(code: Int32, signalled: Bool) {
            self.code = code
            self.signalled = signalled
        }
    }

    public let pid: pid_t
    public let standardOutput: FileHandle
    public let standardError: FileHandle

    /// `input`, when given, is the child's stdin (a pipe written and closed at once; keep it under 64 KiB).
    public init(executable: String, arguments: [String], environment: [String: String], directory: String, input: [UInt8]? = nil) throws {
        var out: [Int32] = [0, 0], err: [Int32] = [0, 0], inPipe: [Int32] = [-1, -1]
        // Other children never inherit these: every spawn here closes all descriptors from 3 up.
        guard pipe(&out) == 0, pipe(&err) == 0, input == nil || pipe(&inPipe) == 0 else { throw SpawnError(errno: errno) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if input != nil {
            posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, out[1], 1)
        posix_spawn_file_actions_adddup2(&actions, err[1], 2)
        posix_spawn_file_actions_addclosefrom_np(&actions, 3)
        posix_spawn_file_actions_addchdir_np(&actions, directory)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        close(out[1])
        close(err[1])
        if let input {
            close(inPipe[0])
            _ = input.withUnsafeBytes { Glibc.write(inPipe[1], $0.baseAddress, $0.count) }
            close(inPipe[1])
        }
        guard status == 0 else {
            close(out[0])
            close(err[0])
            throw SpawnError(errno: status)
        }
        self.pid = pid
        standardOutput = FileHandle(fileDescriptor: out[0], closeOnDealloc: true)
        standardError = FileHandle(fileDescriptor: err[0], closeOnDealloc: true)
    }

    public func signal(_ number: Int32) { kill(pid, number) }

    /// Blocks until the child ends (call it off the cooperative pool, or after its pipes were read to the end).
    public func wait() -> Exit {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let signalled = (status & 0x7f) != 0
        return Exit(code: signalled ? status & 0x7f : (status >> 8) & 0xff, signalled: signalled)
    }
}
